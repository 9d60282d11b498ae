package main

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/sample"
)

// TestQuantizeQ8_0 converts the tiny F32 model and compares with
// llama-quantize's output: same tensor types, byte-identical data.
func TestQuantizeQ8_0(t *testing.T) {
	out := filepath.Join(t.TempDir(), "q8_0.gguf")
	if _, errs, code := smolbot(t, "quantize", testutil.Fixture(t, "tiny-smollm3", "f32.gguf"), out, "q8_0"); code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	got, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	want, err := gguf.Open(testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer want.Close()
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors, want %d", len(got.Tensors), len(want.Tensors))
	}
	for _, wt := range want.Tensors {
		gt, ok := got.Tensor(wt.Name)
		if !ok || gt.Type != wt.Type {
			t.Errorf("tensor %s missing or of another type", wt.Name)
			continue
		}
		gd, _ := got.TensorData(gt)
		wd, _ := want.TensorData(&wt)
		if !bytes.Equal(gd, wd) {
			t.Errorf("tensor %s: data differs from llama-quantize's", wt.Name)
		}
	}
	if got.Uint("general.file_type", 0) != 7 || got.Uint("general.quantization_version", 0) != 2 {
		t.Error("file type metadata")
	}
	if got.Size != want.Size {
		t.Errorf("file size %d, llama-quantize %d", got.Size, want.Size)
	}
}

// TestQuantizeKQuants converts to the K-quant mixtures; the results must
// have llama-quantize's tensor types and load and run.
func TestQuantizeKQuants(t *testing.T) {
	src := testutil.Fixture(t, "tiny-smollm3", "f32.gguf")
	for _, typ := range []string{"q4_k_m", "q5_k_m", "q6_k", "q4_0"} {
		out := filepath.Join(t.TempDir(), typ+".gguf")
		if _, errs, code := smolbot(t, "quantize", "-t", "2", src, out, typ); code != 0 {
			t.Fatalf("%s: exit %d: %s", typ, code, errs)
		}
		got, err := gguf.Open(out)
		if err != nil {
			t.Fatal(err)
		}
		want, err := gguf.Open(testutil.Fixture(t, "tiny-smollm3", typ+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		for _, wt := range want.Tensors {
			if gt, ok := got.Tensor(wt.Name); !ok || gt.Type != wt.Type {
				t.Errorf("%s: tensor %s type differs from llama-quantize's %v", typ, wt.Name, wt.Type)
			}
		}
		if got.Size != want.Size {
			t.Errorf("%s: size %d, llama-quantize %d", typ, got.Size, want.Size)
		}
		got.Close()
		want.Close()
		e, err := engine.Load(out, engine.Options{Threads: 1})
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		seq, _ := e.NewSequence(64)
		res, err := e.Generate(context.Background(), seq, []int32{297, 72, 105}, engine.GenParams{Sampling: sample.Params{}, MaxTokens: 8, IgnoreEOG: true}, nil)
		if err != nil || res.GenTokens != 8 {
			t.Errorf("%s: generate: %v, %+v", typ, err, res)
		}
		e.Close()
	}
	if _, _, code := smolbot(t, "quantize", src, "x.gguf", "q2_k"); code != 2 {
		t.Errorf("unknown type: exit %d", code)
	}
	if _, _, code := smolbot(t, "quantize", src); code != 2 {
		t.Errorf("missing arguments: exit %d", code)
	}
}
