package sample

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func mustNew(t testing.TB, p Params) *Chain {
	t.Helper()
	c, err := New(p)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func negInf() float32 { return float32(math.Inf(-1)) }

func TestGreedy(t *testing.T) {
	nan := float32(math.NaN())
	tests := []struct {
		name   string
		logits []float32
		want   int
	}{
		{"argmax", []float32{0.1, 3, -2, 2.9}, 1},
		{"tie lowest id", []float32{1, 5, 2, 5, 5}, 1},
		{"nan ignored", []float32{nan, 1, nan, 0.5}, 1},
		{"-inf", []float32{negInf(), negInf(), -1e30}, 2},
		{"single", []float32{-7}, 0},
	}
	for _, p := range []Params{{}, {Temperature: -1, TopK: 2, TopP: 0.5, MinP: 0.3}} {
		c := mustNew(t, p)
		for _, tt := range tests {
			got, err := c.Sample(tt.logits)
			if err != nil || got != tt.want {
				t.Errorf("%s (%+v): got %d, %v; want %d", tt.name, p, got, err, tt.want)
			}
		}
	}
}

func TestGreedyWithPenalties(t *testing.T) {
	c := mustNew(t, Params{RepeatPenalty: 2, RepeatLastN: 4})
	logits := []float32{1, 3, 2, 2}
	for _, want := range []int{1, 2, 3, 1} { // a penalty applies once however often a token was seen
		got, err := c.Sample(logits)
		if err != nil || got != want {
			t.Fatalf("got %d, %v; want %d", got, err, want)
		}
		c.Accept(got)
	}
}

func TestErrors(t *testing.T) {
	c := mustNew(t, Defaults())
	if _, err := c.Sample(nil); !errors.Is(err, ErrEmpty) {
		t.Errorf("empty: %v", err)
	}
	allInf := []float32{negInf(), negInf(), float32(math.NaN())}
	for _, p := range []Params{{}, Defaults(), {Temperature: 1}, {Temperature: 1, TopP: 0.5}} {
		c := mustNew(t, p)
		if _, err := c.Sample(allInf); !errors.Is(err, ErrNoCandidates) {
			t.Errorf("%+v all -Inf: %v", p, err)
		}
	}
	bad := []Params{
		{Temperature: float32(math.NaN())},
		{TopP: float32(math.Inf(1))},
		{RepeatLastN: -1},
		{RepeatLastN: 8, RepeatPenalty: 0},
		{RepeatLastN: maxLastN + 1},
	}
	for _, p := range bad {
		if _, err := New(p); err == nil {
			t.Errorf("New(%+v) accepted", p)
		}
	}
}

func TestReproducible(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	logits := make([]float32, 1000)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 2)
	}
	run := func(c *Chain) []int {
		out := make([]int, 100)
		for i := range out {
			tok, err := c.Sample(logits)
			if err != nil {
				t.Fatal(err)
			}
			c.Accept(tok)
			out[i] = tok
		}
		return out
	}
	p := Params{Temperature: 1.5, TopK: 0, TopP: 0.99, RepeatPenalty: 1.3, RepeatLastN: 16, Seed: 42}
	a := run(mustNew(t, p))
	c := mustNew(t, p)
	if b := run(c); !slices.Equal(a, b) {
		t.Fatal("same seed, different tokens")
	}
	c.Reset()
	if b := run(c); !slices.Equal(a, b) {
		t.Fatal("Reset did not restart the stream")
	}
	p.Seed = 43
	if b := run(mustNew(t, p)); slices.Equal(a, b) {
		t.Fatal("different seeds, same 100 tokens")
	}
	p.Seed = RandomSeed
	c = mustNew(t, p)
	if c.Params().Seed == RandomSeed {
		t.Fatal("random seed not drawn")
	}
	p.Seed = c.Params().Seed
	if a, b := run(c), run(mustNew(t, p)); !slices.Equal(a, b) {
		t.Fatal("reported random seed does not reproduce the run")
	}
}

// refDist is a brute-force llama.cpp chain in float64: penalties, full
// sort, top-k, top-p (softmax over the survivors), min-p, temperature.
// borderline reports a top-p cut too close to call in floating point.
func refDist(logits []float32, p Params, history []int) (probs map[int32]float64, borderline bool) {
	type cand struct {
		id int32
		l  float64
	}
	counts := map[int]int{}
	if p.penaltiesOn() {
		h := history
		if len(h) > p.RepeatLastN {
			h = h[len(h)-p.RepeatLastN:]
		}
		for _, t := range h {
			counts[t]++
		}
	}
	cs := make([]cand, len(logits))
	for i, l := range logits {
		if l != l {
			l = negInf()
		}
		if n := counts[i]; n > 0 {
			if l <= 0 {
				l *= p.RepeatPenalty
			} else {
				l /= p.RepeatPenalty
			}
			l -= float32(n)*p.FrequencyPenalty + p.PresencePenalty
		}
		cs[i] = cand{int32(i), float64(l)}
	}
	slices.SortStableFunc(cs, func(a, b cand) int {
		switch {
		case a.l > b.l:
			return -1
		case a.l < b.l:
			return 1
		}
		return int(a.id - b.id)
	})
	if math.IsInf(cs[0].l, -1) {
		return nil, false
	}
	if p.Temperature <= 0 {
		return map[int32]float64{cs[0].id: 1}, false
	}
	if p.TopK > 0 && p.TopK < len(cs) {
		cs = cs[:p.TopK]
	}
	if p.TopP < 1 {
		var sum float64
		for _, c := range cs {
			sum += math.Exp(c.l - cs[0].l)
		}
		var cum float64
		for i, c := range cs {
			cum += math.Exp(c.l - cs[0].l)
			if math.Abs(cum-float64(p.TopP)*sum) < 1e-6*sum { // float32 masses
				borderline = true
			}
			if cum >= float64(p.TopP)*sum {
				cs = cs[:i+1]
				break
			}
		}
	}
	if p.MinP > 0 {
		thr := cs[0].l + math.Log(float64(p.MinP))
		for i, c := range cs {
			if c.l < thr {
				cs = cs[:i]
				break
			}
		}
	}
	probs = map[int32]float64{}
	var sum float64
	for _, c := range cs {
		e := math.Exp((c.l - cs[0].l) / float64(p.Temperature))
		probs[c.id] = e
		sum += e
	}
	for id := range probs {
		probs[id] /= sum
	}
	return probs, borderline
}

// TestAgainstReference compares the exact truncated and renormalised
// distribution with the brute-force chain on random small vocabularies,
// including ties, -Inf logits and penalties.
func TestAgainstReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	checked, skipped := 0, 0
	for iter := range 4000 {
		n := 1 + r.IntN(60)
		if iter%10 == 0 {
			n = 500 + r.IntN(1500) // exercises the heap paths more deeply
		}
		logits := make([]float32, n)
		quant := r.IntN(3) == 0 // many exact ties
		for i := range logits {
			x := r.NormFloat64() * (0.5 + 3*r.Float64())
			if quant {
				x = math.Round(x)
			}
			logits[i] = float32(x)
			if r.IntN(25) == 0 {
				logits[i] = negInf()
			}
		}
		p := Params{
			Temperature: []float32{0, 0.3, 0.6, 1, 2}[r.IntN(5)],
			TopK:        []int{0, 1, 3, 10, 40, 1000}[r.IntN(6)],
			TopP:        []float32{1, 0.95, 0.8, 0.5, 0.1, 0}[r.IntN(6)],
			MinP:        []float32{0, 0.05, 0.2, 0.9}[r.IntN(4)],
			Seed:        uint64(iter),
		}
		var history []int
		if r.IntN(2) == 0 {
			p.RepeatLastN = 1 + r.IntN(8)
			p.RepeatPenalty = []float32{1, 1.1, 1.5, 0.8}[r.IntN(4)]
			p.FrequencyPenalty = []float32{0, 0.5, -0.2}[r.IntN(3)]
			p.PresencePenalty = []float32{0, 0.3}[r.IntN(2)]
			for range r.IntN(12) {
				history = append(history, r.IntN(n+2)) // some ids out of range
			}
		}
		want, borderline := refDist(logits, p, history)
		if borderline {
			skipped++
			continue
		}
		c := mustNew(t, p)
		for _, tok := range history {
			c.Accept(tok)
		}
		got, err := c.Candidates(logits)
		if want == nil {
			if !errors.Is(err, ErrNoCandidates) {
				t.Fatalf("iter %d: want ErrNoCandidates, got %v", iter, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("iter %d: %v", iter, err)
		}
		if len(got) != len(want) {
			t.Fatalf("iter %d (n=%d %+v): %d candidates, want %d", iter, n, p, len(got), len(want))
		}
		var total float64
		for _, g := range got {
			w, ok := want[g.ID]
			if !ok {
				t.Fatalf("iter %d: token %d should have been cut", iter, g.ID)
			}
			if math.Abs(float64(g.Prob)-w) > 1e-6 {
				t.Fatalf("iter %d: p(%d) = %v, want %v", iter, g.ID, g.Prob, w)
			}
			total += float64(g.Prob)
		}
		if math.Abs(total-1) > 1e-5 {
			t.Fatalf("iter %d: probabilities sum to %v", iter, total)
		}
		// Sample must return a surviving token.
		tok, err := c.Sample(logits)
		if _, ok := want[int32(tok)]; err != nil || !ok {
			t.Fatalf("iter %d: sampled %d, %v", iter, tok, err)
		}
		checked++
	}
	t.Logf("%d distributions checked, %d borderline top-p cuts skipped", checked, skipped)
}

// TestPenaltySemantics pins llama.cpp's penalty arithmetic.
func TestPenaltySemantics(t *testing.T) {
	p := Params{Temperature: 1, TopP: 1, RepeatPenalty: 2, FrequencyPenalty: 0.5, PresencePenalty: 0.25, RepeatLastN: 3}
	c := mustNew(t, p)
	for _, tok := range []int{3, 1, 1, 2} { // the window keeps the last 3: 1, 1, 2
		c.Accept(tok)
	}
	cs, err := c.Candidates([]float32{1, 2, -2, 3})
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]float32{
		0: 1,                      // not seen
		1: 2/2.0 - (2*0.5 + 0.25), // positive: divided; seen twice
		2: -2*2.0 - (0.5 + 0.25),  // negative: multiplied; seen once
		3: 3,                      // left the window
	}
	if len(cs) != 4 {
		t.Fatalf("%d candidates", len(cs))
	}
	for _, x := range cs {
		if math.Abs(float64(x.Logit-want[x.ID])) > 1e-6 {
			t.Errorf("token %d: logit %v, want %v", x.ID, x.Logit, want[x.ID])
		}
	}
}

// TestSampleFrequencies draws many samples with a fixed seed and checks the
// frequencies against the exact distribution (deterministic, so no flakes).
func TestSampleFrequencies(t *testing.T) {
	logits := []float32{2, 1.5, 1, 0.2, -1, -3, 0.7, 1.9}
	for _, p := range []Params{
		{Temperature: 0.8, TopP: 0.9, Seed: 1},
		{Temperature: 1.3, TopK: 5, TopP: 1, MinP: 0.1, Seed: 2},
		{Temperature: 1, TopP: 1, Seed: 3},
	} {
		c := mustNew(t, p)
		cs, err := c.Candidates(logits)
		if err != nil {
			t.Fatal(err)
		}
		want := map[int]float64{}
		for _, x := range cs {
			want[int(x.ID)] = float64(x.Prob)
		}
		const draws = 200000
		got := map[int]int{}
		for range draws {
			tok, err := c.Sample(logits)
			if err != nil {
				t.Fatal(err)
			}
			got[tok]++
		}
		for tok, n := range got {
			if _, ok := want[tok]; !ok {
				t.Errorf("%+v: sampled cut token %d", p, tok)
			}
			_ = n
		}
		for tok, pw := range want {
			f := float64(got[tok]) / draws
			sigma := math.Sqrt(pw * (1 - pw) / draws)
			if math.Abs(f-pw) > 5*sigma+1e-9 {
				t.Errorf("%+v: token %d frequency %.4f, want %.4f", p, tok, f, pw)
			}
		}
	}
}

func TestFromMetadata(t *testing.T) {
	md := map[string]float64{KeyTemp: 0.7, KeyTopK: 20, KeyMinP: 0, KeyPenaltyRepeat: 1.05, KeyPenaltyLastN: math.NaN()}
	p := FromMetadata(func(k string) (float64, bool) { v, ok := md[k]; return v, ok })
	want := Defaults()
	want.Temperature, want.TopK, want.MinP, want.RepeatPenalty = 0.7, 20, 0, 1.05
	if p != want {
		t.Errorf("got %+v\nwant %+v", p, want)
	}
	if p := FromMetadata(func(string) (float64, bool) { return 0, false }); p != Defaults() {
		t.Errorf("no keys: %+v", p)
	}
	d := Defaults()
	if d.Temperature != 0.6 || d.TopP != 0.95 || d.TopK != 40 || d.MinP != 0.05 {
		t.Errorf("Defaults = %+v", d)
	}
}

func TestExpNeg(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	xs := []float32{0, -1e-30, -0.5, -1, -87, -88, -100, -103, -104, negInf()}
	for range 100000 {
		xs = append(xs, -float32(r.Float64()*110))
	}
	for _, x := range xs {
		want := math.Exp(float64(x))
		got := float64(expNeg(x))
		if want < 1e-37 { // float32 denormals: absolute error
			if math.Abs(got-want) > 1e-44 {
				t.Fatalf("expNeg(%v) = %v, want %v", x, got, want)
			}
			continue
		}
		if math.Abs(got-want) > 1.2e-7*want {
			t.Fatalf("expNeg(%v) = %v, want %v (rel %v)", x, got, want, (got-want)/want)
		}
	}
}

func TestSelectMass(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 9))
	for iter := range 500 {
		n := 1 + r.IntN(300)
		cs := make([]Candidate, n)
		for i := range cs {
			cs[i] = Candidate{ID: int32(i), Logit: float32(r.IntN(20))} // many ties
			cs[i].Prob = expNeg(cs[i].Logit - 20)
		}
		var total float64
		for _, x := range cs {
			total += float64(x.Prob)
		}
		target := r.Float64() * total * 1.1
		sorted := slices.Clone(cs)
		slices.SortFunc(sorted, cmpBetter)
		want, acc := n, 0.0
		for i, x := range sorted {
			acc += float64(x.Prob)
			if acc >= target {
				want = i + 1
				break
			}
		}
		if math.Abs(acc-target) < 1e-9*total {
			continue
		}
		k := selectMass(cs, target)
		if k != want {
			t.Fatalf("iter %d: k = %d, want %d", iter, k, want)
		}
		got := slices.Clone(cs[:k])
		slices.SortFunc(got, cmpBetter)
		if !slices.Equal(got, sorted[:k]) {
			t.Fatalf("iter %d: wrong set", iter)
		}
	}
}

func vocabLogits(n int) []float32 {
	r := rand.New(rand.NewPCG(3, 4))
	logits := make([]float32, n)
	for i := range logits {
		logits[i] = float32(r.NormFloat64() * 2.5)
	}
	// A peaked head, as a trained model has.
	for i := range 20 {
		logits[r.IntN(n)] = 12 - float32(i)*0.4
	}
	return logits
}

const vocab = 128256

var benchConfigs = []struct {
	name string
	p    Params
}{
	{"greedy", Params{}},
	{"defaults", func() Params { p := Defaults(); p.Seed = 1; return p }()},
	{"defaults+penalties", Params{Temperature: 0.6, TopK: 40, TopP: 0.95, MinP: 0.05,
		RepeatPenalty: 1.1, PresencePenalty: 0.1, FrequencyPenalty: 0.1, RepeatLastN: 64, Seed: 1}},
	{"topk0-topp0.95-minp0.05", Params{Temperature: 0.6, TopP: 0.95, MinP: 0.05, Seed: 1}},
	{"topk0-topp0.95", Params{Temperature: 0.6, TopP: 0.95, Seed: 1}},
	{"temp-only", Params{Temperature: 0.8, TopP: 1, Seed: 1}},
}

func TestNoAllocs(t *testing.T) {
	logits := vocabLogits(vocab)
	for _, bc := range benchConfigs {
		c := mustNew(t, bc.p)
		for i := range 100 {
			c.Accept(i * 7)
		}
		c.Sample(logits) // sizes the buffers
		allocs := testing.AllocsPerRun(20, func() {
			tok, err := c.Sample(logits)
			if err != nil {
				t.Fatal(err)
			}
			c.Accept(tok)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per Sample+Accept", bc.name, allocs)
		}
	}
}

func BenchmarkSample(b *testing.B) {
	logits := vocabLogits(vocab)
	for _, bc := range benchConfigs {
		b.Run(fmt.Sprintf("%s/vocab=%d", bc.name, vocab), func(b *testing.B) {
			c := mustNew(b, bc.p)
			for i := range 64 {
				c.Accept(i * 31)
			}
			b.SetBytes(int64(4 * len(logits)))
			b.ReportAllocs()
			for b.Loop() {
				tok, err := c.Sample(logits)
				if err != nil {
					b.Fatal(err)
				}
				c.Accept(tok)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}
