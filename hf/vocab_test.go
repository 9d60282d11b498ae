package hf_test

import (
	"path/filepath"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/hf/hftest"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/tokenizer"
)

// TestRealVocabRoundTrip writes SmolLM3's real vocabulary (128,256 tokens,
// 280,147 merges, chat template) as tokenizer.json + tokenizer_config.json
// and reads it back: the tokenizer.* metadata must equal the GGUF's, with
// the pre-tokenizer detected as smaug-bpe, and the tokenizers built from
// both must tokenize alike.
func TestRealVocabRoundTrip(t *testing.T) {
	src := openGGUF(t, testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf"))
	for _, pairs := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "tok")
		if err := hftest.ExportTokenizer(src, dir, hftest.Options{MergesAsPairs: pairs}); err != nil {
			t.Fatal(err)
		}
		cfg, err := hf.ReadConfig(dir)
		if err != nil {
			t.Fatal(err)
		}
		v, err := hf.ReadVocab(dir, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if v.Pre != "smaug-bpe" || len(v.Warnings) != 0 {
			t.Errorf("pre %q, warnings %v", v.Pre, v.Warnings)
		}
		var want []gguf.KV
		for _, kv := range src.KV {
			if len(kv.Key) > 10 && kv.Key[:10] == "tokenizer." {
				want = append(want, kv)
			}
		}
		got := v.KV()
		if len(got) != len(want) {
			t.Errorf("%d tokenizer keys, want %d", len(got), len(want))
		}
		gf := kvFile(t, got)
		sameKV(t, kvFile(t, want), gf, nil)

		a, err := tokenizer.FromGGUF(src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := tokenizer.FromGGUF(gf)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"Hello world!", "<|im_start|>user\nWhat's 12345 + 678?<|im_end|>", "  naïve café 東京 🙂\n\n\tend"} {
			x, y := a.Encode(s, true), b.Encode(s, true)
			if len(x) == 0 || !equalIDs(x, y) {
				t.Errorf("%q: %v vs %v", s, x, y)
			}
		}
	}
}

// kvFile builds an in-memory tensor-less GGUF holding kvs.
func kvFile(t *testing.T, kvs []gguf.KV) *gguf.File {
	t.Helper()
	var buf bytesBuffer
	w, err := gguf.NewWriter(&buf, kvs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.b)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func equalIDs[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
