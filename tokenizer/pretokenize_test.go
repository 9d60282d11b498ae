package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func pieces(kind preKind, text string) []string {
	var s splitter
	s.split(kind, text)
	out := []string{}
	for i := range s.ends {
		out = append(out, string(s.piece(i)))
	}
	return out
}

// The expectations below agree with Python's regex module running the
// original patterns (spec §5.2), which support the (?!\S) look-ahead.

func TestSplitLlama3(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{}},
		// Rule 1: contractions, case-insensitive.
		{"contraction m", "I'm", []string{"I", "'m"}},
		{"contraction M", "I'M", []string{"I", "'M"}},
		{"contraction Re", "we'Re", []string{"we", "'Re"}},
		{"contraction VE", "they'VE", []string{"they", "'VE"}},
		{"contraction ll", "you'll", []string{"you", "'ll"}},
		{"contraction D", "He'D", []string{"He", "'D"}},
		{"contraction S", "it'S", []string{"it", "'S"}},
		{"contraction t", "don't", []string{"don", "'t"}},
		{"contraction then quote", "'re'", []string{"'re", "'"}},
		{"quote letter", "'x", []string{"'x"}},
		{"lone quote", "'", []string{"'"}},
		{"quotes", "''", []string{"''"}},
		{"trailing quote", "abc'", []string{"abc", "'"}},
		// Rule 2: optional non-letter prefix, then letters.
		{"punct prefix", "a,b", []string{"a", ",b"}},
		{"paren", "(x)", []string{"(x", ")"}},
		{"space word", "a b", []string{"a", " b"}},
		{"nbsp word", "\u00a0x", []string{"\u00a0x"}},
		{"zwsp word", "\u200bx", []string{"\u200bx"}},
		{"emoji prefix", "a😀b", []string{"a", "😀b"}},
		// Rule 3: numbers in runs of at most three.
		{"1 digit", "1", []string{"1"}},
		{"3 digits", "123", []string{"123"}},
		{"4 digits", "1234", []string{"123", "4"}},
		{"7 digits", "1234567", []string{"123", "456", "7"}},
		{"digits letters", "12a34", []string{"12", "a", "34"}},
		{"arabic-indic digits", "٣٤٥٦", []string{"٣٤٥", "٦"}},
		{"vulgar fractions", "½¼", []string{"½¼"}},
		{"dollar", "$5", []string{"$", "5"}},
		// Rule 4: optional space, punctuation run, trailing newlines.
		{"punct run", "x!?", []string{"x", "!?"}},
		{"punct crlf", "hello!!!\r\n", []string{"hello", "!!!\r\n"}},
		{"punct newlines", "a...\n\nb", []string{"a", "...\n\n", "b"}},
		{"space punct", " ...", []string{" ..."}},
		{"spaces punct", "  ...", []string{" ", " ..."}},
		{"symbol", "€", []string{"€"}},
		{"emoji", "😀", []string{"😀"}},
		{"emojis", "😀😀", []string{"😀😀"}},
		{"space emoji", " 😀", []string{" 😀"}},
		{"emoji dot", "🦙.cpp", []string{"🦙.", "cpp"}},
		// Rule 5: whitespace.
		{"two spaces", "a  b", []string{"a", " ", " b"}},
		{"three spaces", "a   b", []string{"a", "  ", " b"}},
		{"space newline space", "a \n b", []string{"a", " \n", " b"}},
		{"space newline", " \n", []string{" \n"}},
		{"newlines", "\n\n", []string{"\n\n"}},
		{"crlf", "\r\n", []string{"\r\n"}},
		{"crlf crlf", "a\r\n\r\nb", []string{"a", "\r\n\r\n", "b"}},
		{"trailing spaces", "x  ", []string{"x", "  "}},
		{"trailing space tab", "x \t", []string{"x", " \t"}},
		{"tabs", "\t\tx", []string{"\t", "\tx"}},
		{"ideographic space", " \u3000x", []string{" ", "\u3000x"}},
		{"newline space word", "\n x", []string{"\n", " x"}},
		{"mixed", " \t\n ", []string{" \t\n", " "}},
		// Letters and marks: \p{M} is not a letter.
		{"accented", "naïve", []string{"naïve"}},
		{"combining at end", "cafe\u0301", []string{"cafe", "\u0301"}},
		{"combining inside", "ab\u0301c", []string{"ab", "\u0301c"}},
		{"greek", "Ωmega", []string{"Ωmega"}},
		{"cjk", "日本語", []string{"日本語"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := pieces(preLlama3, c.in); !slices.Equal(got, c.want) {
				t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSplitGPT2(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []string
	}{
		{"contraction", "I'm", []string{"I", "'m"}},
		{"contraction is case-sensitive", "I'M", []string{"I", "'", "M"}},
		{"contraction Re", "we'Re", []string{"we", "'", "Re"}},
		{"quote letter", "'x", []string{"'", "x"}},
		{"numbers unchunked", "1234567", []string{"1234567"}},
		{"punct then letter", "a,b", []string{"a", ",", "b"}},
		{"punct crlf", "hello!!!\r\n", []string{"hello", "!!!", "\r\n"}},
		{"crlf crlf", "a\r\n\r\nb", []string{"a", "\r\n\r", "\n", "b"}},
		{"tabs", "\t\tx", []string{"\t", "\t", "x"}},
		{"ideographic space", " \u3000x", []string{" ", "\u3000", "x"}},
		{"nbsp", "\u00a0x", []string{"\u00a0", "x"}},
		{"two spaces", "a  b", []string{"a", " ", " b"}},
		{"trailing spaces", "x  ", []string{"x", "  "}},
		{"emoji", "a😀b", []string{"a", "😀", "b"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := pieces(preGPT2, c.in); !slices.Equal(got, c.want) {
				t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSplitDigitsGPT2AndDefault(t *testing.T) {
	for _, c := range []struct {
		in          string
		smollm, def []string
	}{
		{"abc123def", []string{"abc", "1", "2", "3", "def"}, []string{"abc", "123", "def"}},
		{"x = 1234567;", []string{"x", " =", " ", "1", "2", "3", "4", "5", "6", "7", ";"},
			[]string{"x", " ", "=", " ", "123", "456", "7", ";"}},
		{"I've 2 cats!!", []string{"I", "'ve", " ", "2", " cats", "!!"},
			[]string{"I", "'", "ve", " ", "2", " cats", "!!"}},
		{"a  1", []string{"a", "  ", "1"}, []string{"a", " ", " ", "1"}},
		{" 12", []string{" ", "1", "2"}, []string{" ", "12"}},
		{"٣٤٥", []string{"٣", "٤", "٥"}, []string{"٣٤٥"}},
		{"3.14", []string{"3", ".", "1", "4"}, []string{"3", ".", "14"}},
		{"hello, world... ok?", []string{"hello", ",", " world", "...", " ok", "?"},
			[]string{"hello", ",", " world", "...", " ok", "?"}},
		{"a`b", []string{"a", "`", "b"}, []string{"a", "`", "b"}},
		{"12345 67", []string{"1", "2", "3", "4", "5", " ", "6", "7"}, []string{"123", "45", " ", "67"}},
		{"x+=y|z", []string{"x", "+=", "y", "|", "z"}, []string{"x", "+=", "y", "|", "z"}},
		{"«quote»", []string{"«", "quote", "»"}, []string{"«", "quote", "»"}},
		{"  \n x", []string{"  \n", " x"}, []string{"  \n", " x"}},
	} {
		if got := pieces(preDigitsGPT2, c.in); !slices.Equal(got, c.smollm) {
			t.Errorf("smollm split(%q) = %q, want %q", c.in, got, c.smollm)
		}
		if got := pieces(preDefault, c.in); !slices.Equal(got, c.def) {
			t.Errorf("default split(%q) = %q, want %q", c.in, got, c.def)
		}
	}
}

// TestSplitInvalidUTF8 checks that each bad byte is one U+FFFD code point,
// as llama.cpp decodes it, and that surrogates and overlong forms decode
// leniently as llama.cpp does.
func TestSplitInvalidUTF8(t *testing.T) {
	got := pieces(preLlama3, "a\xffb\xe2\x82")
	want := []string{"a", "\ufffdb", "\ufffd\ufffd"}
	if !slices.Equal(got, want) {
		t.Errorf("split = %q, want %q", got, want)
	}
	// U+D800 encoded (ED A0 80) survives as the same three bytes.
	if got := pieces(preLlama3, "x\xed\xa0\x80"); strings.Join(got, "") != "x\xed\xa0\x80" {
		t.Errorf("surrogate: %q", got)
	}
	// Overlong NUL (C0 80) decodes to U+0000.
	if got := pieces(preLlama3, "\xc0\x80"); !slices.Equal(got, []string{"\x00"}) {
		t.Errorf("overlong: %q", got)
	}
}

// FuzzPreTokenize checks that the pieces of every pre-tokenizer are
// non-empty and concatenate back to the (valid UTF-8) input.
func FuzzPreTokenize(f *testing.F) {
	for _, s := range []string{"", "Hello world", " \t\n ", "I'M 1234567 !!!\r\n", "naïve 🦙.cpp", "a\u3000\u00a0b", "٣٤٥٦'s"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, kind := range []preKind{preDefault, preLlama3, preGPT2, preDigitsGPT2} {
			p := pieces(kind, s)
			for _, x := range p {
				if x == "" {
					t.Fatalf("kind %d: empty piece in %q", kind, p)
				}
			}
			if utf8.ValidString(s) && strings.Join(p, "") != s {
				t.Fatalf("kind %d: pieces %q do not join to %q", kind, p, s)
			}
		}
	})
}
