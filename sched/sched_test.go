package sched

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// seq is a stand-in sequence: the scheduler never looks inside one.
type seq struct {
	id    int
	nCtx  int
	freed atomic.Bool
}

type pool struct {
	mu    sync.Mutex
	made  []*seq
	freed int
}

func (p *pool) config(parallel, maxQueue int, budget int64) Config[*seq] {
	return Config[*seq]{
		Parallel: parallel,
		MaxQueue: maxQueue,
		Budget:   budget,
		New: func(n int) (*seq, error) {
			p.mu.Lock()
			defer p.mu.Unlock()
			s := &seq{id: len(p.made), nCtx: n}
			p.made = append(p.made, s)
			return s, nil
		},
		Size: func(s *seq) int64 { return int64(s.nCtx) },
		Free: func(s *seq) {
			if s.freed.Swap(true) {
				panic("sequence freed twice")
			}
			p.mu.Lock()
			p.freed++
			p.mu.Unlock()
		},
	}
}

func TestSessionReuseAndLRU(t *testing.T) {
	var p pool
	s := New(p.config(1, 0, 200)) // room for two sequences of 100
	ctx := context.Background()
	get := func(key string) *Lease[*seq] {
		t.Helper()
		l, err := s.Acquire(ctx, Request{Key: key, Ctx: 100}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a := get("a")
	a.Release([]int32{1, 2, 3})
	a2 := get("a")
	if !a2.Cached || a2.Seq != a.Seq {
		t.Fatal("session a did not get its sequence back")
	}
	a2.Release(nil)
	get("b").Release(nil)
	// a was used before b: c evicts a.
	get("c").Release(nil)
	if !a.Seq.freed.Load() {
		t.Fatal("least recently used sequence (a) not evicted")
	}
	if st := s.Stats(); st.Sequences != 2 || st.Bytes != 200 || st.Evictions != 1 {
		t.Fatalf("stats %+v", st)
	}
	// a comes back on a fresh sequence.
	a3 := get("a")
	if a3.Cached || a3.Seq == a.Seq {
		t.Fatal("evicted session reused a freed sequence")
	}
	a3.Release(nil)
	// A different context size replaces the session's sequence.
	l, err := s.Acquire(ctx, Request{Key: "a", Ctx: 50}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if l.Cached || l.Seq.nCtx != 50 {
		t.Fatal("context change kept the old sequence")
	}
	l.Release(nil)
	s.Forget("a")
	if !l.Seq.freed.Load() {
		t.Fatal("Forget did not free the session's sequence")
	}
	s.Close()
	if st := s.Stats(); st.Sequences != 0 || st.Bytes != 0 {
		t.Fatalf("after Close: %+v", st)
	}
}

func TestAnonymousPrefixMatch(t *testing.T) {
	var p pool
	s := New(p.config(1, 0, 1000))
	ctx := context.Background()
	run := func(prompt, history []int32) *seq {
		l, err := s.Acquire(ctx, Request{Ctx: 100, Prompt: prompt}, nil)
		if err != nil {
			t.Fatal(err)
		}
		l.Release(history)
		return l.Seq
	}
	x := run([]int32{1, 2, 3}, []int32{1, 2, 3, 4, 5})
	y := run([]int32{9, 9}, []int32{9, 9, 8})
	if x == y {
		t.Fatal("unrelated prompt took a cached sequence while the budget had room")
	}
	if got := run([]int32{1, 2, 3, 4, 5, 6}, nil); got != x {
		t.Fatal("conversation continuation did not get the sequence with its prefix")
	}
	if got := run([]int32{9, 9, 8, 7}, nil); got != y {
		t.Fatal("second conversation did not get its sequence")
	}
}

func TestFIFOPositionsAndCancel(t *testing.T) {
	var p pool
	s := New(p.config(1, 2, 1000))
	ctx := context.Background()
	first, err := s.Acquire(ctx, Request{Ctx: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		name string
		l    *Lease[*seq]
		err  error
	}
	results := make(chan result, 3)
	positions := make(chan string, 16)
	ctx2, cancel2 := context.WithCancel(ctx)
	start := func(name string, c context.Context) {
		go func() {
			l, err := s.Acquire(c, Request{Ctx: 10}, func(pos int) { positions <- name + string(rune('0'+pos)) })
			results <- result{name, l, err}
		}()
	}
	start("b", ctx)
	if got := <-positions; got != "b1" {
		t.Fatalf("b's first position: %s", got)
	}
	start("c", ctx2)
	if got := <-positions; got != "c2" {
		t.Fatalf("c's first position: %s", got)
	}
	// The queue is full (MaxQueue 2).
	if _, err := s.Acquire(ctx, Request{Ctx: 10}, nil); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third waiter: %v", err)
	}
	cancel2()
	if r := <-results; r.name != "c" || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("cancelled waiter: %+v", r)
	}
	first.Release(nil)
	r := <-results
	if r.name != "b" || r.err != nil {
		t.Fatalf("b: %+v", r)
	}
	if st := s.Stats(); st.Running != 1 || st.Waiting != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Close sends new and waiting requests away.
	start("d", ctx)
	<-positions
	s.Close()
	if r := <-results; !errors.Is(r.err, ErrClosed) {
		t.Fatalf("waiter at Close: %+v", r)
	}
	r.l.Release(nil)
	if _, err := s.Acquire(ctx, Request{Ctx: 10}, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
}

func TestParallelNeverExceeded(t *testing.T) {
	var p pool
	s := New(p.config(3, 0, 50))
	var cur, peak atomic.Int32
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			key := ""
			if i%2 == 0 {
				key = string(rune('a' + i%7))
			}
			l, err := s.Acquire(ctx, Request{Key: key, Ctx: 10, Prompt: []int32{int32(i % 3)}}, nil)
			if err != nil {
				t.Error(err)
				return
			}
			n := cur.Add(1)
			for {
				old := peak.Load()
				if n <= old || peak.CompareAndSwap(old, n) {
					break
				}
			}
			time.Sleep(time.Millisecond)
			cur.Add(-1)
			l.Release([]int32{int32(i % 3)})
		})
	}
	wg.Wait()
	if peak.Load() > 3 {
		t.Fatalf("%d leases out at once, Parallel is 3", peak.Load())
	}
	st := s.Stats()
	if st.Running != 0 || st.Waiting != 0 || st.Bytes > 50 {
		t.Fatalf("stats after the storm: %+v", st)
	}
	s.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.freed != len(p.made) {
		t.Fatalf("made %d sequences, freed %d", len(p.made), p.freed)
	}
}

func TestEnqueueCancel(t *testing.T) {
	var p pool
	s := New(p.config(1, 1, 100))
	ctx := context.Background()
	// Granted at once, then given up without waiting: the slot comes back.
	a, err := s.Enqueue(Request{Ctx: 10})
	if err != nil {
		t.Fatal(err)
	}
	// Queued behind a; the queue (1) is now full.
	b, err := s.Enqueue(Request{Ctx: 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(Request{Ctx: 10}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("third: %v", err)
	}
	a.Cancel()
	l, err := b.Wait(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	l.Release(nil)
	// A queued ticket cancelled before its turn leaves the queue.
	c, _ := s.Enqueue(Request{Ctx: 10})
	d, _ := s.Enqueue(Request{Ctx: 10})
	d.Cancel()
	if st := s.Stats(); st.Waiting != 0 || st.Running != 1 {
		t.Fatalf("after cancelling a queued ticket: %+v", st)
	}
	c.Cancel()
	c.Cancel() // idempotent
	if st := s.Stats(); st.Running != 0 {
		t.Fatalf("after cancelling all: %+v", st)
	}
	if _, err := c.Wait(ctx, nil); err == nil {
		t.Fatal("Wait after Cancel succeeded")
	}
}
