package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/internal/sysinfo"
)

// lookupResult is the outcome of `smolbot bench --lookup`: greedy decoding
// of the same answer with and without speculative decoding by prompt
// lookup, alternating repetition by repetition.
type lookupResult struct {
	PromptTokens int     `json:"prompt_tokens"`
	Noise        float64 `json:"noise"` // fraction of the reference's answer tokens replaced

	PlainTPS     float64   `json:"plain_tps"`
	PlainTPSSD   float64   `json:"plain_tps_sd"`
	PlainSamples []float64 `json:"plain_tps_samples"`
	TPS          float64   `json:"lookup_tps"`
	TPSSD        float64   `json:"lookup_tps_sd"`
	Samples      []float64 `json:"lookup_tps_samples"`
	Speedup      float64   `json:"speedup"` // lookup_tps ÷ plain_tps

	// Of the last speculative repetition (all repetitions do the same):
	// forward passes (the re-evaluated prompt token's included), and
	// engine.Result's statistics.
	Passes          int     `json:"passes"`
	DecodeSteps     int     `json:"decode_steps"`
	DraftTokens     int     `json:"draft_tokens"`
	DraftAccepted   int     `json:"draft_accepted"`
	AcceptedPerStep float64 `json:"accepted_per_step"`
	TokensPerStep   float64 `json:"tokens_per_pass"`
	// Identical is whether every speculative run emitted the plain run's
	// tokens (greedy speculation must: drafts are verified with the
	// single-token arithmetic, so a difference is a bug).
	Identical bool `json:"identical"`
}

// runLookupBench measures speculative decoding on a repeat-the-context
// workload. A random model never repeats its context by itself, so the
// answer to quote is made first: the greedy continuation A of a random
// prompt P (n tokens, plain decoding). Each repetition then decodes P
// again, once plainly and once with lookup drafting from the reference
// P+A — an answer that quotes a document the engine was given, as a code
// edit or a summary does. With noise > 0 that fraction of A's tokens is
// replaced by random ones in the reference, so drafts break off there and
// acceptance drops. Both runs are timed end to end (Generate with the
// cached prompt: one re-evaluated prompt token, then n tokens).
func runLookupBench(o *benchOptions, logf func(string, ...any)) (*benchResult, error) {
	plen := max(o.p, 1)
	s, err := openBenchSetup(o, plen+o.n+1)
	if err != nil {
		return nil, err
	}
	defer s.close()
	f, cfg := s.f, s.cfg
	r := newBenchResult(o, s)
	lr := &lookupResult{PromptTokens: plen, Noise: o.lookupNoise, Identical: true}
	r.Lookup = lr
	e, seq := s.eng, s.target.(*engineTarget).seq
	vocab := normalTokens(f, cfg.Vocab)
	rng := rand.New(rand.NewPCG(o.seed, 0x6c6f6f6b7570)) // "lookup"
	prompt := make([]int32, plen)
	for i := range prompt {
		prompt[i] = vocab[rng.IntN(len(vocab))]
	}
	gen := func(p engine.GenParams) ([]int32, engine.Result, time.Duration, error) {
		var ids []int32
		t0 := time.Now()
		res, err := e.Generate(context.Background(), seq, prompt, p, func(t engine.Token) error {
			if t.ID >= 0 {
				ids = append(ids, t.ID)
			}
			return nil
		})
		d := time.Since(t0)
		if err == nil && res.GenTokens != o.n {
			err = fmt.Errorf("engine generated %d tokens, want %d (stop: %s)", res.GenTokens, o.n, res.StopReason)
		}
		return ids, res, d, err
	}
	plain := engine.GenParams{MaxTokens: o.n, IgnoreEOG: true, Lookup: engine.LookupParams{Off: true}}

	// The warm-up prefills the prompt once (later runs reuse it) and faults
	// the weights in; the answer is then made as every later run starts:
	// from the cached prompt, its last token re-evaluated alone (its logits
	// in a batch of one differ in the last bits from those of the prefill,
	// so the answers could differ at a near-tie).
	logf("bench: %s, %d threads, lookup workload: %d-token prompt, %d-token answer, warm-up", r.Model, o.threads, plen, o.n)
	if _, _, _, err := gen(plain); err != nil {
		return nil, err
	}
	answer, _, _, err := gen(plain)
	if err != nil {
		return nil, err
	}
	ref := slices.Concat(prompt, answer)
	for i := plen; i < len(ref); i++ {
		if rng.Float64() < o.lookupNoise {
			ref[i] = vocab[rng.IntN(len(vocab))]
		}
	}
	spec := plain
	spec.Lookup = engine.LookupParams{Reference: ref, MaxDraft: o.lookupDraft}
	if _, _, _, err := gen(spec); err != nil {
		return nil, err
	}

	for rep := range o.reps {
		plainIDs, _, d, err := gen(plain)
		if err != nil {
			return nil, err
		}
		if !slices.Equal(plainIDs, answer) {
			return nil, fmt.Errorf("plain greedy decoding is not reproducible: repetition %d differs from the first answer", rep)
		}
		lr.PlainSamples = append(lr.PlainSamples, float64(o.n)/d.Seconds())
		ids, res, d, err := gen(spec)
		if err != nil {
			return nil, err
		}
		lr.Samples = append(lr.Samples, float64(o.n)/d.Seconds())
		lr.Identical = lr.Identical && slices.Equal(ids, answer)
		lr.DecodeSteps, lr.DraftTokens, lr.DraftAccepted = res.DecodeSteps, res.DraftTokens, res.DraftAccepted
		lr.AcceptedPerStep = res.AcceptedPerStep()
		// The re-evaluated prompt token's pass gives the first token.
		lr.Passes = res.DecodeSteps + 1
		lr.TokensPerStep = float64(res.GenTokens) / float64(lr.Passes)
		logf("bench: rep %d/%d: plain %.2f t/s, lookup %.2f t/s (%d steps, %d/%d drafts accepted)",
			rep+1, o.reps, lr.PlainSamples[rep], lr.Samples[rep], res.DecodeSteps, res.DraftAccepted, res.DraftTokens)
		if rep == 0 {
			r.KVBytes = seq.KVBytes()
			if rss, err := sysinfo.PeakRSS(); err == nil {
				r.PeakRSSBytes = rss
				r.RSSOverBytes = rss - r.ModelBytes - r.KVBytes
			}
		}
	}
	lr.PlainTPS, lr.PlainTPSSD = meanSD(lr.PlainSamples)
	lr.TPS, lr.TPSSD = meanSD(lr.Samples)
	if lr.PlainTPS > 0 {
		lr.Speedup = lr.TPS / lr.PlainTPS
	}
	r.TGTPS, r.TGTPSSD, r.TGSample = lr.PlainTPS, lr.PlainTPSSD, lr.PlainSamples
	return r, nil
}

// print writes the lookup figures as tab-separated lines.
func (lr *lookupResult) print(w io.Writer) {
	same := "yes"
	if !lr.Identical {
		same = "NO: a bug (drafts are verified with the single-token arithmetic; please report it)"
	}
	fmt.Fprintf(w, "lookup workload\t%d-token prompt, answer quoted from a reference with %.0f%% of its tokens replaced\n", lr.PromptTokens, 100*lr.Noise)
	fmt.Fprintf(w, "lookup speed-up\t×%.2f (%.2f → %.2f t/s)\n", lr.Speedup, lr.PlainTPS, lr.TPS)
	fmt.Fprintf(w, "lookup drafts\t%d of %d draft tokens accepted; %d forward passes, %.2f tokens per pass\n",
		lr.DraftAccepted, lr.DraftTokens, lr.Passes, lr.TokensPerStep)
	fmt.Fprintf(w, "lookup output\tidentical to plain greedy: %s\n", same)
}
