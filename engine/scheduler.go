package engine

import (
	"context"
	"fmt"
	"runtime/pprof"

	"github.com/smolbot/smolbot/model"
)

// The pprof label of the forward passes: the scheduler goroutine and the
// pool's workers carry LabelPhase=PhasePrefill during a pass that holds a
// prompt chunk and LabelPhase=PhaseDecode during one of decode steps and
// drafts only, so that `go tool pprof -tagfocus phase=tg` selects decoding
// in a profile of any program that uses an Engine.
const (
	LabelPhase   = "phase"
	PhasePrefill = "pp"
	PhaseDecode  = "tg"
)

// The label contexts, made once so that labelling a pass allocates nothing.
var (
	prefillLabels = pprof.WithLabels(context.Background(), pprof.Labels(LabelPhase, PhasePrefill))
	decodeLabels  = pprof.WithLabels(context.Background(), pprof.Labels(LabelPhase, PhaseDecode))
)

// request is one forward step of one sequence: tokens appended to its
// cache, with the logits the caller wants copied to out.
type request struct {
	seq    *Sequence
	tokens []int32
	mode   model.Logits
	out    []float32 // Outputs() rows of n_vocab
	done   chan error
	// draft marks a speculative decode step: tokens[0] is the sampled
	// token and tokens[1:] a draft the scheduler may shorten to fit the
	// batch (it then shortens tokens, which the caller reads back).
	draft bool
}

// scheduler runs every forward pass of an Engine on one goroutine. Each
// step batches the pending decode requests (single tokens, or a sampled
// token with its draft; up to MaxDecodeBatch of them) with at most one
// prompt chunk, oldest first. Decode steps always get their sampled token
// in; drafts share the room the workspace has left, up to MaxDecodeBatch
// draft tokens per step (many sequences decoding together already share
// each weight read, and their drafts would only add compute).
type scheduler struct {
	e       *Engine
	ws      *model.Workspace
	in      chan *request
	quit    chan struct{}
	stopped chan struct{}

	// Loop state, reused between steps.
	decodes []*request
	prompts []*request // FIFO of waiting multi-token requests
	spans   []model.Span
	batch   []*request
	logits  []float32
	labels  context.Context // the phase labels applied (nil: none yet)
}

func newScheduler(e *Engine) (*scheduler, error) {
	ws, err := model.NewWorkspace(e.cfg, e.pool, e.opts.BatchSize+e.opts.MaxDecodeBatch)
	if err != nil {
		return nil, err
	}
	s := &scheduler{
		e: e, ws: ws,
		in:      make(chan *request, 64),
		quit:    make(chan struct{}),
		stopped: make(chan struct{}),
	}
	go s.loop()
	return s, nil
}

func (s *scheduler) close() {
	close(s.quit)
	<-s.stopped
}

// submit runs r and waits for it. It fails with ErrClosed if the engine
// is closed before r runs.
func (s *scheduler) submit(r *request) error {
	select {
	case s.in <- r:
	case <-s.quit:
		return ErrClosed
	}
	select {
	case err := <-r.done:
		return err
	case <-s.stopped:
		// The loop may have finished r just before stopping.
		select {
		case err := <-r.done:
			return err
		default:
			return ErrClosed
		}
	}
}

func (s *scheduler) loop() {
	defer close(s.stopped)
	for {
		// Block until there is work.
		if len(s.decodes) == 0 && len(s.prompts) == 0 {
			select {
			case r := <-s.in:
				s.enqueue(r)
			case <-s.quit:
				return
			}
		}
		// Take whatever else has arrived, without waiting.
	drain:
		for {
			select {
			case r := <-s.in:
				s.enqueue(r)
			case <-s.quit:
				s.failAll()
				return
			default:
				break drain
			}
		}
		s.step()
	}
}

func (s *scheduler) enqueue(r *request) {
	if r.draft || len(r.tokens) == 1 {
		s.decodes = append(s.decodes, r)
	} else {
		s.prompts = append(s.prompts, r)
	}
}

func (s *scheduler) failAll() {
	for _, r := range s.decodes {
		r.done <- ErrClosed
	}
	for _, r := range s.prompts {
		r.done <- ErrClosed
	}
	s.decodes, s.prompts = s.decodes[:0], s.prompts[:0]
}

// step runs one forward pass over a batch of pending requests.
func (s *scheduler) step() {
	// The prompt chunk (if any) goes first: it takes the batch arithmetic,
	// the decode steps and drafts after it the single-token arithmetic
	// (model.Span.Decode), so each sequence's output is the same whatever
	// it shares the pass with.
	s.batch = s.batch[:0]
	n := min(len(s.decodes), s.e.opts.MaxDecodeBatch)
	room := s.ws.MaxTokens() - n
	if len(s.prompts) > 0 {
		s.batch = append(s.batch, s.prompts[0])
		room -= len(s.prompts[0].tokens)
		s.prompts = s.prompts[:copy(s.prompts, s.prompts[1:])]
	}
	np := len(s.batch)
	s.batch = append(s.batch, s.decodes[:n]...)
	s.decodes = s.decodes[:copy(s.decodes, s.decodes[n:])]
	room = min(room, s.e.opts.MaxDecodeBatch)
	for _, r := range s.batch[np:] {
		if extra := len(r.tokens) - 1; extra > 0 {
			extra = max(min(extra, room), 0)
			r.tokens = r.tokens[:1+extra]
			room -= extra
		}
	}
	// A one-token prompt chunk is queued as a decode step (enqueue) and
	// computed like one, so it counts as decoding.
	s.setPhase(np > 0)
	V := s.e.cfg.Vocab
	rows := 0
	s.spans = s.spans[:0]
	for i, r := range s.batch {
		s.spans = append(s.spans, model.Span{Cache: r.seq.cache, Tokens: r.tokens, Logits: r.mode, Decode: i >= np})
		rows += s.spans[len(s.spans)-1].Outputs()
	}
	if cap(s.logits) < rows*V {
		s.logits = make([]float32, rows*V)
	}
	logits := s.logits[:rows*V]
	err := s.e.m.Forward(s.ws, s.spans, logits)
	if err != nil && len(s.batch) > 1 {
		// One bad request must not fail the others: run them one by one.
		for i, r := range s.batch {
			r.done <- s.single(r, &s.spans[i])
		}
		return
	}
	off := 0
	for i, r := range s.batch {
		k := s.spans[i].Outputs() * V
		if err == nil {
			copy(r.out, logits[off:off+k])
		}
		off += k
		r.done <- err
	}
}

// setPhase labels the scheduler goroutine and the pool's workers with the
// phase of the next forward pass. It does so only when the phase changes:
// steady decoding pays one compare per step.
func (s *scheduler) setPhase(prefill bool) {
	l := decodeLabels
	if prefill {
		l = prefillLabels
	}
	if l == s.labels {
		return
	}
	s.labels = l
	pprof.SetGoroutineLabels(l)
	s.e.pool.SetProfileLabels(l)
}

// single runs one request alone.
func (s *scheduler) single(r *request, span *model.Span) error {
	V := s.e.cfg.Vocab
	rows := span.Outputs()
	if cap(s.logits) < rows*V {
		s.logits = make([]float32, rows*V)
	}
	logits := s.logits[:rows*V]
	if err := s.e.m.Forward(s.ws, []model.Span{*span}, logits); err != nil {
		return err
	}
	copy(r.out, logits)
	return nil
}

// forward evaluates tokens on seq (at its current end) through the
// scheduler and copies the requested logits to out. The caller holds
// seq.mu.
func (seq *Sequence) forward(tokens []int32, mode model.Logits, out []float32) error {
	e := seq.e
	if len(tokens) > e.opts.BatchSize {
		return fmt.Errorf("engine: internal error: chunk of %d tokens exceeds the batch size %d", len(tokens), e.opts.BatchSize)
	}
	r := &seq.req
	r.seq, r.tokens, r.mode, r.out = seq, tokens, mode, out
	err := e.sched.submit(r)
	r.tokens, r.out = nil, nil
	if err != nil {
		// The cache keeps its previous length on error; so do the tokens.
		seq.tokens = seq.tokens[:seq.cache.Len()]
		return err
	}
	seq.tokens = append(seq.tokens, tokens...)
	return nil
}

// decode evaluates a sampled token and the draft after it, tokens[0] and
// tokens[1:], on seq with the logits of every position written to out
// (len(tokens) rows). The scheduler may cut the draft short to fit its
// batch: decode returns how many tokens were evaluated (at least 1), and
// only their rows are written. The caller holds seq.mu.
func (seq *Sequence) decode(tokens []int32, out []float32) (int, error) {
	e := seq.e
	if len(tokens) > e.opts.BatchSize {
		return 0, fmt.Errorf("engine: internal error: draft of %d tokens exceeds the batch size %d", len(tokens), e.opts.BatchSize)
	}
	r := &seq.req
	r.seq, r.tokens, r.mode, r.out, r.draft = seq, tokens, model.LogitsAll, out, true
	err := e.sched.submit(r)
	n := len(r.tokens)
	r.tokens, r.out, r.draft = nil, nil, false
	if err != nil {
		seq.tokens = seq.tokens[:seq.cache.Len()]
		return 0, err
	}
	seq.tokens = append(seq.tokens, tokens[:n]...)
	return n, nil
}
