package engine

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/smolbot/smolbot/sample"
)

func TestFindDraft(t *testing.T) {
	dst := make([]int32, 6)
	for _, c := range []struct {
		name       string
		hist       []int32
		last       int32
		ref        []int32
		minN, maxN int
		k, n       int
		want       []int32
	}{
		{"no match", []int32{1, 2, 3}, 4, nil, 1, 3, 0, 0, nil},
		{"empty history", nil, 4, nil, 1, 3, 0, 0, nil},
		{"one-token match", []int32{5, 6, 7, 8}, 5, nil, 1, 3, 6, 1, []int32{6, 7, 8, 5, 6, 7}},
		{"below minN", []int32{5, 6, 7, 8}, 5, nil, 2, 3, 0, 1, nil},
		// [7 8 9] occurs at 1..3 and [8 9] at 6..7: the longer wins.
		{"longest wins", []int32{0, 7, 8, 9, 1, 2, 8, 9, 3, 7, 8}, 9, nil, 1, 3, 6, 3, []int32{1, 2, 8, 9, 3, 7}},
		// [8 9] at 1..2 and 4..5: the most recent wins.
		{"most recent", []int32{0, 8, 9, 1, 8, 9, 2, 8}, 9, nil, 1, 3, 6, 2, []int32{2, 8, 9, 2, 8, 9}},
		// A loop of period 2 continues past the end of the history.
		{"periodic", []int32{3, 4, 3, 4}, 3, nil, 1, 3, 6, 3, []int32{4, 3, 4, 3, 4, 3}},
		{"period 1", []int32{9, 9}, 9, nil, 1, 4, 6, 2, []int32{9, 9, 9, 9, 9, 9}},
		{"reference", []int32{1, 2}, 3, []int32{0, 2, 3, 4, 5}, 1, 3, 2, 2, []int32{4, 5}},
		{"history beats reference on ties", []int32{2, 3, 7, 2}, 3, []int32{2, 3, 4}, 1, 3, 6, 2, []int32{7, 2, 3, 7, 2, 3}},
		{"reference longer match", []int32{2, 3, 7, 1, 2}, 3, []int32{1, 2, 3, 4}, 1, 3, 1, 3, []int32{4}},
		{"reference match at its end", []int32{1}, 2, []int32{1, 2}, 1, 3, 0, 0, nil},
	} {
		clear(dst)
		k, n := findDraft(c.hist, c.last, c.ref, c.minN, c.maxN, dst)
		if k != c.k || n != c.n || !slices.Equal(dst[:k], c.want) {
			t.Errorf("%s: got %d tokens %v (match %d), want %d %v (match %d)", c.name, k, dst[:k], n, c.k, c.want, c.n)
		}
	}
	if k, _ := findDraft([]int32{1, 1}, 1, nil, 1, 3, nil); k != 0 {
		t.Errorf("draft into an empty buffer: %d", k)
	}
}

func TestLookupParams(t *testing.T) {
	p, err := LookupParams{}.resolved()
	if err != nil || p.MaxDraft != DefaultMaxDraft || p.MinNgram != DefaultMinNgram || p.MaxNgram != DefaultMaxNgram {
		t.Errorf("defaults: %+v %v", p, err)
	}
	if p, err := (LookupParams{MinNgram: 6}).resolved(); err != nil || p.MaxNgram != 6 {
		t.Errorf("MinNgram above the default MaxNgram: %+v %v", p, err)
	}
	for _, bad := range []LookupParams{{MaxDraft: -1}, {MinNgram: -1}, {MinNgram: 3, MaxNgram: 2}, {MaxNgram: 1000}} {
		if _, err := bad.resolved(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// genResult is what a generation produced, for comparing runs.
type genResult struct {
	ids   []int32
	texts []string
	res   Result
	after []int32 // the sequence's tokens afterwards
}

func run(t *testing.T, e *Engine, seq *Sequence, prompt []int32, p GenParams) genResult {
	t.Helper()
	var g genResult
	var err error
	g.res, err = e.Generate(context.Background(), seq, prompt, p, func(tok Token) error {
		g.ids = append(g.ids, tok.ID)
		g.texts = append(g.texts, tok.Text)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	g.after = seq.Tokens()
	return g
}

// same checks that a speculative run emitted exactly what a plain one did
// and left the sequence in the same state.
func same(t *testing.T, what string, plain, spec genResult) {
	t.Helper()
	if !slices.Equal(plain.ids, spec.ids) {
		t.Errorf("%s: token %d differs (plain %d tokens, speculative %d)", what, firstDiff(plain.ids, spec.ids), len(plain.ids), len(spec.ids))
		return
	}
	if !slices.Equal(plain.texts, spec.texts) {
		t.Errorf("%s: texts differ", what)
	}
	pr, sr := plain.res, spec.res
	if pr.GenTokens != sr.GenTokens || pr.StopReason != sr.StopReason || pr.Text != sr.Text || pr.CachedTokens != sr.CachedTokens {
		t.Errorf("%s: results differ:\nplain %+v\nspec  %+v", what, pr, sr)
	}
	if !slices.Equal(plain.after, spec.after) {
		t.Errorf("%s: the sequence holds %d tokens after a plain run, %d after a speculative one (first difference at %d)",
			what, len(plain.after), len(spec.after), firstDiff(plain.after, spec.after))
	}
}

// eager is greedy decoding with speculation that drafts whenever lookup
// finds a match, whatever the clock says, so that tests see the same
// drafts on any machine.
func eager(n int) GenParams {
	p := greedy(n)
	p.Lookup.Always = true
	return p
}

func plainOf(p GenParams) GenParams {
	p.Lookup.Off = true
	return p
}

// storyPrompts returns prompts for stories260K whose continuations repeat
// the context: the model's own story followed by its beginning, or a
// passage of it followed by the passage's start.
func storyPrompts(tb testing.TB, e *Engine) [][]int32 {
	tb.Helper()
	seq, _ := e.NewSequence(0)
	var story []int32
	_, err := e.Generate(context.Background(), seq, []int32{1}, plainOf(greedy(330)), func(tok Token) error {
		if tok.ID >= 0 {
			story = append(story, tok.ID)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return [][]int32{
		{1},
		slices.Concat([]int32{1}, story, []int32{1}, story[:20]),
		slices.Concat([]int32{1}, story[100:250], story[100:130]),
	}
}

// TestLookupMatchesGreedy checks that speculative decoding gives plain
// greedy decoding's output token for token, on a real model and on random
// ones (which loop, so drafts are accepted), and that drafts are used.
func TestLookupMatchesGreedy(t *testing.T) {
	type model struct {
		dir, file, kv string
		prompts       func(*Engine) [][]int32
		n             int
	}
	tinyPrompts := func(*Engine) [][]int32 { return [][]int32{{1}, {234}, {50, 60, 70}} }
	for _, m := range []model{
		{"stories260K", "model.gguf", "f32", func(e *Engine) [][]int32 { return storyPrompts(t, e) }, 150},
		{"tiny-smollm3", "q8_0.gguf", "f16", tinyPrompts, 80},
		{"tiny-smollm3", "q4_k_m.gguf", "q8_0", tinyPrompts, 80},
		{"tiny-llama", "q4_k_m.gguf", "f16", tinyPrompts, 80},
	} {
		e := load(t, m.dir, m.file, Options{Threads: 2, KVType: m.kv})
		accepted := 0
		for i, prompt := range m.prompts(e) {
			a, _ := e.NewSequence(0)
			b, _ := e.NewSequence(0)
			plain := run(t, e, a, prompt, plainOf(greedy(m.n)))
			spec := run(t, e, b, prompt, eager(m.n))
			what := m.dir + "/" + m.file + " " + m.kv + " prompt " + string(rune('0'+i))
			same(t, what, plain, spec)
			r := spec.res
			if r.GenTokens != 1+r.DecodeSteps+r.DraftAccepted || r.DraftAccepted > r.DraftTokens {
				t.Errorf("%s: inconsistent statistics %+v", what, r)
			}
			if plain.res.DraftTokens != 0 || plain.res.DecodeSteps != m.n-1 {
				t.Errorf("%s: plain run drafted: %+v", what, plain.res)
			}
			accepted += r.DraftAccepted
		}
		if accepted < m.n/2 {
			t.Errorf("%s/%s: only %d draft tokens accepted", m.dir, m.file, accepted)
		}
	}
}

// TestLookupLimits stops generation inside drafts — by MaxTokens, stop
// strings, end-of-generation tokens and cancellation — and checks each
// ends exactly as plain decoding does, with the sequence holding the same
// tokens, ready for the next turn.
func TestLookupLimits(t *testing.T) {
	e := load(t, "stories260K", "model.gguf", Options{Threads: 1})
	prompts := storyPrompts(t, e)
	prompt := prompts[2]
	a, _ := e.NewSequence(0)
	b, _ := e.NewSequence(0)
	full := run(t, e, a, prompt, plainOf(greedy(200)))
	if r := run(t, e, b, prompt, eager(200)).res; r.DraftAccepted < 100 {
		t.Fatalf("the workload accepts only %d draft tokens: %+v", r.DraftAccepted, r)
	}

	for n := 1; n <= 60; n += 4 {
		same(t, "MaxTokens", run(t, e, a, prompt, plainOf(greedy(n))), run(t, e, b, prompt, eager(n)))
	}

	// Stop strings starting at many places of the text, most of them in
	// the middle of an accepted draft; some span several tokens.
	text := full.res.Text
	stops := 0
	for i := 3; i+6 < len(text) && stops < 12; i += len(text) / 13 {
		p := eager(200)
		p.Stop = []string{text[i : i+2+i%5]}
		plain, spec := run(t, e, a, prompt, plainOf(p)), run(t, e, b, prompt, p)
		same(t, "stop "+p.Stop[0], plain, spec)
		if spec.res.StopReason != StopString {
			t.Errorf("stop %q: %s", p.Stop[0], spec.res.StopReason)
		}
		stops++
	}

	// Cancellation after the n-th token.
	for _, n := range []int{1, 2, 5, 17, 40} {
		var got [2]genResult
		for i, p := range []GenParams{plainOf(greedy(200)), eager(200)} {
			seq := []*Sequence{a, b}[i]
			ctx, cancel := context.WithCancel(context.Background())
			var ids []int32
			res, err := e.Generate(ctx, seq, prompt, p, func(tok Token) error {
				if tok.ID >= 0 {
					if ids = append(ids, tok.ID); len(ids) == n {
						cancel()
					}
				}
				return nil
			})
			cancel()
			if err != nil || res.StopReason != StopCancelled || res.GenTokens != n {
				t.Errorf("cancel after %d: %v %+v", n, err, res)
			}
			got[i] = genResult{ids: ids, res: res, after: seq.Tokens()}
		}
		if !slices.Equal(got[0].ids, got[1].ids) || !slices.Equal(got[0].after, got[1].after) {
			t.Errorf("cancel after %d: runs differ", n)
		}
		// The n-th token was evaluated before the cancellation was seen.
		if want := len(prompt) + n; len(got[1].after) != want {
			t.Errorf("cancel after %d: sequence holds %d tokens, want %d", n, len(got[1].after), want)
		}
	}

	// The next turn reuses the cache a speculative run left behind and
	// continues exactly as a fresh sequence does.
	first := run(t, e, b, prompt, eager(37))
	turn2 := slices.Concat(prompt, first.ids, []int32{300, 301})
	next := run(t, e, b, turn2, eager(50))
	if want := len(prompt) + len(first.ids) - 1; next.res.CachedTokens != want {
		t.Errorf("next turn cached %d tokens, want %d", next.res.CachedTokens, want)
	}
	fresh, _ := e.NewSequence(0)
	if want := run(t, e, fresh, turn2, plainOf(greedy(50))); !slices.Equal(next.ids, want.ids) {
		t.Errorf("next turn differs from a fresh sequence at token %d", firstDiff(next.ids, want.ids))
	}
}

// TestLookupEOG ends generation with an end-of-generation token sampled
// in the middle of a draft.
func TestLookupEOG(t *testing.T) {
	e := load(t, "tiny-smollm3", "q8_0.gguf", Options{Threads: 1})
	// The random model loops on a token, then says <|im_end|> or
	// <|end_of_text|>.
	for _, prompt := range [][]int32{{57}, {140}, {235}} {
		p := eager(100)
		p.IgnoreEOG = false
		a, _ := e.NewSequence(0)
		b, _ := e.NewSequence(0)
		plain, spec := run(t, e, a, prompt, plainOf(p)), run(t, e, b, prompt, p)
		same(t, "eog", plain, spec)
		if r := spec.res; r.StopReason != StopEOG || r.DraftAccepted == 0 || r.GenTokens+1 != 1+r.DecodeSteps+r.DraftAccepted {
			t.Errorf("prompt %v: %+v", prompt, r)
		}
	}
}

// TestLookupContextFull fills the context in the middle of a draft.
func TestLookupContextFull(t *testing.T) {
	e := load(t, "tiny-smollm3", "q8_0.gguf", Options{Threads: 1, Context: 40})
	for _, prompt := range [][]int32{{1}, {234}} {
		a, _ := e.NewSequence(0)
		b, _ := e.NewSequence(0)
		plain, spec := run(t, e, a, prompt, plainOf(greedy(0))), run(t, e, b, prompt, eager(0))
		same(t, "context", plain, spec)
		if spec.res.StopReason != StopLength || len(spec.after) != 40 || spec.res.DraftAccepted == 0 {
			t.Errorf("context-limited run: %+v, %d tokens held", spec.res, len(spec.after))
		}
	}
}

// TestLookupConcurrent runs speculative sequences together with plain
// ones and a long prompt through the scheduler, with a small batch so
// that drafts get cut short, and checks each gets its plain output — also
// for weights whose batch arithmetic differs from the single-token one
// (Q4_K_M: the repacked Q4_K gemm; F16: tinyBLAS): decode steps and drafts
// take the single-token arithmetic whatever shares the pass (which here
// depends on timing).
func TestLookupConcurrent(t *testing.T) {
	for _, file := range []string{"q4_k_m.gguf", "f16.gguf", "q8_0.gguf"} {
		t.Run(file, func(t *testing.T) { testLookupConcurrent(t, file) })
	}
}

func testLookupConcurrent(t *testing.T, file string) {
	e := load(t, "tiny-smollm3", file, Options{Threads: 2, BatchSize: 16, MaxDecodeBatch: 3})
	long := make([]int32, 45)
	for i := range long {
		long[i] = int32(i*7%290 + 3)
	}
	prompts := [][]int32{{1}, {234}, {57}, {50, 60, 70}, long}
	type job struct {
		prompt []int32
		p      GenParams
	}
	var jobs []job
	for _, pr := range prompts {
		jobs = append(jobs, job{pr, eager(60)}, job{pr, plainOf(greedy(60))})
	}
	want := make([][]int32, len(jobs))
	for i, j := range jobs {
		seq, _ := e.NewSequence(0)
		want[i], _ = collect(t, e, seq, j.prompt, plainOf(j.p))
	}
	got := make([][]int32, len(jobs))
	accepted := make([]int, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			seq, _ := e.NewSequence(0)
			res, err := e.Generate(context.Background(), seq, j.prompt, j.p, func(tok Token) error {
				if tok.ID >= 0 {
					got[i] = append(got[i], tok.ID)
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
			accepted[i] = res.DraftAccepted
		})
	}
	wg.Wait()
	total := 0
	for i := range jobs {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("job %d: differs at token %d", i, firstDiff(got[i], want[i]))
		}
		total += accepted[i]
	}
	if total == 0 {
		t.Error("no draft accepted")
	}
}

// TestSampleDraft checks that rejection sampling against a draft token
// keeps the sampler's distribution: every token's frequency over many
// seeded draws matches its probability, whichever token is drafted.
func TestSampleDraft(t *testing.T) {
	logits := []float32{2, 1.5, 0.3, -1, 1.9, -4, 0.8}
	for _, sp := range []sample.Params{
		{Temperature: 0.8, RepeatPenalty: 1},
		{Temperature: 1.3, TopK: 4, TopP: 0.9, RepeatPenalty: 1},
	} {
		sp.Seed = 7
		chain, err := sample.New(sp)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := chain.Candidates(logits)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]float64, len(logits))
		for _, c := range cs {
			want[c.ID] = float64(c.Prob)
		}
		var s speculator
		s.reset(LookupParams{}, 1, 64)
		const draws = 200000
		for d := range int32(len(logits)) {
			counts := make([]float64, len(logits))
			for range draws {
				id, err := s.sampleDraft(chain, logits, d)
				if err != nil {
					t.Fatal(err)
				}
				counts[id]++
			}
			for i := range counts {
				// 5 standard deviations of a binomial proportion.
				tol := 5 * math.Sqrt(want[i]*(1-want[i])/draws)
				if got := counts[i] / draws; math.Abs(got-want[i]) > tol+1e-9 {
					t.Errorf("%+v, draft %d: token %d drawn with frequency %.4f, probability %.4f", sp, d, i, got, want[i])
				}
			}
		}
	}
}

// TestLookupSampled runs sampled speculative decoding end to end.
func TestLookupSampled(t *testing.T) {
	e := load(t, "stories260K", "model.gguf", Options{Threads: 1})
	prompt := storyPrompts(t, e)[2]
	p := GenParams{Sampling: sample.Params{Temperature: 0.2, Seed: 3, RepeatPenalty: 1}, MaxTokens: 150, IgnoreEOG: true}
	p.Lookup.Sampled = true
	p.Lookup.Always = true
	seq, _ := e.NewSequence(0)
	ids, res := collect(t, e, seq, prompt, p)
	if len(ids) != 150 || res.DraftAccepted == 0 || res.GenTokens != 1+res.DecodeSteps+res.DraftAccepted {
		t.Errorf("sampled speculation: %d tokens, %+v", len(ids), res)
	}
	// The same seed gives the same text.
	again, _ := collect(t, e, seq, prompt, p)
	if !slices.Equal(ids, again) {
		t.Error("sampled speculation is not reproducible from its seed")
	}
	// Without Sampled, sampling does not speculate.
	p.Lookup.Sampled = false
	if _, res := collect(t, e, seq, prompt, p); res.DraftTokens != 0 {
		t.Errorf("sampling speculated without Sampled: %+v", res)
	}
}

// TestRenderSpecial checks that listed control tokens come out as text, in
// order with text a stop string held back, and others stay hidden.
func TestRenderSpecial(t *testing.T) {
	e := load(t, "tiny-smollm3", "q8_0.gguf", Options{Threads: 1})
	tk := e.Tokenizer()
	think, ok1 := tk.TokenID("<think>")
	endThink, ok2 := tk.TokenID("</think>")
	if !ok1 || !ok2 {
		t.Fatal("no think tokens")
	}
	// From token 234 the random model says 196 ×5, 43 ×7, <think> ×5, ….
	prompt := []int32{234}
	seq, _ := e.NewSequence(0)
	base := run(t, e, seq, prompt, eager(20))
	at := slices.Index(base.ids, think)
	if at < 1 {
		t.Skipf("the model no longer says <think> here: %v", base.ids)
	}
	if strings.Contains(base.res.Text, "<think>") {
		t.Errorf("control token shown without RenderSpecial: %q", base.res.Text)
	}
	before := tk.Decode(base.ids[at-1 : at])
	for _, lookup := range []bool{false, true} {
		p := eager(20)
		p.Lookup.Off = !lookup
		p.RenderSpecial = []int32{think, endThink}
		// A stop string that the text before <think> starts: that text is
		// held back until <think> settles it, and must come out first.
		p.Stop = []string{before + "#"}
		g := run(t, e, seq, prompt, p)
		var want []byte
		for _, id := range base.ids {
			want = tk.AppendPiece(want, id, id == think || id == endThink)
		}
		if g.res.Text != string(want) || g.res.StopReason != StopLength {
			t.Errorf("text %q (%s), want %q", g.res.Text, g.res.StopReason, want)
		}
		// The held text and the tag are emitted with the <think> token.
		i := slices.Index(g.ids, think)
		if i < 0 || !strings.HasPrefix(g.texts[i], before+"<think>") {
			t.Errorf("token %d (<think>) carries %q, want %q first", i, g.texts[i], before+"<think>")
		}
	}
	for _, p := range []GenParams{
		{RenderSpecial: []int32{-1}},
		{Lookup: LookupParams{Reference: []int32{1, 2, 400}}},
		{Lookup: LookupParams{MaxDraft: -1}},
	} {
		if _, err := e.Generate(context.Background(), seq, prompt, p, nil); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

// TestDraftStepAllocs proves a speculative decode step (a token and its
// draft, through the scheduler) allocates nothing.
func TestDraftStepAllocs(t *testing.T) {
	e, seq := allocTestSequence(t)
	defer seq.mu.Unlock()
	batch := []int32{42, 43, 44, 45, 46}
	out := make([]float32, len(batch)*e.Config().Vocab)
	// Warm the scheduler's logits buffer.
	if _, err := seq.decode(batch, out); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(50, func() {
		k, err := seq.decode(batch, out)
		if err != nil || k != len(batch) {
			t.Fatal(k, err)
		}
		seq.cache.Truncate(3)
		seq.tokens = seq.tokens[:3]
	})
	if allocs != 0 {
		t.Errorf("draft step allocates %v times", allocs)
	}
}

// TestSchedulerTrimsDrafts checks that the scheduler cuts a draft to the
// room of a step (MaxDecodeBatch draft tokens) and decode reports it.
func TestSchedulerTrimsDrafts(t *testing.T) {
	e := load(t, "tiny-smollm3", "q8_0.gguf", Options{Threads: 1, BatchSize: 8, MaxDecodeBatch: 2})
	seq, _ := e.NewSequence(0)
	if _, err := e.Eval(seq, []int32{1, 2}, false); err != nil {
		t.Fatal(err)
	}
	V := e.Config().Vocab
	out := make([]float32, 6*V)
	seq.mu.Lock()
	n, err := seq.decode([]int32{3, 4, 5, 6, 7, 8}, out)
	seq.mu.Unlock()
	if err != nil || n != 3 || seq.Len() != 5 {
		t.Fatalf("decode evaluated %d tokens (%v), sequence holds %d", n, err, seq.Len())
	}
	// The rows match an evaluation of the same tokens.
	ref, _ := e.NewSequence(0)
	want, err := e.Eval(ref, []int32{1, 2, 3, 4, 5}, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want[2*V:] {
		if d := math.Abs(float64(out[i] - w)); d > 1e-4 {
			t.Fatalf("logit %d: %v vs %v", i, out[i], w)
		}
	}
}

// TestSpeculatorAdapts drives the draft-length and back-off policy with
// made-up outcomes and step times.
func TestSpeculatorAdapts(t *testing.T) {
	var s speculator
	s.reset(LookupParams{MaxDraft: 16, MinNgram: 1, MaxNgram: 3}, 1, 512)
	ms := time.Millisecond
	// outcome simulates a step that drafted k tokens, a of which were
	// accepted, taking d.
	outcome := func(k, a int, d time.Duration) {
		s.drafts = make([]int32, k)
		s.next = a
		s.timed(d, true)
		s.settle()
	}
	check := func(what string, want, skip int) {
		t.Helper()
		if s.want != want || s.skip != skip {
			t.Errorf("%s: want %d skip %d, expected %d and %d", what, s.want, s.skip, want, skip)
		}
	}
	check("start", initialDraft, 0)
	s.timed(80*ms, false) // a plain step: 80 ms a token
	outcome(4, 4, 100*ms)
	check("full acceptance doubles", 8, 0)
	outcome(8, 8, 150*ms)
	outcome(16, 16, 300*ms)
	check("capped at MaxDraft", 16, 0)
	outcome(16, 5, 300*ms)
	check("partial acceptance", 6, 0)
	outcome(6, 0, 120*ms)
	check("rejected draft pauses", 1, 1)
	outcome(1, 0, 120*ms)
	check("consecutive failures pause longer", 1, 2)
	// Accepted drafts that cost more per token than plain steps pause too.
	s.reset(LookupParams{MaxDraft: 16}, 1, 512)
	s.timed(10*ms, false)
	outcome(4, 4, 100*ms) // 20 ms a token
	check("slow drafts pause", 1, 1)
	lp, _ := LookupParams{Always: true}.resolved()
	s.reset(lp, 1, 512)
	s.timed(10*ms, false)
	outcome(4, 4, 100*ms)
	check("Always ignores the clock", 8, 0)
	// The pause is spent without drafting.
	s.skip = 2
	hist := []int32{1, 2, 3, 1, 2}
	for i, want := range []int{1, 1, 9} {
		if got := len(s.propose(hist, 3, 8)); got != want {
			t.Errorf("propose %d during a pause of 2: batch of %d, want %d", i, got, want)
		}
	}
}
