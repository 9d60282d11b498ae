// Package hftest writes Hugging Face model directories for tests: a GGUF
// model exported back to config.json, safetensors and tokenizer.json (the
// inverse of the hf converter, Q/K permutation undone), and small random
// models built from scratch.
package hftest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/safetensors"
)

// Options tune Export.
type Options struct {
	// DType is the safetensors dtype of the matrices: F32, F16 or BF16.
	// Empty keeps each tensor's GGUF type.
	DType safetensors.DType
	// Norms is the dtype of 1-D tensors (norms, biases); default F32.
	Norms safetensors.DType
	// Shards splits the weights into that many files plus an index
	// (0 or 1: a single model.safetensors).
	Shards int
	// MergesAsPairs writes merges as [a, b] pairs (the newer tokenizer.json
	// form) instead of "a b" strings.
	MergesAsPairs bool
}

// hfNames maps GGUF layer tensor suffixes to HF names.
var hfNames = map[string]string{
	"attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
	"attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
	"attn_output.weight": "self_attn.o_proj.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
	"ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
	"ffn_down.weight": "mlp.down_proj.weight", "attn_q.bias": "self_attn.q_proj.bias",
	"attn_k.bias": "self_attn.k_proj.bias", "attn_v.bias": "self_attn.v_proj.bias",
}

func hfName(name string) (string, error) {
	switch name {
	case "token_embd.weight":
		return "model.embed_tokens.weight", nil
	case "output_norm.weight":
		return "model.norm.weight", nil
	case "output.weight":
		return "lm_head.weight", nil
	}
	var l int
	var suffix string
	if _, err := fmt.Sscanf(name, "blk.%d.%s", &l, &suffix); err == nil {
		if s, ok := hfNames[suffix]; ok {
			return fmt.Sprintf("model.layers.%d.%s", l, s), nil
		}
	}
	return "", fmt.Errorf("hftest: no HF name for %q", name)
}

// Export writes the float GGUF model f as an HF directory in dir, which is
// created if needed.
func Export(f *gguf.File, dir string, o Options) error {
	arch := f.String("general.architecture", "")
	if arch != "llama" && arch != "smollm3" {
		return fmt.Errorf("hftest: architecture %q not supported", arch)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	p := arch + "."
	nh := int(f.Uint(p+"attention.head_count", 0))
	nkv := int(f.Uint(p+"attention.head_count_kv", uint64(nh)))

	var ts []safetensors.WriteTensor
	for i := range f.Tensors {
		ti := &f.Tensors[i]
		name, err := hfName(ti.Name)
		if err != nil {
			return err
		}
		data, err := f.TensorData(ti)
		if err != nil {
			return err
		}
		cols, rows := ti.Dim(0), ti.Elements()/max(ti.Dim(0), 1)
		vals := make([]float32, ti.Elements())
		if err := quant.DequantizeRow(ti.Type, data, vals); err != nil {
			return fmt.Errorf("hftest: %s: %w", ti.Name, err)
		}
		heads := 0
		switch {
		case strings.HasSuffix(ti.Name, "attn_q.weight"):
			heads = nh
		case strings.HasSuffix(ti.Name, "attn_k.weight"):
			heads = nkv
		}
		if heads > 0 {
			vals = unpermute(vals, rows, cols, int64(heads))
		}
		dt := o.DType
		if len(ti.Dims) < 2 {
			dt = o.Norms
			if dt == "" {
				dt = safetensors.F32
			}
		}
		if dt == "" {
			switch ti.Type {
			case quant.F16:
				dt = safetensors.F16
			case quant.BF16:
				dt = safetensors.BF16
			default:
				dt = safetensors.F32
			}
		}
		shape := make([]int64, len(ti.Dims))
		for j, d := range ti.Dims {
			shape[len(shape)-1-j] = d
		}
		ts = append(ts, safetensors.WriteTensor{Name: name, DType: dt, Shape: shape, Data: encode(dt, vals)})
	}
	if err := writeWeights(dir, ts, o.Shards); err != nil {
		return err
	}
	if err := writeConfig(f, dir, arch); err != nil {
		return err
	}
	return writeTokenizer(f, dir, o)
}

// ExportTokenizer writes only config.json, tokenizer.json and
// tokenizer_config.json for the vocabulary of f (which may hold no tensors).
func ExportTokenizer(f *gguf.File, dir string, o Options) error {
	arch := f.String("general.architecture", "")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeConfig(f, dir, arch); err != nil {
		return err
	}
	return writeTokenizer(f, dir, o)
}

// unpermute inverts the converter's Q/K row permutation: GGUF row 2i+j of a
// head holds HF row j·hd/2+i (spec §3.4).
func unpermute(v []float32, rows, cols, heads int64) []float32 {
	out := make([]float32, len(v))
	hd := rows / heads
	for r := range rows {
		h, w := r/hd, r%hd
		src := h*hd + (w%2)*(hd/2) + w/2
		copy(out[src*cols:(src+1)*cols], v[r*cols:(r+1)*cols])
	}
	return out
}

func encode(dt safetensors.DType, v []float32) []byte {
	out := make([]byte, len(v)*dt.Size())
	for i, x := range v {
		switch dt {
		case safetensors.F32:
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		case safetensors.F16:
			binary.LittleEndian.PutUint16(out[2*i:], quant.F32ToF16(x))
		case safetensors.BF16:
			binary.LittleEndian.PutUint16(out[2*i:], quant.F32ToBF16(x))
		}
	}
	return out
}

func writeWeights(dir string, ts []safetensors.WriteTensor, shards int) error {
	if shards <= 1 {
		return writeST(filepath.Join(dir, safetensors.SingleFile), ts)
	}
	wm := map[string]string{}
	per := (len(ts) + shards - 1) / shards
	for s := range shards {
		part := ts[min(s*per, len(ts)):min((s+1)*per, len(ts))]
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, shards)
		for _, t := range part {
			wm[t.Name] = name
		}
		if err := writeST(filepath.Join(dir, name), part); err != nil {
			return err
		}
	}
	return writeJSON(filepath.Join(dir, safetensors.IndexFile), map[string]any{"metadata": map[string]any{}, "weight_map": wm})
}

func writeST(path string, ts []safetensors.WriteTensor) error {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, map[string]string{"format": "pt"}); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func writeConfig(f *gguf.File, dir, arch string) error {
	p := arch + "."
	u := func(k string) uint64 { return f.Uint(p+k, 0) }
	cfg := map[string]any{
		"model_type":              arch,
		"hidden_size":             u("embedding_length"),
		"intermediate_size":       u("feed_forward_length"),
		"num_hidden_layers":       u("block_count"),
		"num_attention_heads":     u("attention.head_count"),
		"max_position_embeddings": u("context_length"),
		"rms_norm_eps":            float64(f.Float32(p+"attention.layer_norm_rms_epsilon", 0)),
		"hidden_act":              "silu",
		"torch_dtype":             "float32",
	}
	if arch == "smollm3" {
		cfg["architectures"] = []string{"SmolLM3ForCausalLM"}
	} else {
		cfg["architectures"] = []string{"LlamaForCausalLM"}
	}
	if f.Has(p + "attention.head_count_kv") {
		cfg["num_key_value_heads"] = u("attention.head_count_kv")
	}
	if f.Has(p + "attention.key_length") {
		cfg["head_dim"] = u("attention.key_length")
	}
	if f.Has(p + "rope.freq_base") {
		cfg["rope_theta"] = float64(f.Float32(p+"rope.freq_base", 0))
	}
	if toks, ok := f.Strings("tokenizer.ggml.tokens"); ok {
		cfg["vocab_size"] = len(toks)
	}
	_, hasOutput := f.Tensor("output.weight")
	cfg["tie_word_embeddings"] = !hasOutput
	for _, k := range []struct{ gguf, hf string }{{"bos_token_id", "bos_token_id"}, {"eos_token_id", "eos_token_id"}, {"padding_token_id", "pad_token_id"}} {
		if f.Has("tokenizer.ggml." + k.gguf) {
			cfg[k.hf] = f.Uint("tokenizer.ggml."+k.gguf, 0)
		}
	}
	return writeJSON(filepath.Join(dir, "config.json"), cfg)
}

// The Llama-3 split regex as tokenizer.json stores it.
const llama3Regex = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

func writeTokenizer(f *gguf.File, dir string, o Options) error {
	if m := f.String("tokenizer.ggml.model", ""); m != "gpt2" {
		return fmt.Errorf("hftest: tokenizer model %q not supported (want gpt2)", m)
	}
	toks, _ := f.Strings("tokenizer.ggml.tokens")
	types, _ := f.Int32s("tokenizer.ggml.token_type")
	merges, _ := f.Strings("tokenizer.ggml.merges")
	vocab := map[string]int{}
	var added []map[string]any
	for id, t := range toks {
		typ := int32(1)
		if id < len(types) {
			typ = types[id]
		}
		switch typ {
		case 3, 4:
			added = append(added, map[string]any{"id": id, "content": t, "single_word": false, "lstrip": false,
				"rstrip": false, "normalized": typ == 4, "special": typ == 3})
		case 1:
			vocab[t] = id
		}
	}
	var mergesJSON any = merges
	if o.MergesAsPairs {
		pairs := make([][2]string, len(merges))
		for i, m := range merges {
			a, b, _ := strings.Cut(m, " ")
			pairs[i] = [2]string{a, b}
		}
		mergesJSON = pairs
	}
	pre := f.String("tokenizer.ggml.pre", "")
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	var preTok any = byteLevel
	switch pre {
	case "llama-bpe", "smaug-bpe", "llama3":
		bl := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
		preTok = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]string{"Regex": llama3Regex}, "behavior": "Isolated", "invert": false}, bl}}
	case "smollm":
		preTok = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Digits", "individual_digits": true}, byteLevel}}
	case "gpt-2":
	default:
		return fmt.Errorf("hftest: pre-tokenizer %q not supported", pre)
	}
	text := func(key string) (string, bool) {
		if !f.Has(key) {
			return "", false
		}
		id := f.Uint(key, math.MaxUint64)
		if id >= uint64(len(toks)) {
			return "", false
		}
		return toks[id], true
	}
	var post any = map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true}
	bos, hasBOS := text("tokenizer.ggml.bos_token_id")
	if pre == "llama-bpe" && hasBOS {
		// Llama-3 tokenizers prepend BOS in their post-processor; that BOS is
		// what makes llama.cpp's hash say llama-bpe rather than smaug-bpe.
		post = map[string]any{"type": "Sequence", "processors": []any{
			map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": false, "use_regex": true},
			map[string]any{"type": "TemplateProcessing",
				"single":         []any{map[string]any{"SpecialToken": map[string]any{"id": bos, "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
				"pair":           []any{map[string]any{"SpecialToken": map[string]any{"id": bos, "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
				"special_tokens": map[string]any{bos: map[string]any{"id": bos, "ids": []uint64{f.Uint("tokenizer.ggml.bos_token_id", 0)}, "tokens": []string{bos}}}},
		}}
	}
	tj := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": added, "normalizer": nil,
		"pre_tokenizer": preTok, "post_processor": post,
		"decoder": map[string]any{"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": pre == "llama-bpe",
			"vocab": vocab, "merges": mergesJSON},
	}
	if err := writeJSON(filepath.Join(dir, "tokenizer.json"), tj); err != nil {
		return err
	}
	tc := map[string]any{"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 131072, "clean_up_tokenization_spaces": true}
	for _, k := range []struct{ gguf, hf string }{{"bos_token_id", "bos_token"}, {"eos_token_id", "eos_token"}, {"padding_token_id", "pad_token"}, {"unknown_token_id", "unk_token"}} {
		if s, ok := text("tokenizer.ggml." + k.gguf); ok {
			tc[k.hf] = s
		}
	}
	for _, k := range []string{"add_bos_token", "add_eos_token"} {
		if f.Has("tokenizer.ggml." + k) {
			tc[k] = f.Bool("tokenizer.ggml."+k, false)
		}
	}
	if s := f.String("tokenizer.chat_template", ""); s != "" {
		tc["chat_template"] = s
	}
	return writeJSON(filepath.Join(dir, "tokenizer_config.json"), tc)
}

// SynthOptions describe a random model for Synth.
type SynthOptions struct {
	Arch                  string // "smollm3" (default) or "llama"
	Layers, Embd, FFN     int    // default 4, 64, 128
	Heads, KVHeads        int    // default 4, 2
	Tied                  bool   // no output.weight
	Seed                  uint64
	ChatTemplate          string
	Pre                   string // tokenizer.ggml.pre, default "smaug-bpe"
	RopeBase              float32
	ContextLength         uint32
	DType                 safetensors.DType // of the exported matrices, default F32
	Norms                 safetensors.DType // of the exported 1-D tensors, default F32
	Shards                int
	MergesAsPairs         bool
	GenerationTemperature float32 // if non-zero, also write generation_config.json
}

// SynthGGUF builds a random F32 model as an in-memory GGUF file: a byte-level
// vocabulary of the 256 byte tokens, a few merges and SmolLM3's control
// tokens, and weights drawn from a seeded normal distribution.
func SynthGGUF(o SynthOptions) (*gguf.File, error) {
	if o.Arch == "" {
		o.Arch = "smollm3"
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Layers, 4)
	def(&o.Embd, 64)
	def(&o.FFN, 128)
	def(&o.Heads, 4)
	def(&o.KVHeads, 2)
	if o.Pre == "" {
		o.Pre = "smaug-bpe"
	}
	if o.RopeBase == 0 {
		o.RopeBase = 5e6
	}
	if o.ContextLength == 0 {
		o.ContextLength = 2048
	}
	toks, types, merges := synthVocab()
	p := o.Arch + "."
	kv := []gguf.KV{}
	add := func(k string, v any) { kv = append(kv, gguf.KV{Key: k, Value: gguf.MustValue(v)}) }
	add("general.architecture", o.Arch)
	add("general.name", "synth")
	add(p+"context_length", o.ContextLength)
	add(p+"embedding_length", uint32(o.Embd))
	add(p+"block_count", uint32(o.Layers))
	add(p+"feed_forward_length", uint32(o.FFN))
	add(p+"attention.head_count", uint32(o.Heads))
	add(p+"attention.head_count_kv", uint32(o.KVHeads))
	add(p+"rope.freq_base", o.RopeBase)
	add(p+"attention.layer_norm_rms_epsilon", float32(1e-6))
	add(p+"rope.dimension_count", uint32(o.Embd/o.Heads))
	add(p+"vocab_size", uint32(len(toks)))
	add("general.file_type", uint32(0))
	add("tokenizer.ggml.model", "gpt2")
	add("tokenizer.ggml.pre", o.Pre)
	add("tokenizer.ggml.tokens", toks)
	add("tokenizer.ggml.token_type", types)
	add("tokenizer.ggml.merges", merges)
	id := func(s string) uint32 {
		for i, t := range toks {
			if t == s {
				return uint32(i)
			}
		}
		return 0
	}
	add("tokenizer.ggml.bos_token_id", id("<|begin_of_text|>"))
	add("tokenizer.ggml.eos_token_id", id("<|im_end|>"))
	add("tokenizer.ggml.padding_token_id", id("<|finetune_right_pad_id|>"))
	if o.ChatTemplate != "" {
		add("tokenizer.chat_template", o.ChatTemplate)
	}

	rng := rand.New(rand.NewPCG(o.Seed, 0x5eed))
	hd := o.Embd / o.Heads
	type spec struct {
		name string
		dims []int64
		norm bool
	}
	var specs []spec
	e, f, nv := int64(o.Embd), int64(o.FFN), int64(len(toks))
	specs = append(specs, spec{"token_embd.weight", []int64{e, nv}, false})
	for l := range o.Layers {
		b := fmt.Sprintf("blk.%d.", l)
		specs = append(specs,
			spec{b + "attn_norm.weight", []int64{e}, true},
			spec{b + "attn_q.weight", []int64{e, int64(o.Heads * hd)}, false},
			spec{b + "attn_k.weight", []int64{e, int64(o.KVHeads * hd)}, false},
			spec{b + "attn_v.weight", []int64{e, int64(o.KVHeads * hd)}, false},
			spec{b + "attn_output.weight", []int64{int64(o.Heads * hd), e}, false},
			spec{b + "ffn_norm.weight", []int64{e}, true},
			spec{b + "ffn_gate.weight", []int64{e, f}, false},
			spec{b + "ffn_up.weight", []int64{e, f}, false},
			spec{b + "ffn_down.weight", []int64{f, e}, false})
	}
	specs = append(specs, spec{"output_norm.weight", []int64{e}, true})
	if !o.Tied {
		specs = append(specs, spec{"output.weight", []int64{e, nv}, false})
	}
	ts := make([]gguf.TensorSpec, len(specs))
	for i, s := range specs {
		ts[i] = gguf.TensorSpec{Name: s.name, Dims: s.dims, Type: quant.F32}
	}
	var buf bytes.Buffer
	w, err := gguf.NewWriter(&buf, kv, ts)
	if err != nil {
		return nil, err
	}
	for _, s := range specs {
		n := s.dims[0]
		if len(s.dims) > 1 {
			n *= s.dims[1]
		}
		vals := make([]float32, n)
		scale := 1 / float32(math.Sqrt(float64(s.dims[0])))
		for i := range vals {
			if s.norm {
				vals[i] = 1 + 0.1*float32(rng.NormFloat64())
			} else {
				vals[i] = scale * float32(rng.NormFloat64())
			}
		}
		if err := w.WriteTensor(s.name, encode(safetensors.F32, vals)); err != nil {
			return nil, err
		}
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return gguf.Parse(buf.Bytes())
}

// Synth writes a random model (SynthGGUF) as an HF directory and returns the
// GGUF it was exported from.
func Synth(dir string, o SynthOptions) (*gguf.File, error) {
	f, err := SynthGGUF(o)
	if err != nil {
		return nil, err
	}
	dt := o.DType
	if dt == "" {
		dt = safetensors.F32
	}
	if err := Export(f, dir, Options{DType: dt, Norms: o.Norms, Shards: o.Shards, MergesAsPairs: o.MergesAsPairs}); err != nil {
		return nil, err
	}
	if o.GenerationTemperature != 0 {
		if err := writeJSON(filepath.Join(dir, "generation_config.json"), map[string]any{
			"temperature": o.GenerationTemperature, "top_p": 0.95, "do_sample": true}); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// synthVocab returns the 256 byte tokens in GPT-2 byte-level form, a few
// merges with their result tokens, and SmolLM3's control tokens.
func synthVocab() (toks []string, types []int32, merges []string) {
	for b := range 256 {
		toks = append(toks, string(byteRune(byte(b))))
		types = append(types, 1)
	}
	for _, m := range []string{"t h", "h e", "i n", "e r", "a n", "Ġ t", "Ġt h", "th e", "Ġ a", "o n"} {
		merges = append(merges, m)
		a, b, _ := strings.Cut(m, " ")
		toks = append(toks, a+b)
		types = append(types, 1)
	}
	for _, s := range []string{"<|begin_of_text|>", "<|end_of_text|>", "<think>", "</think>", "<|im_start|>", "<|im_end|>", "<|finetune_right_pad_id|>"} {
		toks = append(toks, s)
		types = append(types, 3)
	}
	return toks, types, merges
}

// byteRune is GPT-2's byte→unicode map (spec §5.3).
func byteRune(b byte) rune {
	switch {
	case b >= 0x21 && b <= 0x7e, b >= 0xa1 && b <= 0xac, b >= 0xae:
		return rune(b)
	}
	n := 0
	for c := 0; c < int(b); c++ {
		if !(c >= 0x21 && c <= 0x7e || c >= 0xa1 && c <= 0xac || c >= 0xae) {
			n++
		}
	}
	return rune(0x100 + n)
}
