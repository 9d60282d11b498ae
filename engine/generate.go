package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/sample"
	"github.com/smolbot/smolbot/tokenizer"
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
	// RenderSpecial lists control tokens whose text is emitted (for
	// SmolLM3's <think> and </think>, which a reasoning splitter needs);
	// other control tokens render as nothing. Their text goes through the
	// stop strings like any other, in order.
	RenderSpecial []int32
	// Lookup configures speculative decoding by prompt lookup, on by
	// default for greedy sampling; it never changes greedy output.
	Lookup LookupParams
}

// Token is one generated token.
type Token struct {
	// ID is the token id, or -1 for the final flush of text held back
	// (an incomplete character or a possible stop-string prefix).
	ID int32
	// Text is the text that became safe to show with this token: complete
	// UTF-8 characters that cannot belong to a stop string. It may be
	// empty, and control tokens render as nothing (except those listed in
	// GenParams.RenderSpecial).
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

	// Decoding work: DecodeSteps forward passes ran after the prompt's,
	// evaluating DraftTokens speculative draft tokens besides the sampled
	// ones; DraftAccepted of those turned out to be the tokens sampled
	// next, each saving a forward pass. The first token is sampled from
	// the prompt's logits, so a generation that ends at MaxTokens or a stop
	// string has GenTokens = 1 + DecodeSteps + DraftAccepted.
	DecodeSteps   int
	DraftTokens   int
	DraftAccepted int
}

// AcceptedPerStep is the number of accepted draft tokens per decoding
// forward pass: how many tokens beyond one each step yielded on average.
func (r Result) AcceptedPerStep() float64 {
	if r.DecodeSteps == 0 {
		return 0
	}
	return float64(r.DraftAccepted) / float64(r.DecodeSteps)
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
// context, or cancellation of ctx (checked before every token). emit is
// called for every sampled token (except an end-of-generation one), in
// order, and once more with ID -1 if text was held back at the end; an
// error from emit stops generation and is returned.
//
// With greedy sampling, decoding is speculative by default (see
// LookupParams): several tokens may come out of one forward pass, but they
// are the tokens plain decoding gives, emitted one by one with every check
// above made between them.
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
	for _, t := range p.RenderSpecial {
		if t < 0 || int(t) >= e.cfg.Vocab {
			return res, fmt.Errorf("engine: RenderSpecial id %d outside the vocabulary [0, %d)", t, e.cfg.Vocab)
		}
	}
	for _, t := range p.Lookup.Reference {
		if t < 0 || int(t) >= e.cfg.Vocab {
			return res, fmt.Errorf("engine: lookup reference token id %d outside the vocabulary [0, %d)", t, e.cfg.Vocab)
		}
	}
	lookup, err := p.Lookup.resolved()
	if err != nil {
		return res, err
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

	g := generation{
		e: e, seq: seq, p: &p, chain: chain, emit: emit, res: &res, start: start,
		dec:   e.tok.NewStreamDecoder(),
		stops: sample.NewStopMatcher(p.Stop...),
	}
	if !lookup.Off && (p.Sampling.Temperature <= 0 || lookup.Sampled) {
		// The speculator's buffers (a few logits rows) are pooled, not
		// kept per sequence: only generations in flight hold them.
		g.sp = specPool.Get().(*speculator)
		defer specPool.Put(g.sp)
		g.sp.reset(lookup, chain.Params().Seed, e.opts.BatchSize)
	}
	return g.run(ctx)
}

// generation is the state of one Generate call's decode loop.
type generation struct {
	e     *Engine
	seq   *Sequence
	p     *GenParams
	chain *sample.Chain
	dec   *tokenizer.StreamDecoder
	stops *sample.StopMatcher
	sp    *speculator // nil: one token per step
	emit  func(Token) error
	res   *Result
	text  strings.Builder

	start, genStart time.Time
}

func (g *generation) run(ctx context.Context) (Result, error) {
	seq, p, res := g.seq, g.p, g.res
	cur := seq.logits // the logits the next token is sampled from
	for {
		if ctx.Err() != nil {
			return g.finish(StopCancelled)
		}
		id, err := g.sample(cur)
		if err != nil {
			return g.fail(err)
		}
		tok := int32(id)
		if g.genStart.IsZero() {
			g.genStart = time.Now()
			res.TimeToFirstToken = g.genStart.Sub(g.start)
		}
		if !p.IgnoreEOG && g.e.tok.IsEOG(tok) {
			return g.finish(StopEOG)
		}
		g.chain.Accept(id)
		res.GenTokens++
		stopped, err := g.emitToken(tok)
		if err != nil {
			return g.fail(err)
		}
		if stopped {
			return g.finish(StopString)
		}
		if p.MaxTokens > 0 && res.GenTokens >= p.MaxTokens {
			return g.finish(StopLength)
		}
		// The logits that follow tok: already computed if tok is the next
		// draft token of the last step, else one more forward pass.
		if sp := g.sp; sp != nil {
			if sp.pending() && sp.drafts[sp.next] == tok {
				sp.next++
				sp.accepted++
				cur = sp.row(sp.next, len(seq.logits))
				continue
			}
			g.dropDrafts()
		}
		if len(seq.tokens) >= seq.Context() {
			return g.finish(StopLength)
		}
		if cur, err = g.step(tok); err != nil {
			if errors.Is(err, ErrContextFull) {
				return g.finish(StopLength)
			}
			return g.fail(err)
		}
	}
}

// sample picks the next token from logits. While a draft token awaits
// verification in sampled (non-greedy) mode it uses rejection sampling,
// which keeps the sampler's distribution; greedy sampling needs nothing
// special, since the argmax either is the draft token or is not.
func (g *generation) sample(logits []float32) (int, error) {
	if sp := g.sp; sp != nil && sp.pending() && g.p.Sampling.Temperature > 0 {
		return sp.sampleDraft(g.chain, logits, sp.drafts[sp.next])
	}
	return g.chain.Sample(logits)
}

// emitToken passes the text of tok through the stop strings and emits
// what is safe to show. Control tokens render as nothing unless listed in
// RenderSpecial; listed ones go through the decoder and the stop strings
// like any text, so they come out in order with text held back before
// them.
func (g *generation) emitToken(tok int32) (stopped bool, err error) {
	var piece string
	if len(g.p.RenderSpecial) > 0 && slices.Contains(g.p.RenderSpecial, tok) {
		g.dec.Special = true
		piece = g.dec.Next(tok)
		g.dec.Special = false
	} else {
		piece = g.dec.Next(tok)
	}
	text, stopped := g.stops.Feed(piece)
	return stopped, g.send(tok, text)
}

// step evaluates tok at the end of the sequence, with a draft after it
// when lookup finds one, and returns the logits that follow tok.
func (g *generation) step(tok int32) ([]float32, error) {
	seq, sp := g.seq, g.sp
	g.res.DecodeSteps++
	if sp != nil {
		limit := seq.Context() - len(seq.tokens) - 1
		if g.p.MaxTokens > 0 {
			// Rows past the last token to sample would be wasted.
			limit = min(limit, g.p.MaxTokens-g.res.GenTokens-1)
		}
		if batch := sp.propose(seq.tokens, tok, limit); len(batch) > 1 {
			V := len(seq.logits)
			rows := sp.grow(len(batch), V)
			base := len(seq.tokens)
			t0 := time.Now()
			n, err := seq.decode(batch, rows)
			if err != nil {
				return nil, err
			}
			sp.timed(time.Since(t0), n > 1)
			sp.base, sp.drafts, sp.next = base, batch[1:n], 0
			sp.drafted += n - 1
			return sp.row(0, V), nil
		}
	}
	t0 := time.Now()
	seq.one[0] = tok
	if err := seq.forward(seq.one[:], model.LogitsLast, seq.logits); err != nil {
		return nil, err
	}
	if sp != nil {
		sp.timed(time.Since(t0), false)
	}
	return seq.logits, nil
}

// dropDrafts forgets the unverified draft tokens of the last step, from
// the cache too, and lets the speculator adapt to how the draft fared.
func (g *generation) dropDrafts() {
	sp, seq := g.sp, g.seq
	if sp.pending() {
		valid := sp.base + 1 + sp.next
		seq.cache.Truncate(valid)
		seq.tokens = seq.tokens[:valid]
	}
	sp.settle()
}

func (g *generation) send(id int32, s string) error {
	g.text.WriteString(s)
	if g.emit == nil {
		return nil
	}
	return g.emit(Token{ID: id, Text: s})
}

// finish ends a generation normally: held-back text is flushed (unless a
// stop string ended it) and the Result completed.
func (g *generation) finish(reason string) (Result, error) {
	g.closeDrafts()
	res := g.res
	res.StopReason = reason
	if reason != StopString {
		if rest := g.dec.Flush(); rest != "" {
			s, _ := g.stops.Feed(rest)
			if s != "" {
				if err := g.send(-1, s); err != nil {
					return g.fail(err)
				}
			}
		}
		if rest := g.stops.Flush(); rest != "" {
			if err := g.send(-1, rest); err != nil {
				return g.fail(err)
			}
		}
	}
	res.Text = g.text.String()
	if !g.genStart.IsZero() {
		res.GenDuration = time.Since(g.genStart)
	}
	return *res, nil
}

// fail ends a generation with an error, returning what was emitted.
func (g *generation) fail(err error) (Result, error) {
	g.closeDrafts()
	g.res.Text = g.text.String()
	return *g.res, err
}

// closeDrafts leaves the sequence holding exactly the tokens before the
// last sampled one, as plain decoding does, and copies the statistics.
func (g *generation) closeDrafts() {
	if g.sp == nil {
		return
	}
	g.dropDrafts()
	g.res.DraftTokens, g.res.DraftAccepted = g.sp.drafted, g.sp.accepted
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
