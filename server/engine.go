package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/sample"
	"github.com/smolbot/smolbot/tokenizer"
)

// EngineOptions configure LoadEngine.
type EngineOptions struct {
	// Threads is the number of compute threads (0: all cores).
	Threads int
	// KVType is the KV cache element type ("" for the engine's default).
	KVType string
}

// EngineModel adapts the engine to Model.
type EngineModel struct {
	e        *engine.Engine
	info     ModelInfo
	defaults sample.Params
	// showTokens holds the ids of <think> and </think> when the vocabulary
	// has them: they are control tokens in SmolLM3's, which the engine's
	// text stream hides unless asked, and the reasoning splitter needs
	// them.
	showTokens []int32
}

var _ Model = (*EngineModel)(nil)

// LoadEngine loads a model file with the engine.
func LoadEngine(path string, o EngineOptions) (*EngineModel, error) {
	e, err := engine.Load(path, engine.Options{Threads: o.Threads, KVType: o.KVType})
	if err != nil {
		return nil, err
	}
	return NewEngineModel(e, path), nil
}

// NewEngineModel wraps a loaded engine; path names the model (its
// general.name, else the file name) and dates it.
func NewEngineModel(e *engine.Engine, path string) *EngineModel {
	id := ""
	if v, ok := e.File().Get("general.name"); ok {
		if s, ok := v.AsString(); ok {
			id = strings.TrimSpace(s)
		}
	}
	if id == "" {
		id = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	created := time.Now()
	if st, err := os.Stat(path); err == nil {
		created = st.ModTime()
	}
	m := &EngineModel{
		e:        e,
		info:     ModelInfo{ID: id, ContextLength: e.Config().ContextLength, Created: created},
		defaults: e.SamplingDefaults(),
	}
	tok := e.Tokenizer()
	for _, tag := range []string{chat.DefaultTags.Open, chat.DefaultTags.Close} {
		if id, ok := tok.TokenID(tag); ok {
			m.showTokens = append(m.showTokens, id)
		}
	}
	return m
}

// Engine returns the wrapped engine.
func (m *EngineModel) Engine() *engine.Engine { return m.e }

// Close closes the engine.
func (m *EngineModel) Close() error { return m.e.Close() }

// Info implements Model.
func (m *EngineModel) Info() ModelInfo { return m.info }

// Template implements Model.
func (m *EngineModel) Template() *chat.Template { return m.e.Template() }

// Tokenize implements Model: control tokens in the text are parsed, and a
// BOS token is added when the vocabulary asks for one.
func (m *EngineModel) Tokenize(prompt string) ([]int32, error) {
	tok := m.e.Tokenizer()
	return tok.Tokenize(prompt, true, true), nil
}

// Tokenizer returns the model's tokenizer.
func (m *EngineModel) Tokenizer() *tokenizer.Tokenizer { return m.e.Tokenizer() }

// NewSequence implements Model.
func (m *EngineModel) NewSequence(nCtx int) (Sequence, error) {
	s, err := m.e.NewSequence(nCtx)
	if err != nil {
		return nil, err
	}
	return engineSeq{s}, nil
}

type engineSeq struct{ s *engine.Sequence }

func (q engineSeq) Tokens() []int32 { return q.s.Tokens() }
func (q engineSeq) Bytes() int64    { return q.s.KVBytes() }
func (q engineSeq) Free()           { q.s.Release() }

// Sampling turns p into the engine's sampler settings: the model's
// defaults, overridden by what p sets.
func (m *EngineModel) Sampling(p GenParams) sample.Params {
	s := m.defaults
	if p.Temperature != nil {
		s.Temperature = float32(*p.Temperature)
	}
	if p.TopP != nil {
		s.TopP = float32(*p.TopP)
	}
	if p.TopK != nil {
		s.TopK = *p.TopK
	}
	if p.MinP != nil {
		s.MinP = float32(*p.MinP)
	}
	s.PresencePenalty = float32(p.PresencePenalty)
	s.FrequencyPenalty = float32(p.FrequencyPenalty)
	if p.Seed != nil {
		s.Seed = uint64(*p.Seed)
	} else {
		s.Seed = sample.RandomSeed
	}
	return s
}

// Generate implements Model.
func (m *EngineModel) Generate(ctx context.Context, seq Sequence, prompt []int32, p GenParams, emit func(Token) error) (GenResult, error) {
	start := time.Now()
	gp := engine.GenParams{Sampling: m.Sampling(p), MaxTokens: p.MaxTokens, Stop: p.Stop, RenderSpecial: m.showTokens}
	res, err := m.e.Generate(ctx, seq.(engineSeq).s, prompt, gp, func(t engine.Token) error {
		return emit(Token{ID: t.ID, Text: t.Text})
	})
	out := GenResult{
		PromptTokens: res.PromptTokens, CachedTokens: res.CachedTokens, GenTokens: res.GenTokens,
		TimeToFirstToken: res.TimeToFirstToken, Duration: time.Since(start),
	}
	switch res.StopReason {
	case engine.StopEOG:
		out.StopReason = StopEOS
	case engine.StopString:
		out.StopReason = StopString
	case engine.StopLength:
		out.StopReason = StopLength
		if p.MaxTokens == 0 || res.GenTokens < p.MaxTokens {
			out.StopReason = StopContext
		}
	case engine.StopCancelled:
		out.StopReason = StopCancelled
		if err == nil {
			err = context.Cause(ctx)
		}
	}
	return out, err
}
