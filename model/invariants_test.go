package model_test

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

func seqTokens(n int) []int32 {
	toks := make([]int32, n)
	for i := range toks {
		toks[i] = int32((i*37 + 11) % 290)
	}
	return toks
}

func forward(t *testing.T, l *loaded, c *kvcache.Cache, toks []int32, mode model.Logits) []float32 {
	t.Helper()
	span := []model.Span{{Cache: c, Tokens: toks, Logits: mode}}
	out := make([]float32, span[0].Outputs()*l.m.Config().Vocab)
	if err := l.m.Forward(l.ws, span, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func newCache(t *testing.T, l *loaded, typ quant.Type) *kvcache.Cache {
	t.Helper()
	c, err := model.NewCache(l.m.Config(), 512, typ)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestNoPELayers checks that exactly SmolLM3's layers 3 and 7 leave q and k
// unrotated: Qcur of those layers equals Wq·attn_norm, and differs from it
// at a non-zero position everywhere else.
func TestNoPELayers(t *testing.T) {
	l := openModel(t, testutil.Fixture(t, "tiny-smollm3", "f32.gguf"), 2, 8)
	cfg := l.m.Config()
	Q := cfg.Heads * cfg.HeadDim()
	norms := map[int][]float32{}
	qcur := map[int][]float32{}
	nrows := 0
	l.ws.Hook = func(name string, layer int, data []float32, rows, cols int) {
		switch name {
		case "attn_norm":
			norms[layer] = append([]float32(nil), data...)
			nrows = rows
		case "Qcur":
			qcur[layer] = append([]float32(nil), data[(rows-1)*cols:]...)
		}
	}
	defer func() { l.ws.Hook = nil }()
	forward(t, l, newCache(t, l, quant.F32), seqTokens(3), model.LogitsLast)

	wq := func(il int) kernels.Matrix {
		ti, _ := l.f.Tensor(model.Blk(il, "attn_q"))
		data, err := l.f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		return kernels.Matrix{Type: ti.Type, Rows: Q, Cols: cfg.Embd, Data: data}
	}
	var nope []int
	for il := range cfg.Layers {
		// The same batch size as the forward pass: a float matrix's
		// result depends on it (llamafile's GEMM order for batches).
		proj := make([]float32, nrows*Q)
		if err := l.pool.MatMul(proj, wq(il), norms[il], nrows); err != nil {
			t.Fatal(err)
		}
		d, _ := maxAbsDiff(proj[(nrows-1)*Q:], qcur[il])
		if d == 0 {
			nope = append(nope, il)
		}
	}
	if !slices.Equal(nope, []int{3, 7}) {
		t.Errorf("layers without rotation: %v, want [3 7]", nope)
	}
}

// TestTruncateRefeed checks KV reuse: a cache truncated to a common prefix
// and fed a new suffix gives exactly the logits of a fresh cache fed the
// same batches.
func TestTruncateRefeed(t *testing.T) {
	for _, file := range []string{"f32.gguf", "q4_k_m.gguf"} {
		t.Run(file, func(t *testing.T) {
			l := openModel(t, testutil.Fixture(t, "tiny-smollm3", file), 2, 64)
			toks := seqTokens(40)
			for _, kv := range []quant.Type{quant.F32, quant.F16, quant.Q8_0} {
				reused := newCache(t, l, kv)
				forward(t, l, reused, toks[:12], model.LogitsNone)
				forward(t, l, reused, toks[12:30], model.LogitsLast)
				reused.Truncate(12)
				got := forward(t, l, reused, toks[12:40], model.LogitsAll)

				fresh := newCache(t, l, kv)
				forward(t, l, fresh, toks[:12], model.LogitsNone)
				want := forward(t, l, fresh, toks[12:40], model.LogitsAll)
				if !slices.Equal(got, want) {
					d, _ := maxAbsDiff(got, want)
					t.Errorf("%v KV: truncate + re-feed differs from fresh by %.3g", kv, d)
				}
				if reused.Len() != 40 {
					t.Errorf("cache length %d, want 40", reused.Len())
				}
			}
		})
	}
}

// TestBatchedSequences checks that decoding two sequences in one batch
// gives their single-sequence logits (F32 model: only summation order may
// differ).
func TestBatchedSequences(t *testing.T) {
	l := openModel(t, testutil.Fixture(t, "tiny-smollm3", "f32.gguf"), 2, 64)
	V := l.m.Config().Vocab
	a, b := seqTokens(20), seqTokens(33)[7:]
	ca, cb := newCache(t, l, quant.F32), newCache(t, l, quant.F32)
	forward(t, l, ca, a[:19], model.LogitsNone)
	forward(t, l, cb, b[:25], model.LogitsNone)
	out := make([]float32, 2*V)
	spans := []model.Span{
		{Cache: ca, Tokens: a[19:], Logits: model.LogitsLast},
		{Cache: cb, Tokens: b[25:], Logits: model.LogitsAll},
	}
	if err := l.m.Forward(l.ws, spans, out[:0:0]); err == nil {
		t.Fatal("short logits buffer accepted")
	}
	out = make([]float32, (1+len(b[25:]))*V)
	if err := l.m.Forward(l.ws, spans, out); err != nil {
		t.Fatal(err)
	}
	wantA := forward(t, l, newCacheFed(t, l, a[:19]), a[19:], model.LogitsLast)
	wantB := forward(t, l, newCacheFed(t, l, b[:25]), b[25:], model.LogitsAll)
	for _, c := range []struct {
		got, want []float32
	}{{out[:V], wantA}, {out[V:], wantB}} {
		if d, _ := maxAbsDiff(c.got, c.want); d > 1e-4 {
			t.Errorf("batched logits differ from single-sequence ones by %.3g", d)
		}
	}
}

func newCacheFed(t *testing.T, l *loaded, toks []int32) *kvcache.Cache {
	c := newCache(t, l, quant.F32)
	forward(t, l, c, toks, model.LogitsNone)
	return c
}

// TestDecodeAllocs proves that a steady-state decode step allocates
// nothing (the cache page is already allocated).
func TestDecodeAllocs(t *testing.T) {
	for _, file := range []string{"q4_k_m.gguf", "f16.gguf"} {
		l := openModel(t, testutil.Fixture(t, "tiny-smollm3", file), 2, 16)
		c := newCache(t, l, quant.F16)
		forward(t, l, c, seqTokens(10), model.LogitsLast)
		if err := c.Grow(200); err != nil {
			t.Fatal(err)
		}
		logits := make([]float32, l.m.Config().Vocab)
		span := []model.Span{{Cache: c, Tokens: []int32{42}, Logits: model.LogitsLast}}
		allocs := testing.AllocsPerRun(50, func() {
			if err := l.m.Forward(l.ws, span, logits); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: decode step allocates %v times", file, allocs)
		}
	}
}

func TestForwardErrors(t *testing.T) {
	l := openModel(t, testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf"), 1, 8)
	V := l.m.Config().Vocab
	logits := make([]float32, 8*V)
	small, err := model.NewCache(l.m.Config(), 4, quant.F16)
	if err != nil {
		t.Fatal(err)
	}
	c := newCache(t, l, quant.F16)
	for _, tc := range []struct {
		name  string
		spans []model.Span
		want  string
	}{
		{"empty", nil, "empty batch"},
		{"no cache", []model.Span{{Tokens: []int32{1}}}, "no cache"},
		{"bad token", []model.Span{{Cache: c, Tokens: []int32{int32(V)}}}, "outside the vocabulary"},
		{"negative token", []model.Span{{Cache: c, Tokens: []int32{-1}}}, "outside the vocabulary"},
		{"too many tokens", []model.Span{{Cache: c, Tokens: seqTokens(9)}}, "exceeds the workspace"},
		{"context full", []model.Span{{Cache: small, Tokens: seqTokens(5)}}, "exceed the context"},
		{"shared cache", []model.Span{{Cache: c, Tokens: []int32{1}}, {Cache: c, Tokens: []int32{2}}}, "share a cache"},
		{"bad mode", []model.Span{{Cache: c, Tokens: []int32{1}, Logits: 7}}, "invalid logits mode"},
	} {
		err := l.m.Forward(l.ws, tc.spans, logits)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
		if tc.name == "context full" && !errors.Is(err, model.ErrContextFull) {
			t.Errorf("context full: %v is not ErrContextFull", err)
		}
	}
	if c.Len() != 0 {
		t.Errorf("failed calls changed the cache length to %d", c.Len())
	}
	// A cache made for another model shape.
	other, _ := kvcache.New(kvcache.Options{Layers: 2, KVHeads: 1, HeadDim: 64, Context: 8, Type: quant.F16})
	if err := l.m.Forward(l.ws, []model.Span{{Cache: other, Tokens: []int32{1}}}, logits); err == nil {
		t.Error("foreign cache accepted")
	}
}

// rewrite copies a GGUF file with its metadata and tensors changed by edit,
// and parses the result.
func rewrite(t *testing.T, path string, edit func(kv []gguf.KV, specs []gguf.TensorSpec, data [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte)) *gguf.File {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kv := append([]gguf.KV(nil), f.KV...)
	var specs []gguf.TensorSpec
	var data [][]byte
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		d, err := f.TensorData(ti)
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, gguf.TensorSpec{Name: ti.Name, Dims: ti.Dims, Type: ti.Type})
		data = append(data, append([]byte(nil), d...))
	}
	kv, specs, data = edit(kv, specs, data)
	var buf bytes.Buffer
	w, err := gguf.NewWriter(&buf, kv, specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		if err := w.WriteTensor(s.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLoadErrors(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "f32.gguf")
	find := func(specs []gguf.TensorSpec, name string) int {
		for i, s := range specs {
			if s.Name == name {
				return i
			}
		}
		t.Fatalf("no tensor %s", name)
		return -1
	}
	setKV := func(kv []gguf.KV, key string, v any) []gguf.KV {
		val, err := gguf.NewValue(v)
		if err != nil {
			t.Fatal(err)
		}
		for i := range kv {
			if kv[i].Key == key {
				kv[i].Value = val
				return kv
			}
		}
		return append(kv, gguf.KV{Key: key, Value: val})
	}
	dropKV := func(kv []gguf.KV, key string) []gguf.KV {
		return slices.DeleteFunc(kv, func(p gguf.KV) bool { return p.Key == key })
	}
	type edit = func(kv []gguf.KV, specs []gguf.TensorSpec, data [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte)
	for _, tc := range []struct {
		name string
		edit edit
		want string
	}{
		{"missing tensor", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			i := find(s, "blk.5.ffn_up.weight")
			return kv, slices.Delete(s, i, i+1), slices.Delete(d, i, i+1)
		}, `"blk.5.ffn_up.weight": missing`},
		{"wrong shape", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			i := find(s, "blk.2.attn_k.weight")
			s[i].Dims = []int64{128, 128}
			return kv, s, d
		}, `"blk.2.attn_k.weight": has shape [128 128], want [256 64]`},
		{"unsupported type", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			i := find(s, "blk.1.attn_q.weight")
			s[i].Type = quant.Q4_1 // 20 bytes per 32: 256×256 → 40960 bytes
			d[i] = make([]byte, 256*256/32*20)
			return kv, s, d
		}, `"blk.1.attn_q.weight": type Q4_1 is not supported`},
		{"extra tensor", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			return kv, append(s, gguf.TensorSpec{Name: "blk.0.attn_q.bias", Dims: []int64{256}, Type: quant.F32}), append(d, make([]byte, 1024))
		}, `unexpected tensor "blk.0.attn_q.bias"`},
		{"vocab mismatch", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			toks := make([]string, 300)
			for i := range toks {
				toks[i] = string(rune('a' + i%26))
			}
			return setKV(kv, "tokenizer.ggml.tokens", toks), s, d
		}, `"token_embd.weight": has shape [256 306], want [256 300]`},
		{"missing freq_base", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			return dropKV(kv, "smollm3.rope.freq_base"), s, d
		}, "rope.freq_base is missing"},
		{"missing block_count", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			return dropKV(kv, "smollm3.block_count"), s, d
		}, "smollm3.block_count is missing"},
		{"bad head count", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			return setKV(kv, "smollm3.attention.head_count_kv", uint32(3)), s, d
		}, "not a multiple of head_count_kv"},
		{"unknown arch", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			return setKV(kv, "general.architecture", "gpt9"), s, d
		}, `architecture "gpt9" is not supported`},
		{"yarn", func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
			kv = setKV(kv, "smollm3.rope.scaling.type", "yarn")
			kv = setKV(kv, "smollm3.rope.scaling.factor", float32(2))
			return setKV(kv, "smollm3.rope.scaling.original_context_length", uint32(4096)), s, d
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := rewrite(t, path, tc.edit)
			m, err := model.Load(f)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				c := m.Config()
				if c.RopeScaling != "yarn" || c.RopeFreqScale != 0.5 || c.RopeExtFactor != 1 || c.RopeOrigContext != 4096 {
					t.Errorf("yarn config %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
	// Llama keeps llama.cpp's default base of 10000.
	f := rewrite(t, testutil.Fixture(t, "tiny-llama", "f32.gguf"), func(kv []gguf.KV, s []gguf.TensorSpec, d [][]byte) ([]gguf.KV, []gguf.TensorSpec, [][]byte) {
		return dropKV(kv, "llama.rope.freq_base"), s, d
	})
	m, err := model.Load(f)
	if err != nil {
		t.Fatal(err)
	}
	if m.Config().RopeBase != 10000 {
		t.Errorf("llama default freq_base %v", m.Config().RopeBase)
	}
}

func TestNewCacheDefaults(t *testing.T) {
	l := openModel(t, testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf"), 1, 1)
	c, err := model.NewCache(l.m.Config(), 0, quant.F16)
	if err != nil {
		t.Fatal(err)
	}
	// Default 8192, capped at the model's context_length of 4096.
	if c.Cap() != 4096 {
		t.Errorf("default context %d, want 4096", c.Cap())
	}
	if math.Abs(float64(c.BytesPerToken())-float64(8*2*64*2)) > 0 {
		t.Errorf("bytes per token %d", c.BytesPerToken())
	}
}
