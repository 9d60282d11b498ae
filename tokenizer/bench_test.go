package tokenizer

import (
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
)

// FuzzBPERoundTrip checks decode(encode(s)) == s on the real vocabulary, and
// that any input (valid UTF-8 or not) gives in-range ids without panicking.
func FuzzBPERoundTrip(f *testing.F) {
	tok, _ := smolLM3(f)
	for _, s := range []string{
		"", "Hello world", " \t\n ", "<|im_start|>user\nhi<|im_end|>", "I'M 1234567 !!!\r\n",
		"naïve café 🦙.cpp 👨\u200d👩\u200d👧", "a\u3000\u00a0b", "\x00\x1b", "\xff\xfe", "٣٤٥٦'s",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, special := range []bool{false, true} {
			ids := tok.Encode(s, special)
			for _, id := range ids {
				if id < 0 || int(id) >= tok.NumTokens() {
					t.Fatalf("Encode(%q, %v): id %d out of range", s, special, id)
				}
			}
			if utf8.ValidString(s) {
				if got := tok.Decode(ids); got != s {
					t.Fatalf("Decode(Encode(%q, %v)) = %q", s, special, got)
				}
			}
		}
	})
}

// BenchmarkNewSmolLM3 measures building the tokenizer from the 128,256-token
// vocabulary and 280,147 merges already read from the file.
func BenchmarkNewSmolLM3(b *testing.B) {
	_, v := smolLM3(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := New(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkFromGGUFSmolLM3 measures the whole load: open and parse the
// vocab-only GGUF, then build the tokenizer.
func BenchmarkFromGGUFSmolLM3(b *testing.B) {
	path := testutil.Fixture(b, "tokenizer", "smollm3-vocab.gguf")
	b.ReportAllocs()
	for b.Loop() {
		f, err := gguf.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := FromGGUF(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// benchText is about 4 KB of ordinary English prose.
var benchText = strings.Repeat(`The lighthouse keeper climbed the spiral stairs every evening at dusk, counting
the steps as his father had taught him: one hundred and twelve, never more, never less. From
the lantern room he could see the whole bay, the fishing boats returning with their nets, the
gulls wheeling over the harbour wall, and the slow procession of clouds that drifted in from the
west. He trimmed the wick, polished the great lens until it shone, and wrote the time in his
logbook in a careful, old-fashioned hand. Some nights the sea was calm as glass; on others the
wind howled around the tower and rain lashed the windows so hard that he wondered whether the
light could be seen at all. "It doesn't matter," he'd say to the cat, who never answered. "We
keep it burning anyway." In 1987 the authorities installed an automatic beacon, and the keeper
was told, politely, that he was no longer needed. He stayed on for another three years, out of
habit, until the stairs grew too many for his knees.
`, 4)

func BenchmarkEncode(b *testing.B) {
	tok, _ := smolLM3(b)
	n := len(tok.Encode(benchText, false))
	b.SetBytes(int64(len(benchText)))
	b.ReportAllocs()
	var dst []int32
	for b.Loop() {
		dst = tok.AppendEncode(dst[:0], benchText, false)
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
}

// BenchmarkEncodeNoCache measures the pre-tokenizer and merge loop alone,
// without the per-scratch word cache.
func BenchmarkEncodeNoCache(b *testing.B) {
	tok, v := smolLM3(b)
	tok2, err := New(v)
	if err != nil {
		b.Fatal(err)
	}
	tok2.noWordCache = true
	if !slices.Equal(tok2.Encode(benchText, false), tok.Encode(benchText, false)) {
		b.Fatal("cache changes the result")
	}
	b.SetBytes(int64(len(benchText)))
	var dst []int32
	for b.Loop() {
		dst = tok2.AppendEncode(dst[:0], benchText, false)
	}
}

func BenchmarkEncodeChatPrompt(b *testing.B) {
	tok, _ := smolLM3(b)
	var cc chatCases
	readJSON(b, &cc, "tokenizer", "chat-template.json")
	prompt := cc.Cases[0].Prompt
	b.SetBytes(int64(len(prompt)))
	var dst []int32
	for b.Loop() {
		dst = tok.AppendEncode(dst[:0], prompt, true)
	}
}

func BenchmarkDecode(b *testing.B) {
	tok, _ := smolLM3(b)
	ids := tok.Encode(benchText, false)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		if tok.Decode(ids) != benchText {
			b.Fatal("round trip")
		}
	}
}

func BenchmarkStreamDecode(b *testing.B) {
	tok, _ := smolLM3(b)
	ids := tok.Encode(benchText, false)
	b.SetBytes(int64(len(benchText)))
	for b.Loop() {
		d := tok.NewStreamDecoder()
		for _, id := range ids {
			d.Next(id)
		}
		d.Flush()
	}
}
