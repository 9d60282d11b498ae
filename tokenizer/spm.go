package tokenizer

// SentencePiece ("llama" model) encoding, llama.cpp's algorithm: start from
// one symbol per UTF-8 character, repeatedly merge the adjacent pair whose
// concatenation is the vocabulary token with the highest score (leftmost on
// ties), and emit characters that never became tokens as <0xXX> byte tokens.

// spaceMarker is U+2581, SentencePiece's visible space.
const spaceMarker = "\u2581"

type spmSym struct {
	start, n   int32 // byte range in the text; n == 0 once merged away
	prev, next int32
}

type spmCand struct {
	score             float32
	left, right, size int32
}

func (a *spmCand) before(b *spmCand) bool {
	return a.score > b.score || (a.score == b.score && a.left < b.left)
}

// spmState is the reusable scratch of encodeSPM.
type spmState struct {
	text  []byte
	syms  []spmSym
	queue mergeQueue[spmCand, *spmCand]
}

// spmByteToken finds the token of a raw byte: <0xXX>, else the byte itself
// as a one-byte token (llama_vocab::byte_to_token).
func (t *Tokenizer) spmByteToken(b byte) int32 {
	const hex = "0123456789ABCDEF"
	if id, ok := t.index[string([]byte{'<', '0', 'x', hex[b>>4], hex[b&15], '>'})]; ok {
		return id
	}
	if id, ok := t.index[string([]byte{b})]; ok {
		return id
	}
	return NoToken
}

// encodeSPM appends the tokens of one raw-text fragment. prefixSpace adds the
// leading space llama.cpp inserts at the start of the text and after every
// special token (add_space_prefix).
func (t *Tokenizer) encodeSPM(dst []int32, frag string, prefixSpace bool, st *spmState) []int32 {
	text := st.text[:0]
	if prefixSpace {
		text = append(text, spaceMarker...)
	}
	for i := 0; i < len(frag); i++ {
		if frag[i] == ' ' {
			text = append(text, spaceMarker...)
		} else {
			text = append(text, frag[i])
		}
	}
	st.text = text
	if len(text) == 0 {
		return dst
	}

	syms := st.syms[:0]
	for off := 0; off < len(text); {
		n := min(utf8SeqLen(text[off]), len(text)-off)
		i := int32(len(syms))
		syms = append(syms, spmSym{start: int32(off), n: int32(n), prev: i - 1, next: i + 1})
		off += n
	}
	syms[len(syms)-1].next = -1
	st.syms = syms
	st.queue.reset()
	for i := int32(1); i < int32(len(syms)); i++ {
		t.spmTryPair(st, i-1, i)
	}
	for st.queue.len() > 0 {
		c := st.queue.pop()
		l, r := &st.syms[c.left], &st.syms[c.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != c.size {
			continue // stale: one side has merged since
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			st.syms[r.next].prev = c.left
		}
		if l.prev >= 0 {
			t.spmTryPair(st, l.prev, c.left)
		}
		if l.next >= 0 {
			t.spmTryPair(st, c.left, l.next)
		}
	}
	for i := int32(0); i >= 0; i = st.syms[i].next {
		s := st.syms[i]
		piece := st.text[s.start : s.start+s.n]
		if id, ok := t.index[string(piece)]; ok {
			dst = append(dst, id)
			continue
		}
		// Only single characters can fail to be tokens: every merge made a
		// token. llama.cpp throws when a byte has no token at all; this
		// package emits UNK instead, or nothing if there is none.
		for _, b := range piece {
			switch id := t.byteTok[b]; {
			case id != NoToken:
				dst = append(dst, id)
			case t.specials.UNK != NoToken:
				dst = append(dst, t.specials.UNK)
			}
		}
	}
	return dst
}

func (t *Tokenizer) spmTryPair(st *spmState, a, b int32) {
	sa, sb := st.syms[a], st.syms[b]
	id, ok := t.index[string(st.text[sa.start:sb.start+sb.n])]
	if !ok {
		return
	}
	st.queue.push(spmCand{score: t.scores[id], left: a, right: b, size: sa.n + sb.n})
}
