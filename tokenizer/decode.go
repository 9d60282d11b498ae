package tokenizer

import (
	"fmt"
	"strings"
)

// buildPieces renders every token once, with special tokens shown, as
// llama.cpp does for its piece cache (token_to_piece with special = true).
func (t *Tokenizer) buildPieces() {
	var buf []byte
	t.pieceEnd = make([]uint32, len(t.tokens))
	for id, s := range t.tokens {
		a := t.attrs[id]
		switch {
		case a&(attrUnknown|attrControl|attrUserDefined) != 0:
			buf = append(buf, s...)
		case a&attrNormal != 0:
			if t.model == modelSPM {
				buf = append(buf, strings.ReplaceAll(s, spaceMarker, " ")...)
			} else {
				buf = appendByteDecoded(buf, s)
			}
		case a&attrByte != 0:
			b, _ := parseByteToken(s) // validated in New
			buf = append(buf, b)
		}
		// UNUSED and UNDEFINED tokens render as nothing.
		t.pieceEnd[id] = uint32(len(buf))
	}
	t.pieces = buf
}

// appendByteDecoded maps a byte-level BPE token text back to raw bytes
// through the inverse GPT-2 byte map. A character outside the map is spelled
// out the way llama.cpp's llama_decode_text does.
func appendByteDecoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); {
		c, n := rune(s[i]), 1
		if c >= 0x80 {
			c, n = decodeRune(s[i:])
		}
		i += n
		if c >= 0 && int(c) < len(runeToByte) && runeToByte[c] >= 0 {
			dst = append(dst, byte(runeToByte[c]))
			continue
		}
		dst = append(dst, "[UNK_BYTE_0x"...)
		for _, b := range appendRune(nil, c) {
			dst = fmt.Appendf(dst, "%02x", b)
		}
		dst = append(dst, s...)
		dst = append(dst, ']')
	}
	return dst
}

// piece returns the cached rendering of id with special tokens shown.
func (t *Tokenizer) piece(id int32) []byte {
	lo := uint32(0)
	if id > 0 {
		lo = t.pieceEnd[id-1]
	}
	hi := t.pieceEnd[id]
	return t.pieces[lo:hi:hi]
}

// Piece returns the bytes one token stands for, as llama.cpp's
// token_to_piece with special = false: CONTROL and UNKNOWN tokens render as
// nothing, USER_DEFINED tokens as their text, byte-level tokens as their raw
// bytes (which may be part of a UTF-8 character). It returns nil for ids out
// of range. The result is shared: callers must not modify it.
func (t *Tokenizer) Piece(id int32) []byte {
	if !t.valid(id) || t.attrs[id]&(attrControl|attrUnknown) != 0 {
		return nil
	}
	return t.piece(id)
}

// AppendPiece appends the bytes of one token to dst. With special, CONTROL
// and UNKNOWN tokens render as their text ("<|im_end|>"). Ids out of range
// append nothing.
func (t *Tokenizer) AppendPiece(dst []byte, id int32, special bool) []byte {
	if !t.valid(id) {
		return dst
	}
	if !special && t.attrs[id]&(attrControl|attrUnknown) != 0 {
		return dst
	}
	return append(dst, t.piece(id)...)
}

// Decode returns the text of ids with special tokens rendered as their text
// and no other change, so that Decode(Encode(s, p)) == s for valid UTF-8 s
// and either p with byte-level BPE. For SentencePiece the space added before
// the first word is removed, as llama.cpp's detokenizer does; the spaces it
// adds after special tokens stay, so there the round trip holds for text
// without special tokens. Ids out of range are skipped. For text shown to a
// user use a StreamDecoder, which hides control tokens.
func (t *Tokenizer) Decode(ids []int32) string {
	var b []byte
	for i, id := range ids {
		n := len(b)
		b = t.AppendPiece(b, id, true)
		if i == 0 && t.addSpacePrefix && len(b) > n && b[n] == ' ' {
			b = b[:n+copy(b[n:], b[n+1:])]
		}
	}
	return string(b)
}

// Detokenize is llama.cpp's llama_detokenize: removeSpecial drops a leading
// BOS (when AddBOS) and a trailing EOS (when AddEOS); unparseSpecial renders
// CONTROL and UNKNOWN tokens as text; and vocabularies with clean_spaces
// (most byte-level BPE tags, including smaug-bpe) have the space removed
// before ? ! . , and before 's 'm 're 've, and spaces around a lone '
// dropped. The result is not always the input text; Decode is.
func (t *Tokenizer) Detokenize(ids []int32, removeSpecial, unparseSpecial bool) string {
	removeSpace := t.addSpacePrefix
	if removeSpecial && t.addBOS && len(ids) > 0 && ids[0] == t.specials.BOS {
		removeSpace = false
		ids = ids[1:]
	}
	if removeSpecial && t.addEOS && len(ids) > 0 && ids[len(ids)-1] == t.specials.EOS {
		ids = ids[:len(ids)-1]
	}
	var b []byte
	for _, id := range ids {
		n := len(b)
		b = t.AppendPiece(b, id, unparseSpecial)
		if removeSpace && len(b) > n && b[n] == ' ' {
			b = b[:n+copy(b[n:], b[n+1:])]
		}
		removeSpace = false
	}
	if t.model == modelBPE && t.pre.cleanSpaces {
		b = cleanSpaces(b)
	}
	return string(b)
}

// cleanSpaces applies llama.cpp's three clean-up passes in place.
func cleanSpaces(b []byte) []byte {
	if len(b) == 0 {
		return b
	}
	// Pass 1: " ?", " !", " .", " ," lose the space.
	n := 1
	for i := 1; i < len(b); i++ {
		x := b[i]
		if b[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			n--
		}
		b[n] = x
		n++
	}
	b = b[:n]
	// Pass 2: " ' " becomes "'". Reads see the original bytes except
	// where pass 2 itself blanked the following space (to NUL, skipped
	// below by i++).
	n = 1
	for i := 1; i < len(b); i++ {
		x := b[i]
		if x == '\'' && i+1 < len(b) && b[i-1] == ' ' && b[i+1] == ' ' {
			n--
			i++
			b[i] = 0
			b[n] = x
			n++
			continue
		}
		b[n] = x
		n++
	}
	b = b[:n]
	// Pass 3: " 's", " 'm", " 're", " 've" lose the space.
	n = 1
	for i := 1; i < len(b); i++ {
		x := b[i]
		if b[i-1] == ' ' && x == '\'' && i+1 < len(b) {
			x1 := b[i+1]
			switch {
			case x1 == 's' || x1 == 'm':
				n--
			case x1 != 't' && x1 != 'd' && i+2 < len(b):
				x2 := b[i+2]
				if (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e') {
					n--
				}
			}
		}
		b[n] = x
		n++
	}
	return b[:n]
}

// StreamDecoder turns a stream of token ids into text without ever
// splitting a UTF-8 character: bytes of an incomplete character are held
// back until the token that completes it arrives. Bytes that can never form
// a valid character pass through unchanged, as llama.cpp prints them.
//
// By default CONTROL tokens render as nothing (as llama-server streams
// them); set Special to render them as text. A StreamDecoder is not safe for
// concurrent use.
type StreamDecoder struct {
	t       *Tokenizer
	pending []byte
	// Special renders CONTROL and UNKNOWN tokens as their text.
	Special bool
}

// NewStreamDecoder returns a decoder for a new stream.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t}
}

// Next adds one token and returns the text that is now complete (possibly
// "").
func (d *StreamDecoder) Next(id int32) string {
	d.pending = d.t.AppendPiece(d.pending, id, d.Special)
	n := completePrefix(d.pending)
	if n == 0 {
		return ""
	}
	s := string(d.pending[:n])
	d.pending = d.pending[:copy(d.pending, d.pending[n:])]
	return s
}

// Flush returns whatever is held back (an incomplete character at the end of
// the stream) and resets the decoder.
func (d *StreamDecoder) Flush() string {
	s := string(d.pending)
	d.pending = d.pending[:0]
	return s
}

// completePrefix returns the length of the longest prefix of b that does not
// end inside a UTF-8 character that later bytes could still complete: a
// trailing lead byte followed by fewer continuation bytes than it announces
// is held back.
func completePrefix(b []byte) int {
	// A character is at most 4 bytes, so only the last 3 can be the start
	// of an unfinished one.
	for back := 1; back <= 3 && back <= len(b); back++ {
		c := b[len(b)-back]
		if c&0xC0 == 0x80 {
			continue // continuation byte: the lead is further back
		}
		if c >= 0xC0 && c < 0xF8 && utf8SeqLen(c) > back {
			return len(b) - back
		}
		return len(b)
	}
	return len(b)
}
