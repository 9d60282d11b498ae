package tokenizer

import (
	"slices"
	"strings"
)

// scratch holds the buffers one encoding needs; Tokenizer pools them so that
// concurrent callers do not share state and repeated calls do not allocate.
type scratch struct {
	frags, frags2 []fragment
	present       []int32
	split         splitter
	word          []byte
	bpe           bpeState
	spm           spmState
	cache         wordCache
}

// wordCache remembers the tokens of recently seen BPE words. Natural text
// repeats its words, and a cached word skips the merge loop entirely. Each
// pooled scratch has its own cache, so no locking is needed; it is emptied
// when full.
type wordCache struct {
	m   map[string]uint64 // word → offset<<32 | count into ids
	ids []int32
}

const (
	wordCacheEntries = 1 << 13
	wordCacheMaxLen  = 64 // longer words are not cached
)

// fragment is a piece of the input after the special-token partition: either
// a special token (tok >= 0) or raw text text[lo:hi].
type fragment struct {
	tok    int32
	lo, hi int
}

// Encode tokenizes text without adding BOS or EOS. With parseSpecial, the
// text of CONTROL and UNKNOWN tokens (e.g. "<|im_start|>") becomes those
// tokens; without it they are ordinary text. USER_DEFINED tokens are matched
// either way (spec §5.4). With byte-level BPE, invalid UTF-8 is tokenized as
// U+FFFD per bad byte, as llama.cpp does; SentencePiece keeps the raw bytes
// as byte tokens.
func (t *Tokenizer) Encode(text string, parseSpecial bool) []int32 {
	return t.AppendEncode(nil, text, parseSpecial)
}

// AppendEncode is Encode appending to dst.
func (t *Tokenizer) AppendEncode(dst []int32, text string, parseSpecial bool) []int32 {
	sc := t.scratch.Get().(*scratch)
	defer t.scratch.Put(sc)
	frags := t.partition(sc, text, parseSpecial)
	prevSpecial := true // SentencePiece: a space goes before the first text
	for _, f := range frags {
		if f.tok >= 0 {
			dst = append(dst, f.tok)
			prevSpecial = true
			continue
		}
		frag := text[f.lo:f.hi]
		switch t.model {
		case modelBPE:
			dst = t.encodeBPE(dst, frag, sc)
		case modelSPM:
			dst = t.encodeSPM(dst, frag, t.addSpacePrefix && prevSpecial, &sc.spm)
		}
		prevSpecial = false
	}
	return dst
}

// Tokenize is llama.cpp's llama_tokenize: with addSpecial it adds BOS first
// when AddBOS and EOS last when AddEOS; otherwise it equals Encode.
func (t *Tokenizer) Tokenize(text string, addSpecial, parseSpecial bool) []int32 {
	var dst []int32
	if addSpecial && t.addBOS {
		dst = append(dst, t.specials.BOS)
	}
	dst = t.AppendEncode(dst, text, parseSpecial)
	if addSpecial && t.addEOS {
		dst = append(dst, t.specials.EOS)
	}
	return dst
}

// encodeBPE tokenizes one plain-text fragment with byte-level BPE.
func (t *Tokenizer) encodeBPE(dst []int32, frag string, sc *scratch) []int32 {
	sp := &sc.split
	sp.split(t.pre.kind, frag)
	wc := &sc.cache
	if wc.m == nil {
		wc.m = make(map[string]uint64)
	}
	for i := range sp.ends {
		word := sp.piece(i)
		cacheable := len(word) > 1 && len(word) <= wordCacheMaxLen && !t.noWordCache
		if cacheable {
			if v, ok := wc.m[string(word)]; ok {
				dst = append(dst, wc.ids[v>>32:v>>32+v&0xFFFFFFFF]...)
				continue
			}
		}
		start := len(dst)
		dst = t.encodeWord(dst, word, sc)
		if cacheable {
			if len(wc.m) >= wordCacheEntries {
				clear(wc.m)
				wc.ids = wc.ids[:0]
			}
			wc.m[string(word)] = uint64(len(wc.ids))<<32 | uint64(len(dst)-start)
			wc.ids = append(wc.ids, dst[start:]...)
		}
	}
	return dst
}

// encodeWord appends the tokens of one pre-tokenized word.
func (t *Tokenizer) encodeWord(dst []int32, word []byte, sc *scratch) []int32 {
	if t.pre.ignoreMerges && len(word) > 1 {
		// Whole-word shortcut: a word that is itself a token is used as is,
		// without merging (llama-bpe only, spec §5.3 step 4).
		enc := sc.word[:0]
		for _, b := range word {
			enc = appendRune(enc, byteToRune[b])
		}
		sc.word = enc
		if id, ok := t.index[string(enc)]; ok {
			return append(dst, id)
		}
	}
	return t.bpe.encodeWord(dst, word, &sc.bpe)
}

// partition splits text at special tokens, longest token text first, each
// token's occurrences leftmost first (llama.cpp's tokenizer_st_partition).
func (t *Tokenizer) partition(sc *scratch, text string, parseSpecial bool) []fragment {
	frags := sc.frags[:0]
	if text == "" {
		sc.frags = frags
		return frags
	}
	frags = append(frags, fragment{tok: -1, lo: 0, hi: len(text)})

	// Find which special tokens occur at all, in priority order.
	present := sc.present[:0]
	tr := &t.specialTrie
	for i := 0; i < len(text); i++ {
		if !tr.first[text[i]] {
			continue
		}
		tr.matchesAt(text[i:], func(v int32) {
			a := t.attrs[t.specialOrder[v]]
			if !parseSpecial && a&(attrControl|attrUnknown) != 0 {
				return
			}
			present = append(present, v)
		})
	}
	slices.Sort(present)
	present = slices.Compact(present)
	sc.present = present

	for _, v := range present {
		id := t.specialOrder[v]
		tok := t.tokens[id]
		out := sc.frags2[:0]
		for _, f := range frags {
			if f.tok >= 0 {
				out = append(out, f)
				continue
			}
			lo := f.lo
			for lo < f.hi {
				i := strings.Index(text[lo:f.hi], tok)
				if i < 0 {
					break
				}
				if i > 0 {
					out = append(out, fragment{tok: -1, lo: lo, hi: lo + i})
				}
				out = append(out, fragment{tok: id})
				lo += i + len(tok)
			}
			if lo < f.hi {
				out = append(out, fragment{tok: -1, lo: lo, hi: f.hi})
			}
		}
		frags, sc.frags2 = out, frags
	}
	sc.frags = frags
	return frags
}

// PreTokenize returns the words the pre-tokenizer makes of text, treated as
// plain text (no special tokens). For a "gpt2" vocabulary the words
// concatenate back to text when text is valid UTF-8; a SentencePiece
// vocabulary has no pre-tokenizer and returns text whole.
func (t *Tokenizer) PreTokenize(text string) []string {
	if t.model == modelSPM {
		if text == "" {
			return nil
		}
		return []string{text}
	}
	var sp splitter
	sp.split(t.pre.kind, text)
	out := make([]string, len(sp.ends))
	for i := range sp.ends {
		out[i] = string(sp.piece(i))
	}
	return out
}
