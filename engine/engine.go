package engine

import (
	"errors"
	"fmt"
	"sync"

	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/model"
	_ "github.com/smolbot/smolbot/model/llama"   // register the architecture
	_ "github.com/smolbot/smolbot/model/smollm3" // register the architecture
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/sample"
	"github.com/smolbot/smolbot/tokenizer"
)

// Options configure Load.
type Options struct {
	// Threads is the number of compute threads (0: GOMAXPROCS).
	Threads int
	// KVType is the KV cache element type: "f16" (default, as llama.cpp),
	// "f32" (exact reference attention, for checks) or "q8_0" (half the
	// memory of f16).
	KVType string
	// Context is the default context size of new sequences in tokens
	// (0: kvcache.DefaultContext = 8192). It is capped at the model's
	// context_length.
	Context int
	// BatchSize is the largest prompt chunk evaluated in one forward pass
	// (0: 512, llama.cpp's n_ubatch).
	BatchSize int
	// MaxDecodeBatch is how many sequences' decode steps one forward pass
	// may batch together (0: 32).
	MaxDecodeBatch int
}

// Default sizes.
const (
	DefaultBatchSize      = 512
	DefaultMaxDecodeBatch = 32
)

// ErrContextFull is returned (wrapped) when tokens do not fit in a
// sequence's context.
var ErrContextFull = model.ErrContextFull

// ErrClosed is returned for calls on a closed Engine.
var ErrClosed = errors.New("engine: closed")

// Engine is a loaded model ready to generate. Its methods are safe for
// concurrent use.
type Engine struct {
	src     *hf.Model // the opened model; owns f's mapping
	f       *gguf.File
	m       model.Model
	cfg     *model.Config
	tok     *tokenizer.Tokenizer
	tmpl    *chat.Template
	tmplErr error
	pool    *kernels.Pool
	opts    Options
	kvType  quant.Type
	ctx     int // default sequence context
	sched   *scheduler

	closeOnce sync.Once
}

// Load opens a model and builds it with its tokenizer and chat template.
// path is a GGUF file or a Hugging Face model directory (config.json,
// *.safetensors, tokenizer.json, tokenizer_config.json), which runs in its
// own F32/F16/BF16 precision without conversion (see hf.Open). The weights
// stay mapped until Close.
func Load(path string, opts Options) (*Engine, error) {
	kvType := quant.F16
	if opts.KVType != "" {
		t, err := kvcache.ParseType(opts.KVType)
		if err != nil {
			return nil, err
		}
		kvType = t
	}
	if opts.Threads < 0 || opts.Context < 0 || opts.BatchSize < 0 || opts.MaxDecodeBatch < 0 {
		return nil, fmt.Errorf("engine: negative option in %+v", opts)
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.MaxDecodeBatch == 0 {
		opts.MaxDecodeBatch = DefaultMaxDecodeBatch
	}
	src, err := hf.OpenPath(path)
	if err != nil {
		return nil, err
	}
	e, err := newEngine(src, opts, kvType)
	if err != nil {
		src.Close()
		return nil, err
	}
	return e, nil
}

func newEngine(src *hf.Model, opts Options, kvType quant.Type) (*Engine, error) {
	f := src.File
	m, err := model.Load(f)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return nil, err
	}
	cfg := m.Config()
	if tok.NumTokens() != cfg.Vocab {
		return nil, fmt.Errorf("engine: tokenizer has %d tokens, model %d", tok.NumTokens(), cfg.Vocab)
	}
	e := &Engine{src: src, f: f, m: m, cfg: cfg, tok: tok, opts: opts, kvType: kvType}
	// A template that does not compile must not prevent raw generation:
	// fall back to ChatML and report the error through TemplateError.
	if e.tmpl, e.tmplErr = chat.FromGGUF(f); e.tmplErr != nil {
		e.tmpl = chat.ChatML()
	}
	e.ctx = opts.Context
	if e.ctx == 0 {
		e.ctx = kvcache.DefaultContext
	}
	e.ctx = min(e.ctx, cfg.ContextLength)
	e.pool = kernels.NewPool(opts.Threads)
	e.sched, err = newScheduler(e)
	if err != nil {
		e.pool.Close()
		return nil, err
	}
	return e, nil
}

// Close stops the engine and unmaps the model. Sequences and results
// must not be used afterwards; calls in flight fail with ErrClosed.
func (e *Engine) Close() error {
	var err error
	e.closeOnce.Do(func() {
		e.sched.close()
		e.pool.Close()
		err = e.src.Close()
	})
	return err
}

// Config returns the model's hyperparameters (read-only).
func (e *Engine) Config() *model.Config { return e.cfg }

// Tokenizer returns the model's tokenizer.
func (e *Engine) Tokenizer() *tokenizer.Tokenizer { return e.tok }

// Template returns the model's chat template (ChatML when the file has
// none, or when its template failed to compile; see TemplateError).
func (e *Engine) Template() *chat.Template { return e.tmpl }

// TemplateError is the error compiling the file's chat template, if any.
func (e *Engine) TemplateError() error { return e.tmplErr }

// File returns the model file, for metadata: for a Hugging Face directory,
// the GGUF view that hf.Open builds of it. Its tensor data must not be
// modified.
func (e *Engine) File() *gguf.File { return e.f }

// Warnings are non-fatal doubts found while loading (for a Hugging Face
// directory, e.g. an unrecognised pre-tokenizer), for the caller to show.
func (e *Engine) Warnings() []string { return e.src.Warnings }

// Threads is the number of compute threads.
func (e *Engine) Threads() int { return e.pool.Threads() }

// KVType is the KV cache element type of new sequences.
func (e *Engine) KVType() quant.Type { return e.kvType }

// DefaultContext is the context size NewSequence(0) gives.
func (e *Engine) DefaultContext() int { return e.ctx }

// SamplingDefaults returns the model's sampling defaults: the file's
// general.sampling.* values over SmolLM3's recommended settings (spec §7.1).
func (e *Engine) SamplingDefaults() sample.Params {
	return sample.FromMetadata(func(k string) (float64, bool) {
		v, ok := e.f.Get(k)
		if !ok {
			return 0, false
		}
		return v.AsFloat()
	})
}

// Sequence is one conversation: a KV cache and the tokens it holds. Use it
// with one Generate or Eval at a time (further calls wait).
type Sequence struct {
	e      *Engine
	mu     sync.Mutex
	cache  *kvcache.Cache
	tokens []int32
	logits []float32 // logits of the last evaluated token
	req    request   // the sequence's scheduler request, reused
	one    [1]int32  // the token of a decode step
}

// NewSequence returns an empty sequence with room for nCtx tokens
// (0: the engine's default; capped at the model's context_length). KV
// memory is allocated as the sequence grows.
func (e *Engine) NewSequence(nCtx int) (*Sequence, error) {
	if nCtx < 0 {
		return nil, fmt.Errorf("engine: negative context %d", nCtx)
	}
	if nCtx == 0 {
		nCtx = e.ctx
	}
	c, err := model.NewCache(e.cfg, nCtx, e.kvType)
	if err != nil {
		return nil, err
	}
	s := &Sequence{e: e, cache: c, logits: make([]float32, e.cfg.Vocab)}
	s.req.done = make(chan error, 1)
	return s, nil
}

// Tokens returns a copy of the tokens the sequence's cache holds.
func (s *Sequence) Tokens() []int32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int32(nil), s.tokens...)
}

// Len is the number of tokens the cache holds.
func (s *Sequence) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.tokens)
}

// Context is the most tokens the sequence can hold.
func (s *Sequence) Context() int { return s.cache.Cap() }

// Reset forgets the sequence's tokens, keeping its KV memory.
func (s *Sequence) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache.Reset()
	s.tokens = s.tokens[:0]
}

// Release forgets the tokens and frees the KV memory; the sequence can
// still be used and allocates again as it grows.
func (s *Sequence) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cache.Release()
	s.tokens = s.tokens[:0]
}

// KVBytes is the KV memory the sequence currently holds.
func (s *Sequence) KVBytes() int64 { return s.cache.Bytes() }
