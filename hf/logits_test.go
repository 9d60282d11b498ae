package hf_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/hf/hftest"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/model"
	_ "github.com/smolbot/smolbot/model/llama"
	_ "github.com/smolbot/smolbot/model/smollm3"
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/safetensors"
)

// logitsOf runs tokens through the model of f in one batch and returns the
// logits at every position (F32 KV cache).
func logitsOf(t *testing.T, f *gguf.File, tokens []int32) ([]float32, int) {
	t.Helper()
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	pool := kernels.NewPool(2)
	defer pool.Close()
	ws, err := model.NewWorkspace(m.Config(), pool, len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	cache, err := model.NewCache(m.Config(), 256, quant.F32)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config().Vocab
	out := make([]float32, len(tokens)*V)
	if err := m.Forward(ws, []model.Span{{Cache: cache, Tokens: tokens, Logits: model.LogitsAll}}, out); err != nil {
		t.Fatal(err)
	}
	return out, V
}

func maxDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	if math.IsNaN(d) {
		return math.Inf(1)
	}
	return d
}

// TestHFDirMatchesConvertedGGUF runs a test-written HF model directory
// (through Open, zero-copy) and its converted GGUF through the same model
// code: the logits must agree (F32 ≤ 1e-4; they are in fact bit-equal,
// since both present the same bytes).
func TestHFDirMatchesConvertedGGUF(t *testing.T) {
	tokens := []int32{1, 2, 3, 50, 100, 200, 258, 266, 5, 7, 9, 11, 13}
	for _, c := range []struct {
		name string
		o    hftest.SynthOptions
	}{
		{"smollm3-f32", hftest.SynthOptions{Seed: 21}},
		{"smollm3-bf16", hftest.SynthOptions{Seed: 22, DType: safetensors.BF16, Norms: safetensors.BF16}},
		{"llama-f16-untied-sharded", hftest.SynthOptions{Seed: 23, Arch: "llama", DType: safetensors.F16, Shards: 3}},
		{"smollm3-tied", hftest.SynthOptions{Seed: 24, Tied: true, Layers: 8}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := hftest.Synth(dir, c.o); err != nil {
				t.Fatal(err)
			}
			m := openHF(t, dir)
			a, V := logitsOf(t, m.File, tokens)
			b, _ := logitsOf(t, convert(t, dir, "auto"), tokens)
			if d := maxDiff(a, b); d > 1e-4 {
				t.Errorf("HF dir vs converted GGUF: max|Δ| = %g", d)
			}
			if V != 273 {
				t.Errorf("vocab %d", V)
			}
		})
	}
}

// TestHFDirMatchesLlamaCpp exports the F32 fixtures to HF directories and
// runs them through Open: the logits must match llama.cpp's reference for
// the original GGUF (the model package's fixture tests cover the other
// types; TestFixtureBF16 below ties a BF16 directory to its GGUF).
func TestHFDirMatchesLlamaCpp(t *testing.T) {
	for _, c := range []struct {
		model string
		dtype safetensors.DType
		ref   string
		tol   float64
	}{
		{"tiny-smollm3", safetensors.F32, "f32", 1e-3},
		{"tiny-llama", safetensors.F32, "f32", 1e-3},
	} {
		t.Run(c.model+"/"+c.ref, func(t *testing.T) {
			src := openGGUF(t, testutil.Fixture(t, c.model, c.ref+".gguf"))
			dir := filepath.Join(t.TempDir(), "m")
			if err := hftest.Export(src, dir, hftest.Options{DType: c.dtype}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(testutil.Fixture(t, c.model, "ref-"+c.ref+".json"))
			if err != nil {
				t.Fatal(err)
			}
			var ref struct {
				Cases []struct {
					Tokens []int32     `json:"tokens"`
					Logits [][]float32 `json:"logits"`
				} `json:"cases"`
			}
			if err := json.Unmarshal(b, &ref); err != nil {
				t.Fatal(err)
			}
			m := openHF(t, dir)
			cs := ref.Cases[2] // 33 tokens
			got, V := logitsOf(t, m.File, cs.Tokens)
			worst := 0.0
			for p := range cs.Tokens {
				worst = math.Max(worst, maxDiff(got[p*V:(p+1)*V], cs.Logits[p]))
			}
			if worst > c.tol {
				t.Errorf("max|Δ| vs llama.cpp = %g > %g", worst, c.tol)
			}
		})
	}
}

// TestFixtureBF16 runs the BF16 fixture exported to a BF16 HF directory:
// through Open it must give exactly the logits of the BF16 GGUF.
func TestFixtureBF16(t *testing.T) {
	src := openGGUF(t, testutil.Fixture(t, "tiny-smollm3", "bf16.gguf"))
	dir := filepath.Join(t.TempDir(), "m")
	if err := hftest.Export(src, dir, hftest.Options{DType: safetensors.BF16}); err != nil {
		t.Fatal(err)
	}
	m, err := hf.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tokens := []int32{297, 5, 80, 81, 82, 300, 301, 17, 2}
	a, _ := logitsOf(t, m.File, tokens)
	b, _ := logitsOf(t, src, tokens)
	if d := maxDiff(a, b); d > 1e-4 {
		t.Errorf("BF16 HF dir vs BF16 GGUF: max|Δ| = %g", d)
	}
}
