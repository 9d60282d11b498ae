// Package sched shares one loaded model between many chat sessions.
//
// A Scheduler hands out leases: a lease is the right to run one generation
// now, together with the sequence (KV cache plus token history) to run it
// on. At most Parallel leases are out at once; other requests wait in one
// FIFO queue, learn their position while they wait, and leave it the moment
// their context is cancelled.
//
// Sequences outlive leases. A session's sequence is kept after its turn, so
// the next turn only processes the new tokens (the engine reuses the longest
// common prefix of the cached history and the new prompt). Requests without
// a session (API calls, which resend the whole conversation each time) take
// the idle anonymous sequence whose history shares the longest prefix with
// their prompt, as llama-server's slots do. Cached sequences are bounded by a
// byte budget and evicted least recently used first; an evicted session
// simply starts again on a fresh sequence, which the caller fills from the
// stored conversation.
//
// The scheduler is generic in the sequence type so that it knows nothing
// about the engine and can be tested alone.
package sched

import (
	"context"
	"errors"
	"sync"
)

// Errors returned by Acquire.
var (
	// ErrQueueFull: MaxQueue requests are already waiting.
	ErrQueueFull = errors.New("sched: too many requests waiting")
	// ErrClosed: the scheduler is shutting down.
	ErrClosed = errors.New("sched: shutting down")
)

// Config configures a Scheduler.
type Config[S any] struct {
	// Parallel is how many leases may be out at once (>= 1).
	Parallel int
	// MaxQueue bounds the waiting requests; more are refused with
	// ErrQueueFull. <= 0 means unbounded.
	MaxQueue int
	// Budget bounds the total size in bytes of the sequences kept in
	// memory. Running generations always have their sequence; idle ones
	// are evicted (least recently used first) to stay within it, so the
	// peak is about Budget plus what the running sequences grow to. 0
	// keeps no idle sequence.
	Budget int64
	// New makes a sequence with room for nCtx tokens.
	New func(nCtx int) (S, error)
	// Size is the memory a sequence takes now (KV caches grow as they
	// fill). It is called on the lease holder's goroutine, never while the
	// sequence is being used by someone else.
	Size func(S) int64
	// Free releases an evicted sequence; nil means nothing to do.
	Free func(S)
}

// Request says what a lease is for.
type Request struct {
	// Key identifies the session whose sequence to reuse; "" for requests
	// without a session.
	Key string
	// Ctx is the context size (tokens) the sequence must have.
	Ctx int
	// Prompt is the full prompt, used to pick the anonymous sequence with
	// the longest common prefix.
	Prompt []int32
}

// Stats is a snapshot of the scheduler's state.
type Stats struct {
	Waiting     int   // requests in the queue
	Running     int   // leases out
	Sequences   int   // sequences in memory, busy or idle
	Bytes       int64 // their total size
	Evictions   int64 // sequences evicted so far
	ReusedTurns int64 // leases that got a cached sequence
}

// Scheduler is a fair queue in front of one model plus a cache of
// sequences. It is safe for concurrent use.
type Scheduler[S any] struct {
	cfg Config[S]

	mu      sync.Mutex
	closed  bool
	running int
	queue   []*waiter
	entries []*entry[S]
	bytes   int64
	tick    uint64
	stats   Stats
}

type waiter struct {
	notify  chan struct{} // buffered(1): position changed or granted
	granted bool
}

type entry[S any] struct {
	key     string
	seq     S
	nCtx    int
	size    int64
	history []int32
	busy    bool
	dropped bool   // forgotten while busy: free on release
	used    uint64 // tick of last release, for LRU
}

// New returns a scheduler.
func New[S any](cfg Config[S]) *Scheduler[S] {
	if cfg.Parallel < 1 {
		cfg.Parallel = 1
	}
	return &Scheduler[S]{cfg: cfg}
}

// Lease is the right to generate now on Seq. Release it exactly once.
type Lease[S any] struct {
	// Seq is the sequence to generate on.
	Seq S
	// Cached reports whether Seq was reused from the cache (its history may
	// share a prefix with the prompt) rather than made new.
	Cached bool

	s    *Scheduler[S]
	e    *entry[S]
	once sync.Once
}

// Acquire waits for a free slot (calling wait with the 1-based queue
// position whenever it changes, from the calling goroutine) and returns a
// lease. It returns ctx's error if ctx ends first, ErrQueueFull or
// ErrClosed, or the error of Config.New. It is Enqueue followed by Wait.
func (s *Scheduler[S]) Acquire(ctx context.Context, req Request, wait func(pos int)) (*Lease[S], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	t, err := s.Enqueue(req)
	if err != nil {
		return nil, err
	}
	return t.Wait(ctx, wait)
}

// Ticket is a place in the queue (or a slot already granted), taken by
// Enqueue. Call Wait or Cancel exactly once.
type Ticket[S any] struct {
	s       *Scheduler[S]
	req     Request
	w       *waiter // nil: the slot was granted at once
	pos     int
	settled bool
}

// Enqueue takes a place in the queue without waiting, so a caller can
// refuse a request (ErrQueueFull, ErrClosed) before doing anything else
// with it, and wait for the model later, elsewhere.
func (s *Scheduler[S]) Enqueue(req Request) (*Ticket[S], error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if s.running < s.cfg.Parallel && len(s.queue) == 0 {
		s.running++
		return &Ticket[S]{s: s, req: req}, nil
	}
	if s.cfg.MaxQueue > 0 && len(s.queue) >= s.cfg.MaxQueue {
		return nil, ErrQueueFull
	}
	w := &waiter{notify: make(chan struct{}, 1)}
	s.queue = append(s.queue, w)
	return &Ticket[S]{s: s, req: req, w: w, pos: len(s.queue)}, nil
}

// Cancel gives up the ticket's place (or slot) if Wait was not called.
func (t *Ticket[S]) Cancel() {
	if t.settled {
		return
	}
	t.settled = true
	s := t.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if t.w == nil || t.w.granted {
		s.releaseSlotLocked()
	} else {
		s.removeWaiterLocked(t.w)
	}
}

// Wait waits for the ticket's turn (see Acquire) and returns the lease.
func (t *Ticket[S]) Wait(ctx context.Context, wait func(pos int)) (*Lease[S], error) {
	if t.settled {
		return nil, errors.New("sched: ticket used twice")
	}
	t.settled = true
	s, req := t.s, t.req
	if t.w != nil {
		if err := s.await(ctx, t.w, t.pos, wait); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	// Holding a slot (running was incremented for us) and the lock.
	if s.closed {
		s.releaseSlotLocked()
		s.mu.Unlock()
		return nil, ErrClosed
	}
	l, err := s.pickLocked(req)
	if err != nil {
		s.releaseSlotLocked()
		s.mu.Unlock()
		return nil, err
	}
	if l != nil {
		s.mu.Unlock()
		return l, nil
	}
	// A new sequence is needed: make room, then allocate outside the lock.
	victims := s.evictLocked(0)
	e := &entry[S]{key: req.Key, nCtx: req.Ctx, busy: true}
	s.entries = append(s.entries, e)
	s.mu.Unlock()
	s.free(victims)

	seq, err := s.cfg.New(req.Ctx)
	if err != nil {
		s.mu.Lock()
		s.removeLocked(e)
		s.releaseSlotLocked()
		s.mu.Unlock()
		return nil, err
	}
	e.seq = seq // e is busy: nobody else reads it until Release
	return &Lease[S]{Seq: seq, s: s, e: e}, nil
}

// await blocks until w is granted a slot or ctx ends.
func (s *Scheduler[S]) await(ctx context.Context, w *waiter, pos int, wait func(int)) error {
	last := -1
	for {
		if wait != nil && pos != last {
			wait(pos)
			last = pos
		}
		select {
		case <-ctx.Done():
			s.mu.Lock()
			if w.granted {
				// Granted just as we gave up: pass the slot on.
				s.releaseSlotLocked()
			} else {
				s.removeWaiterLocked(w)
			}
			s.mu.Unlock()
			return ctx.Err()
		case <-w.notify:
			s.mu.Lock()
			if w.granted {
				s.mu.Unlock()
				return nil
			}
			if s.closed {
				s.removeWaiterLocked(w)
				s.mu.Unlock()
				return ErrClosed
			}
			pos = s.positionLocked(w)
			s.mu.Unlock()
		}
	}
}

func (s *Scheduler[S]) positionLocked(w *waiter) int {
	for i, q := range s.queue {
		if q == w {
			return i + 1
		}
	}
	return 0
}

func (s *Scheduler[S]) removeWaiterLocked(w *waiter) {
	for i, q := range s.queue {
		if q == w {
			s.queue = append(s.queue[:i], s.queue[i+1:]...)
			s.notifyAllLocked()
			return
		}
	}
}

func (s *Scheduler[S]) notifyAllLocked() {
	for _, q := range s.queue {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
}

// releaseSlotLocked gives a slot back and hands free slots to the head of
// the queue.
func (s *Scheduler[S]) releaseSlotLocked() {
	s.running--
	for s.running < s.cfg.Parallel && len(s.queue) > 0 && !s.closed {
		w := s.queue[0]
		s.queue = s.queue[1:]
		w.granted = true
		s.running++
		select {
		case w.notify <- struct{}{}:
		default:
		}
	}
	s.notifyAllLocked()
}

// pickLocked returns a lease on a cached sequence, or nil if a new one is
// needed.
func (s *Scheduler[S]) pickLocked(req Request) (*Lease[S], error) {
	var best *entry[S]
	if req.Key != "" {
		for _, e := range s.entries {
			if e.key != req.Key || e.busy || e.dropped {
				continue
			}
			if e.nCtx != req.Ctx {
				// The session changed its context size: drop the old one.
				s.removeLocked(e)
				s.freeLater(e)
				break
			}
			best = e
			break
		}
	} else {
		bestLen := -1
		for _, e := range s.entries {
			if e.key != "" || e.busy || e.nCtx != req.Ctx {
				continue
			}
			n := commonPrefix(e.history, req.Prompt)
			// Longest prefix wins; on a tie the least recently used, so
			// the other sequences' caches survive longer.
			if n > bestLen || (n == bestLen && e.used < best.used) {
				best, bestLen = e, n
			}
		}
	}
	if best == nil {
		return nil, nil
	}
	if req.Key == "" && commonPrefix(best.history, req.Prompt) == 0 && s.bytes+best.size <= s.cfg.Budget {
		// Nothing shared and room to spare: keep that cache for the
		// conversation it belongs to and start a new sequence.
		return nil, nil
	}
	best.busy = true
	s.stats.ReusedTurns++
	return &Lease[S]{Seq: best.seq, Cached: true, s: s, e: best}, nil
}

// freeLater frees e's sequence on another goroutine: Free may be slow and
// the lock is held.
func (s *Scheduler[S]) freeLater(e *entry[S]) {
	if s.cfg.Free != nil {
		seq := e.seq
		go s.cfg.Free(seq)
	}
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

func (s *Scheduler[S]) size(seq S) int64 {
	if s.cfg.Size == nil {
		return 0
	}
	return s.cfg.Size(seq)
}

// evictLocked removes idle entries, least recently used first, until need
// more bytes fit in the budget (or nothing idle is left). It returns the
// sequences to free once the lock is dropped.
func (s *Scheduler[S]) evictLocked(need int64) []S {
	var victims []S
	for s.bytes+need > s.cfg.Budget {
		var lru *entry[S]
		for _, e := range s.entries {
			if !e.busy && (lru == nil || e.used < lru.used) {
				lru = e
			}
		}
		if lru == nil {
			break
		}
		s.removeLocked(lru)
		s.stats.Evictions++
		victims = append(victims, lru.seq)
	}
	return victims
}

func (s *Scheduler[S]) removeLocked(e *entry[S]) {
	for i, x := range s.entries {
		if x == e {
			s.entries = append(s.entries[:i], s.entries[i+1:]...)
			s.bytes -= e.size
			return
		}
	}
}

func (s *Scheduler[S]) free(seqs []S) {
	if s.cfg.Free == nil {
		return
	}
	for _, q := range seqs {
		s.cfg.Free(q)
	}
}

// Release ends the lease. history is the token sequence now held by the
// sequence's KV cache (prompt plus generated tokens), used to match future
// anonymous prompts. Releasing twice is a no-op.
func (l *Lease[S]) Release(history []int32) {
	l.once.Do(func() {
		s := l.s
		e := l.e
		size := s.size(e.seq) // still ours: safe to look at unlocked
		s.mu.Lock()
		s.bytes += size - e.size
		e.size = size
		e.busy = false
		e.history = history
		s.tick++
		e.used = s.tick
		var victims []S
		if e.dropped || s.closed {
			s.removeLocked(e)
			victims = append(victims, e.seq)
		}
		victims = append(victims, s.evictLocked(0)...)
		s.releaseSlotLocked()
		s.mu.Unlock()
		s.free(victims)
	})
}

// Forget drops the cached sequence of a session (deleted, or its history
// rewritten). A sequence in use is freed when its lease is released.
func (s *Scheduler[S]) Forget(key string) {
	if key == "" {
		return
	}
	s.mu.Lock()
	var victims []S
	for _, e := range append([]*entry[S](nil), s.entries...) {
		if e.key != key {
			continue
		}
		if e.busy {
			e.dropped = true
			continue
		}
		s.removeLocked(e)
		victims = append(victims, e.seq)
	}
	s.mu.Unlock()
	s.free(victims)
}

// Stats returns a snapshot of the queue and cache.
func (s *Scheduler[S]) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Waiting = len(s.queue)
	st.Running = s.running
	st.Sequences = len(s.entries)
	st.Bytes = s.bytes
	return st
}

// Close refuses new requests, sends the waiting ones away with ErrClosed
// and frees idle sequences. Running leases are not interrupted (cancel
// their contexts for that); their sequences are freed on release.
func (s *Scheduler[S]) Close() {
	s.mu.Lock()
	s.closed = true
	s.notifyAllLocked()
	var victims []S
	for _, e := range append([]*entry[S](nil), s.entries...) {
		if !e.busy {
			s.removeLocked(e)
			victims = append(victims, e.seq)
		}
	}
	s.mu.Unlock()
	s.free(victims)
}
