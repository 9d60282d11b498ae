package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/sample"
)

// TestSynthTiny writes tiny models of both architectures and several types:
// deterministic, llama-quantize's layout, and runnable.
func TestSynthTiny(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ arch, typ string }{
		{"smollm3", "q4_k_m"}, {"smollm3", "f16"}, {"smollm3", "q8_0"}, {"llama", "q5_k_m"}, {"llama", "bf16"},
	} {
		a := filepath.Join(dir, c.arch+"-"+c.typ+"-a.gguf")
		b := filepath.Join(dir, c.arch+"-"+c.typ+"-b.gguf")
		if _, errs, code := smolbot(t, "synth", "--arch", c.arch, "--preset", "tiny", "--type", c.typ, "-o", a, "--seed", "7", "-t", "1"); code != 0 {
			t.Fatalf("%v: exit %d: %s", c, code, errs)
		}
		if _, errs, code := smolbot(t, "synth", "--arch", c.arch, "--preset", "tiny", "--type", c.typ, "-o", b, "--seed", "7", "-t", "2"); code != 0 {
			t.Fatalf("%v: exit %d: %s", c, code, errs)
		}
		ba, _ := os.ReadFile(a)
		bb, _ := os.ReadFile(b)
		if !bytes.Equal(ba, bb) {
			t.Errorf("%v: output depends on the thread count", c)
		}
		e, err := engine.Load(a, engine.Options{Threads: 2})
		if err != nil {
			t.Fatalf("%v: %v", c, err)
		}
		seq, _ := e.NewSequence(64)
		res, err := e.Generate(context.Background(), seq, []int32{256, 72, 105}, engine.GenParams{Sampling: sample.Params{}, MaxTokens: 4, IgnoreEOG: true}, nil)
		if err != nil || res.GenTokens != 4 {
			t.Errorf("%v: generate: %v %+v", c, err, res)
		}
		e.Close()
	}
	// The Q4_K_M tiny model has the fixture's layout and size (same shape,
	// same mixture; the metadata differs only in the vocabulary).
	f, err := gguf.Open(filepath.Join(dir, "smollm3-q4_k_m-a.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ref, err := gguf.Open(testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for _, rt := range ref.Tensors {
		ft, ok := f.Tensor(rt.Name)
		if rt.Name == "token_embd.weight" && ok && ft.Type == rt.Type {
			continue // the built-in vocabulary is smaller than the fixture's
		}
		if !ok || ft.Type != rt.Type || ft.Size != rt.Size {
			t.Errorf("tensor %s differs from the fixture's layout", rt.Name)
		}
	}
	for _, args := range [][]string{
		{"synth", "--arch", "gpt2", "-o", "x"},
		{"synth", "--preset", "7b", "-o", "x"},
		{"synth", "--type", "q2_k", "-o", "x"},
		{"synth"},
	} {
		if _, _, code := smolbot(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// TestSynthVocab takes the tokenizer from the real SmolLM3 vocabulary.
func TestSynthVocab(t *testing.T) {
	out := filepath.Join(t.TempDir(), "v.gguf")
	vocab := testutil.Fixture(t, "tokenizer", "smollm3-vocab.gguf")
	if _, errs, code := smolbot(t, "synth", "--preset", "tiny", "--type", "q8_0", "--vocab", vocab, "-o", out); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	e, err := engine.Load(out, engine.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if e.Config().Vocab != 128256 || e.Config().Layers != 8 {
		t.Errorf("vocab %d, layers %d", e.Config().Vocab, e.Config().Layers)
	}
	if ids := e.Tokenizer().Encode("Hello world", false); len(ids) != 2 || ids[0] != 9906 {
		t.Errorf("tokenizer: %v", ids)
	}
}
