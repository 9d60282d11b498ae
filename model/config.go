package model

import (
	"fmt"
	"math"
	"strings"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/tensor"
)

// Config holds a decoder-only transformer's hyperparameters, read from the
// `<arch>.*` GGUF keys with llama.cpp's defaults (spec §2.1).
type Config struct {
	Arch string // general.architecture

	ContextLength int // context_length (n_ctx_train)
	Embd          int // embedding_length (n_embd)
	Layers        int // block_count (n_layer)
	FFN           int // feed_forward_length (n_ff)
	Heads         int // attention.head_count (n_head)
	KVHeads       int // attention.head_count_kv, default Heads
	HeadDimK      int // attention.key_length, default Embd/Heads
	HeadDimV      int // attention.value_length, default Embd/Heads
	RopeDims      int // rope.dimension_count (n_rot), default HeadDimK
	Vocab         int // len(tokenizer.ggml.tokens)

	RMSEps   float32 // attention.layer_norm_rms_epsilon
	RopeBase float32 // rope.freq_base, default 10000 unless the arch requires it

	// RoPE scaling (spec §7.3). RopeScaling is "none", "linear" or "yarn".
	RopeScaling     string
	RopeFreqScale   float32 // 1/rope.scaling.factor, 1 if absent
	RopeOrigContext int     // rope.scaling.original_context_length, default ContextLength
	RopeExtFactor   float32 // 1 for yarn, else 0
	RopeAttnFactor  float32 // rope.scaling.attn_factor, default 1
	YarnBetaFast    float32 // 32
	YarnBetaSlow    float32 // 1
}

// ConfigOptions tune ReadConfig for an architecture.
type ConfigOptions struct {
	// RequireRopeBase makes a missing rope.freq_base an error instead of
	// defaulting to 10000 (SmolLM3 needs 5e6; spec §8.4).
	RequireRopeBase bool
}

// Limits on hyperparameters, far above any real model, so that a corrupt
// file cannot make the loader allocate absurd buffers.
const (
	maxLayers = 1 << 12
	maxDim    = 1 << 20
	maxVocab  = 1 << 24
)

// ReadConfig reads and validates the hyperparameters of f's architecture.
func ReadConfig(f *gguf.File, o ConfigOptions) (*Config, error) {
	arch := f.String("general.architecture", "")
	if arch == "" {
		return nil, fmt.Errorf("model: general.architecture is missing")
	}
	r := keyReader{f: f, prefix: arch + "."}
	c := &Config{Arch: arch}
	c.ContextLength = r.required("context_length")
	c.Embd = r.required("embedding_length")
	c.Layers = r.required("block_count")
	if r.err == nil && (c.Layers <= 0 || c.Layers > maxLayers) {
		return nil, fmt.Errorf("model: %sblock_count %d out of range", r.prefix, c.Layers)
	}
	c.FFN = r.perLayer("feed_forward_length", c.Layers, -1)
	c.Heads = r.perLayer("attention.head_count", c.Layers, -1)
	c.KVHeads = r.perLayer("attention.head_count_kv", c.Layers, c.Heads)
	if r.err != nil {
		return nil, r.err
	}
	if c.Heads <= 0 || c.Embd <= 0 {
		return nil, fmt.Errorf("model: embedding_length %d and head_count %d must be positive", c.Embd, c.Heads)
	}
	c.HeadDimK = r.optional("attention.key_length", c.Embd/c.Heads)
	c.HeadDimV = r.optional("attention.value_length", c.Embd/c.Heads)
	c.RopeDims = r.optional("rope.dimension_count", c.HeadDimK)
	c.RMSEps = r.requiredFloat("attention.layer_norm_rms_epsilon")
	if o.RequireRopeBase && !f.Has(r.prefix+"rope.freq_base") && r.err == nil {
		r.err = fmt.Errorf("model: %srope.freq_base is missing; the %s default of 10000 would be wrong for this architecture", r.prefix, arch)
	}
	c.RopeBase = f.Float32(r.prefix+"rope.freq_base", 10000)
	if r.err != nil {
		return nil, r.err
	}
	if err := c.readRopeScaling(f, r.prefix); err != nil {
		return nil, err
	}
	tokens, ok := f.Get("tokenizer.ggml.tokens")
	if !ok {
		return nil, fmt.Errorf("model: tokenizer.ggml.tokens is missing (n_vocab is its length)")
	}
	arr, ok := tokens.Array()
	if !ok {
		return nil, fmt.Errorf("model: tokenizer.ggml.tokens is not an array")
	}
	c.Vocab = arr.Len()
	return c, c.Validate()
}

func (c *Config) readRopeScaling(f *gguf.File, prefix string) error {
	typ := strings.ToLower(f.String(prefix+"rope.scaling.type", "linear"))
	factor := f.Float32(prefix+"rope.scaling.factor", 0)
	if factor == 0 {
		// Older files spell a linear factor this way.
		factor = f.Float32(prefix+"rope.scale_linear", 0)
	}
	c.RopeFreqScale = 1
	if factor != 0 {
		if !(factor > 0) || math.IsInf(float64(factor), 0) {
			return fmt.Errorf("model: %srope.scaling.factor %v must be positive", prefix, factor)
		}
		c.RopeFreqScale = 1 / factor
	}
	c.RopeOrigContext = int(f.Uint(prefix+"rope.scaling.original_context_length", uint64(c.ContextLength)))
	c.RopeAttnFactor = f.Float32(prefix+"rope.scaling.attn_factor", 1)
	// llama.cpp uses its own YaRN betas and ext_factor rather than the
	// optional yarn_* keys for these architectures (spec §7.3).
	c.YarnBetaFast, c.YarnBetaSlow = 32, 1
	switch typ {
	case "none":
		c.RopeScaling = "none"
		c.RopeFreqScale = 1
	case "linear":
		c.RopeScaling = "linear"
		if c.RopeFreqScale == 1 {
			c.RopeScaling = "none"
		}
	case "yarn":
		c.RopeScaling = "yarn"
		c.RopeExtFactor = 1
	default:
		return fmt.Errorf("model: %srope.scaling.type %q is not supported (want none, linear or yarn)", prefix, typ)
	}
	return nil
}

// Validate checks the hyperparameters for consistency and sane bounds.
func (c *Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("model: %s: %s", c.Arch, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Layers <= 0 || c.Layers > maxLayers:
		return bad("block_count %d out of range", c.Layers)
	case c.Embd <= 0 || c.Embd > maxDim:
		return bad("embedding_length %d out of range", c.Embd)
	case c.FFN <= 0 || c.FFN > maxDim:
		return bad("feed_forward_length %d out of range", c.FFN)
	case c.Heads <= 0 || c.Heads > maxDim || c.KVHeads <= 0 || c.KVHeads > c.Heads:
		return bad("head_count %d / head_count_kv %d out of range", c.Heads, c.KVHeads)
	case c.Heads%c.KVHeads != 0:
		return bad("head_count %d is not a multiple of head_count_kv %d", c.Heads, c.KVHeads)
	case c.HeadDimK <= 0 || c.HeadDimK > maxDim || c.HeadDimV <= 0 || c.HeadDimV > maxDim:
		return bad("key_length %d / value_length %d out of range", c.HeadDimK, c.HeadDimV)
	case c.HeadDimK != c.HeadDimV:
		return bad("key_length %d ≠ value_length %d is not supported", c.HeadDimK, c.HeadDimV)
	case int64(c.Heads)*int64(c.HeadDimK) > maxDim:
		return bad("head_count × key_length is too large")
	case c.RopeDims <= 0 || c.RopeDims > c.HeadDimK || c.RopeDims%2 != 0:
		return bad("rope.dimension_count %d must be even and within the head size %d", c.RopeDims, c.HeadDimK)
	case c.ContextLength <= 0:
		return bad("context_length %d must be positive", c.ContextLength)
	case !(c.RMSEps > 0) || c.RMSEps > 1:
		return bad("layer_norm_rms_epsilon %v out of range", c.RMSEps)
	case !(c.RopeBase > 0) || math.IsInf(float64(c.RopeBase), 0):
		return bad("rope.freq_base %v must be positive", c.RopeBase)
	case c.Vocab <= 0 || c.Vocab > maxVocab:
		return bad("vocabulary size %d out of range", c.Vocab)
	case c.RopeOrigContext <= 0:
		return bad("rope.scaling.original_context_length %d must be positive", c.RopeOrigContext)
	}
	return nil
}

// HeadDim is the per-head size (key_length = value_length).
func (c *Config) HeadDim() int { return c.HeadDimK }

// GQA is the number of query heads that share one KV head.
func (c *Config) GQA() int { return c.Heads / c.KVHeads }

// keyReader reads `<arch>.` keys, remembering the first error.
type keyReader struct {
	f      *gguf.File
	prefix string
	err    error
}

func (r *keyReader) required(key string) int {
	if r.err != nil {
		return 0
	}
	v, ok := r.f.Get(r.prefix + key)
	if !ok {
		r.err = fmt.Errorf("model: required key %s%s is missing", r.prefix, key)
		return 0
	}
	return r.int(key, v)
}

func (r *keyReader) optional(key string, def int) int {
	if r.err != nil {
		return 0
	}
	v, ok := r.f.Get(r.prefix + key)
	if !ok {
		return def
	}
	return r.int(key, v)
}

func (r *keyReader) int(key string, v gguf.Value) int {
	i, ok := v.AsInt()
	if !ok || i < 0 || i > math.MaxInt32 {
		r.err = fmt.Errorf("model: key %s%s = %v is not a non-negative integer", r.prefix, key, v)
		return 0
	}
	return int(i)
}

func (r *keyReader) requiredFloat(key string) float32 {
	if r.err != nil {
		return 0
	}
	v, ok := r.f.Get(r.prefix + key)
	if !ok {
		r.err = fmt.Errorf("model: required key %s%s is missing", r.prefix, key)
		return 0
	}
	if _, ok := v.AsFloat(); !ok {
		r.err = fmt.Errorf("model: key %s%s = %v is not a number", r.prefix, key, v)
		return 0
	}
	return r.f.Float32(r.prefix+key, 0)
}

// perLayer reads a key that may be a scalar or a per-layer array. Arrays
// must hold the same value for every layer: per-layer head counts and FFN
// sizes are not supported. def < 0 means the key is required.
func (r *keyReader) perLayer(key string, layers, def int) int {
	if r.err != nil {
		return 0
	}
	v, ok := r.f.Get(r.prefix + key)
	if !ok {
		if def < 0 {
			r.err = fmt.Errorf("model: required key %s%s is missing", r.prefix, key)
		}
		return def
	}
	arr, isArr := v.Array()
	if !isArr {
		return r.int(key, v)
	}
	if arr.Len() != layers {
		r.err = fmt.Errorf("model: %s%s has %d entries for %d layers", r.prefix, key, arr.Len(), layers)
		return 0
	}
	first := r.int(key, arr.At(0))
	for i := 1; i < layers && r.err == nil; i++ {
		if x := r.int(key, arr.At(i)); x != first {
			r.err = fmt.Errorf("model: %s%s differs between layers (%d vs %d); per-layer sizes are not supported", r.prefix, key, first, x)
		}
	}
	return first
}

// RoPE returns the rotary-embedding parameters of the configuration.
// freqFactors is the optional rope_freqs tensor (nil if absent).
func (c *Config) RoPE(freqFactors []float32) tensor.RoPEConfig {
	return tensor.RoPEConfig{
		Dims:        c.RopeDims,
		FreqBase:    c.RopeBase,
		FreqScale:   c.RopeFreqScale,
		ExtFactor:   c.RopeExtFactor,
		AttnFactor:  c.RopeAttnFactor,
		BetaFast:    c.YarnBetaFast,
		BetaSlow:    c.YarnBetaSlow,
		OrigContext: c.RopeOrigContext,
		FreqFactors: freqFactors,
	}
}
