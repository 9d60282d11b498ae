package kernels

import (
	"bytes"
	"context"
	"runtime/pprof"
	"strings"
	"testing"
)

// blockTask reports the thread of each iteration on entered, then blocks
// until release is closed.
type blockTask struct {
	entered chan int
	release chan struct{}
}

func (b *blockTask) Do(i, thread int) {
	b.entered <- thread
	<-b.release
}

// blockedLabels runs a 2-iteration task on the 2-thread pool p from a
// goroutine labelled role=caller and, while both threads are blocked in it,
// returns their labels as the goroutine profile prints them ("" for none).
func blockedLabels(t *testing.T, p *Pool) (caller, worker string) {
	t.Helper()
	bt := &blockTask{entered: make(chan int, 2), release: make(chan struct{})}
	done := make(chan struct{})
	go pprof.Do(context.Background(), pprof.Labels("role", "caller"), func(context.Context) {
		defer close(done)
		p.RunTask(2, bt)
	})
	// Each thread takes one iteration: the first to take one blocks in it,
	// so the other takes the second.
	if a, b := <-bt.entered, <-bt.entered; a+b != 1 {
		t.Fatalf("iterations ran on threads %d and %d", a, b)
	}
	var buf bytes.Buffer
	err := pprof.Lookup("goroutine").WriteTo(&buf, 1)
	close(bt.release)
	<-done
	if err != nil {
		t.Fatal(err)
	}
	var nCaller, nWorker int
	for _, entry := range strings.Split(buf.String(), "\n\n") {
		if !strings.Contains(entry, "(*blockTask).Do") {
			continue
		}
		labels := ""
		for _, line := range strings.Split(entry, "\n") {
			if l, ok := strings.CutPrefix(line, "# labels: "); ok {
				labels = l
			}
		}
		if strings.Contains(entry, "(*Pool).work") {
			worker = labels
			nWorker++
		} else {
			caller = labels
			nCaller++
		}
	}
	if nCaller != 1 || nWorker != 1 {
		t.Fatalf("%d caller and %d worker stacks in the task:\n%s", nCaller, nWorker, buf.String())
	}
	return caller, worker
}

// TestSetProfileLabels checks that the workers run their share of a call
// with the labels set, that they drop them when told, and that the calling
// goroutine keeps its own.
func TestSetProfileLabels(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	tg := pprof.WithLabels(context.Background(), pprof.Labels("phase", "tg"))
	pp := pprof.WithLabels(context.Background(), pprof.Labels("phase", "pp"))
	for _, c := range []struct {
		name string
		ctx  context.Context
		want string
	}{
		{"none yet", nil, ""},
		{"tg", tg, `{"phase":"tg"}`},
		{"pp", pp, `{"phase":"pp"}`},
		{"nil", nil, ""},
		{"tg again", tg, `{"phase":"tg"}`},
		{"background", context.Background(), ""},
	} {
		if c.name != "none yet" {
			p.SetProfileLabels(c.ctx)
		}
		caller, worker := blockedLabels(t, p)
		if worker != c.want {
			t.Errorf("%s: worker labels %q, want %q", c.name, worker, c.want)
		}
		if caller != `{"role":"caller"}` {
			t.Errorf("%s: caller labels %q", c.name, caller)
		}
	}
}
