package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
)

func benchCmd(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runMain(append([]string{"bench"}, args...), &out, &errb)
	return out.String(), errb.String(), code
}

// Small runs only: a few tokens and an 8 MiB bandwidth buffer (cache
// resident, so that figure means nothing here; it only has to be positive).
var benchSmall = []string{"-p", "8", "-n", "4", "-r", "1", "-t", "2", "--bw-mib", "8", "--bw-time", "0"}

func TestBenchJSON(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	out, errs, code := benchCmd(t, append([]string{"-m", path, "--json"}, benchSmall...)...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var raw map[string]any
	if err := json.Unmarshal([]byte(out), &raw); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out)
	}
	for _, k := range []string{"pp_tps", "tg_tps", "bandwidth_gbs", "roofline_pct", "peak_rss_bytes",
		"model_bytes", "weight_bytes_per_token", "threads", "p", "n", "reps", "params", "kv_bytes"} {
		v, ok := raw[k].(float64)
		if !ok || !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%s = %v, want a positive number", k, raw[k])
		}
	}
	for _, k := range []string{"pp_tps_sd", "tg_tps_sd"} {
		if v, ok := raw[k].(float64); !ok || v != 0 {
			t.Errorf("%s = %v, want 0 for one repetition", k, raw[k])
		}
	}
	for _, k := range []string{"model", "go_version", "cpu_level", "kv_type", "bandwidth_loop"} {
		if s, ok := raw[k].(string); !ok || s == "" {
			t.Errorf("%s = %v, want a string", k, raw[k])
		}
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.P != 8 || r.N != 4 || r.Reps != 1 || r.Threads != 2 || r.KVType != "f16" || r.Path != "engine" ||
		len(r.PPSample) != 1 || len(r.TGSample) != 1 || r.Breakdown != nil {
		t.Errorf("echoed settings: %+v", r)
	}
	switch r.CPULevel {
	case "avx512", "avx2", "generic":
	default:
		t.Errorf("cpu_level %q", r.CPULevel)
	}
	if !strings.HasPrefix(r.Model, "smollm3 ") || !strings.HasSuffix(r.Model, " Q4_K_M") {
		t.Errorf("model %q", r.Model)
	}
	if st, err := os.Stat(path); err != nil || r.ModelBytes != st.Size() {
		t.Errorf("model_bytes %d, file %v", r.ModelBytes, st)
	}
	if r.WeightBytesPerToken > r.ModelBytes {
		t.Errorf("weight bytes per token %d exceed the file size %d", r.WeightBytesPerToken, r.ModelBytes)
	}
	want := 100 * float64(r.WeightBytesPerToken) * r.TGTPS / (r.BandwidthGBs * 1e9)
	if math.Abs(r.RooflinePct-want) > 1e-6*want {
		t.Errorf("roofline_pct %v, want %v", r.RooflinePct, want)
	}
}

func TestBenchTableProfileBreakdown(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	out, errs, code := benchCmd(t, append([]string{"-m", path, "--kv", "q8_0", "--profile", prof, "--breakdown", "-v"}, benchSmall...)...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{
		"| model ", " test |", " pp8 |", " tg4 |", "| q8_0 |", " ± ",
		"read bandwidth", "decode roofline", "peak RSS",
		"pp8 breakdown", "tg4 breakdown", "| ffn_gate_up ", "| ffn_down ", "| attention ", "| lm_head ", "per layer", "| outside |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "warm-up") {
		t.Errorf("-v printed no progress: %q", errs)
	}
	if st, err := os.Stat(prof); err != nil || st.Size() == 0 {
		t.Errorf("profile: %v", err)
	}
}

func TestBenchSkipTests(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	for _, raw := range []bool{false, true} {
		args := []string{"-m", path, "-p", "0", "-n", "3", "-r", "2", "--bw-mib", "0", "--json"}
		if raw {
			args = append(args, "--raw")
		}
		out, errs, code := benchCmd(t, args...)
		if code != 0 {
			t.Fatalf("raw=%v: exit %d, stderr %q", raw, code, errs)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.PPTPS != 0 || len(r.PPSample) != 0 || len(r.TGSample) != 2 || !(r.TGTPS > 0) || r.BandwidthGBs != 0 || r.RooflinePct != 0 {
			t.Errorf("raw=%v, -p 0 --bw-mib 0: %+v", raw, r)
		}
		if want := map[bool]string{false: "engine", true: "raw"}[raw]; r.Path != want {
			t.Errorf("path %q, want %q", r.Path, want)
		}
	}
}

// TestBenchBandwidthInterleaved checks that the bandwidth is sampled after
// every repetition (at least three passes each), and only once, after
// them, with --profile.
func TestBenchBandwidthInterleaved(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	for _, c := range []struct {
		extra     []string
		minPasses int
	}{
		{nil, 9},
		{[]string{"--profile", filepath.Join(t.TempDir(), "p")}, 3},
	} {
		args := append([]string{"-m", path, "-p", "4", "-n", "2", "-r", "3", "--bw-mib", "4", "--bw-time", "0", "--json"}, c.extra...)
		out, errs, code := benchCmd(t, args...)
		if code != 0 {
			t.Fatalf("%q: exit %d, stderr %q", args, code, errs)
		}
		var r benchResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatal(err)
		}
		if r.BandwidthPasses < c.minPasses || (c.minPasses == 3 && r.BandwidthPasses >= 9) ||
			!(r.BandwidthGBs > 0) || r.BandwidthMedian > r.BandwidthGBs ||
			math.Abs(r.RooflineMedPct-100*median(r.TGSample)*float64(r.WeightBytesPerToken)/(r.BandwidthMedian*1e9)) > 1e-9*r.RooflineMedPct {
			t.Errorf("%q: %d passes, best %v, median %v, roofline %v/%v", c.extra, r.BandwidthPasses,
				r.BandwidthGBs, r.BandwidthMedian, r.RooflinePct, r.RooflineMedPct)
		}
		// Each repetition is compared with the bursts next to it, never
		// faster than the run's best pass, so the median over repetitions is
		// at least the median repetition against the best pass; --profile
		// has no bursts.
		floor := 100 * median(r.TGSample) * float64(r.WeightBytesPerToken) / (r.BandwidthGBs * 1e9)
		if c.extra == nil && !(r.RooflineLocalPct >= floor*(1-1e-9)) || c.extra != nil && r.RooflineLocalPct != 0 {
			t.Errorf("%q: local roofline %v, median repetition against the best pass %v", c.extra, r.RooflineLocalPct, floor)
		}
		if runtime.GOOS == "linux" && (r.HugePagePct == nil || *r.HugePagePct < 0 || *r.HugePagePct > 100) {
			t.Errorf("%q: huge_page_pct %v", c.extra, r.HugePagePct)
		}
	}
}

func TestMedian(t *testing.T) {
	x := []float64{3, 1, 2}
	if m := median(x); m != 2 || x[0] != 3 {
		t.Errorf("median(3 1 2) = %v, input now %v", m, x)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median(4 1 3 2) = %v, want 2.5", m)
	}
	if m := median(nil); m != 0 {
		t.Errorf("median(nil) = %v", m)
	}
}

func TestLocalRoofline(t *testing.T) {
	const gb = 1e9 // 1 GB per token, bandwidths in GB/s: t/s = GB/s
	for _, c := range []struct {
		tps, best []float64 // best: GB/s of the burst after each repetition
		want      float64
	}{
		// Bandwidth halves before the last repetition: it is compared with
		// the faster burst next to it (70), the others with 80.
		{[]float64{72, 72, 36}, []float64{80, 70, 40}, 90},
		{[]float64{36, 72}, []float64{40, 80}, 90},                 // 90% each
		{[]float64{30, 30, 30, 30}, []float64{50, 30, 60, 30}, 55}, // 60 60 50 50: median (50 + 60) / 2
		{[]float64{30}, nil, 0},                                    // no bursts (--profile)
		{nil, nil, 0},
	} {
		best := make([]float64, len(c.best))
		for i, b := range c.best {
			best[i] = b * gb
		}
		if got := localRoofline(c.tps, best, gb); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("localRoofline(%v, %v) = %v, want %v", c.tps, c.best, got, c.want)
		}
	}
}

func TestBenchRawBreakdown(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	out, errs, code := benchCmd(t, append([]string{"-m", path, "--raw", "--breakdown", "--json"}, benchSmall...)...)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	if r.Path != "raw" || !(r.PPTPS > 0) || !(r.TGTPS > 0) || r.Breakdown == nil || r.Breakdown.PP == nil || r.Breakdown.TG == nil {
		t.Fatalf("result: %+v", r)
	}
	for _, pb := range []*phaseBreakdown{r.Breakdown.PP, r.Breakdown.TG} {
		if len(pb.LayerMS) != 8 || !(pb.TotalMS > 0) || len(pb.Ops) == 0 {
			t.Errorf("breakdown: %+v", pb)
		}
		var sum float64
		ops := map[string]bool{}
		for _, op := range pb.Ops {
			sum += op.MS
			ops[op.Op] = true
		}
		for _, want := range []string{"embed", "qkv_rope", "attention", "attn_output", "ffn_gate_up", "ffn_down", "add", "lm_head"} {
			if !ops[want] {
				t.Errorf("breakdown lacks op %q: %v", want, pb.Ops)
			}
		}
		// The ops partition the measured time (up to the clock reads).
		if math.Abs(sum-pb.TotalMS) > 0.05*pb.TotalMS+0.01 {
			t.Errorf("ops sum to %v ms, total %v ms", sum, pb.TotalMS)
		}
	}
}

func TestBenchBadArgs(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf")
	for _, args := range [][]string{
		{path},
		{"-m", path, "extra"},
		{"-m", path, "-p", "-1"},
		{"-m", path, "-p", "0", "-n", "0"},
		{"-m", path, "-t", "0"},
		{"-m", path, "-r", "0"},
		{"-m", path, "--kv", "q4_k"},
		{"-m", path, "--bw-mib", "-1"},
		{"-m", path, "--bogus"},
	} {
		if _, errs, code := benchCmd(t, args...); code != 2 {
			t.Errorf("bench %q: exit %d, want 2 (stderr %q)", args, code, errs)
		}
	}
	// Bad files and sizes are errors, not usage errors.
	for _, args := range [][]string{
		{"-m", filepath.Join(t.TempDir(), "missing.gguf")},
		{"-m", path, "-p", "100000", "-n", "1"},
	} {
		if _, errs, code := benchCmd(t, args...); code != 1 || errs == "" {
			t.Errorf("bench %q: exit %d, stderr %q", args, code, errs)
		}
	}
}

func TestWeightBytesPerToken(t *testing.T) {
	for _, c := range []struct {
		dir, file string
		tied      bool
	}{
		{"tiny-smollm3", "q4_k_m.gguf", true},
		{"stories260K", "model.gguf", false},
	} {
		f, err := gguf.Open(testutil.Fixture(t, c.dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		var all int64
		for _, ti := range f.Tensors {
			all += ti.Size
		}
		emb, ok := f.Tensor("token_embd.weight")
		if !ok {
			t.Fatalf("%s: no token_embd", c.dir)
		}
		_, untied := f.Tensor("output.weight")
		if untied == c.tied {
			t.Fatalf("%s: output.weight present = %v", c.dir, untied)
		}
		row := emb.Size / emb.Dim(1)
		want := all + row // tied: the table is the LM head, plus one lookup
		if !c.tied {
			want = all - emb.Size + row
		}
		if got := weightBytesPerToken(f); got != want {
			t.Errorf("%s: weightBytesPerToken = %d, want %d", c.dir, got, want)
		}
		f.Close()
	}
}

func TestMeanSD(t *testing.T) {
	for _, c := range []struct {
		x        []float64
		mean, sd float64
	}{
		{nil, 0, 0},
		{[]float64{3}, 3, 0},
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0 / 7)},
	} {
		m, s := meanSD(c.x)
		if math.Abs(m-c.mean) > 1e-12 || math.Abs(s-c.sd) > 1e-12 {
			t.Errorf("meanSD(%v) = %v, %v; want %v, %v", c.x, m, s, c.mean, c.sd)
		}
	}
}

func TestPrintTable(t *testing.T) {
	var b bytes.Buffer
	printTable(&b, []string{"model", "t/s"}, []bool{false, true}, [][]string{{"x", "1.00 ± 0.10"}})
	want := "| model |         t/s |\n| ----- | ----------: |\n| x     | 1.00 ± 0.10 |\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// TestBenchLookup runs the speculative decoding workload on a tiny model:
// plain and lookup rates, draft statistics, and output identical to plain
// greedy decoding.
func TestBenchLookup(t *testing.T) {
	path := testutil.Fixture(t, "tiny-smollm3", "q8_0.gguf")
	out, errs, code := benchCmd(t, "-m", path, "--lookup", "-p", "8", "-n", "24", "-r", "2", "-t", "2", "--bw-mib", "0", "--json")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	var r benchResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatal(err)
	}
	l := r.Lookup
	if l == nil || !l.Identical || len(l.Samples) != 2 || len(l.PlainSamples) != 2 || !(l.TPS > 0) || !(l.Speedup > 0) ||
		l.PromptTokens != 8 || r.TGTPS != l.PlainTPS || l.DraftAccepted > l.DraftTokens || l.Passes < 1 {
		t.Errorf("lookup result: %+v", l)
	}
	// A reference quoting the answer exactly lets drafts through.
	if l.DraftAccepted == 0 || l.Passes >= 24 {
		t.Errorf("no draft accepted: %+v", l)
	}
	out, errs, code = benchCmd(t, "-m", path, "--lookup", "--lookup-noise", "0.5", "-p", "4", "-n", "8", "-r", "1", "--bw-mib", "0")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	for _, want := range []string{" tg8 lookup |", "lookup speed-up", "lookup drafts", "identical to plain greedy: yes", "50% of its tokens replaced"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range [][]string{
		{"--lookup", "--raw"}, {"--lookup", "--breakdown"}, {"--lookup", "-n", "0"}, {"--lookup-noise", "2"}, {"--lookup-draft", "-1"},
	} {
		if _, _, code := benchCmd(t, append([]string{"-m", path}, bad...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", bad, code)
		}
	}
}
