package tokenizer

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// byteLevelVocab builds a small "gpt2" vocabulary: the 256 byte symbols
// (ids 0-255 in byte order), then extra tokens with their types.
func byteLevelVocab(merges []string, extra map[string]TokenType) *Vocab {
	if merges == nil {
		merges = []string{}
	}
	v := &Vocab{Model: "gpt2", Pre: "smaug-bpe", Merges: merges}
	for b := range 256 {
		v.Tokens = append(v.Tokens, string(byteToRune[b]))
		v.Types = append(v.Types, TypeNormal)
	}
	keys := make([]string, 0, len(extra))
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Tokens = append(v.Tokens, k)
		v.Types = append(v.Types, extra[k])
	}
	return v
}

func mustNew(t *testing.T, v *Vocab) *Tokenizer {
	t.Helper()
	tok, err := New(v)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// texts maps ids back to vocabulary texts for readable comparisons.
func texts(tok *Tokenizer, ids []int32) []string {
	out := []string{}
	for _, id := range ids {
		out = append(out, tok.Text(id))
	}
	return out
}

func TestBPEMergeOrder(t *testing.T) {
	for _, c := range []struct {
		name   string
		merges []string
		tokens []string
		in     string
		want   []string
	}{
		{"lowest rank first", []string{"b c", "a b"}, []string{"ab", "bc"}, "abc", []string{"a", "bc"}},
		{"rank decides, not position", []string{"a b", "b c"}, []string{"ab", "bc"}, "abc", []string{"ab", "c"}},
		{"leftmost on ties", []string{"a a"}, []string{"aa"}, "aaa", []string{"aa", "a"}},
		{"stale candidates skipped", []string{"b c", "a bc", "c d"}, []string{"bc", "abc", "cd"}, "abcd", []string{"abc", "d"}},
		{"merges chain", []string{"a b", "ab c", "abc d"}, []string{"ab", "abc", "abcd"}, "abcdab", []string{"abcd", "ab"}},
		{"no merge", nil, nil, "xyz", []string{"x", "y", "z"}},
		// "ab" is not a token: it is still a merge step, and when it is
		// left over, llama.cpp falls back to single-byte tokens.
		{"intermediate not a token", []string{"a b", "ab c"}, []string{"abc"}, "abc ab", []string{"abc", "Ġ", "a", "b"}},
		{"space symbol", []string{"Ġ a"}, []string{"Ġa"}, "b a", []string{"b", "Ġa"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			extra := map[string]TokenType{}
			for _, s := range c.tokens {
				extra[s] = TypeNormal
			}
			tok := mustNew(t, byteLevelVocab(c.merges, extra))
			ids := tok.Encode(c.in, false)
			if got := texts(tok, ids); !slices.Equal(got, c.want) {
				t.Errorf("Encode(%q) = %q, want %q", c.in, got, c.want)
			}
			if s := tok.Decode(ids); s != c.in {
				t.Errorf("Decode = %q", s)
			}
		})
	}
}

func TestBPEWholeWordShortcut(t *testing.T) {
	// "abc" is a token, but no merge chain produces it.
	v := byteLevelVocab([]string{"a b"}, map[string]TokenType{"ab": TypeNormal, "abc": TypeNormal})
	for _, c := range []struct {
		pre  string
		want []string
	}{
		{"smaug-bpe", []string{"ab", "c"}},
		{"llama-bpe", []string{"abc"}},
	} {
		v.Pre = c.pre
		tok := mustNew(t, v)
		if got := texts(tok, tok.Encode("abc", false)); !slices.Equal(got, c.want) {
			t.Errorf("%s: Encode(abc) = %q, want %q", c.pre, got, c.want)
		}
	}
}

func TestMergeParsing(t *testing.T) {
	// The separator is the first space at index >= 1; later spaces belong
	// to the right side.
	tok := mustNew(t, byteLevelVocab([]string{" x y"}, nil))
	l, r := symOf(tok, " x"), symOf(tok, "y")
	if _, ok := tok.bpe.merges[uint64(l)<<32|uint64(r)]; !ok || l < tok.bpe.nTokens {
		t.Errorf("merge \" x y\" not parsed as (\" x\", \"y\")")
	}
	// Duplicate merges keep the first rank.
	tok = mustNew(t, byteLevelVocab([]string{"a b", "c d", "a b"}, map[string]TokenType{"ab": TypeNormal, "cd": TypeNormal}))
	a, b := tok.bpe.byteSym['a'], tok.bpe.byteSym['b']
	if v := tok.bpe.merges[uint64(a)<<32|uint64(b)]; v>>32 != 0 {
		t.Errorf("duplicate merge has rank %d, want 0", v>>32)
	}
}

// symOf returns the BPE symbol id of a text, or -1.
func symOf(tok *Tokenizer, s string) int32 {
	if id, ok := tok.index[s]; ok {
		return id
	}
	for i, e := range tok.bpe.extra {
		if e == s {
			return tok.bpe.nTokens + int32(i)
		}
	}
	return -1
}

func TestSpecialPartition(t *testing.T) {
	v := byteLevelVocab(nil, map[string]TokenType{
		"<a>":  TypeControl,
		"<ab>": TypeControl,
		"ab":   TypeControl,
		"bcd":  TypeControl,
		"[U]":  TypeUserDefined,
		"<?>":  TypeUnknown,
	})
	tok := mustNew(t, v)
	for _, c := range []struct {
		in      string
		special bool
		want    []string
	}{
		{"x<ab>y<a>z[U]", true, []string{"x", "<ab>", "y", "<a>", "z", "[U]"}},
		// Without special parsing only USER_DEFINED tokens are matched.
		{"x<ab>y<a>z[U]", false, []string{"x", "<", "a", "b", ">", "y", "<", "a", ">", "z", "[U]"}},
		{"<?>", true, []string{"<?>"}},
		{"<?>", false, []string{"<", "?", ">"}},
		// Longest token first over the whole text, not leftmost-longest:
		// "bcd" is cut out before "ab" is looked for.
		{"abcd", true, []string{"a", "bcd"}},
		{"abab", true, []string{"ab", "ab"}},
		{"[U][U]", false, []string{"[U]", "[U]"}},
		{"", true, []string{}},
	} {
		if got := texts(tok, tok.Encode(c.in, c.special)); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q, %v) = %q, want %q", c.in, c.special, got, c.want)
		}
	}
}

func TestEOGByText(t *testing.T) {
	// A NORMAL token with an end-of-generation text becomes CONTROL and
	// EOG; the EOS key adds its token too.
	v := byteLevelVocab(nil, map[string]TokenType{"<|eot_id|>": TypeNormal, "<stop>": TypeControl, "<|unused_0|>": TypeControl})
	eos := uint32(slices.Index(v.Tokens, "<stop>"))
	v.IDs = map[string]uint32{KeyEOS: eos}
	tok := mustNew(t, v)
	eot, _ := tok.TokenID("<|eot_id|>")
	if !tok.IsEOG(eot) || !tok.IsEOG(int32(eos)) || tok.IsEOG('a') {
		t.Errorf("EOG set %v", tok.EOG())
	}
	if tok.TokenType(eot) != TypeControl || tok.Specials().EOT != eot {
		t.Errorf("<|eot_id|>: type %v, EOT %d", tok.TokenType(eot), tok.Specials().EOT)
	}
	if p := tok.Piece(eot); len(p) != 0 {
		t.Errorf("Piece(<|eot_id|>) = %q", p)
	}
	// Promoted to CONTROL, it is no longer matched without special parsing.
	if got := tok.Encode("<|eot_id|>", false); len(got) == 1 {
		t.Errorf("Encode(<|eot_id|>, false) = %v", got)
	}
}

func TestSentencePiece(t *testing.T) {
	no := false
	v := &Vocab{
		Model:          "llama",
		Tokens:         []string{"<unk>", "<s>", "</s>", "a", "b", "c", "ab", "bc", "<0x64>", "▁", "▁a"},
		Types:          []TokenType{2, 3, 3, 1, 1, 1, 1, 1, 6, 1, 1},
		Scores:         []float32{0, 0, 0, -5, -5, -5, -1, -0.5, 0, -3, -2},
		AddSpacePrefix: &no,
	}
	tok := mustNew(t, v)
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"abc", []string{"a", "bc"}}, // "bc" scores higher than "ab"
		{"ab", []string{"ab"}},
		{"d", []string{"<0x64>"}}, // byte fallback
		{"e", []string{"<unk>"}},  // no byte token: UNK
		{" a", []string{"▁a"}},    // spaces become U+2581
	} {
		if got := texts(tok, tok.Encode(c.in, false)); !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := tok.Decode(tok.Encode("abc d a", false)); got != "abc d a" {
		t.Errorf("Decode = %q", got)
	}
	// add_space_prefix puts a space before the first word and after
	// every special token.
	yes := true
	v.AddSpacePrefix = &yes
	tok = mustNew(t, v)
	if got := texts(tok, tok.Encode("a<s>a", true)); !slices.Equal(got, []string{"▁a", "<s>", "▁a"}) {
		t.Errorf("Encode(a<s>a) = %q", got)
	}
	if got := tok.Decode(tok.Encode("a", true)); got != "a" {
		t.Errorf("Decode strips the added space: %q", got)
	}
}

func TestVocabErrors(t *testing.T) {
	base := func() *Vocab { return byteLevelVocab([]string{"a b"}, map[string]TokenType{"ab": TypeNormal}) }
	yes := true
	for _, c := range []struct {
		name string
		edit func(v *Vocab)
		want string
	}{
		{"model", func(v *Vocab) { v.Model = "bert" }, "unsupported tokenizer model"},
		{"pre", func(v *Vocab) { v.Pre = "qwen2" }, "unsupported pre-tokenizer"},
		{"no tokens", func(v *Vocab) { v.Tokens, v.Types = nil, nil }, "no tokens"},
		{"types length", func(v *Vocab) { v.Types = v.Types[:3] }, "token types for"},
		{"scores length", func(v *Vocab) { v.Scores = []float32{1} }, "scores for"},
		{"duplicate", func(v *Vocab) { v.Tokens[1] = v.Tokens[0] }, "duplicate token"},
		{"type value", func(v *Vocab) { v.Types[5] = 9 }, "unknown token type"},
		{"byte token", func(v *Vocab) { v.Types[5] = TypeByte }, "byte token"},
		{"no merges", func(v *Vocab) { v.Merges = nil }, "no merges"},
		{"merge without space", func(v *Vocab) { v.Merges = []string{"ab"} }, "no separating space"},
		{"merge single char", func(v *Vocab) { v.Merges = []string{" "} }, "no separating space"},
		{"id out of range", func(v *Vocab) { v.IDs = map[string]uint32{KeyEOS: 1 << 20} }, "outside the vocabulary"},
		{"unknown id key", func(v *Vocab) { v.IDs = map[string]uint32{"bos_id": 1} }, "unknown special-token key"},
		{"add_eos without eos", func(v *Vocab) {
			v.Tokens, v.Types, v.Merges = v.Tokens[:5], v.Types[:5], nil
			v.Merges = []string{}
			v.AddEOS = &yes
		}, "no EOS token"},
		{"spm add_bos without bos", func(v *Vocab) {
			v.Model, v.Merges = "llama", nil
			v.Tokens, v.Types = []string{"a"}, nil
		}, "no BOS token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			v := base()
			c.edit(v)
			tok, err := New(v)
			if err == nil || !errors.Is(err, ErrVocab) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("New = %v, %v; want error containing %q", tok, err, c.want)
			}
		})
	}
	// 0xFFFFFFFF means "none" and keeps the default, as in llama.cpp.
	v := base()
	v.IDs = map[string]uint32{KeyPAD: 0xFFFFFFFF, KeyBOS: 0xFFFFFFFF}
	tok := mustNew(t, v)
	if tok.Specials().PAD != NoToken || tok.BOS() != 11 {
		t.Errorf("PAD %d BOS %d, want none and the default 11", tok.Specials().PAD, tok.BOS())
	}
}

func TestUnsupportedTokenTypesRenderEmpty(t *testing.T) {
	v := byteLevelVocab(nil, map[string]TokenType{"<unused>": TypeUnused, "<undef>": TypeUndefined, "[ud]": TypeUserDefined})
	tok := mustNew(t, v)
	for _, c := range []struct{ text, want string }{{"<unused>", ""}, {"<undef>", ""}, {"[ud]", "[ud]"}} {
		id, _ := tok.TokenID(c.text)
		if got := string(tok.Piece(id)); got != c.want {
			t.Errorf("Piece(%s) = %q, want %q", c.text, got, c.want)
		}
	}
}
