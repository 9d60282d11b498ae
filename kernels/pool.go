package kernels

import (
	"context"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
)

// spinLimit is how many times an idle thread polls for new work (or a
// caller for completion) before it parks on a channel. Decode issues a few
// hundred parallel calls per token with little serial work between them, so
// workers that spin for a few tens of microseconds are almost always awake
// when the next call comes; after that they sleep and cost nothing.
// 2^15 polls with the yields below take 30-60 µs on the 2-core Zen box.
const spinLimit = 1 << 15

// yieldEvery is how often a spinning thread calls runtime.Gosched, so that
// on a machine with fewer cores than threads it gives its P back to the
// goroutine that is doing the work it waits for.
const yieldEvery = 1 << 8

// Pool is a set of persistent worker goroutines that run parallel loops
// (Run, RunTask) and matrix products (MatMul, MatMulMulti). The calling
// goroutine takes part as thread 0, so a Pool of T threads starts T−1
// goroutines. A call returns when all its work is done.
//
// A Pool runs one call at a time: concurrent callers are serialized by a
// mutex. A task must not call back into the same Pool (it would deadlock),
// and must not panic (a panic on a worker goroutine ends the program). In
// steady state no call allocates; scratch buffers (quantized activations)
// grow to the largest request and are reused. Create Pools with NewPool and
// Close them when done: the zero Pool is not usable, and an unclosed Pool
// keeps its goroutines (parked, after a few tens of microseconds idle).
type Pool struct {
	threads int
	mu      sync.Mutex // serializes callers
	workers []*worker
	wg      sync.WaitGroup
	closed  bool

	// Dispatch state, padded away from the fields the workers write.
	_       [64]byte
	gen     atomic.Uint64 // incremented once per call; workers run on change
	task    task          // the current call's work, set before gen moves
	closing atomic.Bool
	_       [64]byte
	pending atomic.Int32 // workers still running the current call
	// parked holds the generation of the call whose caller sleeps on done
	// (0: not sleeping). A worker that finishes the last share of a call
	// wakes the caller only if it is parked for that very call: a worker
	// descheduled between its last decrement and this check must not wake
	// the caller of a later call, which would then return before its own
	// work is done.
	parked atomic.Uint64
	done   chan struct{}
	_      [64]byte

	loop forTask     // Run/RunTask state
	mm   matmulState // MatMul state and scratch

	// singleFrom: see SetSingleTokenFrom (-1: off).
	singleFrom int

	// labels and labelsVer: see SetProfileLabels. Workers read them during
	// a call, so they change only under mu.
	labels    context.Context
	labelsVer uint64
}

// SetSingleTokenFrom makes the matrix products that follow compute
// activation rows t, t+1, … with the single-token arithmetic (the form
// llama.cpp uses for a batch of one), and the rows before t as a batch of t
// rows; t < 0 turns this off (every row in the batch form, the default).
// A model computes generated tokens this way, so that a token's logits do
// not depend on what else shares its forward pass: a speculative draft then
// verifies exactly as plain decoding computes, and concurrent sequences do
// not change each other's output. Not safe to call during a product.
func (p *Pool) SetSingleTokenFrom(t int) {
	p.mu.Lock()
	p.singleFrom = t
	p.mu.Unlock()
}

// SetProfileLabels makes the worker goroutines carry the pprof labels of
// ctx (made with pprof.WithLabels) from the next call on; nil or a context
// without labels removes them. pprof.Do labels only the calling goroutine,
// so without this the workers' share of each call, most of its CPU time, is
// missing from a profile filtered by label (-tagfocus). Thread 0 is the
// caller and keeps its own labels. Workers apply a change at their next
// call; other calls cost them one compare.
func (p *Pool) SetProfileLabels(ctx context.Context) {
	p.mu.Lock()
	p.labels = ctx
	p.labelsVer++
	p.mu.Unlock()
}

// task is one parallel call: run is executed once by every thread, which
// pulls its share of the work from shared atomic counters.
type task interface {
	run(thread int)
}

type worker struct {
	wake   chan struct{}
	parked atomic.Int32
	_      [56]byte
}

// NewPool starts a pool of threads threads (the caller plus threads−1
// goroutines). threads ≤ 0 means runtime.GOMAXPROCS(0).
func NewPool(threads int) *Pool {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	p := &Pool{threads: threads, done: make(chan struct{}, 1), singleFrom: -1}
	p.workers = make([]*worker, threads-1)
	for i := range p.workers {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers[i] = w
		p.wg.Add(1)
		go p.work(w, i+1)
	}
	return p
}

// Threads returns the number of threads, the caller included. Tasks see
// thread indices in [0, Threads()).
func (p *Pool) Threads() int { return p.threads }

// Close stops the worker goroutines. The pool must not be used afterwards;
// Close is idempotent.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.closed = true
	p.closing.Store(true)
	p.gen.Add(1)
	p.wakeWorkers()
	p.wg.Wait()
}

func (p *Pool) work(w *worker, thread int) {
	defer p.wg.Done()
	var seen, labelsVer uint64 // labelsVer: the version of the labels applied
	for {
		seen = p.waitGen(w, seen)
		if p.closing.Load() {
			return
		}
		// A version rather than a compare of the contexts, which panics for
		// a context type that is not comparable.
		if p.labelsVer != labelsVer {
			labelsVer = p.labelsVer
			ctx := p.labels
			if ctx == nil {
				ctx = context.Background()
			}
			pprof.SetGoroutineLabels(ctx)
		}
		p.task.run(thread)
		if p.pending.Add(-1) == 0 && p.parked.Load() == seen && p.parked.CompareAndSwap(seen, 0) {
			p.done <- struct{}{}
		}
	}
}

// waitGen spins until p.gen differs from seen, then parks; it returns the
// new generation.
func (p *Pool) waitGen(w *worker, seen uint64) uint64 {
	for spin := 0; ; spin++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if spin < spinLimit {
			if spin%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
			continue
		}
		w.parked.Store(1)
		if g := p.gen.Load(); g != seen {
			if !w.parked.CompareAndSwap(1, 0) {
				<-w.wake // the dispatcher saw us parked and sent a token
			}
			return g
		}
		<-w.wake
		spin = 0
	}
}

func (p *Pool) wakeWorkers() {
	for _, w := range p.workers {
		if w.parked.Load() == 1 && w.parked.CompareAndSwap(1, 0) {
			w.wake <- struct{}{}
		}
	}
}

// dispatch runs t on every thread and returns when all are done. The caller
// holds p.mu.
func (p *Pool) dispatch(t task) {
	if p.closed {
		panic("kernels: use of closed Pool")
	}
	if len(p.workers) == 0 {
		t.run(0)
		return
	}
	p.task = t
	p.pending.Store(int32(len(p.workers)))
	gen := p.gen.Add(1)
	p.wakeWorkers()
	t.run(0)
	for spin := 0; p.pending.Load() != 0; spin++ {
		if spin < spinLimit {
			if spin%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
			continue
		}
		p.parked.Store(gen)
		if p.pending.Load() == 0 {
			if !p.parked.CompareAndSwap(gen, 0) {
				<-p.done
			}
			break
		}
		<-p.done
		break
	}
	p.task = nil
}

// A Task is a loop body for RunTask. Passing a pointer to a long-lived
// struct as a Task does not allocate, whereas a closure that captures
// variables is allocated on each call of Run.
type Task interface {
	// Do runs iteration i on thread thread ∈ [0, Threads()).
	Do(i, thread int)
}

// funcTask adapts a func to Task.
type funcTask func(i, thread int)

func (f funcTask) Do(i, thread int) { f(i, thread) }

// forTask hands out iterations one at a time from an atomic counter, which
// balances uneven iterations and threads that the OS preempts.
type forTask struct {
	n    int64
	body Task
	_    [48]byte
	next atomic.Int64
}

func (f *forTask) run(thread int) {
	for {
		i := f.next.Add(1) - 1
		if i >= f.n {
			return
		}
		f.body.Do(int(i), thread)
	}
}

// Run calls fn(i, thread) for every i in [0, n), spread over the pool's
// threads, and returns when all calls have returned. Iterations are handed
// out one by one in increasing order, so each should be a sizeable piece of
// work (a row block, an attention head). thread identifies the calling
// thread, for per-thread scratch. Run itself does not allocate; fn does if
// it is a closure literal capturing variables (hoist it, or use RunTask).
func (p *Pool) Run(n int, fn func(i, thread int)) {
	p.RunTask(n, funcTask(fn))
}

// RunTask is Run with an interface: t.Do(i, thread) for every i in [0, n).
func (p *Pool) RunTask(n int, t Task) {
	if n <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n == 1 || len(p.workers) == 0 {
		if p.closed {
			panic("kernels: use of closed Pool")
		}
		for i := 0; i < n; i++ {
			t.Do(i, 0)
		}
		return
	}
	p.loop.n = int64(n)
	p.loop.body = t
	p.loop.next.Store(0)
	p.dispatch(&p.loop)
	p.loop.body = nil
}
