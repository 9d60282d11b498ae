package tokenizer

import "strings"

// bpeModel holds the merge table of a byte-level BPE vocabulary (spec §5.3).
//
// llama.cpp merges strings. Here every string that can appear as a symbol
// gets an integer id: the token id when the text is in the vocabulary, or an
// id past the vocabulary for the rare merge operand or result that is not.
// Two symbols then merge exactly when their texts would, and the merge table
// is keyed by a pair of ids instead of a pair of strings.
type bpeModel struct {
	nTokens int32
	// merges maps left<<32 | right to rank<<32 | merged symbol.
	merges map[uint64]uint64
	// byteSym is the symbol of each raw byte (its GPT-2 mapped character).
	byteSym [256]int32
	// extra holds the text of symbols nTokens, nTokens+1, ... which are
	// not tokens.
	extra []string
	// singleByte is the token whose text is exactly that one byte, used by
	// llama.cpp's fallback for symbols that are not tokens.
	singleByte [256]int32
}

func newBPEModel(tokens []string, index map[string]int32, merges []string) (*bpeModel, error) {
	if len(merges) > maxTokens {
		return nil, vocabErr("%d merges exceed the limit of %d", len(merges), maxTokens)
	}
	m := &bpeModel{
		nTokens: int32(len(tokens)),
		merges:  make(map[uint64]uint64, len(merges)),
	}
	var extraIndex map[string]int32
	intern := func(s string) int32 {
		if id, ok := index[s]; ok {
			return id
		}
		if id, ok := extraIndex[s]; ok {
			return id
		}
		if extraIndex == nil {
			extraIndex = map[string]int32{}
		}
		id := m.nTokens + int32(len(m.extra))
		m.extra = append(m.extra, s)
		extraIndex[s] = id
		return id
	}
	var buf []byte
	for b := range 256 {
		buf = appendRune(buf[:0], byteToRune[b])
		m.byteSym[b] = intern(string(buf))
		m.singleByte[b] = NoToken
		if id, ok := index[string([]byte{byte(b)})]; ok {
			m.singleByte[b] = id
		}
	}
	for rank, line := range merges {
		// The separator is the first space at index >= 1, so a merge can
		// start with a space character.
		sp := -1
		if len(line) > 1 {
			if i := strings.IndexByte(line[1:], ' '); i >= 0 {
				sp = i + 1
			}
		}
		if sp < 0 {
			return nil, vocabErr("merge %d %q has no separating space", rank, line)
		}
		left, right := line[:sp], line[sp+1:]
		if right == "" {
			// llama.cpp keeps it, but an empty symbol never occurs.
			continue
		}
		l, r := intern(left), intern(right)
		buf = append(append(buf[:0], left...), right...)
		res, ok := index[string(buf)]
		if !ok {
			if id, ok := extraIndex[string(buf)]; ok {
				res = id
			} else {
				res = intern(string(buf))
			}
		}
		key := uint64(l)<<32 | uint64(r)
		if _, dup := m.merges[key]; !dup { // the first rank wins, as in llama.cpp
			m.merges[key] = uint64(rank)<<32 | uint64(uint32(res))
		}
	}
	return m, nil
}

// bpeSym is one symbol of the word being merged; id -1 marks a symbol that
// was merged into its left neighbour.
type bpeSym struct {
	id, prev, next int32
}

// bpeCand is a possible merge of the adjacent symbols left and right, valid
// while they still hold lid and rid.
type bpeCand struct {
	rank, left, right, lid, rid, res int32
}

func (a *bpeCand) before(b *bpeCand) bool {
	return a.rank < b.rank || (a.rank == b.rank && a.left < b.left)
}

// bpeState is the reusable scratch of encodeWord.
type bpeState struct {
	syms  []bpeSym
	queue mergeQueue[bpeCand, *bpeCand]
}

// tryPair queues the merge of symbols a and b if the table has one.
func (m *bpeModel) tryPair(st *bpeState, a, b int32) {
	la, lb := st.syms[a].id, st.syms[b].id
	v, ok := m.merges[uint64(la)<<32|uint64(lb)]
	if !ok {
		return
	}
	st.queue.push(bpeCand{rank: int32(v >> 32), left: a, right: b, lid: la, rid: lb, res: int32(uint32(v))})
}

// encodeWord appends the tokens of one pre-tokenized word (raw bytes). The
// adjacent pair with the lowest rank merges first, the leftmost on ties,
// until no pair has a rank (spec §5.3 step 4).
func (m *bpeModel) encodeWord(dst []int32, word []byte, st *bpeState) []int32 {
	if len(word) == 1 {
		return m.emit(dst, m.byteSym[word[0]])
	}
	syms := st.syms[:0]
	for i, b := range word {
		syms = append(syms, bpeSym{id: m.byteSym[b], prev: int32(i - 1), next: int32(i + 1)})
	}
	syms[len(syms)-1].next = -1
	st.syms = syms
	st.queue.reset()
	for i := int32(0); i+1 < int32(len(syms)); i++ {
		m.tryPair(st, i, i+1)
	}
	for st.queue.len() > 0 {
		c := st.queue.pop()
		l, r := &st.syms[c.left], &st.syms[c.right]
		if l.id != c.lid || r.id != c.rid {
			continue // stale: one side has merged since
		}
		l.id = c.res
		l.next = r.next
		if r.next >= 0 {
			st.syms[r.next].prev = c.left
		}
		r.id = -1
		if l.prev >= 0 {
			m.tryPair(st, l.prev, c.left)
		}
		if l.next >= 0 {
			m.tryPair(st, c.left, l.next)
		}
	}
	for i := int32(0); i >= 0; i = st.syms[i].next {
		dst = m.emit(dst, st.syms[i].id)
	}
	return dst
}

// emit appends the token of a final symbol. A symbol that is not a token
// falls back, as in llama.cpp, to the tokens of the single bytes of its
// (mapped) text, skipping bytes that have none.
func (m *bpeModel) emit(dst []int32, sym int32) []int32 {
	if sym < m.nTokens {
		return append(dst, sym)
	}
	s := m.extra[sym-m.nTokens]
	for i := 0; i < len(s); i++ {
		if id := m.singleByte[s[i]]; id != NoToken {
			dst = append(dst, id)
		}
	}
	return dst
}
