package hf_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/hf/hftest"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/safetensors"
)

// informational keys that may legitimately differ between two writers.
var ignoreKeys = map[string]bool{"general.quantization_version": true, "general.alignment": true}

// sameKV checks that a and b hold the same metadata, keys in any order.
func sameKV(t *testing.T, a, b *gguf.File, ignore map[string]bool) {
	t.Helper()
	ka := map[string]gguf.Value{}
	for _, kv := range a.KV {
		if !ignore[kv.Key] {
			ka[kv.Key] = kv.Value
		}
	}
	for _, kv := range b.KV {
		if ignore[kv.Key] {
			continue
		}
		va, ok := ka[kv.Key]
		if !ok {
			t.Errorf("key %s = %v only in the second file", kv.Key, kv.Value)
			continue
		}
		delete(ka, kv.Key)
		if va.Type != kv.Value.Type {
			t.Errorf("key %s: type %s vs %s", kv.Key, va.Type, kv.Value.Type)
			continue
		}
		x, y := va.Any(), kv.Value.Any()
		if ax, ok := x.(gguf.Array); ok {
			x, y = ax.Data(), y.(gguf.Array).Data()
		}
		if !reflect.DeepEqual(x, y) {
			t.Errorf("key %s: %v vs %v", kv.Key, va, kv.Value)
		}
	}
	for k, v := range ka {
		t.Errorf("key %s = %v only in the first file", k, v)
	}
}

// sameTensors checks that a and b hold the same tensors (any order), with
// identical bytes.
func sameTensors(t *testing.T, a, b *gguf.File) {
	t.Helper()
	if len(a.Tensors) != len(b.Tensors) {
		t.Errorf("%d vs %d tensors", len(a.Tensors), len(b.Tensors))
	}
	for i := range a.Tensors {
		ta := &a.Tensors[i]
		tb, ok := b.Tensor(ta.Name)
		if !ok {
			t.Errorf("tensor %s missing", ta.Name)
			continue
		}
		if !reflect.DeepEqual(ta.Dims, tb.Dims) || ta.Type != tb.Type {
			t.Errorf("tensor %s: %v %v vs %v %v", ta.Name, ta.Dims, ta.Type, tb.Dims, tb.Type)
			continue
		}
		da, _ := a.TensorData(ta)
		db, _ := b.TensorData(tb)
		if !bytes.Equal(da, db) {
			t.Errorf("tensor %s: data differ", ta.Name)
		}
	}
}

func openGGUF(t *testing.T, p string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func openHF(t *testing.T, dir string) *hf.Model {
	t.Helper()
	m, err := hf.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func convert(t *testing.T, dir, typ string) *gguf.File {
	t.Helper()
	ot, err := hf.PlainOutType(typ)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.gguf")
	if err := hf.Convert(dir, out, hf.ConvertOptions{Out: ot}); err != nil {
		t.Fatal(err)
	}
	return openGGUF(t, out)
}

// TestFixtureRoundTrip exports llama.cpp's fixture GGUFs to HF directories
// (Q/K un-permuted) and converts them back: metadata and tensor bytes must
// come back identical, through Convert and through Open.
func TestFixtureRoundTrip(t *testing.T) {
	cases := []struct {
		model, file string
		opts        hftest.Options
		typ         string
	}{
		{"tiny-smollm3", "f32.gguf", hftest.Options{}, "auto"},
		{"tiny-smollm3", "f32.gguf", hftest.Options{Shards: 3, MergesAsPairs: true}, "f32"},
		{"tiny-llama", "f32.gguf", hftest.Options{}, "auto"},
		{"tiny-smollm3", "bf16.gguf", hftest.Options{}, "auto"},
		{"tiny-smollm3", "f16.gguf", hftest.Options{}, "f16"},
	}
	for _, c := range cases {
		t.Run(c.model+"/"+c.file, func(t *testing.T) {
			src := openGGUF(t, testutil.Fixture(t, c.model, c.file))
			dir := filepath.Join(t.TempDir(), src.String("general.name", "x"))
			if err := hftest.Export(src, dir, c.opts); err != nil {
				t.Fatal(err)
			}
			out := convert(t, dir, c.typ)
			sameKV(t, src, out, ignoreKeys)
			sameTensors(t, src, out)

			m := openHF(t, dir)
			sameKV(t, src, m.File, map[string]bool{"general.quantization_version": true, "general.alignment": true})
			sameTensors(t, src, m.File)
			if len(m.Warnings) != 0 {
				t.Errorf("warnings: %v", m.Warnings)
			}
		})
	}
}

// TestOpenZeroCopy checks that only Q/K and the norms are materialised for
// a BF16 checkpoint, and that the in-memory file matches the converted one.
func TestOpenZeroCopy(t *testing.T) {
	dir := t.TempDir()
	if _, err := hftest.Synth(dir, hftest.SynthOptions{DType: safetensors.BF16, Norms: safetensors.BF16, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	m := openHF(t, dir)
	var want int64
	for _, ti := range m.File.Tensors {
		if strings.HasSuffix(ti.Name, "attn_q.weight") || strings.HasSuffix(ti.Name, "attn_k.weight") || strings.HasSuffix(ti.Name, "_norm.weight") {
			want += ti.Size
		}
		if len(ti.Dims) == 2 && ti.Type != quant.BF16 || len(ti.Dims) == 1 && ti.Type != quant.F32 {
			t.Errorf("%s: type %v", ti.Name, ti.Type)
		}
	}
	if m.Copied != want {
		t.Errorf("copied %d bytes, want %d (Q, K and norms only)", m.Copied, want)
	}
	if ft := m.File.Uint("general.file_type", 99); ft != 32 {
		t.Errorf("file_type = %d, want 32 (BF16)", ft)
	}
	out := convert(t, dir, "auto")
	sameKV(t, out, m.File, ignoreKeys)
	sameTensors(t, out, m.File)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
}

// TestPermutation checks the Q/K row mapping against spec §3.4 directly:
// GGUF row 2i+j of a head holds HF row j·hd/2+i.
func TestPermutation(t *testing.T) {
	dir := t.TempDir()
	src, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 2, Heads: 4, KVHeads: 2, Embd: 64})
	if err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.Open(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		gguf, hf string
		heads    int64
	}{{"blk.1.attn_q.weight", "model.layers.1.self_attn.q_proj.weight", 4}, {"blk.1.attn_k.weight", "model.layers.1.self_attn.k_proj.weight", 2}} {
		gt, _ := src.Tensor(c.gguf)
		gd, _ := src.TensorData(gt)
		ht, _ := st.Tensor(c.hf)
		hd, _ := st.Data(ht)
		cols, rows := gt.Dims[0], gt.Dims[1]
		headDim := rows / c.heads
		rb := cols * 4
		for h := range c.heads {
			for i := range headDim / 2 {
				for j := range int64(2) {
					g := h*headDim + 2*i + j
					s := h*headDim + j*headDim/2 + i
					if !bytes.Equal(gd[g*rb:(g+1)*rb], hd[s*rb:(s+1)*rb]) {
						t.Fatalf("%s: GGUF row %d != HF row %d", c.gguf, g, s)
					}
				}
			}
		}
	}
}

func TestConvertQ8_0(t *testing.T) {
	dir := t.TempDir()
	src, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 3, Embd: 64, FFN: 96})
	if err != nil {
		t.Fatal(err)
	}
	out := convert(t, dir, "q8_0")
	if out.Uint("general.file_type", 0) != 7 || out.Uint("general.quantization_version", 0) != 2 {
		t.Errorf("file_type %d, quantization_version %d", out.Uint("general.file_type", 0), out.Uint("general.quantization_version", 0))
	}
	for _, ti := range out.Tensors {
		want := quant.Q8_0
		if len(ti.Dims) == 1 {
			want = quant.F32
		}
		if ti.Type != want {
			t.Errorf("%s: %v, want %v", ti.Name, ti.Type, want)
		}
		st, _ := src.Tensor(ti.Name)
		sd, _ := src.TensorData(st)
		od, _ := out.TensorData(&ti)
		a := make([]float32, st.Elements())
		b := make([]float32, st.Elements())
		quant.DequantizeRow(quant.F32, sd, a)
		if err := quant.DequantizeRow(ti.Type, od, b); err != nil {
			t.Fatal(err)
		}
		var maxAbs, maxErr float64
		for i := range a {
			maxAbs = max(maxAbs, math.Abs(float64(a[i])))
			maxErr = max(maxErr, math.Abs(float64(a[i]-b[i])))
		}
		if maxErr > maxAbs/100 {
			t.Errorf("%s: max error %g for max |x| %g", ti.Name, maxErr, maxAbs)
		}
	}
}

func TestVocabAndMetadata(t *testing.T) {
	dir := t.TempDir()
	_, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 4, ChatTemplate: "{{ messages }}", GenerationTemperature: 0.6, Tied: true})
	if err != nil {
		t.Fatal(err)
	}
	m := openHF(t, dir)
	f := m.File
	if f.String("tokenizer.ggml.pre", "") != "smaug-bpe" {
		t.Errorf("pre = %q, want smaug-bpe (no BOS in the post-processor)", f.String("tokenizer.ggml.pre", ""))
	}
	if f.String("tokenizer.chat_template", "") != "{{ messages }}" {
		t.Errorf("chat template = %q", f.String("tokenizer.chat_template", ""))
	}
	if got := f.Float32("general.sampling.temp", 0); got != 0.6 {
		t.Errorf("general.sampling.temp = %v", got)
	}
	if _, ok := f.Tensor("output.weight"); ok {
		t.Errorf("tied model has output.weight")
	}
	toks, _ := f.Strings("tokenizer.ggml.tokens")
	types, _ := f.Int32s("tokenizer.ggml.token_type")
	eos := f.Uint("tokenizer.ggml.eos_token_id", 0)
	if toks[eos] != "<|im_end|>" || types[eos] != hf.TokenControl {
		t.Errorf("eos = %d %q type %d", eos, toks[eos], types[eos])
	}
	if toks[' '] != "Ġ" || types[' '] != hf.TokenNormal {
		t.Errorf("token 32 = %q", toks[' '])
	}
	if f.Uint("smollm3.vocab_size", 0) != uint64(len(toks)) {
		t.Errorf("vocab_size = %d", f.Uint("smollm3.vocab_size", 0))
	}
}

// edit rewrites a JSON file of dir through fn.
func edit(t *testing.T, dir, name string, fn func(m map[string]any)) {
	t.Helper()
	p := filepath.Join(dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	fn(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVocabVariants(t *testing.T) {
	base := t.TempDir()
	if _, err := hftest.Synth(base, hftest.SynthOptions{Seed: 5}); err != nil {
		t.Fatal(err)
	}
	cfg, err := hf.ReadConfig(base)
	if err != nil {
		t.Fatal(err)
	}
	read := func(t *testing.T, fn func(dir string)) *hf.Vocab {
		t.Helper()
		cfg := *cfg
		dir := t.TempDir()
		for _, n := range []string{"tokenizer.json", "tokenizer_config.json", "config.json"} {
			b, _ := os.ReadFile(filepath.Join(base, n))
			os.WriteFile(filepath.Join(dir, n), b, 0o644)
		}
		fn(dir)
		if _, err := os.Stat(filepath.Join(dir, "vocab301")); err == nil {
			cfg.VocabSize = 301
		}
		v, err := hf.ReadVocab(dir, &cfg)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t.Run("merge pairs with spaces", func(t *testing.T) {
		v := read(t, func(dir string) {
			edit(t, dir, "tokenizer.json", func(m map[string]any) {
				m["model"].(map[string]any)["merges"] = [][]string{{"a b", "c"}, {"Ġ", "t"}}
			})
		})
		if !reflect.DeepEqual(v.Merges, []string{"aĠb c", "Ġ t"}) {
			t.Errorf("merges = %q", v.Merges)
		}
	})
	t.Run("llama-bpe when the post-processor adds BOS", func(t *testing.T) {
		v := read(t, func(dir string) {
			edit(t, dir, "tokenizer.json", func(m map[string]any) {
				m["post_processor"] = map[string]any{"type": "TemplateProcessing", "single": []any{
					map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>"}}, map[string]any{"Sequence": map[string]any{"id": "A"}}}}
			})
			edit(t, dir, "tokenizer_config.json", func(m map[string]any) { m["bos_token"] = "<|begin_of_text|>" })
		})
		if v.Pre != "llama-bpe" || v.AddBOS == nil || !*v.AddBOS {
			t.Errorf("pre %q add_bos %v", v.Pre, v.AddBOS)
		}
	})
	t.Run("smollm digits", func(t *testing.T) {
		v := read(t, func(dir string) {
			edit(t, dir, "tokenizer.json", func(m map[string]any) {
				m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
					map[string]any{"type": "Digits", "individual_digits": true},
					map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true}}}
			})
		})
		if v.Pre != "smollm" || len(v.Warnings) != 0 {
			t.Errorf("pre %q warnings %v", v.Pre, v.Warnings)
		}
	})
	t.Run("unknown regex warns", func(t *testing.T) {
		v := read(t, func(dir string) {
			edit(t, dir, "tokenizer.json", func(m map[string]any) {
				m["pre_tokenizer"] = map[string]any{"type": "Sequence", "pretokenizers": []any{
					map[string]any{"type": "Split", "pattern": map[string]any{"Regex": `\w+`}},
					map[string]any{"type": "ByteLevel", "use_regex": false}}}
			})
		})
		if v.Pre != "default" || len(v.Warnings) == 0 {
			t.Errorf("pre %q warnings %v", v.Pre, v.Warnings)
		}
	})
	t.Run("padding and special fallbacks", func(t *testing.T) {
		v := read(t, func(dir string) {
			edit(t, dir, "tokenizer_config.json", func(m map[string]any) {
				delete(m, "bos_token")
				m["eos_token"] = map[string]any{"content": "<|end_of_text|>"}
				m["add_bos_token"] = true
			})
			edit(t, dir, "tokenizer.json", func(m map[string]any) {
				m["added_tokens"] = append(m["added_tokens"].([]any), map[string]any{"id": 300, "content": "<extra>", "special": false})
			})
			os.WriteFile(filepath.Join(dir, "vocab301"), nil, 0o644)
		})
		if v.Special["eos"] != uint32(indexOf(v.Tokens, "<|end_of_text|>")) {
			t.Errorf("eos = %d", v.Special["eos"])
		}
		if v.Special["bos"] != uint32(indexOf(v.Tokens, "<|begin_of_text|>")) {
			t.Errorf("bos from config.json = %d", v.Special["bos"])
		}
		if v.AddBOS == nil || !*v.AddBOS {
			t.Errorf("add_bos = %v", v.AddBOS)
		}
		if len(v.Tokens) != 301 || v.Types[300] != hf.TokenUserDefined || v.Tokens[299] != "[PAD299]" || v.Types[299] != hf.TokenUnused {
			t.Errorf("%d tokens; 299 %q %d; 300 %q %d", len(v.Tokens), v.Tokens[299], v.Types[299], v.Tokens[300], v.Types[300])
		}
	})
	t.Run("chat templates", func(t *testing.T) {
		v := read(t, func(dir string) {
			edit(t, dir, "tokenizer_config.json", func(m map[string]any) {
				m["chat_template"] = []any{map[string]any{"name": "default", "template": "D"}, map[string]any{"name": "tool_use", "template": "T"}}
			})
		})
		if v.ChatTemplate != "D" || v.NamedTemplates["tool_use"] != "T" {
			t.Errorf("templates %q %v", v.ChatTemplate, v.NamedTemplates)
		}
		v = read(t, func(dir string) {
			os.WriteFile(filepath.Join(dir, "chat_template.jinja"), []byte("J"), 0o644)
		})
		if v.ChatTemplate != "J" {
			t.Errorf("template from chat_template.jinja = %q", v.ChatTemplate)
		}
	})
}

func indexOf(s []string, x string) int {
	for i, v := range s {
		if v == x {
			return i
		}
	}
	return -1
}

func TestBadCheckpoints(t *testing.T) {
	cases := []struct {
		name string
		fix  func(t *testing.T, dir string)
		want string
	}{
		{"no_rope_layers", func(t *testing.T, dir string) {
			edit(t, dir, "config.json", func(m map[string]any) { m["no_rope_layers"] = []int{1, 1, 1, 1} })
		}, "no_rope_layers[3]"},
		{"model type", func(t *testing.T, dir string) {
			edit(t, dir, "config.json", func(m map[string]any) { m["model_type"] = "gpt2"; m["architectures"] = []string{"GPT2"} })
		}, "not supported"},
		{"missing rope_theta", func(t *testing.T, dir string) {
			edit(t, dir, "config.json", func(m map[string]any) { delete(m, "rope_theta") })
		}, "rope_theta"},
		{"shape", func(t *testing.T, dir string) {
			edit(t, dir, "config.json", func(m map[string]any) { m["intermediate_size"] = 100 })
		}, "shape"},
		{"untied without head", func(t *testing.T, dir string) {
			edit(t, dir, "config.json", func(m map[string]any) { m["tie_word_embeddings"] = false })
		}, "output.weight"},
		{"no tokenizer", func(t *testing.T, dir string) { os.Remove(filepath.Join(dir, "tokenizer.json")) }, "tokenizer.json"},
		{"bad safetensors", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte("garbage!garbage!"), 0o644)
		}, "safetensors"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if _, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 6, Tied: true}); err != nil {
				t.Fatal(err)
			}
			c.fix(t, dir)
			_, err := hf.Open(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Open: %v, want an error mentioning %q", err, c.want)
			}
		})
	}
	t.Run("unmappable tensor", func(t *testing.T) {
		dir := t.TempDir()
		f, err := hftest.SynthGGUF(hftest.SynthOptions{Seed: 7})
		if err != nil {
			t.Fatal(err)
		}
		if err := hftest.Export(f, dir, hftest.Options{}); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		safetensors.Write(&buf, []safetensors.WriteTensor{{Name: "model.vision.weight", DType: safetensors.F32, Shape: []int64{1}, Data: make([]byte, 4)}}, nil)
		os.WriteFile(filepath.Join(dir, "extra.safetensors"), buf.Bytes(), 0o644)
		os.Rename(filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "a.safetensors"))
		if _, err := hf.Open(dir); err == nil || !strings.Contains(err.Error(), "cannot map") {
			t.Errorf("Open: %v", err)
		}
	})
}

func TestIsModelDir(t *testing.T) {
	dir := t.TempDir()
	if hf.IsModelDir(dir) {
		t.Error("empty dir is a model dir")
	}
	if _, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 8}); err != nil {
		t.Fatal(err)
	}
	if !hf.IsModelDir(dir) || hf.IsModelDir(filepath.Join(dir, "config.json")) {
		t.Error("IsModelDir wrong")
	}
}

func TestOpenPath(t *testing.T) {
	dir := t.TempDir()
	if _, err := hftest.Synth(dir, hftest.SynthOptions{Seed: 9}); err != nil {
		t.Fatal(err)
	}
	out := convert(t, dir, "auto")
	for _, p := range []string{dir, filepath.Join(filepath.Dir(filepath.Dir(dir)), "x"), t.TempDir()} {
		m, err := hf.OpenPath(p)
		switch {
		case p == dir && err != nil:
			t.Errorf("OpenPath(dir): %v", err)
		case p != dir && err == nil:
			t.Errorf("OpenPath(%s) succeeded", p)
		}
		if err == nil {
			m.Close()
		}
	}
	// A GGUF file: written by Convert, opened through OpenPath.
	tmp := filepath.Join(t.TempDir(), "m.gguf")
	if err := gguf.WriteFile(tmp, out); err != nil {
		t.Fatal(err)
	}
	m, err := hf.OpenPath(tmp)
	if err != nil {
		t.Fatal(err)
	}
	sameTensors(t, out, m.File)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
}
