package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/sample"
)

// GenParams configure one Generate call.
type GenParams struct {
	// Sampling is the sampler configuration (see Engine.SamplingDefaults;
	// the zero value is greedy decoding).
	Sampling sample.Params
	// MaxTokens caps the generated tokens (0: until the context is full).
	MaxTokens int
	// Stop strings end generation when they appear in the text; the stop
	// string itself is not emitted.
	Stop []string
	// IgnoreEOG keeps generating past end-of-generation tokens (for
	// benchmarks); they are then emitted like other tokens.
	IgnoreEOG bool
}

// Token is one generated token.
type Token struct {
	// ID is the token id, or -1 for the final flush of text held back
	// (an incomplete character or a possible stop-string prefix).
	ID int32
	// Text is the text that became safe to show with this token: complete
	// UTF-8 characters that cannot belong to a stop string. It may be
	// empty, and control tokens render as nothing.
	Text string
}

// Stop reasons of a Result.
const (
	StopEOG       = "eog"       // the model produced an end-of-generation token
	StopString    = "stop"      // a stop string appeared
	StopLength    = "length"    // MaxTokens reached, or the context is full
	StopCancelled = "cancelled" // the context was cancelled
)

// Result describes a finished Generate call.
type Result struct {
	PromptTokens int    // tokens of the prompt
	CachedTokens int    // prompt tokens reused from the sequence's cache
	GenTokens    int    // tokens sampled
	StopReason   string // StopEOG, StopString, StopLength or StopCancelled
	Text         string // all emitted text

	PrefillDuration  time.Duration // evaluating the uncached prompt tokens
	GenDuration      time.Duration // from the first sampled token to the end
	TimeToFirstToken time.Duration // from the call to the first sampled token
}

// ContextFullError reports tokens that do not fit in a sequence's context.
// It matches ErrContextFull with errors.Is.
type ContextFullError struct {
	Tokens, Context int
}

func (e *ContextFullError) Error() string {
	return fmt.Sprintf("engine: %d tokens do not fit in the context of %d", e.Tokens, e.Context)
}

// Is makes errors.Is(err, ErrContextFull) true.
func (e *ContextFullError) Is(target error) bool { return target == ErrContextFull }

// Generate continues the conversation held by seq: prompt is the full token
// list of the conversation so far. The longest prefix of prompt already in
// seq's cache is reused and the rest is prefilled; then tokens are sampled
// until an end-of-generation token, a stop string, MaxTokens, a full
// context, or cancellation of ctx (checked before every step). emit is
// called for every sampled token (except an end-of-generation one) and
// once more with ID -1 if text was held back at the end; an error from emit
// stops generation and is returned.
//
// A cancelled generation returns the partial Result with StopCancelled and
// a nil error. A prompt that does not fit the context fails with a
// *ContextFullError before any work.
func (e *Engine) Generate(ctx context.Context, seq *Sequence, prompt []int32, p GenParams, emit func(Token) error) (Result, error) {
	start := time.Now()
	res := Result{PromptTokens: len(prompt)}
	if seq == nil || seq.e != e {
		return res, errors.New("engine: sequence of another engine")
	}
	if len(prompt) == 0 {
		return res, errors.New("engine: empty prompt")
	}
	if len(prompt) > seq.Context() {
		return res, &ContextFullError{Tokens: len(prompt), Context: seq.Context()}
	}
	if p.MaxTokens < 0 {
		return res, fmt.Errorf("engine: negative MaxTokens %d", p.MaxTokens)
	}
	for _, t := range prompt {
		if t < 0 || int(t) >= e.cfg.Vocab {
			return res, fmt.Errorf("engine: token id %d outside the vocabulary [0, %d)", t, e.cfg.Vocab)
		}
	}
	chain, err := sample.New(p.Sampling)
	if err != nil {
		return res, err
	}
	seq.mu.Lock()
	defer seq.mu.Unlock()

	// Reuse the cached prefix; always evaluate at least one token so that
	// there are logits to sample from.
	common := commonPrefix(seq.tokens, prompt)
	if common == len(prompt) {
		common--
	}
	seq.cache.Truncate(common)
	seq.tokens = seq.tokens[:common]
	res.CachedTokens = common

	if err := seq.prefill(ctx, prompt[common:]); err != nil {
		if ctx.Err() != nil {
			res.StopReason = StopCancelled
			return res, nil
		}
		return res, err
	}
	res.PrefillDuration = time.Since(start)
	// The penalty window sees the prompt too, as in llama.cpp's server.
	for _, t := range prompt[max(0, len(prompt)-p.Sampling.RepeatLastN):] {
		chain.Accept(int(t))
	}

	dec := e.tok.NewStreamDecoder()
	stops := sample.NewStopMatcher(p.Stop...)
	var text strings.Builder
	var genStart time.Time
	send := func(id int32, s string) error {
		text.WriteString(s)
		if emit == nil {
			return nil
		}
		return emit(Token{ID: id, Text: s})
	}
	finish := func(reason string) (Result, error) {
		res.StopReason = reason
		if reason != StopString {
			if rest := dec.Flush(); rest != "" {
				s, _ := stops.Feed(rest)
				if s != "" {
					if err := send(-1, s); err != nil {
						return res, err
					}
				}
			}
			if rest := stops.Flush(); rest != "" {
				if err := send(-1, rest); err != nil {
					return res, err
				}
			}
		}
		res.Text = text.String()
		if !genStart.IsZero() {
			res.GenDuration = time.Since(genStart)
		}
		return res, nil
	}
	for {
		if ctx.Err() != nil {
			return finish(StopCancelled)
		}
		id, err := chain.Sample(seq.logits)
		if err != nil {
			return res, err
		}
		tok := int32(id)
		if genStart.IsZero() {
			genStart = time.Now()
			res.TimeToFirstToken = genStart.Sub(start)
		}
		if !p.IgnoreEOG && e.tok.IsEOG(tok) {
			return finish(StopEOG)
		}
		chain.Accept(id)
		res.GenTokens++
		piece, stopped := stops.Feed(dec.Next(tok))
		if err := send(tok, piece); err != nil {
			res.Text = text.String()
			return res, err
		}
		if stopped {
			return finish(StopString)
		}
		if p.MaxTokens > 0 && res.GenTokens >= p.MaxTokens {
			return finish(StopLength)
		}
		if len(seq.tokens) >= seq.Context() {
			return finish(StopLength)
		}
		seq.one[0] = tok
		if err := seq.forward(seq.one[:], model.LogitsLast, seq.logits); err != nil {
			if errors.Is(err, ErrContextFull) {
				return finish(StopLength)
			}
			res.Text = text.String()
			return res, err
		}
	}
}

// prefill evaluates tokens in chunks of the batch size, keeping the logits
// of the last one in seq.logits. The caller holds seq.mu.
func (seq *Sequence) prefill(ctx context.Context, tokens []int32) error {
	bs := seq.e.opts.BatchSize
	for len(tokens) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(len(tokens), bs)
		mode := model.LogitsNone
		if n == len(tokens) {
			mode = model.LogitsLast
		}
		if err := seq.forward(tokens[:n], mode, seq.logits); err != nil {
			return err
		}
		tokens = tokens[n:]
	}
	return nil
}

// Eval appends tokens to seq's cache (after the tokens it already holds)
// and returns their logits: every position's (len(tokens) rows of n_vocab)
// with allLogits, else the last one's. It is the primitive behind
// `smolbot eval` and perplexity-style checks.
func (e *Engine) Eval(seq *Sequence, tokens []int32, allLogits bool) ([]float32, error) {
	if seq == nil || seq.e != e {
		return nil, errors.New("engine: sequence of another engine")
	}
	if len(tokens) == 0 {
		return nil, errors.New("engine: nothing to evaluate")
	}
	seq.mu.Lock()
	defer seq.mu.Unlock()
	if len(seq.tokens)+len(tokens) > seq.Context() {
		return nil, &ContextFullError{Tokens: len(seq.tokens) + len(tokens), Context: seq.Context()}
	}
	V := e.cfg.Vocab
	if !allLogits {
		if err := seq.prefill(context.Background(), tokens); err != nil {
			return nil, err
		}
		return append([]float32(nil), seq.logits...), nil
	}
	out := make([]float32, len(tokens)*V)
	bs := e.opts.BatchSize
	for i := 0; i < len(tokens); i += bs {
		j := min(i+bs, len(tokens))
		if err := seq.forward(tokens[i:j], model.LogitsAll, out[i*V:j*V]); err != nil {
			return nil, err
		}
	}
	copy(seq.logits, out[(len(tokens)-1)*V:])
	return out, nil
}

// Logits returns a copy of the logits of the last token evaluated on seq.
func (seq *Sequence) Logits() []float32 {
	seq.mu.Lock()
	defer seq.mu.Unlock()
	return append([]float32(nil), seq.logits...)
}

func commonPrefix(a, b []int32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}
