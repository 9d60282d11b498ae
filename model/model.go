// Package model defines smolbot's transformer models: the Model interface,
// the registry of architectures by `general.architecture`, hyperparameters
// read from GGUF (Config), the tensor table used to bind and check weights
// at load (Tensors), and the shared building blocks of a pre-norm
// decoder-only transformer (Workspace: embedding, attention block,
// SwiGLU feed-forward block, output head).
//
// Each architecture lives in its own package (model/smollm3, model/llama)
// as one file that reads like llama.cpp's src/models/<arch>.cpp:
// hyperparameters, tensor table, forward pass. Import the architecture
// packages (usually with a blank import) to register them.
//
// Weights stay in the GGUF file mapping: matrices are zero-copy views, and
// only the embedding rows of the tokens being processed are dequantized.
package model

import (
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/quant"
)

// Model is a loaded architecture ready to run. A Model is immutable after
// loading and may be shared; Forward calls that use different Workspaces
// and caches may run concurrently.
type Model interface {
	// Config returns the hyperparameters. Callers must not modify them.
	Config() *Config
	// Forward appends the tokens of every span to its sequence's cache
	// (at positions Cache.Len(), Cache.Len()+1, …) and writes the logits
	// the spans ask for into logits, one row of Config().Vocab values per
	// output position, spans in order. ws must have been made for this
	// model's Config with room for all the tokens (Workspace.MaxTokens).
	// On error the caches keep their previous length.
	Forward(ws *Workspace, spans []Span, logits []float32) error
}

// Logits selects which positions of a span produce logits.
type Logits int

const (
	// LogitsNone computes no logits (prefill of a prompt prefix).
	LogitsNone Logits = iota
	// LogitsLast computes the logits of the span's last token.
	LogitsLast
	// LogitsAll computes the logits of every token of the span (eval).
	LogitsAll
)

// Span is a run of new tokens of one sequence. A batch may hold several
// spans, each with its own cache (batched decoding of several sequences);
// a cache may appear in at most one span of a batch.
type Span struct {
	Cache  *kvcache.Cache
	Tokens []int32
	Logits Logits
	// Decode marks generated tokens (a decode step, or a speculative draft
	// being verified): they are computed with the single-token arithmetic
	// whatever else is in the batch, so that their logits are bit for bit
	// those of decoding them one at a time alone. Prompt spans (Decode
	// false) take the batch arithmetic, as llama.cpp's prefill does. Put
	// prompt spans first: every span after the first Decode span is
	// computed as Decode.
	Decode bool
}

// Outputs is the number of logits rows the span produces.
func (s *Span) Outputs() int {
	switch s.Logits {
	case LogitsLast:
		if len(s.Tokens) > 0 {
			return 1
		}
	case LogitsAll:
		return len(s.Tokens)
	}
	return 0
}

// ErrContextFull is returned (wrapped) when a span does not fit in its
// cache's context.
var ErrContextFull = errors.New("context is full")

// LoadFunc builds an architecture's model from an open GGUF file. The
// model keeps views into f's mapping: f must stay open while it is used.
type LoadFunc func(f *gguf.File) (Model, error)

var (
	regMu    sync.RWMutex
	registry = map[string]LoadFunc{}
)

// Register makes an architecture loadable under its general.architecture
// name. It panics if the name is registered twice (a programming error in
// an init function).
func Register(arch string, load LoadFunc) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[arch]; dup {
		panic("model: architecture registered twice: " + arch)
	}
	registry[arch] = load
}

// Architectures lists the registered architecture names, sorted.
func Architectures() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Load builds the model of f's general.architecture.
func Load(f *gguf.File) (Model, error) {
	arch := f.String("general.architecture", "")
	if arch == "" {
		return nil, fmt.Errorf("model: general.architecture is missing")
	}
	regMu.RLock()
	load, ok := registry[arch]
	regMu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("model: architecture %q is not supported (supported: %v)", arch, Architectures())
	}
	m, err := load(f)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// NewCache returns an empty KV cache for one sequence of a model with
// Config c: room for context tokens (kvcache.DefaultContext if ≤ 0, capped
// at the model's context_length) of element type typ (quant.F16, F32 or
// Q8_0). Memory is allocated lazily as the sequence grows.
func NewCache(c *Config, context int, typ quant.Type) (*kvcache.Cache, error) {
	if context <= 0 {
		context = kvcache.DefaultContext
	}
	context = min(context, c.ContextLength)
	return kvcache.New(kvcache.Options{
		Layers: c.Layers, KVHeads: c.KVHeads, HeadDim: c.HeadDim(),
		Context: context, Type: typ,
	})
}
