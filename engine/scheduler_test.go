package engine

import (
	"bytes"
	"runtime/pprof"
	"slices"
	"strings"
	"testing"
)

// goroutineLabels returns the labels ("" for none) of each goroutine stack
// in the goroutine profile that contains frame.
func goroutineLabels(t *testing.T, frame string) []string {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 1); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, entry := range strings.Split(buf.String(), "\n\n") {
		if !strings.Contains(entry, frame) {
			continue
		}
		labels := ""
		for _, line := range strings.Split(entry, "\n") {
			if l, ok := strings.CutPrefix(line, "# labels: "); ok {
				labels = l
			}
		}
		out = append(out, labels)
	}
	return out
}

// TestSchedulerProfileLabels checks that the scheduler goroutine and the
// pool's workers carry the phase of the last forward pass (labels change
// only with the phase, so they keep it while idle).
func TestSchedulerProfileLabels(t *testing.T) {
	e := load(t, "tiny-smollm3", "q8_0.gguf", Options{Threads: 2})
	seq, _ := e.NewSequence(0)
	check := func(what, phase string) {
		t.Helper()
		want := `{"` + LabelPhase + `":"` + phase + `"}`
		for _, frame := range []string{"engine.(*scheduler).loop", "kernels.(*Pool).work"} {
			if got := goroutineLabels(t, frame); !slices.Contains(got, want) {
				t.Errorf("after %s: goroutines in %s have labels %q, want %s", what, frame, got, want)
			}
		}
	}
	if _, err := e.Eval(seq, []int32{1, 2, 3}, false); err != nil {
		t.Fatal(err)
	}
	check("a prompt", PhasePrefill)
	if _, err := e.Eval(seq, []int32{4}, false); err != nil {
		t.Fatal(err)
	}
	check("a decode step", PhaseDecode)
	if _, err := e.Eval(seq, []int32{5, 6}, false); err != nil {
		t.Fatal(err)
	}
	check("a second prompt", PhasePrefill)
	out := make([]float32, 3*e.Config().Vocab)
	seq.mu.Lock()
	_, err := seq.decode([]int32{7, 8, 9}, out)
	seq.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	check("a draft", PhaseDecode)
}
