package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/hf/hftest"
	"github.com/smolbot/smolbot/safetensors"
)

// greedyTokens generates n tokens greedily after text and returns them
// with the prompt's token ids.
func greedyTokens(t *testing.T, path, text string, n int) (prompt, out []int32) {
	t.Helper()
	e, err := engine.Load(path, engine.Options{Threads: 2, KVType: "f32"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	seq, err := e.NewSequence(0)
	if err != nil {
		t.Fatal(err)
	}
	prompt = e.Tokenizer().Encode(text, false)
	_, err = e.Generate(context.Background(), seq, prompt, engine.GenParams{MaxTokens: n, IgnoreEOG: true},
		func(tok engine.Token) error {
			if tok.ID >= 0 {
				out = append(out, tok.ID)
			}
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	return prompt, out
}

// TestLoadHFDir loads test-written Hugging Face directories (config.json,
// safetensors, tokenizer.json) through Load, without conversion: the
// greedy continuation must equal that of the GGUF `smolbot convert` makes
// of the same directory, token for token.
func TestLoadHFDir(t *testing.T) {
	for _, c := range []struct {
		name string
		o    hftest.SynthOptions
		out  string // conversion type
	}{
		{"smollm3-f32", hftest.SynthOptions{Seed: 31}, "f32"},
		{"smollm3-bf16-tied", hftest.SynthOptions{Seed: 32, Tied: true, DType: safetensors.BF16}, "bf16"},
		{"llama-f16-sharded", hftest.SynthOptions{Seed: 33, Arch: "llama", DType: safetensors.F16, Shards: 2}, "f16"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model")
			if _, err := hftest.Synth(dir, c.o); err != nil {
				t.Fatal(err)
			}
			ot, err := hf.PlainOutType(c.out)
			if err != nil {
				t.Fatal(err)
			}
			conv := filepath.Join(t.TempDir(), "model.gguf")
			if err := hf.Convert(dir, conv, hf.ConvertOptions{Out: ot}); err != nil {
				t.Fatal(err)
			}
			const text = "hello world, hello"
			p1, g1 := greedyTokens(t, dir, text, 24)
			p2, g2 := greedyTokens(t, conv, text, 24)
			if !slices.Equal(p1, p2) || len(p1) == 0 {
				t.Fatalf("prompt tokens: dir %v, converted %v", p1, p2)
			}
			if len(g1) != 24 || !slices.Equal(g1, g2) {
				t.Fatalf("greedy tokens:\ndir       %v\nconverted %v", g1, g2)
			}
		})
	}
}

// TestLoadBadPaths: a directory that is not a model, and a missing path,
// fail with errors that name the problem.
func TestLoadBadPaths(t *testing.T) {
	dir := t.TempDir()
	if _, err := engine.Load(dir, engine.Options{}); err == nil || !strings.Contains(err.Error(), "config.json") {
		t.Errorf("empty directory: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte("{"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("xx"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := engine.Load(dir, engine.Options{}); err == nil {
		t.Error("corrupt directory loaded")
	}
	if _, err := engine.Load(filepath.Join(dir, "missing.gguf"), engine.Options{}); err == nil {
		t.Error("missing file loaded")
	}
}
