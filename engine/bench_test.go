package engine

import (
	"context"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
)

// BenchmarkLookup decodes 200 tokens greedily with the real stories260K
// model, with and without speculative decoding, on prompts whose answer
// repeats the context ("quote": a passage of the model's own story, then
// its beginning again) and on a plain story from BOS. Each op is one
// Generate on a cached prompt. It reports tokens/s, accepted draft tokens
// per forward pass and tokens per forward pass.
//
// This model is tiny (its cost is per-position attention and per-step
// overhead, not weight reads), so the speed-up here is modest; on a
// bandwidth-bound model see `smolbot bench --lookup`.
func BenchmarkLookup(b *testing.B) {
	e, err := Load(testutil.Fixture(b, "stories260K", "model.gguf"), Options{Threads: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer e.Close()
	prompts := storyPrompts(b, e)
	for _, w := range []struct {
		name   string
		prompt []int32
	}{{"quote", prompts[2]}, {"story", prompts[0]}} {
		for _, mode := range []string{"plain", "lookup"} {
			b.Run(w.name+"/"+mode, func(b *testing.B) {
				seq, _ := e.NewSequence(0)
				p := greedy(200)
				p.Lookup.Off = mode == "plain"
				var res Result
				for b.Loop() {
					var err error
					if res, err = e.Generate(context.Background(), seq, w.prompt, p, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(res.GenTokens)*float64(b.N)/b.Elapsed().Seconds(), "tok/s")
				b.ReportMetric(res.AcceptedPerStep(), "accepted/step")
				b.ReportMetric(float64(res.GenTokens)/float64(res.DecodeSteps+1), "tok/pass")
			})
		}
	}
}

// TestGenerateAllocsPerToken bounds the allocations of the decode loop
// per generated token (detokenizer, stop strings, sampler, speculation):
// only the text pieces handed to the callback and the growth of the
// result's text allocate.
func TestGenerateAllocsPerToken(t *testing.T) {
	e := load(t, "stories260K", "model.gguf", Options{Threads: 1})
	prompt := storyPrompts(t, e)[2]
	seq, _ := e.NewSequence(0)
	for _, lookup := range []bool{false, true} {
		var allocs [2]float64
		for i, n := range []int{32, 96} {
			p := eager(n)
			p.Lookup.Off = !lookup
			p.Stop = []string{"xyzzy", "Lily said no"}
			allocs[i] = testing.AllocsPerRun(3, func() {
				if _, err := e.Generate(context.Background(), seq, prompt, p, func(Token) error { return nil }); err != nil {
					t.Fatal(err)
				}
			})
		}
		if per := (allocs[1] - allocs[0]) / 64; per > 1 {
			t.Errorf("lookup %v: %.2f allocations per token (%v for 32 tokens, %v for 96)", lookup, per, allocs[0], allocs[1])
		}
	}
}
