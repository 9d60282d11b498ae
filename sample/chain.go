package sample

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
)

// ErrEmpty is returned for an empty logits slice.
var ErrEmpty = errors.New("sample: no logits")

// ErrNoCandidates is returned when every logit is -Inf or NaN, so no token
// has a probability.
var ErrNoCandidates = errors.New("sample: all logits are -Inf or NaN")

// pcgStream is the PCG's second seed word (its increment/stream); any fixed
// value works, it only has to be the same every run.
const pcgStream = 0x736d6f6c626f7421 // "smolbot!"

// Candidate is a token that survived the truncation samplers.
type Candidate struct {
	// ID is the token id (index into the logits).
	ID int32
	// Logit is the logit after penalties, before temperature.
	Logit float32
	// Prob is the probability the final draw gives the token (after
	// temperature, renormalised over the surviving candidates).
	Prob float32
}

// tokenCount is a distinct token in the penalty window and its occurrences.
type tokenCount struct {
	id, n int32
}

// Chain is a configured sampler with its token history and scratch
// buffers. After the first call with a given vocabulary size, Sample,
// Candidates and Accept do not allocate. A Chain is not safe for concurrent
// use; use one per sequence.
type Chain struct {
	p      Params
	rng    *rand.Rand
	pcg    *rand.PCG
	random bool // built with RandomSeed: Reset draws a fresh seed

	// Penalty window: ring of the last RepeatLastN accepted tokens and the
	// distinct tokens in it with their counts (linear lists: the window is
	// small, and maps would allocate as tokens come and go).
	ring   []int32
	head   int
	counts []tokenCount

	cand  []Candidate // candidates; returned by Candidates
	total float64     // sum of the candidates' Prob (≈ 1)
	pen   []Candidate // penalised logits of the tokens in the window
	mark  []uint64    // bitset over the vocabulary: ids present in pen
}

// New returns a Chain for p.
func New(p Params) (*Chain, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	c := &Chain{p: p, random: p.Seed == RandomSeed}
	c.pcg = rand.NewPCG(0, 0)
	c.rng = rand.New(c.pcg)
	if p.penaltiesOn() {
		c.ring = make([]int32, 0, p.RepeatLastN)
		c.counts = make([]tokenCount, 0, p.RepeatLastN)
		c.pen = make([]Candidate, 0, p.RepeatLastN)
	}
	c.Reset()
	return c, nil
}

// Params returns the chain's parameters. With RandomSeed, Seed holds the
// seed actually drawn, so a run can be repeated.
func (c *Chain) Params() Params { return c.p }

// Reset clears the token history and restarts the generator from the seed
// (drawing a new one if the chain was built with RandomSeed).
func (c *Chain) Reset() {
	if c.random {
		// A 32-bit seed, as llama.cpp draws, so it fits any seed field that
		// reports it; crypto/rand.Read never fails.
		var b [4]byte
		_, _ = crand.Read(b[:])
		c.p.Seed = uint64(binary.LittleEndian.Uint32(b[:]))
		if c.p.Seed == RandomSeed {
			c.p.Seed = 0
		}
	}
	c.pcg.Seed(c.p.Seed, pcgStream)
	c.ring = c.ring[:0]
	c.head = 0
	c.counts = c.counts[:0]
}

// Accept records a token (generated, or from the prompt, which llama.cpp's
// server also feeds to its penalty sampler) in the penalty window.
func (c *Chain) Accept(token int) {
	if cap(c.ring) == 0 || token < 0 || token > math.MaxInt32 {
		return
	}
	id := int32(token)
	if len(c.ring) < cap(c.ring) {
		c.ring = append(c.ring, id)
	} else {
		c.uncount(c.ring[c.head])
		c.ring[c.head] = id
		c.head++
		if c.head == len(c.ring) {
			c.head = 0
		}
	}
	for i := range c.counts {
		if c.counts[i].id == id {
			c.counts[i].n++
			return
		}
	}
	c.counts = append(c.counts, tokenCount{id: id, n: 1})
}

func (c *Chain) uncount(id int32) {
	for i := range c.counts {
		if c.counts[i].id == id {
			if c.counts[i].n--; c.counts[i].n == 0 {
				last := len(c.counts) - 1
				c.counts[i] = c.counts[last]
				c.counts = c.counts[:last]
			}
			return
		}
	}
}

// Sample returns the next token for logits (one per vocabulary entry). The
// logits are not modified.
func (c *Chain) Sample(logits []float32) (int, error) {
	cs, err := c.Candidates(logits)
	if err != nil {
		return 0, err
	}
	if len(cs) == 1 && c.p.Temperature <= 0 {
		return int(cs[0].ID), nil // greedy: no draw
	}
	u := c.rng.Float64() * c.total
	for _, x := range cs {
		u -= float64(x.Prob)
		if u < 0 {
			return int(x.ID), nil
		}
	}
	return int(cs[len(cs)-1].ID), nil // rounding left u ≥ 0: the last one
}

// Candidates runs the chain up to the final draw and returns the surviving
// tokens with their probabilities (summing to 1), in the order the draw
// walks them: most likely first when top-k is on; otherwise in an order
// fixed by the algorithm (by id unless top-p had to select). Greedy
// decoding returns the single argmax. The slice is owned by the Chain and
// valid until its next call.
func (c *Chain) Candidates(logits []float32) ([]Candidate, error) {
	n := len(logits)
	if n == 0 {
		return nil, ErrEmpty
	}
	if n > math.MaxInt32 {
		return nil, errors.New("sample: vocabulary too large")
	}
	c.penalize(logits)
	defer c.unmark()

	var cs []Candidate
	var maxL float32
	switch {
	case c.p.Temperature <= 0:
		cs = c.greedy(logits)
	case c.p.TopK > 0 && c.p.TopK < n:
		cs = c.topK(logits, c.p.TopK)
		if len(cs) == 0 || math.IsInf(float64(cs[0].Logit), -1) {
			return nil, ErrNoCandidates // the best is -Inf, so all are
		}
		cs = c.truncateSorted(cs)
		maxL = cs[0].Logit
	default:
		cs, maxL = c.full(logits)
	}
	if len(cs) == 0 {
		return nil, ErrNoCandidates
	}
	if c.p.Temperature <= 0 {
		cs[0].Prob = 1
		c.total = 1
		return cs, nil
	}
	c.total = softmaxTemp(cs, c.p.Temperature, maxL)
	return cs, nil
}

// penalize computes the penalised logits of the tokens in the window
// (llama.cpp's penalties sampler) into c.pen and marks their ids.
func (c *Chain) penalize(logits []float32) {
	c.pen = c.pen[:0]
	if !c.p.penaltiesOn() || len(c.counts) == 0 {
		return
	}
	if words := (len(logits) + 63) / 64; len(c.mark) < words {
		c.mark = make([]uint64, words)
	}
	rep, freq, pres := c.p.RepeatPenalty, c.p.FrequencyPenalty, c.p.PresencePenalty
	for _, tc := range c.counts {
		if int(tc.id) >= len(logits) {
			continue
		}
		l := logits[tc.id]
		if l <= 0 {
			l *= rep
		} else {
			l /= rep
		}
		l -= float32(tc.n)*freq + pres
		c.pen = append(c.pen, Candidate{ID: tc.id, Logit: l})
		c.mark[tc.id>>6] |= 1 << (tc.id & 63)
	}
}

func (c *Chain) unmark() {
	for _, x := range c.pen {
		c.mark[x.ID>>6] &^= 1 << (x.ID & 63)
	}
}

func (c *Chain) marked(i int) bool {
	return len(c.pen) > 0 && c.mark[i>>6]&(1<<(i&63)) != 0
}

// better orders candidates: higher logit first, lower id on ties.
func better(a, b Candidate) bool {
	return a.Logit > b.Logit || (a.Logit == b.Logit && a.ID < b.ID)
}

// cmpBetter is better as a sort comparison (a package-level function, so
// sorting does not allocate a closure).
func cmpBetter(a, b Candidate) int {
	switch {
	case better(a, b):
		return -1
	case better(b, a):
		return 1
	}
	return 0
}

// clean maps NaN to -Inf so comparisons stay a total order.
func clean(l float32) float32 {
	if l != l {
		return float32(math.Inf(-1))
	}
	return l
}

func (c *Chain) buf(n int) []Candidate {
	if cap(c.cand) < n {
		c.cand = make([]Candidate, n)
	}
	return c.cand[:n]
}

// greedy returns the argmax of the penalised logits, lowest id on ties.
func (c *Chain) greedy(logits []float32) []Candidate {
	best, bestID := float32(math.Inf(-1)), -1
	for i, l := range logits {
		if l > best && !c.marked(i) {
			best, bestID = l, i
		}
	}
	top := Candidate{ID: int32(bestID), Logit: best}
	for _, x := range c.pen {
		if x.Logit == x.Logit && (bestID < 0 || better(x, top)) && !math.IsInf(float64(x.Logit), -1) {
			top, bestID = x, int(x.ID)
		}
	}
	if bestID < 0 {
		return nil
	}
	cs := c.buf(1)
	cs[0] = top
	return cs
}

// topK selects the k best candidates with a min-heap (worst at the root)
// in one pass over the logits, and returns them sorted best first. Only a
// logit beating the current k-th best touches the heap, so the pass is
// mostly compare-and-skip.
func (c *Chain) topK(logits []float32, k int) []Candidate {
	h := c.buf(k)[:0]
	i := 0
	for ; i < len(logits) && len(h) < k; i++ {
		if !c.marked(i) {
			h = append(h, Candidate{ID: int32(i), Logit: clean(logits[i])})
		}
	}
	heapInit(h)
	if len(h) == k {
		thr := h[0].Logit
		for ; i < len(logits); i++ {
			// Ids rise along the scan, so an equal logit never beats the root.
			if l := logits[i]; l > thr && !c.marked(i) {
				h[0] = Candidate{ID: int32(i), Logit: l}
				siftDown(h, 0)
				thr = h[0].Logit
			}
		}
	}
	for _, x := range c.pen {
		x.Logit = clean(x.Logit)
		if len(h) < k {
			h = append(h, x)
			siftUp(h, len(h)-1)
		} else if better(x, h[0]) {
			h[0] = x
			siftDown(h, 0)
		}
	}
	slices.SortFunc(h, cmpBetter)
	return h
}

// truncateSorted applies top-p then min-p to candidates sorted best first.
func (c *Chain) truncateSorted(cs []Candidate) []Candidate {
	maxL := float64(cs[0].Logit)
	if p := float64(c.p.TopP); p < 1 && len(cs) > 1 {
		var sum float64
		for _, x := range cs {
			sum += math.Exp(float64(x.Logit) - maxL)
		}
		target := p * sum
		var cum float64
		for i, x := range cs {
			cum += math.Exp(float64(x.Logit) - maxL)
			if cum >= target {
				cs = cs[:i+1]
				break
			}
		}
	}
	if c.p.MinP > 0 && len(cs) > 1 {
		thr := maxL + math.Log(float64(c.p.MinP))
		for i, x := range cs {
			if float64(x.Logit) < thr {
				cs = cs[:i]
				break
			}
		}
	}
	return cs
}

// full runs top-p and min-p over the whole vocabulary (top-k off). Top-p
// needs the normalisation over every token but only the best few of them,
// so instead of sorting, a quickselect finds the smallest best set whose
// mass reaches top-p. Min-p is applied first as a filter: both keep a
// prefix of the sorted order, and min-p's threshold depends only on the
// maximum, so the result is the same as llama.cpp's top-p then min-p. The
// survivors come back in no particular (but deterministic) order.
func (c *Chain) full(logits []float32) ([]Candidate, float32) {
	cs := c.buf(len(logits))
	maxL := float32(math.Inf(-1))
	for i, l := range logits {
		l = clean(l)
		cs[i] = Candidate{ID: int32(i), Logit: l}
		if l > maxL { // not max(): its NaN and ±0 rules cost a lot here
			maxL = l
		}
	}
	if len(c.pen) > 0 {
		// A penalty may lower the maximum: recompute it.
		for _, x := range c.pen {
			x.Logit = clean(x.Logit)
			cs[x.ID] = x
		}
		maxL = float32(math.Inf(-1))
		for _, x := range cs {
			if x.Logit > maxL {
				maxL = x.Logit
			}
		}
	}
	if math.IsInf(float64(maxL), -1) {
		return nil, 0
	}
	topP := float64(c.p.TopP)
	var sum float64
	if topP < 1 {
		// Prob temporarily holds exp(logit - max), the unnormalised mass.
		for i := range cs {
			e := expNeg(cs[i].Logit - maxL)
			cs[i].Prob = e
			sum += float64(e)
		}
	}
	if c.p.MinP > 0 {
		thr := float64(maxL) + math.Log(float64(c.p.MinP))
		j := 0
		for _, x := range cs {
			if float64(x.Logit) >= thr {
				cs[j] = x
				j++
			}
		}
		cs = cs[:j]
	}
	if topP < 1 {
		cs = cs[:selectMass(cs, topP*sum)]
	}
	return cs, maxL
}

// selectMass reorders cs (whose Prob fields hold unnormalised masses) so
// that cs[:k] are its k best candidates for the smallest k whose mass
// reaches target, and returns k (len(cs) if the total falls short). This is
// top-p's cut without sorting: quickselect on the candidate order, steering
// by the mass on the better side of each pivot; expected O(n).
func selectMass(cs []Candidate, target float64) int {
	lo, hi := 0, len(cs)
	// Invariant: cs[:lo] are the lo best, with mass acc < target, and the
	// answer is in (lo, hi].
	var acc float64
	for hi-lo > 16 {
		m := lo + (hi-lo)/2
		// Median of three moved to hi-1 as the pivot.
		a, b, z := lo, m, hi-1
		if better(cs[b], cs[a]) {
			a, b = b, a
		}
		if better(cs[z], cs[b]) {
			b = z
			if better(cs[b], cs[a]) {
				b = a
			}
		}
		cs[b], cs[hi-1] = cs[hi-1], cs[b]
		pivot := cs[hi-1]
		i := lo
		var mass float64
		for j := lo; j < hi-1; j++ {
			if better(cs[j], pivot) {
				mass += float64(cs[j].Prob)
				cs[i], cs[j] = cs[j], cs[i]
				i++
			}
		}
		cs[i], cs[hi-1] = cs[hi-1], cs[i]
		switch {
		case acc+mass >= target:
			hi = i
		case acc+mass+float64(pivot.Prob) >= target:
			return i + 1
		default:
			acc += mass + float64(pivot.Prob)
			lo = i + 1
		}
	}
	slices.SortFunc(cs[lo:hi], cmpBetter)
	for j := lo; j < hi; j++ {
		acc += float64(cs[j].Prob)
		if acc >= target {
			return j + 1
		}
	}
	return hi
}

// softmaxTemp sets Prob = softmax(Logit / temp) over cs, whose largest
// logit is maxL, and returns the exact sum of the rounded probabilities,
// which the draw scales by.
func softmaxTemp(cs []Candidate, temp, maxL float32) float64 {
	inv := 1 / temp
	var sum float64
	for i := range cs {
		e := expNeg((cs[i].Logit - maxL) * inv)
		cs[i].Prob = e
		sum += float64(e)
	}
	scale := float32(1 / sum)
	var total float64
	for i := range cs {
		cs[i].Prob *= scale
		total += float64(cs[i].Prob)
	}
	return total
}

// exp2Frac[j] = 2^(j/32), the table behind expNeg.
var exp2Frac = func() (t [32]float64) {
	for j := range t {
		t[j] = math.Exp2(float64(j) / 32)
	}
	return t
}()

// expNeg is e^x for x ≤ 0 (and -Inf), with a relative error below 1e-9
// before the final rounding to float32: the softmax weights need float32
// precision, and math.Exp's full float64 accuracy costs several times more
// on the full-vocabulary paths. With n = round(32·x/ln 2) = 32m + j and
// r = x − n·ln2/32 (|r| ≤ ln2/64), e^x = 2^m · 2^(j/32) · e^r, where a cubic
// gives e^r to 6e-10.
func expNeg(x float32) float32 {
	if x < -103 { // below the smallest float32 denormal (and -Inf)
		return 0
	}
	const (
		k     = 32 / math.Ln2
		ln2k  = math.Ln2 / 32
		round = 0x1.8p52 // adding and subtracting it rounds to an integer
	)
	xf := float64(x)
	n := (xf*k + round) - round
	r := xf - n*ln2k
	p := 1 + r*(1+r*(0.5+r*(1.0/6)))
	ni := int64(n)
	scale := math.Float64frombits(uint64((ni>>5)+1023) << 52)
	return float32(p * exp2Frac[ni&31] * scale)
}

// Min-heap on "worse": the root is the worst candidate kept so far.

func heapInit(h []Candidate) {
	for i := len(h)/2 - 1; i >= 0; i-- {
		siftDown(h, i)
	}
}

func siftDown(h []Candidate, i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && better(h[l], h[r]) {
			m = r
		}
		if !better(h[i], h[m]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

func siftUp(h []Candidate, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}
