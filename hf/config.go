// Package hf reads Hugging Face model directories (config.json, safetensors
// weights, tokenizer.json, tokenizer_config.json) and presents them as GGUF:
// the metadata keys, tensor names, tensor layout and vocabulary arrays that
// llama.cpp's convert_hf_to_gguf.py would write (spec §2.3, §3.4, §5).
//
// Open builds an in-memory *gguf.File whose big weight tensors are zero-copy
// views of the mmapped safetensors files, so the model code that runs GGUF
// files runs HF directories unchanged. Convert writes the same thing to a
// .gguf file, optionally re-encoded (F16, BF16, Q8_0, Q4_K_M, ...).
//
// Supported: model_type "smollm3" and "llama" (SmolLM2/SmolLM3 and Llama
// checkpoints) with F32/F16/BF16 weights and a byte-level BPE tokenizer.
package hf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"

	"github.com/smolbot/smolbot/gguf"
)

// Names of the files of an HF model directory.
const (
	ConfigFile          = "config.json"
	TokenizerFile       = "tokenizer.json"
	TokenizerConfigFile = "tokenizer_config.json"
	GenerationFile      = "generation_config.json"
)

// Config is the subset of config.json that the GGUF metadata needs.
type Config struct {
	ModelType             string   `json:"model_type"`
	Architectures         []string `json:"architectures"`
	HiddenSize            int      `json:"hidden_size"`
	IntermediateSize      int      `json:"intermediate_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	NumKeyValueHeads      *int     `json:"num_key_value_heads"`
	HeadDim               *int     `json:"head_dim"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	RopeTheta             *float64 `json:"rope_theta"`
	RMSNormEps            *float64 `json:"rms_norm_eps"`
	VocabSize             int      `json:"vocab_size"`
	TieWordEmbeddings     *bool    `json:"tie_word_embeddings"`
	// RopeScaling is the older name of RopeParameters (transformers ≥ 4.56
	// writes rope_parameters, which may also hold rope_theta).
	RopeScaling    map[string]any `json:"rope_scaling"`
	RopeParameters map[string]any `json:"rope_parameters"`
	// SmolLM3's per-layer RoPE switch (1 = RoPE, 0 = NoPE) and its interval
	// form. llama.cpp hard-codes NoPE on every 4th layer and drops these.
	NoRopeLayers        []int `json:"no_rope_layers"`
	NoRopeLayerInterval *int  `json:"no_rope_layer_interval"`
	// Special token ids, a fallback for tokenizer_config.json. Some models
	// write a list for eos_token_id; those are ignored, as gguf-py does.
	BOSTokenID any `json:"bos_token_id"`
	EOSTokenID any `json:"eos_token_id"`
	PADTokenID any `json:"pad_token_id"`
	UNKTokenID any `json:"unk_token_id"`
	// NameOrPath is the hub id the checkpoint was saved from, if recorded.
	NameOrPath string `json:"_name_or_path"`
}

// ReadConfig reads dir/config.json.
func ReadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var c Config
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", filepath.Join(dir, ConfigFile), err)
	}
	return &c, nil
}

// Arch returns the GGUF architecture name (general.architecture) for the
// config: "smollm3" or "llama".
func (c *Config) Arch() (string, error) {
	arch := func(name string) string {
		switch name {
		case "smollm3", "SmolLM3ForCausalLM":
			return "smollm3"
		case "llama", "LlamaForCausalLM":
			return "llama"
		}
		return ""
	}
	if a := arch(c.ModelType); a != "" {
		return a, nil
	}
	for _, n := range c.Architectures {
		if a := arch(n); a != "" {
			return a, nil
		}
	}
	return "", fmt.Errorf("hf: model_type %q (architectures %v) is not supported; want smollm3 or llama", c.ModelType, c.Architectures)
}

// Tied reports whether the LM head reuses the embedding matrix
// (tie_word_embeddings, whose transformers default is true).
func (c *Config) Tied() bool { return c.TieWordEmbeddings == nil || *c.TieWordEmbeddings }

// KVHeads is num_key_value_heads, defaulting to num_attention_heads.
func (c *Config) KVHeads() int {
	if c.NumKeyValueHeads != nil {
		return *c.NumKeyValueHeads
	}
	return c.NumAttentionHeads
}

// Validate checks the sizes the converter relies on.
func (c *Config) Validate() error {
	const maxDim = 1 << 20
	switch {
	case c.NumHiddenLayers <= 0 || c.NumHiddenLayers > 1<<12:
		return fmt.Errorf("hf: config: num_hidden_layers %d out of range", c.NumHiddenLayers)
	case c.HiddenSize <= 0 || c.HiddenSize > maxDim:
		return fmt.Errorf("hf: config: hidden_size %d out of range", c.HiddenSize)
	case c.IntermediateSize <= 0 || c.IntermediateSize > maxDim:
		return fmt.Errorf("hf: config: intermediate_size %d out of range", c.IntermediateSize)
	case c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0 && c.HeadDim == nil:
		return fmt.Errorf("hf: config: num_attention_heads %d does not divide hidden_size %d", c.NumAttentionHeads, c.HiddenSize)
	case c.KVHeads() <= 0 || c.NumAttentionHeads%c.KVHeads() != 0:
		return fmt.Errorf("hf: config: num_key_value_heads %d does not divide num_attention_heads %d", c.KVHeads(), c.NumAttentionHeads)
	case c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("hf: config: max_position_embeddings %d must be positive", c.MaxPositionEmbeddings)
	case c.RMSNormEps == nil || !(*c.RMSNormEps > 0):
		return fmt.Errorf("hf: config: rms_norm_eps must be positive")
	case c.VocabSize < 0 || c.VocabSize > 1<<22:
		return fmt.Errorf("hf: config: vocab_size %d out of range", c.VocabSize)
	case c.HeadDim != nil && (*c.HeadDim <= 0 || *c.HeadDim%2 != 0):
		return fmt.Errorf("hf: config: head_dim %d must be positive and even", *c.HeadDim)
	}
	if (c.HiddenSize/c.NumAttentionHeads)%2 != 0 && c.HeadDim == nil {
		return fmt.Errorf("hf: config: head size %d must be even (rotary pairs)", c.HiddenSize/c.NumAttentionHeads)
	}
	return c.checkNoPE()
}

// checkNoPE refuses SmolLM3 checkpoints whose NoPE pattern is not the one
// llama.cpp hard-codes (every 4th layer, spec §2.1): running them with the
// GGUF code path would silently give wrong answers.
func (c *Config) checkNoPE() error {
	if c.NoRopeLayerInterval != nil && *c.NoRopeLayerInterval != 4 && c.NoRopeLayers == nil {
		return fmt.Errorf("hf: config: no_rope_layer_interval %d is not supported (llama.cpp and smolbot use NoPE on every 4th layer)", *c.NoRopeLayerInterval)
	}
	if c.NoRopeLayers == nil {
		return nil
	}
	if len(c.NoRopeLayers) != c.NumHiddenLayers {
		return fmt.Errorf("hf: config: no_rope_layers has %d entries for %d layers", len(c.NoRopeLayers), c.NumHiddenLayers)
	}
	for i, v := range c.NoRopeLayers {
		want := 0
		if (i+1)%4 != 0 {
			want = 1
		}
		if v != want {
			return fmt.Errorf("hf: config: no_rope_layers[%d] = %d, but llama.cpp and smolbot use NoPE exactly on every 4th layer (3, 7, 11, ...)", i, v)
		}
	}
	return nil
}

// headDim is the rotary size per head: head_dim, else hidden/heads.
func (c *Config) headDim() int {
	if c.HeadDim != nil {
		return *c.HeadDim
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// ropeTheta finds rope_theta at the top level or in rope_parameters.
func (c *Config) ropeTheta() (float64, bool) {
	if c.RopeTheta != nil {
		return *c.RopeTheta, true
	}
	if v, ok := c.RopeParameters["rope_theta"].(float64); ok {
		return v, true
	}
	return 0, false
}

// kv accumulates metadata pairs in order.
type kv []gguf.KV

func (k *kv) add(key string, v any) { *k = append(*k, gguf.KV{Key: key, Value: gguf.MustValue(v)}) }

// hparams returns the architecture keys, in the order llama.cpp's converter
// writes them (spec §2.1, §2.3, §7.3).
func (c *Config) hparams(arch string) ([]gguf.KV, error) {
	var m kv
	p := arch + "."
	m.add(p+"context_length", uint32(c.MaxPositionEmbeddings))
	m.add(p+"embedding_length", uint32(c.HiddenSize))
	m.add(p+"block_count", uint32(c.NumHiddenLayers))
	m.add(p+"feed_forward_length", uint32(c.IntermediateSize))
	m.add(p+"attention.head_count", uint32(c.NumAttentionHeads))
	if c.NumKeyValueHeads != nil {
		m.add(p+"attention.head_count_kv", uint32(*c.NumKeyValueHeads))
	}
	if theta, ok := c.ropeTheta(); ok {
		m.add(p+"rope.freq_base", float32(theta))
	} else if arch == "smollm3" {
		// llama.cpp would default to 10000, badly wrong for SmolLM3 (spec §8.4).
		return nil, errors.New("hf: config: rope_theta is missing")
	}
	m.add(p+"attention.layer_norm_rms_epsilon", float32(*c.RMSNormEps))
	if c.HeadDim != nil {
		m.add(p+"attention.key_length", uint32(*c.HeadDim))
		m.add(p+"attention.value_length", uint32(*c.HeadDim))
	}
	m.add(p+"rope.dimension_count", uint32(c.headDim()))
	scaling, err := c.ropeScaling(p)
	if err != nil {
		return nil, err
	}
	m = append(m, scaling...)
	return m, nil
}

// ropeScaling maps rope_scaling / rope_parameters to the GGUF keys.
func (c *Config) ropeScaling(p string) ([]gguf.KV, error) {
	rs := c.RopeScaling
	if rs == nil {
		rs = c.RopeParameters
	}
	if rs == nil {
		return nil, nil
	}
	typ, _ := rs["rope_type"].(string)
	if typ == "" {
		typ, _ = rs["type"].(string)
	}
	factor, _ := rs["factor"].(float64)
	var m kv
	switch strings.ToLower(typ) {
	case "", "default":
		return nil, nil
	case "linear":
		if factor == 0 {
			return nil, nil
		}
		m.add(p+"rope.scaling.type", "linear")
		m.add(p+"rope.scaling.factor", float32(factor))
	case "yarn":
		if !(factor > 0) || math.IsInf(factor, 0) {
			return nil, fmt.Errorf("hf: config: yarn rope scaling needs a positive factor, got %v", rs["factor"])
		}
		m.add(p+"rope.scaling.type", "yarn")
		m.add(p+"rope.scaling.factor", float32(factor))
		if orig, ok := rs["original_max_position_embeddings"].(float64); ok && orig > 0 {
			m.add(p+"rope.scaling.original_context_length", uint32(orig))
		}
	default:
		return nil, fmt.Errorf("hf: config: rope scaling type %q is not supported (want linear or yarn)", typ)
	}
	return m, nil
}

// generationConfig is the subset of generation_config.json that gguf-py
// copies into general.sampling.* (spec §7.1).
type generationConfig struct {
	Temperature       *float64 `json:"temperature"`
	TopP              *float64 `json:"top_p"`
	TopK              *int     `json:"top_k"`
	MinP              *float64 `json:"min_p"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
}

// samplingKV reads generation_config.json (optional) into general.sampling.* keys.
func samplingKV(dir string) ([]gguf.KV, error) {
	b, err := os.ReadFile(filepath.Join(dir, GenerationFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	var g generationConfig
	if err := json.Unmarshal(b, &g); err != nil {
		return nil, fmt.Errorf("hf: %s: %w", filepath.Join(dir, GenerationFile), err)
	}
	var m kv
	if g.TopK != nil {
		m.add("general.sampling.top_k", int32(*g.TopK))
	}
	if g.TopP != nil {
		m.add("general.sampling.top_p", float32(*g.TopP))
	}
	if g.MinP != nil {
		m.add("general.sampling.min_p", float32(*g.MinP))
	}
	if g.Temperature != nil {
		m.add("general.sampling.temp", float32(*g.Temperature))
	}
	if g.RepetitionPenalty != nil {
		m.add("general.sampling.penalty_repeat", float32(*g.RepetitionPenalty))
	}
	return m, nil
}
