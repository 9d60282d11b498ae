package tokenizer

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
)

// memGGUF writes a tensor-less GGUF holding kv and parses it back.
func memGGUF(t *testing.T, kv map[string]any) *gguf.File {
	t.Helper()
	var kvs []gguf.KV
	for k, v := range kv {
		kvs = append(kvs, gguf.KV{Key: k, Value: gguf.MustValue(v)})
	}
	var buf bytes.Buffer
	w, err := gguf.NewWriter(&buf, kvs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func sentencePieceKV() map[string]any {
	return map[string]any{
		"tokenizer.ggml.model":      "llama",
		"tokenizer.ggml.tokens":     []string{"<unk>", "<s>", "</s>", "a", "▁a"},
		"tokenizer.ggml.scores":     []float32{0, 0, 0, -1, -0.5},
		"tokenizer.ggml.token_type": []int32{2, 3, 3, 1, 1},
	}
}

func TestFromGGUF(t *testing.T) {
	kv := sentencePieceKV()
	kv["tokenizer.ggml.padding_token_id"] = int32(-1) // "none", as some converters write it
	kv["tokenizer.ggml.add_eos_token"] = true
	tok, err := FromGGUF(memGGUF(t, kv))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Tokenize("a", true, false); len(got) != 3 || got[0] != 1 || got[1] != 4 || got[2] != 2 {
		t.Errorf("Tokenize = %v, want [1 4 2]", got)
	}
	if tok.Specials().PAD != NoToken || tok.Model() != "llama" {
		t.Errorf("PAD %d model %q", tok.Specials().PAD, tok.Model())
	}
}

func TestFromGGUFErrors(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(kv map[string]any)
		want string
	}{
		{"no model", func(kv map[string]any) { delete(kv, "tokenizer.ggml.model") }, "missing tokenizer.ggml.model"},
		{"model type", func(kv map[string]any) { kv["tokenizer.ggml.model"] = uint32(1) }, "not a string"},
		{"pre type", func(kv map[string]any) { kv["tokenizer.ggml.pre"] = []string{"x"} }, "not a string"},
		{"no tokens", func(kv map[string]any) { delete(kv, "tokenizer.ggml.tokens") }, "tokenizer.ggml.tokens"},
		{"tokens type", func(kv map[string]any) { kv["tokenizer.ggml.tokens"] = []int32{1} }, "tokenizer.ggml.tokens"},
		{"token_type type", func(kv map[string]any) { kv["tokenizer.ggml.token_type"] = []string{"a"} }, "not an integer array"},
		{"scores type", func(kv map[string]any) { kv["tokenizer.ggml.scores"] = "x" }, "not a number array"},
		{"merges type", func(kv map[string]any) { kv["tokenizer.ggml.merges"] = []int32{1} }, "not a string array"},
		{"id type", func(kv map[string]any) { kv["tokenizer.ggml.bos_token_id"] = "1" }, "not a token id"},
		{"id negative", func(kv map[string]any) { kv["tokenizer.ggml.bos_token_id"] = int32(-7) }, "not a token id"},
		{"id too large", func(kv map[string]any) { kv["tokenizer.ggml.bos_token_id"] = uint64(1 << 40) }, "not a token id"},
		{"id out of range", func(kv map[string]any) { kv["tokenizer.ggml.eos_token_id"] = uint32(99) }, "outside the vocabulary"},
		{"bool type", func(kv map[string]any) { kv["tokenizer.ggml.add_bos_token"] = uint8(1) }, "not a bool"},
		{"lengths", func(kv map[string]any) { kv["tokenizer.ggml.scores"] = []float32{0} }, "scores for"},
	} {
		t.Run(c.name, func(t *testing.T) {
			kv := sentencePieceKV()
			c.edit(kv)
			tok, err := FromGGUF(memGGUF(t, kv))
			if err == nil || !errors.Is(err, ErrVocab) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("FromGGUF = %v, %v; want error containing %q", tok, err, c.want)
			}
		})
	}
}
