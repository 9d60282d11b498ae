package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/smolbot/smolbot/engine"
	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/hf"
	"github.com/smolbot/smolbot/internal/sysinfo"
	"github.com/smolbot/smolbot/internal/units"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/kvcache"
	"github.com/smolbot/smolbot/model"
	"github.com/smolbot/smolbot/quant"
)

func init() {
	c := &command{
		name:    "bench",
		summary: "measure prefill and decode speed, memory bandwidth and peak RSS (like llama-bench)",
		usage:   "[-m MODEL] [-p 512] [-n 128] [-t N] [-r 5] [--kv TYPE] [--json] [--profile FILE] [--breakdown] [--raw] [--lookup [--lookup-noise F]]",
	}
	c.runIO = func(args []string, stdout, stderr io.Writer) error { return runBench(c, args, stdout, stderr) }
	register(c)
}

// benchOptions are the parsed flags of `smolbot bench`.
type benchOptions struct {
	model     string // resolved path
	mf        *modelFlags
	p, n      int
	threads   int
	reps      int
	kv        quant.Type
	kvName    string
	seed      uint64
	json      bool
	profile   string
	breakdown bool
	raw       bool
	bwBytes   int64
	bwTime    time.Duration
	verbose   bool

	lookup      bool    // run the speculative decoding workload instead
	lookupNoise float64 // fraction of the quoted answer replaced
	lookupDraft int     // engine.LookupParams.MaxDraft
}

// benchResult is the outcome of a run; its JSON form is the --json output.
// Token rates are means over the measured repetitions, with their sample
// standard deviations.
type benchResult struct {
	PPTPS   float64 `json:"pp_tps"`
	PPTPSSD float64 `json:"pp_tps_sd"`
	TGTPS   float64 `json:"tg_tps"`
	TGTPSSD float64 `json:"tg_tps_sd"`
	// TGTPSMedian is the median tg repetition, for the median roofline.
	TGTPSMedian float64   `json:"tg_tps_median"`
	PPSample    []float64 `json:"pp_tps_samples"`
	TGSample    []float64 `json:"tg_tps_samples"`

	BandwidthGBs    float64 `json:"bandwidth_gbs"`        // best pass
	BandwidthMedian float64 `json:"bandwidth_median_gbs"` // median over time (sysinfo.Bandwidth.Median)
	BandwidthPasses int     `json:"bandwidth_passes"`
	BandwidthBytes  int64   `json:"bandwidth_buffer_bytes"`
	BandwidthLoop   string  `json:"bandwidth_loop"`
	RooflinePct     float64 `json:"roofline_pct"`        // tg weight traffic ÷ bandwidth (best pass)
	RooflineMedPct  float64 `json:"roofline_median_pct"` // median tg repetition's traffic ÷ median bandwidth (issue 3's "medians")
	// RooflineLocalPct is the median over the tg repetitions of each one's
	// weight traffic ÷ the best pass of the bandwidth bursts just before and
	// after it: on a machine whose bandwidth drifts by 2× within minutes it
	// compares the decode with the memory of its own moment.
	RooflineLocalPct float64 `json:"roofline_local_pct"`
	RooflineTPS      float64 `json:"roofline_tg_tps"`    // bandwidth ÷ weight bytes per token
	PeakRSSBytes     int64   `json:"peak_rss_bytes"`     // after the first measured rep, before the bandwidth buffer
	KVBytes          int64   `json:"kv_bytes"`           // KV cache memory allocated
	RSSOverBytes     int64   `json:"rss_overhead_bytes"` // peak RSS − file − KV

	// HugePagePct is the share of the model's resident mapping in huge
	// pages after the first repetition (Linux only).
	HugePagePct *float64 `json:"huge_page_pct,omitempty"`
	THP         string   `json:"transparent_hugepage,omitempty"` // Linux's THP mode: always, madvise, never

	Model               string `json:"model"`       // "smollm3 3.08B Q4_K_M"
	ModelFile           string `json:"model_file"`  // as given to -m
	ModelPath           string `json:"model_path"`  // the GGUF file it resolved to
	ModelBytes          int64  `json:"model_bytes"` // file size
	Params              int64  `json:"params"`
	WeightBytesPerToken int64  `json:"weight_bytes_per_token"`

	Threads  int    `json:"threads"`
	P        int    `json:"p"`
	N        int    `json:"n"`
	Reps     int    `json:"reps"`
	KVType   string `json:"kv_type"`
	Path     string `json:"path"` // "engine" or "raw" (model.Forward directly)
	Seed     uint64 `json:"seed"`
	CPULevel string `json:"cpu_level"`
	CPU      string `json:"cpu,omitempty"`
	GoVer    string `json:"go_version"`

	Breakdown *benchBreakdown `json:"breakdown,omitempty"`
	Lookup    *lookupResult   `json:"lookup,omitempty"`
}

func runBench(c *command, args []string, stdout, stderr io.Writer) error {
	o, err := parseBenchFlags(c, args, stderr)
	if err != nil {
		return err
	}
	if o.model, err = o.mf.resolve(context.Background(), stderr); err != nil {
		return err
	}
	logf := func(format string, a ...any) {
		if o.verbose {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	run := runBenchmark
	if o.lookup {
		run = runLookupBench
	}
	r, err := run(o, logf)
	if err != nil {
		return err
	}
	if o.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.print(stdout)
}

func parseBenchFlags(c *command, args []string, stderr io.Writer) (*benchOptions, error) {
	fs := newFlagSet(c)
	fs.SetOutput(stderr)
	o := &benchOptions{}
	o.mf = addModelFlags(fs)
	fs.IntVar(&o.p, "p", 512, "prefill `N` prompt tokens in one batch per repetition (0: skip the pp test)")
	fs.IntVar(&o.n, "n", 128, "generate `N` tokens one at a time per repetition (0: skip the tg test)")
	fs.IntVar(&o.threads, "t", runtime.NumCPU(), "`N` threads for the model and the bandwidth measurement")
	fs.IntVar(&o.reps, "r", 5, "`N` measured repetitions of each test (after one warm-up)")
	fs.StringVar(&o.kvName, "kv", "f16", "KV cache `TYPE`: f16, f32 or q8_0")
	fs.Uint64Var(&o.seed, "seed", 1, "seed `N` of the random prompt tokens")
	fs.BoolVar(&o.json, "json", false, "print the result as one JSON object")
	fs.StringVar(&o.profile, "profile", "", "write a CPU profile (pprof) of the measured repetitions to `FILE`")
	fs.BoolVar(&o.breakdown, "breakdown", false, "after the measured repetitions, time one more of each test op by op and layer by layer")
	fs.BoolVar(&o.raw, "raw", false, "drive the model directly instead of through the engine (no scheduler, sampler or detokenizer)")
	bwMiB := fs.Int64("bw-mib", 1024, "buffer of the read-bandwidth measurement in `MiB`, far above the L3 cache (0: skip)")
	fs.DurationVar(&o.bwTime, "bw-time", time.Second, "minimum total `DURATION` of the bandwidth measurement, spread over the repetitions (best pass is reported)")
	fs.BoolVar(&o.verbose, "v", false, "report progress on stderr")
	fs.BoolVar(&o.lookup, "lookup", false, "measure greedy decoding of -n tokens after a -p token prompt with and without speculative decoding by prompt lookup, on an answer that quotes a reference")
	fs.Float64Var(&o.lookupNoise, "lookup-noise", 0, "with --lookup, the fraction of the quoted answer's tokens replaced in the reference (lower acceptance)")
	fs.IntVar(&o.lookupDraft, "lookup-draft", 0, "with --lookup, the most draft tokens per step (0: the engine's default)")
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	switch {
	case fs.NArg() > 0:
		return nil, usageError("unexpected arguments %q (the model is given with -m)", fs.Args())
	case o.p < 0 || o.n < 0:
		return nil, usageError("-p and -n must not be negative")
	case o.p == 0 && o.n == 0:
		return nil, usageError("nothing to measure: -p and -n are both 0")
	case o.threads < 1 || o.threads > 1024:
		return nil, usageError("-t %d out of range [1, 1024]", o.threads)
	case o.reps < 1:
		return nil, usageError("-r must be at least 1")
	case *bwMiB < 0 || *bwMiB > 1<<20:
		return nil, usageError("--bw-mib %d out of range", *bwMiB)
	case o.bwTime < 0:
		return nil, usageError("--bw-time must not be negative")
	case o.lookup && (o.raw || o.breakdown || o.profile != ""):
		return nil, usageError("--lookup runs through the engine, without --raw, --breakdown or --profile")
	case o.lookup && o.n == 0:
		return nil, usageError("--lookup needs -n > 0")
	case !(o.lookupNoise >= 0 && o.lookupNoise <= 1) || o.lookupDraft < 0:
		return nil, usageError("--lookup-noise must be in [0, 1] and --lookup-draft ≥ 0")
	}
	kv, err := kvcache.ParseType(o.kvName)
	if err != nil {
		return nil, usageError("--kv: %v", err)
	}
	o.kv, o.kvName = kv, strings.ToLower(o.kvName)
	o.bwBytes = *bwMiB << 20
	return o, nil
}

// runBenchmark loads the model and runs the tests: one warm-up, then reps
// measured repetitions of pp then tg, each followed by a short burst of
// the bandwidth measurement (so that bandwidth and decode speed are
// sampled over the same minutes of a machine whose bandwidth drifts),
// then (optionally) a breakdown pass. Peak RSS is read after the first
// measured repetition, before the bandwidth buffer exists: by then the
// weights, the workspace and the KV cache are all resident, and the later
// repetitions do the same work again. With --profile the bandwidth is
// measured after all repetitions instead, so it stays out of the profile.
func runBenchmark(o *benchOptions, logf func(string, ...any)) (*benchResult, error) {
	ctxLen := max(o.p, o.n)
	s, err := openBenchSetup(o, ctxLen)
	if err != nil {
		return nil, err
	}
	defer s.close()
	f, cfg := s.f, s.cfg
	r := newBenchResult(o, s)
	r.P = o.p
	if o.raw {
		r.Path = "raw"
	}
	b := s.target
	vocab := normalTokens(f, cfg.Vocab)
	rng := rand.New(rand.NewPCG(o.seed, 0x736d6f6c626f74)) // "smolbot"
	prompt := make([]int32, o.p)
	randomTokens := func() {
		for i := range prompt {
			prompt[i] = vocab[rng.IntN(len(vocab))]
		}
	}

	// The warm-up faults the weights in, sizes every scratch buffer and
	// allocates the KV pages, so the measured repetitions do no first-time
	// work.
	logf("bench: %s, %d threads, %s path, warm-up", r.Model, o.threads, r.Path)
	if o.p > 0 {
		randomTokens()
		if _, err := b.prefill(prompt); err != nil {
			return nil, err
		}
	}
	if o.n > 0 {
		if _, err := b.generate(vocab[rng.IntN(len(vocab))], min(o.n, 16)); err != nil {
			return nil, err
		}
	}

	if o.profile != "" {
		pf, err := os.Create(o.profile)
		if err != nil {
			return nil, err
		}
		defer pf.Close()
		if err := pprof.StartCPUProfile(pf); err != nil {
			return nil, err
		}
	}
	var rb *sysinfo.ReadBench
	defer func() {
		if rb != nil {
			rb.Close()
		}
	}()
	interleave := o.bwBytes > 0 && o.profile == ""
	burst := o.bwTime / time.Duration(o.reps)
	var burstBest []float64 // best pass of the burst after each repetition
	afterRep := func(rep int) error {
		if rep == 0 {
			r.KVBytes = b.kvBytes()
			if rss, err := sysinfo.PeakRSS(); err == nil {
				r.PeakRSSBytes = rss
				r.RSSOverBytes = rss - r.ModelBytes - r.KVBytes
			} else {
				logf("bench: peak RSS: %v", err)
			}
			if res, huge, err := sysinfo.HugeMapped(f.Raw()); err == nil && res > 0 {
				pct := 100 * float64(huge) / float64(res)
				r.HugePagePct = &pct
				r.THP = sysinfo.TransparentHugePages()
			}
		}
		if !interleave {
			return nil
		}
		if rb == nil {
			var err error
			if rb, err = sysinfo.NewReadBench(o.threads, o.bwBytes); err != nil {
				return err
			}
		}
		bw := rb.Run(burst)
		burstBest = append(burstBest, bw.Best)
		logf("bench: read bandwidth: best %.1f GB/s, median over time %.1f GB/s (%d passes)", bw.Best/1e9, bw.Median/1e9, bw.Passes)
		return nil
	}
	err = measureReps(o, b, r, rng, vocab, prompt, randomTokens, afterRep, logf)
	if o.profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	r.PPTPS, r.PPTPSSD = meanSD(r.PPSample)
	r.TGTPS, r.TGTPSSD = meanSD(r.TGSample)
	r.TGTPSMedian = median(r.TGSample)

	if o.breakdown {
		logf("bench: breakdown pass")
		raw, err := s.rawRunner(o, ctxLen)
		if err != nil {
			return nil, err
		}
		randomTokens()
		if r.Breakdown, err = raw.breakdown(prompt, vocab[rng.IntN(len(vocab))], o.n); err != nil {
			return nil, err
		}
	}

	if o.bwBytes > 0 {
		if rb == nil {
			logf("bench: read bandwidth, %d MiB, %d threads", o.bwBytes>>20, o.threads)
			if rb, err = sysinfo.NewReadBench(o.threads, o.bwBytes); err != nil {
				return nil, err
			}
			rb.Run(o.bwTime)
		}
		bw := rb.Total()
		r.BandwidthGBs, r.BandwidthMedian = bw.Best/1e9, bw.Median/1e9
		r.BandwidthPasses, r.BandwidthBytes, r.BandwidthLoop = bw.Passes, bw.Bytes, bw.Loop
		r.RooflineTPS = bw.Best / float64(r.WeightBytesPerToken)
		if r.TGTPS > 0 {
			r.RooflinePct = 100 * float64(r.WeightBytesPerToken) * r.TGTPS / bw.Best
			r.RooflineMedPct = 100 * float64(r.WeightBytesPerToken) * r.TGTPSMedian / bw.Median
			r.RooflineLocalPct = localRoofline(r.TGSample, burstBest, r.WeightBytesPerToken)
		}
	}
	return r, nil
}

// localRoofline returns the median over the repetitions of each one's decode
// weight traffic (tps[i] × bytesPerToken) as a percentage of the best
// bandwidth pass next to it: the burst after it (best[i]) or the one before
// (best[i−1]), whichever is faster. It is 0 without a burst per repetition.
func localRoofline(tps, best []float64, bytesPerToken int64) float64 {
	if len(tps) == 0 || len(best) != len(tps) {
		return 0
	}
	pct := make([]float64, len(tps))
	for i, t := range tps {
		bw := best[i]
		if i > 0 {
			bw = max(bw, best[i-1])
		}
		pct[i] = 100 * t * float64(bytesPerToken) / bw
	}
	return median(pct)
}

// median returns the median of x (the mean of the middle two for an even
// count; 0 for none), leaving x as it was.
func median(x []float64) float64 {
	if len(x) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(x))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// measureReps runs the measured repetitions, appending each one's rate to
// r. The work of each test carries the pprof label phase=pp|tg: on the
// calling goroutine (pprof.Do), the pool's workers with --raw
// (setProfileLabels), and the engine's goroutines (the engine labels them).
// afterRep is called after each repetition with its index.
func measureReps(o *benchOptions, b benchTarget, r *benchResult, rng *rand.Rand, vocab, prompt []int32,
	randomTokens func(), afterRep func(rep int) error, logf func(string, ...any)) error {
	var (
		d   time.Duration
		err error
	)
	for rep := range o.reps {
		if o.p > 0 {
			randomTokens()
			pprof.Do(context.Background(), pprof.Labels(engine.LabelPhase, engine.PhasePrefill), func(ctx context.Context) {
				b.setProfileLabels(ctx)
				d, err = b.prefill(prompt)
			})
			if err != nil {
				return err
			}
			r.PPSample = append(r.PPSample, float64(o.p)/d.Seconds())
			logf("bench: pp%d rep %d/%d: %.2f t/s", o.p, rep+1, o.reps, r.PPSample[rep])
		}
		if o.n > 0 {
			first := vocab[rng.IntN(len(vocab))]
			pprof.Do(context.Background(), pprof.Labels(engine.LabelPhase, engine.PhaseDecode), func(ctx context.Context) {
				b.setProfileLabels(ctx)
				d, err = b.generate(first, o.n)
			})
			if err != nil {
				return err
			}
			r.TGSample = append(r.TGSample, float64(o.n)/d.Seconds())
			logf("bench: tg%d rep %d/%d: %.2f t/s", o.n, rep+1, o.reps, r.TGSample[rep])
		}
		if err := afterRep(rep); err != nil {
			return err
		}
	}
	return nil
}

// benchTarget is what the tests drive: the engine (the default) or the
// model directly (--raw).
type benchTarget interface {
	// prefill processes tokens on an empty sequence, computing the logits
	// of the last one, and returns the time it took.
	prefill(tokens []int32) (time.Duration, error)
	// generate decodes exactly n tokens greedily on an empty sequence,
	// starting from first, and returns the time it took.
	generate(first int32, n int) (time.Duration, error)
	// kvBytes is the KV cache memory of the sequence.
	kvBytes() int64
	// setProfileLabels gives the goroutines that run the forward passes
	// the pprof labels of ctx, which pprof.Do gives only to its caller.
	setProfileLabels(ctx context.Context)
}

// benchSetup holds what runBenchmark loaded.
type benchSetup struct {
	f      *gguf.File
	cfg    *model.Config
	m      model.Model    // nil until rawRunner needs it (engine path)
	eng    *engine.Engine // nil with --raw
	target benchTarget
	raw    *benchRunner
	closes []func()
}

func openBenchSetup(o *benchOptions, ctxLen int) (*benchSetup, error) {
	s := &benchSetup{}
	if o.raw {
		src, err := hf.OpenPath(o.model)
		if err != nil {
			return nil, err
		}
		s.f = src.File
		s.closes = append(s.closes, func() { src.Close() })
		if s.m, err = model.Load(s.f); err != nil {
			s.close()
			return nil, err
		}
		s.cfg = s.m.Config()
	} else {
		e, err := engine.Load(o.model, engine.Options{Threads: o.threads, KVType: o.kvName, Context: ctxLen})
		if err != nil {
			return nil, err
		}
		s.eng, s.f, s.cfg = e, e.File(), e.Config()
		s.closes = append(s.closes, func() { e.Close() })
	}
	if ctxLen > s.cfg.ContextLength {
		s.close()
		return nil, fmt.Errorf("-p/-n %d exceeds the model's context length %d", ctxLen, s.cfg.ContextLength)
	}
	if o.raw {
		raw, err := s.rawRunner(o, ctxLen)
		if err != nil {
			s.close()
			return nil, err
		}
		s.target = raw
		return s, nil
	}
	seq, err := s.eng.NewSequence(ctxLen)
	if err != nil {
		s.close()
		return nil, err
	}
	s.closes = append(s.closes, seq.Release)
	s.target = &engineTarget{e: s.eng, seq: seq}
	return s, nil
}

// rawRunner returns the model-direct runner, making it on first use: on
// the engine path a second model over the engine's file mapping (only
// views, no copy) with its own pool, idle while the engine runs.
func (s *benchSetup) rawRunner(o *benchOptions, ctxLen int) (*benchRunner, error) {
	if s.raw != nil {
		return s.raw, nil
	}
	if s.m == nil {
		m, err := model.Load(s.f)
		if err != nil {
			return nil, err
		}
		s.m = m
	}
	pool := kernels.NewPool(o.threads)
	raw, err := newBenchRunner(s.m, pool, max(o.p, 1), ctxLen, o.kv)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.raw = raw
	s.closes = append(s.closes, func() { raw.cache.Release(); pool.Close() })
	return raw, nil
}

// close releases everything in reverse order of acquisition.
func (s *benchSetup) close() {
	for i := len(s.closes) - 1; i >= 0; i-- {
		s.closes[i]()
	}
	s.closes = nil
}

// engineTarget runs the tests through the engine's public API, as the
// server and the CLI do: Eval for prefill, Generate (greedy, IgnoreEOG,
// MaxTokens n) for decode.
type engineTarget struct {
	e   *engine.Engine
	seq *engine.Sequence
}

func (t *engineTarget) prefill(tokens []int32) (time.Duration, error) {
	t.seq.Reset()
	t0 := time.Now()
	_, err := t.e.Eval(t.seq, tokens, false)
	return time.Since(t0), err
}

// generate times the whole Generate call: the one-token prompt is
// evaluated like a decode step, and Generate returns after sampling its
// n-th token without evaluating it, so it runs exactly n single-token
// forward passes and n sampling steps.
func (t *engineTarget) generate(first int32, n int) (time.Duration, error) {
	t.seq.Reset()
	t0 := time.Now()
	// Plain decoding: one forward pass per token, whatever the text (the
	// --lookup workload measures speculation).
	res, err := t.e.Generate(context.Background(), t.seq, []int32{first},
		engine.GenParams{MaxTokens: n, IgnoreEOG: true, Lookup: engine.LookupParams{Off: true}}, nil)
	d := time.Since(t0)
	if err != nil {
		return 0, err
	}
	if res.GenTokens != n {
		return 0, fmt.Errorf("engine generated %d tokens, want %d (stop: %s)", res.GenTokens, n, res.StopReason)
	}
	return d, nil
}

func (t *engineTarget) kvBytes() int64 { return t.seq.KVBytes() }

// setProfileLabels does nothing: the engine labels its goroutines with the
// phase of each forward pass itself.
func (t *engineTarget) setProfileLabels(context.Context) {}

// benchRunner runs one sequence through a model directly, the way
// llama-bench drives llama_decode: no scheduler, tokenizer or sampler
// chain, greedy argmax only, and end-of-generation tokens are not special.
// It is the --raw target and runs the --breakdown pass.
type benchRunner struct {
	m      model.Model
	pool   *kernels.Pool
	ws     *model.Workspace
	cache  *kvcache.Cache
	logits []float32
	spans  [1]model.Span
	tok    [1]int32
}

func newBenchRunner(m model.Model, pool *kernels.Pool, maxBatch, ctxLen int, kv quant.Type) (*benchRunner, error) {
	cfg := m.Config()
	ws, err := model.NewWorkspace(cfg, pool, maxBatch)
	if err != nil {
		return nil, err
	}
	cache, err := model.NewCache(cfg, ctxLen, kv)
	if err != nil {
		return nil, err
	}
	return &benchRunner{m: m, pool: pool, ws: ws, cache: cache, logits: make([]float32, cfg.Vocab)}, nil
}

// prefill processes tokens as one batch on an empty sequence, computing
// the logits of the last one, and returns the time it took.
func (b *benchRunner) prefill(tokens []int32) (time.Duration, error) {
	b.cache.Reset()
	b.spans[0] = model.Span{Cache: b.cache, Tokens: tokens, Logits: model.LogitsLast}
	t0 := time.Now()
	err := b.m.Forward(b.ws, b.spans[:], b.logits)
	return time.Since(t0), err
}

// generate decodes n tokens one at a time on an empty sequence, starting
// from first and feeding back each argmax, and returns the time it took.
func (b *benchRunner) generate(first int32, n int) (time.Duration, error) {
	b.cache.Reset()
	tok := first
	t0 := time.Now()
	for range n {
		var err error
		if tok, err = b.step(tok); err != nil {
			return 0, err
		}
	}
	return time.Since(t0), nil
}

// step appends one token to the sequence and returns the greedy next
// token. It does not allocate once the cache has room.
func (b *benchRunner) step(tok int32) (int32, error) {
	b.tok[0] = tok
	b.spans[0] = model.Span{Cache: b.cache, Tokens: b.tok[:], Logits: model.LogitsLast}
	if err := b.m.Forward(b.ws, b.spans[:], b.logits); err != nil {
		return 0, err
	}
	return argmax(b.logits), nil
}

func (b *benchRunner) kvBytes() int64 { return b.cache.Bytes() }

// setProfileLabels labels the pool's workers; the calling goroutine is
// thread 0 and has its labels already.
func (b *benchRunner) setProfileLabels(ctx context.Context) { b.pool.SetProfileLabels(ctx) }

func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// ---- Op-by-op breakdown ----

// benchBreakdown is the time of each op and each layer in one extra
// repetition of each test, measured between successive Workspace hooks.
type benchBreakdown struct {
	PP *phaseBreakdown `json:"pp,omitempty"`
	TG *phaseBreakdown `json:"tg,omitempty"`
}

// phaseBreakdown times one test. Times are per token in milliseconds.
type phaseBreakdown struct {
	Tokens    int       `json:"tokens"`
	TotalMS   float64   `json:"total_ms_per_token"`
	Ops       []opTime  `json:"ops"`
	LayerMS   []float64 `json:"layer_ms_per_token"`
	OutsideMS float64   `json:"outside_layers_ms_per_token"` // embedding, output norm, LM head, argmax
	opIndex   map[string]int
}

// opTime is the time of one kind of op summed over all layers.
type opTime struct {
	Op  string  `json:"op"`
	MS  float64 `json:"ms_per_token"`
	Pct float64 `json:"pct"`
}

// hookOps names the work that ends at each Workspace hook: the hook is
// called after an op completes, so the time since the previous hook is
// that op's. Hooks not listed name their own op.
var hookOps = map[string]string{
	"inp_embd":      "embed",
	"Qcur":          "qkv_rope", // q/k/v matmuls, RoPE, KV store
	"Kcur":          "qkv_rope",
	"Vcur":          "qkv_rope",
	"kqv_out":       "attention",
	"attn_out":      "attn_output",
	"ffn_inp":       "add",
	"ffn_gate":      "ffn_gate_up", // gate and up matmuls (one MatMulMulti)
	"ffn_up":        "ffn_gate_up",
	"ffn_out":       "ffn", // a model without the hooks above: the whole block
	"l_out":         "add",
	"result_norm":   "output_norm",
	"result_output": "lm_head",
}

// timer attributes the time between hook calls.
type timer struct {
	pb   *phaseBreakdown
	last time.Time
	prev string // the previous hook's name
}

func (t *timer) hook(name string, layer int, _ []float32, _, _ int) {
	now := time.Now()
	op := name
	// After the gate/up hooks, ffn_out ends SwiGLU (the down projection's
	// prologue) and the down projection.
	if name == "ffn_out" && t.prev != "ffn_norm" {
		op = "ffn_down"
	}
	t.add(op, layer, now.Sub(t.last))
	t.last, t.prev = now, name
}

func (t *timer) add(name string, layer int, d time.Duration) {
	pb := t.pb
	op := hookOps[name]
	if op == "" {
		op = name
	}
	i, ok := pb.opIndex[op]
	if !ok {
		i = len(pb.Ops)
		pb.opIndex[op] = i
		pb.Ops = append(pb.Ops, opTime{Op: op})
	}
	ms := d.Seconds() * 1e3
	pb.Ops[i].MS += ms
	if layer >= 0 && layer < len(pb.LayerMS) {
		pb.LayerMS[layer] += ms
	} else {
		pb.OutsideMS += ms
	}
}

// breakdown runs one prefill of prompt and one n-token decode with the
// workspace hook installed and returns where the time went.
func (b *benchRunner) breakdown(prompt []int32, first int32, n int) (*benchBreakdown, error) {
	layers := b.m.Config().Layers
	newPhase := func(tokens int) (*phaseBreakdown, *timer) {
		pb := &phaseBreakdown{Tokens: tokens, LayerMS: make([]float64, layers), opIndex: map[string]int{}}
		return pb, &timer{pb: pb}
	}
	defer func() { b.ws.Hook = nil }()
	bd := &benchBreakdown{}
	if len(prompt) > 0 {
		pb, t := newPhase(len(prompt))
		b.ws.Hook = t.hook
		b.cache.Reset()
		b.spans[0] = model.Span{Cache: b.cache, Tokens: prompt, Logits: model.LogitsLast}
		t.last = time.Now()
		start := t.last
		if err := b.m.Forward(b.ws, b.spans[:], b.logits); err != nil {
			return nil, err
		}
		argmax(b.logits)
		t.add("other", -1, time.Since(t.last))
		pb.finish(time.Since(start))
		bd.PP = pb
	}
	if n > 0 {
		pb, t := newPhase(n)
		b.ws.Hook = t.hook
		b.cache.Reset()
		tok := first
		var total time.Duration
		for range n {
			t.last = time.Now()
			start := t.last
			var err error
			if tok, err = b.step(tok); err != nil {
				return nil, err
			}
			t.add("other", -1, time.Since(t.last))
			total += time.Since(start)
		}
		pb.finish(total)
		bd.TG = pb
	}
	return bd, nil
}

// finish turns sums into per-token figures and sorts ops by time.
func (pb *phaseBreakdown) finish(total time.Duration) {
	k := 1 / float64(pb.Tokens)
	pb.TotalMS = total.Seconds() * 1e3 * k
	for i := range pb.Ops {
		pb.Ops[i].MS *= k
		if pb.TotalMS > 0 {
			pb.Ops[i].Pct = 100 * pb.Ops[i].MS / pb.TotalMS
		}
	}
	for i := range pb.LayerMS {
		pb.LayerMS[i] *= k
	}
	pb.OutsideMS *= k
	slices.SortStableFunc(pb.Ops, func(a, b opTime) int { return cmpDesc(a.MS, b.MS) })
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// ---- Model facts ----

// weightBytesPerToken is the weight memory one decoded token reads: every
// tensor in full (all matmul weights, the LM head, norms), except the
// token embedding table, of which only the looked-up row is read — unless
// the embeddings are tied, in which case the table is also the LM head and
// is read in full.
func weightBytesPerToken(f *gguf.File) int64 {
	var total int64
	for i := range f.Tensors {
		total += f.Tensors[i].Size
	}
	if emb, ok := f.Tensor("token_embd.weight"); ok {
		row := emb.Size / max(emb.Dim(1), 1)
		if _, untied := f.Tensor("output.weight"); untied {
			total -= emb.Size - row
		} else {
			total += row
		}
	}
	return total
}

func paramCount(f *gguf.File) int64 {
	var n int64
	for i := range f.Tensors {
		n += f.Tensors[i].Elements()
	}
	return n
}

// describeModel is the llama-bench style model label: architecture,
// parameter count and file type, e.g. "smollm3 3.08B Q4_K_M".
func describeModel(f *gguf.File, cfg *model.Config) string {
	desc := cfg.Arch + " " + strings.ReplaceAll(fmtParams(paramCount(f)), " ", "")
	if ft, ok := f.Get("general.file_type"); ok {
		if v, ok := ft.AsInt(); ok && v >= 0 {
			desc += " " + gguf.FileTypeName(uint64(v))
		}
	}
	return desc
}

// normalTokens lists the ids of ordinary tokens (token_type 1), so random
// prompts hold no control tokens; all ids if the file has no types.
func normalTokens(f *gguf.File, vocab int) []int32 {
	var ids []int32
	if types, ok := f.Int32s("tokenizer.ggml.token_type"); ok && len(types) == vocab {
		for i, t := range types {
			if t == 1 {
				ids = append(ids, int32(i))
			}
		}
	}
	if len(ids) == 0 {
		ids = make([]int32, vocab)
		for i := range ids {
			ids[i] = int32(i)
		}
	}
	return ids
}

// meanSD returns the mean and the sample standard deviation (0 for fewer
// than two values), as llama-bench reports them.
func meanSD(x []float64) (mean, sd float64) {
	if len(x) == 0 {
		return 0, 0
	}
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	if len(x) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

// ---- Human output ----

func (r *benchResult) print(w io.Writer) error {
	cols := []string{"model", "size", "params", "cpu", "threads", "kv", "test", "t/s"}
	right := []bool{false, true, true, false, true, false, true, true}
	var rows [][]string
	add := func(test string, mean, sd float64) {
		rows = append(rows, []string{
			r.Model, units.Bytes(r.ModelBytes), fmtParams(r.Params),
			r.CPULevel, fmt.Sprint(r.Threads), r.KVType, test, fmt.Sprintf("%.2f ± %.2f", mean, sd),
		})
	}
	if r.P > 0 {
		add(fmt.Sprintf("pp%d", r.P), r.PPTPS, r.PPTPSSD)
	}
	if r.N > 0 {
		add(fmt.Sprintf("tg%d", r.N), r.TGTPS, r.TGTPSSD)
	}
	if lr := r.Lookup; lr != nil {
		add(fmt.Sprintf("tg%d lookup", r.N), lr.TPS, lr.TPSSD)
	}
	printTable(w, cols, right, rows)
	fmt.Fprintln(w)
	kw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.BandwidthGBs > 0 {
		fmt.Fprintf(kw, "read bandwidth\t%.1f GB/s (best of %d passes over %s, %d threads, %s loop; median over time %.1f GB/s)\n",
			r.BandwidthGBs, r.BandwidthPasses, units.Bytes(r.BandwidthBytes), r.Threads, r.BandwidthLoop, r.BandwidthMedian)
	}
	fmt.Fprintf(kw, "weights/token\t%s (%d bytes)\n", fmtGB(r.WeightBytesPerToken), r.WeightBytesPerToken)
	if r.RooflineTPS > 0 && r.N > 0 {
		bytes := float64(r.WeightBytesPerToken)
		fmt.Fprintf(kw, "decode roofline\t%.1f%% of the median bandwidth (median tg %.2f t/s × %s = %.1f GB/s)\n",
			r.RooflineMedPct, r.TGTPSMedian, fmtGB(r.WeightBytesPerToken), r.TGTPSMedian*bytes/1e9)
		fmt.Fprintf(kw, "\t%.1f%% of the best pass (mean tg %.2f t/s × %s = %.1f GB/s; ceiling %.2f t/s)\n",
			r.RooflinePct, r.TGTPS, fmtGB(r.WeightBytesPerToken), r.TGTPS*bytes/1e9, r.RooflineTPS)
		if r.RooflineLocalPct > 0 {
			fmt.Fprintf(kw, "\t%.1f%% of the best pass next to each repetition (median over repetitions)\n", r.RooflineLocalPct)
		}
	}
	if r.HugePagePct != nil {
		fmt.Fprintf(kw, "weight pages\t%.0f%% of the resident model in huge pages\n", *r.HugePagePct)
		if *r.HugePagePct < 50 && r.THP != "never" && r.THP != "" {
			// Another program wrote or read the file in small pieces, and
			// its page cache keeps them until it is dropped.
			fmt.Fprintf(kw, "\tdecode is a few %% faster once the file is read anew: dd if=%s iflag=nocache count=0 drops it from the page cache\n", r.ModelPath)
		}
	}
	if r.PeakRSSBytes > 0 {
		fmt.Fprintf(kw, "peak RSS\t%s (file %s + KV %s + %s other)\n",
			units.Bytes(r.PeakRSSBytes), units.Bytes(r.ModelBytes), units.Bytes(r.KVBytes), units.Bytes(r.RSSOverBytes))
	}
	cpu := r.CPU
	if cpu == "" {
		cpu = "unknown CPU"
	}
	if r.Lookup != nil {
		r.Lookup.print(kw)
	}
	fmt.Fprintf(kw, "build\t%s, %s kernels, %s path, %s\n", r.GoVer, r.CPULevel, r.Path, cpu)
	if err := kw.Flush(); err != nil {
		return err
	}
	if r.Breakdown != nil {
		r.Breakdown.print(w)
	}
	return nil
}

func (bd *benchBreakdown) print(w io.Writer) {
	var phases []*phaseBreakdown
	var names []string
	if bd.PP != nil {
		phases, names = append(phases, bd.PP), append(names, fmt.Sprintf("pp%d", bd.PP.Tokens))
	}
	if bd.TG != nil {
		phases, names = append(phases, bd.TG), append(names, fmt.Sprintf("tg%d", bd.TG.Tokens))
	}
	for i, pb := range phases {
		fmt.Fprintf(w, "\n%s breakdown (one extra repetition, %.3f ms/token):\n\n", names[i], pb.TotalMS)
		var rows [][]string
		for _, op := range pb.Ops {
			rows = append(rows, []string{op.Op, fmt.Sprintf("%.3f", op.MS), fmt.Sprintf("%.1f", op.Pct)})
		}
		printTable(w, []string{"op", "ms/token", "%"}, []bool{false, true, true}, rows)
	}
	if len(phases) == 0 {
		return
	}
	fmt.Fprintf(w, "\nper layer (ms/token):\n\n")
	cols := []string{"layer"}
	right := []bool{true}
	for _, n := range names {
		cols, right = append(cols, n), append(right, true)
	}
	var rows [][]string
	for l := range phases[0].LayerMS {
		row := []string{fmt.Sprint(l)}
		for _, pb := range phases {
			row = append(row, fmt.Sprintf("%.3f", pb.LayerMS[l]))
		}
		rows = append(rows, row)
	}
	row := []string{"outside"}
	for _, pb := range phases {
		row = append(row, fmt.Sprintf("%.3f", pb.OutsideMS))
	}
	printTable(w, cols, right, append(rows, row))
}

// printTable prints a Markdown table with padded columns, as llama-bench
// does; right marks right-aligned columns.
func printTable(w io.Writer, cols []string, right []bool, rows [][]string) {
	width := make([]int, len(cols))
	for i, c := range cols {
		width[i] = max(len([]rune(c)), 3)
	}
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	line := func(cells []string) {
		var sb strings.Builder
		for i, c := range cells {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if right[i] {
				fmt.Fprintf(&sb, "| %s%s ", pad, c)
			} else {
				fmt.Fprintf(&sb, "| %s%s ", c, pad)
			}
		}
		fmt.Fprintln(w, sb.String()+"|")
	}
	line(cols)
	sep := make([]string, len(cols))
	for i := range cols {
		if right[i] {
			sep[i] = strings.Repeat("-", width[i]-1) + ":"
		} else {
			sep[i] = strings.Repeat("-", width[i])
		}
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
}

// fmtParams formats a parameter count as llama-bench does ("3.08 B"),
// in millions below a billion.
func fmtParams(n int64) string {
	if n < 1e9 {
		return fmt.Sprintf("%.2f M", float64(n)/1e6)
	}
	return fmt.Sprintf("%.2f B", float64(n)/1e9)
}

// fmtGB formats a byte count in decimal GB (or MB), the units of bandwidth.
func fmtGB(n int64) string {
	if n >= 1e9 {
		return fmt.Sprintf("%.3f GB", float64(n)/1e9)
	}
	return fmt.Sprintf("%.3f MB", float64(n)/1e6)
}

// newBenchResult fills the fields every benchmark reports: the model, the
// machine, the options (the caller sets the test sizes it runs).
func newBenchResult(o *benchOptions, s *benchSetup) *benchResult {
	f := s.f
	return &benchResult{
		Model: describeModel(f, s.cfg), ModelFile: o.model, ModelPath: f.Path, ModelBytes: f.Size,
		Params: paramCount(f), WeightBytesPerToken: weightBytesPerToken(f),
		Threads: o.threads, N: o.n, Reps: o.reps, KVType: o.kvName, Path: "engine", Seed: o.seed,
		CPULevel: kernels.Level().String(), CPU: sysinfo.CPUModel(), GoVer: runtime.Version(),
	}
}
