package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/smolbot/smolbot/chat"
	"github.com/smolbot/smolbot/sched"
)

// genRequest is what both front ends (the OpenAI API and the web UI)
// translate their input into: one call, one code path.
type genRequest struct {
	// Key is the session whose KV cache to reuse; "" for API requests,
	// which are matched to cached sequences by prompt prefix instead.
	Key      string
	Messages []chat.Message
	// Thinking is passed to the template as enable_thinking; nil leaves
	// the template's default (and system-prompt flags) in charge.
	Thinking *bool
	Params   GenParams
	// Ctx is the sequence size in tokens; 0 means the server default.
	Ctx int
}

// genHooks receive the progress of a generation. Any may be nil. They run
// on the generating goroutine, so they must be quick.
type genHooks struct {
	// Queued reports the 1-based queue position while waiting.
	Queued func(pos int)
	// Started is called when the request leaves the queue.
	Started func()
	// Delta receives newly generated reasoning and answer text.
	Delta func(thinking, content string) error
}

// genOutcome is the summary of a generation.
type genOutcome struct {
	GenResult
	// Queued is the time spent waiting for the model.
	Queued time.Duration
	// ThinkingMode reports whether the prompt left room for reasoning.
	ThinkingMode bool
}

// Finish is the OpenAI finish_reason of the outcome.
func (o genOutcome) Finish() string {
	switch o.StopReason {
	case StopLength, StopContext:
		return "length"
	}
	return "stop"
}

// errNotReady: the model is still loading.
var errNotReady = errors.New("the model is still loading; try again shortly")

// PromptTooLongError reports a prompt that does not fit the context.
type PromptTooLongError struct {
	Tokens, Context int
}

// Error says how long the conversation is and what to do about it.
func (e *PromptTooLongError) Error() string {
	return fmt.Sprintf("the conversation is %d tokens, but the context is %d tokens (and at least one token must be left for the answer): "+
		"shorten the conversation, start a new one, or raise the context size", e.Tokens, e.Context)
}

// prepared is a rendered, tokenized request ready to run.
type prepared struct {
	req    genRequest
	lm     *loadedModel
	text   string
	prompt []int32
	nCtx   int
	mode   chat.ReplyMode
}

// prepare renders and tokenizes a request and checks it fits. Errors here
// are the client's fault (400) or errNotReady.
func (s *Server) prepare(req genRequest) (*prepared, error) {
	if s.ctx.Err() != nil {
		return nil, errShutdown
	}
	lm := s.model.Load()
	if lm == nil {
		return nil, errNotReady
	}
	opts := chat.DefaultOptions()
	opts.EnableThinking = req.Thinking
	text, err := lm.m.Template().Render(req.Messages, opts)
	if err != nil {
		return nil, &badRequestError{msg: err.Error(), param: "messages"}
	}
	prompt, err := lm.m.Tokenize(text)
	if err != nil {
		return nil, &badRequestError{msg: "tokenizing the prompt: " + err.Error(), param: "messages"}
	}
	nCtx := req.Ctx
	if nCtx <= 0 {
		nCtx = s.defaultCtx(lm)
	}
	nCtx = min(nCtx, lm.info.ContextLength)
	if len(prompt) >= nCtx {
		return nil, &PromptTooLongError{Tokens: len(prompt), Context: nCtx}
	}
	return &prepared{req: req, lm: lm, text: text, prompt: prompt, nCtx: nCtx, mode: chat.DetectReplyMode(text, chat.DefaultTags)}, nil
}

func (s *Server) defaultCtx(lm *loadedModel) int {
	if s.cfg.Context > 0 {
		return min(s.cfg.Context, lm.info.ContextLength)
	}
	return min(DefaultContext, lm.info.ContextLength)
}

// run waits for the model, generates, and splits the output into reasoning
// and answer. The returned error is nil for a generation that ended
// normally; ctx's cause when it was cancelled (the outcome is still valid:
// StopCancelled and the counts so far).
func (s *Server) run(ctx context.Context, p *prepared, hooks genHooks) (genOutcome, error) {
	t, err := s.enqueue(p)
	if err != nil {
		return genOutcome{}, err
	}
	return s.runTicket(ctx, p, t, hooks)
}

// enqueue takes p's place in the model's queue, or refuses it at once
// (queue full, shutting down).
func (s *Server) enqueue(p *prepared) (*sched.Ticket[Sequence], error) {
	t, err := p.lm.sched.Enqueue(sched.Request{Key: p.req.Key, Ctx: p.nCtx, Prompt: p.prompt})
	if errors.Is(err, sched.ErrQueueFull) {
		s.metrics.rejected.WithLabelValues("queue_full").Inc()
	}
	return t, err
}

// runTicket is run with the queue place already taken.
func (s *Server) runTicket(ctx context.Context, p *prepared, t *sched.Ticket[Sequence], hooks genHooks) (genOutcome, error) {
	out := genOutcome{ThinkingMode: p.mode.Thinking()}
	queuedAt := time.Now()
	lease, err := t.Wait(ctx, hooks.Queued)
	out.Queued = time.Since(queuedAt)
	if err != nil {
		if ctx.Err() != nil {
			return out, context.Cause(ctx)
		}
		return out, err
	}
	var history []int32
	defer func() { lease.Release(history) }()
	if hooks.Started != nil {
		hooks.Started()
	}
	split := chat.NewThinkSplitter(p.mode, chat.DefaultTags)
	delay := s.cfg.TokenDelay
	emit := func(t Token) error {
		if delay > 0 {
			// Test pacing: make streaming observable in browser tests.
			select {
			case <-time.After(delay):
			case <-ctx.Done():
				return context.Cause(ctx)
			}
		}
		th, c := split.Feed(t.Text)
		if (th != "" || c != "") && hooks.Delta != nil {
			return hooks.Delta(th, c)
		}
		return nil
	}
	res, genErr := p.lm.m.Generate(ctx, lease.Seq, p.prompt, p.req.Params, emit)
	history = lease.Seq.Tokens()
	if th, c := split.Flush(); (th != "" || c != "") && hooks.Delta != nil && genErr == nil {
		genErr = hooks.Delta(th, c)
	}
	out.GenResult = res
	switch {
	case genErr != nil && ctx.Err() != nil:
		out.StopReason = StopCancelled
		genErr = context.Cause(ctx)
	case genErr != nil:
		out.StopReason = StopError
	}
	s.metrics.observe(out.GenResult, out.Queued)
	return out, genErr
}
