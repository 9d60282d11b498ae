package tokenizer

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// byteTokens returns, for each byte of s, the token that stands for that
// single byte in a byte-level BPE vocabulary.
func byteTokens(t *testing.T, tok *Tokenizer, s string) []int32 {
	t.Helper()
	var ids []int32
	for i := 0; i < len(s); i++ {
		id, ok := tok.TokenID(string(byteToRune[s[i]]))
		if !ok {
			t.Fatalf("no token for byte %#x", s[i])
		}
		ids = append(ids, id)
	}
	return ids
}

func TestStreamDecoderNeverSplitsUTF8(t *testing.T) {
	tok, _ := smolLM3(t)
	texts := []string{
		"naïve café 🦙🦙 llama.cpp 👨\u200d👩\u200d👧 日本語 ℕ⊆ℤ 𝒜𝒷𝒸",
		"é", "😀", "a😀b", "\u0301", "x\u3000y",
	}
	for _, text := range texts {
		// Both the real tokenization (where emoji span several tokens) and
		// one token per byte.
		for _, ids := range [][]int32{tok.Encode(text, false), byteTokens(t, tok, text)} {
			d := tok.NewStreamDecoder()
			var sb strings.Builder
			for i, id := range ids {
				out := d.Next(id)
				if !utf8.ValidString(out) {
					t.Fatalf("%q: Next(#%d = %d) = %q is not valid UTF-8", text, i, id, out)
				}
				sb.WriteString(out)
			}
			sb.WriteString(d.Flush())
			if sb.String() != text {
				t.Errorf("stream of %q = %q", text, sb.String())
			}
		}
	}
}

func TestStreamDecoderHoldsAndFlushes(t *testing.T) {
	tok, _ := smolLM3(t)
	ids := byteTokens(t, tok, "a\xf0\x9f\x98\x80b") // "a😀b"
	d := tok.NewStreamDecoder()
	want := []string{"a", "", "", "", "😀", "b"}
	for i, id := range ids {
		if got := d.Next(id); got != want[i] {
			t.Errorf("Next #%d = %q, want %q", i, got, want[i])
		}
	}
	// A character cut off at the end of the stream comes out of Flush.
	for _, id := range byteTokens(t, tok, "\xe6\x97") {
		if got := d.Next(id); got != "" {
			t.Errorf("partial character emitted: %q", got)
		}
	}
	if got := d.Flush(); got != "\xe6\x97" {
		t.Errorf("Flush = %q", got)
	}
	if got := d.Flush(); got != "" {
		t.Errorf("second Flush = %q", got)
	}
	// Bytes that can never complete a character pass through.
	for i, c := range []struct {
		in, want string
	}{
		{"\x80", "\x80"},         // stray continuation byte
		{"\xff", "\xff"},         // never valid
		{"\xe2z", "\xe2z"},       // lead byte followed by ASCII
		{"\xc3\xa9\xc3", "é"},    // complete, then a new lead
		{"\xa9", "\xc3\xa9"[:2]}, // which this completes
	} {
		got := ""
		for _, id := range byteTokens(t, tok, c.in) {
			got += d.Next(id)
		}
		if got != c.want {
			t.Errorf("case %d: Next(%q) = %q, want %q", i, c.in, got, c.want)
		}
	}
}

func TestStreamDecoderSpecial(t *testing.T) {
	tok, _ := smolLM3(t)
	ids := tok.Encode("<think>\nhi\n</think>\n<|im_end|>", true)
	plain, special := tok.NewStreamDecoder(), tok.NewStreamDecoder()
	special.Special = true
	var a, b string
	for _, id := range ids {
		a += plain.Next(id)
		b += special.Next(id)
	}
	if a != "\nhi\n\n" {
		t.Errorf("plain stream = %q", a)
	}
	if b != "<think>\nhi\n</think>\n<|im_end|>" {
		t.Errorf("special stream = %q", b)
	}
}

func TestDetokenizeCleanSpaces(t *testing.T) {
	tok, _ := smolLM3(t)
	for _, c := range []struct{ in, want string }{
		{"Hello , world !", "Hello, world!"},
		{"a . b ? c", "a. b? c"},
		{"it ' s", "it's"},
		{"I 'm he 's we 're they 've", "I'm he's we're they've"},
		{"don 't I 'll you 'd", "don 't I 'll you 'd"},
		{"plain text", "plain text"},
	} {
		ids := tok.Encode(c.in, false)
		if got := tok.Detokenize(ids, false, false); got != c.want {
			t.Errorf("Detokenize(%q) = %q, want %q", c.in, got, c.want)
		}
		if got := tok.Decode(ids); got != c.in {
			t.Errorf("Decode(%q) = %q", c.in, got)
		}
	}
	ids := tok.Encode("<|im_start|>x<|im_end|>", true)
	if got := tok.Detokenize(ids, false, false); got != "x" {
		t.Errorf("Detokenize without specials = %q", got)
	}
	if got := tok.Detokenize(ids, false, true); got != "<|im_start|>x<|im_end|>" {
		t.Errorf("Detokenize with specials = %q", got)
	}
}

func TestCleanSpacesEdges(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{" ", " "},
		{",", ","},
		{" ,", ","},
		{"a ,", "a,"},
		{"a ' b", "a'b"},
		{"a ' ' b", "a'' b"}, // the blanked space no longer counts
		{"x 's", "x's"},
		{"x '", "x '"},
		{"x 're", "x're"},
		{"x 'll", "x 'll"},
	} {
		if got := string(cleanSpaces([]byte(c.in))); got != c.want {
			t.Errorf("cleanSpaces(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestPieceOutOfRange(t *testing.T) {
	tok, _ := smolLM3(t)
	for _, id := range []int32{-1, int32(tok.NumTokens()), 1 << 30} {
		if p := tok.Piece(id); p != nil {
			t.Errorf("Piece(%d) = %q", id, p)
		}
		if tok.Text(id) != "" || tok.TokenType(id) != TypeUndefined {
			t.Errorf("Text/TokenType(%d) not empty", id)
		}
	}
	if got := tok.Decode([]int32{9906, -5, 1 << 30, 1917}); got != "Hello world" {
		t.Errorf("Decode with bad ids = %q", got)
	}
}
