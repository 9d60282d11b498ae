package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// Code point classes used by the pre-tokenizers (spec §5.2). A code point
// inside the piece being split always has cpValid set; positions outside the
// piece read as 0, which is how llama.cpp's splitters see "no character".
const (
	cpValid  uint8 = 1 << iota // any code point (llama.cpp: flags.as_uint() != 0)
	cpLetter                   // \p{L}
	cpNumber                   // \p{N}
	cpSpace                    // \s, llama.cpp's whitespace set
	cpPunct                    // \p{P} (only the "default" pre-tokenizer needs it)
)

// asciiClass holds the classes of the 128 ASCII code points.
var asciiClass = func() (t [128]uint8) {
	for c := range 128 {
		t[c] = classOfSlow(rune(c))
	}
	return t
}()

// cpClass returns the class bits of a code point. Letters and numbers follow
// the Unicode general categories L* and N*; Go's tables and llama.cpp's
// generated tables agree except on code points assigned in different Unicode
// editions.
func cpClass(c rune) uint8 {
	if c >= 0 && c < 128 {
		return asciiClass[c]
	}
	return classOfSlow(c)
}

func classOfSlow(c rune) uint8 {
	f := cpValid
	switch {
	case isSpace(c):
		f |= cpSpace
	case unicode.IsLetter(c):
		f |= cpLetter
	case unicode.IsNumber(c):
		f |= cpNumber
	case unicode.IsPunct(c):
		f |= cpPunct
	}
	return f
}

// isSpace reports whether c is in llama.cpp's whitespace set (spec §5.2),
// which is Python's \s: Go's unicode.IsSpace has the same members.
func isSpace(c rune) bool {
	switch {
	case c >= 0x09 && c <= 0x0D, c == 0x20, c == 0x85, c == 0xA0, c == 0x1680,
		c >= 0x2000 && c <= 0x200A, c == 0x2028, c == 0x2029, c == 0x202F,
		c == 0x205F, c == 0x3000:
		return true
	}
	return false
}

// lowerASCII folds A-Z to a-z. It is all of unicode_tolower that the
// contraction rule can observe: no other code point lowercases to one of the
// letters s, t, m, d, r, e, v, l.
func lowerASCII(c rune) rune {
	if c >= 'A' && c <= 'Z' {
		return c + ('a' - 'A')
	}
	return c
}

// decodeRune decodes one code point the way llama.cpp does
// (unicode_cpt_from_utf8): lead byte and continuation bytes are checked, but
// overlong forms and surrogates are accepted. Anything else yields U+FFFD
// and consumes one byte. Values above U+10FFFF (which llama.cpp would later
// fail to re-encode, throwing out of llama_tokenize) are also treated as
// invalid.
func decodeRune(s string) (rune, int) {
	b0 := s[0]
	if b0 < 0x80 {
		return rune(b0), 1
	}
	cont := func(i int) bool { return i < len(s) && s[i]&0xC0 == 0x80 }
	switch {
	case b0&0x40 == 0: // stray continuation byte
	case b0&0x20 == 0:
		if cont(1) {
			return rune(b0&0x1F)<<6 | rune(s[1]&0x3F), 2
		}
	case b0&0x10 == 0:
		if cont(1) && cont(2) {
			return rune(b0&0x0F)<<12 | rune(s[1]&0x3F)<<6 | rune(s[2]&0x3F), 3
		}
	case b0&0x08 == 0:
		if cont(1) && cont(2) && cont(3) {
			r := rune(b0&0x07)<<18 | rune(s[1]&0x3F)<<12 | rune(s[2]&0x3F)<<6 | rune(s[3]&0x3F)
			if r <= unicode.MaxRune {
				return r, 4
			}
		}
	}
	return utf8.RuneError, 1
}

// appendRune encodes c as llama.cpp's unicode_cpt_to_utf8 does. Unlike
// utf8.AppendRune it keeps surrogates (decodeRune accepts them), so
// text → code points → text is the identity on llama.cpp's terms.
func appendRune(dst []byte, c rune) []byte {
	switch {
	case c < 0x80:
		return append(dst, byte(c))
	case c < 0x800:
		return append(dst, 0xC0|byte(c>>6), 0x80|byte(c)&0x3F)
	case c < 0x10000:
		return append(dst, 0xE0|byte(c>>12), 0x80|byte(c>>6)&0x3F, 0x80|byte(c)&0x3F)
	default:
		return append(dst, 0xF0|byte(c>>18), 0x80|byte(c>>12)&0x3F, 0x80|byte(c>>6)&0x3F, 0x80|byte(c)&0x3F)
	}
}

// utf8SeqLen is llama.cpp's unicode_len_utf8: the sequence length implied by
// a lead byte's high nibble, without validation. The SentencePiece tokenizer
// splits its input with it.
func utf8SeqLen(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// GPT-2 byte-level mapping (spec §5.3 step 3): every byte gets a printable
// code point so that BPE operates on visible text.
var (
	byteToRune [256]rune    // byte → code point
	runeToByte [0x144]int16 // code point → byte, -1 where none; 0x144 = 256+68
)

func init() {
	for i := range runeToByte {
		runeToByte[i] = -1
	}
	n := rune(0)
	for b := range 256 {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			byteToRune[b] = rune(b)
		} else {
			byteToRune[b] = 256 + n
			n++
		}
		runeToByte[byteToRune[b]] = int16(b)
	}
}
