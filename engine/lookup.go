package engine

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/smolbot/smolbot/sample"
)

// Speculative decoding by prompt lookup.
//
// Answers often repeat their context: a code edit copies most of the code,
// a summary quotes its source, a model stuck in a loop repeats itself. When
// the last few tokens of the history (prompt + generated) occurred before,
// the tokens that followed them then are a cheap guess (a draft) of what
// comes next. A decode step evaluates the sampled token and the draft in
// one forward pass with logits at every position; since the pass streams
// the weights once for all of them, it costs little more than a single
// token while the model is bandwidth-bound. The sampler then walks the
// logits rows in order: as long as the token it picks is the next draft
// token, the following row is already computed and no forward pass is
// needed. At the first disagreement the rest of the draft is dropped from
// the KV cache and decoding continues from the sampled token.
//
// With greedy sampling every token is chosen exactly as without drafts
// (the sampler sees the same logits rows in the same order), so the output
// is the same token for token: the draft goes through the forward pass as
// a Decode span (model.Span), whose tokens take the single-token
// arithmetic, so each row of logits is bit for bit the one plain decoding
// computes — even for weights whose batch form rounds differently (F32,
// F16, BF16, and the repacked Q4_0/Q4_K forms llama.cpp uses for prompts).
// With Sampled, a draft token d is accepted
// with probability p(d) and otherwise a token is drawn from p with d
// removed, which is exactly distributed as p (speculative sampling with a
// point-mass draft); the stream differs from a non-speculative run with the
// same seed.

// Lookup defaults.
const (
	DefaultMaxDraft = 16 // draft tokens per step at most
	DefaultMinNgram = 2  // shortest history suffix looked up
	DefaultMaxNgram = 4  // longest history suffix looked up
	maxNgramLimit   = 64

	// initialDraft is the draft length tried first; it doubles while
	// drafts are accepted in full.
	initialDraft = 4
	// maxBackoff bounds the pause in drafting after repeated failures:
	// text that never repeats then wastes at most one draft token per
	// maxBackoff steps, and a quotation that starts is picked up within
	// maxBackoff tokens.
	maxBackoff = 16
	// timeDecay weighs older speculative steps in the cost per token;
	// plainGain is the weight of a new plain step's duration.
	timeDecay = 0.7
	plainGain = 0.2
	// paysMargin is how much cheaper than a plain one a token from
	// speculative steps must be for drafting to go on at full pace: break
	// even is not enough, since timing is noisy and a failed draft costs
	// more than a successful one saves where batching is expensive.
	paysMargin = 0.9
)

// LookupParams configure speculative decoding by prompt lookup. The zero
// value enables it, with the defaults, for greedy sampling.
type LookupParams struct {
	// Off disables speculative decoding.
	Off bool
	// Sampled also speculates when sampling with a temperature > 0, with
	// exact rejection sampling: the output has the sampler's distribution,
	// but a seed then gives different text than without speculation.
	Sampled bool
	// MaxDraft is the most draft tokens verified in one step (0:
	// DefaultMaxDraft). The engine adapts the length it actually tries to
	// how well recent drafts did.
	MaxDraft int
	// MinNgram and MaxNgram bound the length of the history suffix looked
	// up (0: DefaultMinNgram, DefaultMaxNgram). Longer matches are tried
	// first; the most recent occurrence of the longest match wins.
	MinNgram, MaxNgram int
	// Always drafts whenever lookup finds a match, even when the clock
	// says drafts do not pay on this model and machine (for measurements
	// and tests; the output is the same either way).
	Always bool
	// Reference holds tokens drafts may also be copied from, besides the
	// sequence's own history (prompt and answer): a document the answer
	// is expected to quote, or the file an edit rewrites, when it is not
	// in the prompt. It is searched when the history has no match as long.
	Reference []int32
}

// resolved returns p with defaults filled in, or an error for bad values.
func (p LookupParams) resolved() (LookupParams, error) {
	if p.MaxDraft < 0 || p.MinNgram < 0 || p.MaxNgram < 0 {
		return p, fmt.Errorf("engine: negative lookup parameter in %+v", p)
	}
	if p.MaxDraft == 0 {
		p.MaxDraft = DefaultMaxDraft
	}
	if p.MinNgram == 0 {
		p.MinNgram = DefaultMinNgram
	}
	if p.MaxNgram == 0 {
		p.MaxNgram = max(DefaultMaxNgram, p.MinNgram)
	}
	if p.MinNgram > p.MaxNgram || p.MaxNgram > maxNgramLimit {
		return p, fmt.Errorf("engine: lookup n-gram range [%d, %d] invalid (at most %d)", p.MinNgram, p.MaxNgram, maxNgramLimit)
	}
	return p, nil
}

// findDraft looks up the end of the history hist+[last] earlier in it,
// and else in ref, and writes the tokens that followed into dst (up to
// len(dst)), returning how many and the length of the match. The longest
// suffix of n tokens (maxN ≥ n ≥ minN) that occurred before is used, at
// its last occurrence (the history wins a tie with ref). A continuation in
// the history that reaches its end goes on periodically (the match at
// shift p predicts token i from token i-p, drafts included), so a loop
// shorter than the draft is still drafted in full; one in ref stops at
// ref's end.
//
// It scans the history (and ref) once from the end, stopping at the first
// match of maxN tokens, and does not allocate.
func findDraft(hist []int32, last int32, ref []int32, minN, maxN int, dst []int32) (int, int) {
	L := len(hist) + 1 // the history including last
	if len(dst) == 0 || maxN <= 0 {
		return 0, 0
	}
	n, end := longestMatch(hist, len(hist)-1, hist, last, maxN)
	inRef := false
	if n < maxN && len(ref) > 1 {
		if rn, rend := longestMatch(ref, len(ref)-2, hist, last, maxN); rn > n {
			n, end, inRef = rn, rend, true
		}
	}
	if n < max(minN, 1) {
		return 0, n
	}
	if inRef {
		return copy(dst, ref[end+1:]), n
	}
	for k := range dst {
		if src := end + 1 + k; src < len(hist) {
			dst[k] = hist[src]
		} else if src == len(hist) {
			dst[k] = last
		} else {
			// src-L = k-shift with shift = L-1-end ≥ 1: the periodic
			// continuation repeats the draft itself.
			dst[k] = dst[src-L]
		}
	}
	return len(dst), n
}

// longestMatch finds, among the positions e ≤ lastE of hay (scanned from
// lastE down), the one where the longest suffix of hist+[last] (at most
// maxN tokens) ends, and returns that length and e; the first found wins
// ties. It stops at the first match of maxN tokens.
func longestMatch(hay []int32, lastE int, hist []int32, last int32, maxN int) (bestN, bestEnd int) {
	for e := min(lastE, len(hay)-1); e >= 0; e-- {
		if hay[e] != last {
			continue
		}
		// hay[e-k] against the k-th token before last, hist[len(hist)-k].
		n := 1
		for n < maxN && e-n >= 0 && n <= len(hist) && hay[e-n] == hist[len(hist)-n] {
			n++
		}
		if n > bestN {
			bestN, bestEnd = n, e
			if n == maxN {
				break
			}
		}
	}
	return bestN, bestEnd
}

// speculator is the speculative decoding state of one Generate call: the
// draft being verified, the logits rows of the last batched step, and the
// adaptive draft length. Speculators are pooled (specPool) so that their
// buffers are reused and steady-state decoding allocates nothing.
type speculator struct {
	p LookupParams

	// The last speculative step evaluated tokens [sampled, drafts...] at
	// cache positions base, base+1, …; rows holds their logits. next is
	// the index of the draft token the current row predicts: the cache is
	// valid up to base+1+next.
	base   int
	drafts []int32
	next   int
	rows   []float32 // logits rows of the last step, n_vocab each
	batch  []int32   // [sampled, drafts...] being submitted

	// want is the draft length to try next; skip counts steps left
	// without drafting after failures, backoff the next such pause.
	want, skip, backoff int

	// The clock: plainTime is a moving average of the seconds a plain
	// step takes, specTime and specToks decaying sums of the seconds
	// speculative steps took and the tokens they yielded; lastStep is the
	// duration of the last speculative step.
	plainTime, specTime, specToks float64
	lastStep                      time.Duration

	// rng draws the acceptance tests of sampled (non-greedy) speculation.
	pcg *rand.PCG
	rng *rand.Rand

	// Statistics of the current Generate call.
	drafted, accepted int
}

// specPool holds idle speculators.
var specPool = sync.Pool{New: func() any { return new(speculator) }}

// reset prepares s for a Generate call with parameters p, a sampler seed
// and a batch limit of maxBatch tokens per step.
func (s *speculator) reset(p LookupParams, seed uint64, maxBatch int) {
	p.MaxDraft = max(0, min(p.MaxDraft, maxBatch-1))
	s.p = p
	if cap(s.batch) < 1+p.MaxDraft {
		s.batch = make([]int32, 1+p.MaxDraft)
	}
	s.batch = s.batch[:1+p.MaxDraft]
	s.drafts = s.drafts[:0]
	s.next = 0
	s.want = min(initialDraft, p.MaxDraft)
	s.skip, s.backoff = 0, 1
	s.plainTime, s.specTime, s.specToks = 0, 0, 0
	s.drafted, s.accepted = 0, 0
	if s.pcg == nil {
		s.pcg = rand.NewPCG(0, 0)
		s.rng = rand.New(s.pcg)
	}
	// A stream of its own, so the acceptance tests never replay the
	// sampler's draws.
	s.pcg.Seed(seed, 0x6c6f6f6b7570) // "lookup"
}

// grow returns room for n logits rows of V values, keeping the buffer
// between steps and calls; it grows at least twofold so a sequence whose
// drafts lengthen reallocates only a few times.
func (s *speculator) grow(n, V int) []float32 {
	if cap(s.rows) < n*V {
		rows := min(max(n, 2*cap(s.rows)/V), 1+s.p.MaxDraft)
		s.rows = make([]float32, rows*V)
	}
	return s.rows[:n*V]
}

// pending reports whether drafts of the last step are still unverified.
func (s *speculator) pending() bool { return s.next < len(s.drafts) }

// row returns the logits row i of the last step.
func (s *speculator) row(i, V int) []float32 { return s.rows[i*V : (i+1)*V] }

// settle records how the last step's draft fared and adapts: a fully
// accepted draft doubles the draft length, a partly accepted one sets it
// just above what was accepted. A draft rejected at its first token — or
// one that, by the clock, does not pay (see pays; then the next draft is a
// single token) — pauses drafting for a number of steps that doubles with
// each consecutive failure, so text that does not repeat, or a model on
// which batched steps cost too much, wastes little.
func (s *speculator) settle() {
	k := len(s.drafts)
	if k == 0 {
		return
	}
	a := s.next
	s.specTime = s.specTime*timeDecay + s.lastStep.Seconds()
	s.specToks = s.specToks*timeDecay + float64(a+1)
	switch {
	case a == k:
		s.want = min(2*max(s.want, k), s.p.MaxDraft)
	case a > 0:
		s.want = a + 1
	default:
		s.want = 1
	}
	pays := s.pays()
	if !pays {
		// Probe with short drafts until drafting pays again.
		s.want = 1
	}
	if a == 0 || !pays {
		s.skip = s.backoff
		s.backoff = min(2*s.backoff, maxBackoff)
	} else {
		s.backoff = 1
	}
	s.drafts = s.drafts[:0]
	s.next = 0
}

// timed records the duration of the last forward pass: one with drafts is
// judged when it settles, a plain one updates the cost of a token without
// speculation.
func (s *speculator) timed(d time.Duration, drafts bool) {
	if drafts {
		s.lastStep = d
		return
	}
	if s.plainTime == 0 {
		s.plainTime = d.Seconds()
	} else {
		s.plainTime += plainGain * (d.Seconds() - s.plainTime)
	}
}

// pays reports whether recent speculative steps produced their tokens
// faster than plain steps do. A batched step costs more than a single
// token on any machine; how much depends on the model and the hardware
// (little while weight reads dominate, as for a 3B model on a CPU; nearly
// in proportion where attention or overhead dominate, as for a tiny model
// or a long context), so it is measured rather than assumed. Timing only
// decides when to try drafts, never which tokens come out.
func (s *speculator) pays() bool {
	if s.p.Always || s.plainTime == 0 || s.specToks == 0 {
		return true
	}
	return s.specTime/s.specToks <= paysMargin*s.plainTime
}

// propose fills s.batch with [tok, drafts...] for the history hist+[tok]
// and at most limit draft tokens, and returns the batch (just [tok] when
// there is no draft).
func (s *speculator) propose(hist []int32, tok int32, limit int) []int32 {
	s.batch[0] = tok
	if s.skip > 0 {
		s.skip--
		return s.batch[:1]
	}
	limit = min(limit, s.want, s.p.MaxDraft)
	if limit <= 0 {
		return s.batch[:1]
	}
	n, _ := findDraft(hist, tok, s.p.Reference, s.p.MinNgram, s.p.MaxNgram, s.batch[1:1+limit])
	return s.batch[:1+n]
}

// sampleDraft samples from logits with the chain while the draft token d
// awaits verification: d is accepted with its probability p(d) under the
// chain, and otherwise a token is drawn from p with d removed and
// renormalised. Every token x then comes out with probability exactly
// p(x) — p(d) directly, any other x with (1-p(d))·p(x)/(1-p(d)) — so
// speculation does not change the distribution of the output.
func (s *speculator) sampleDraft(c *sample.Chain, logits []float32, d int32) (int, error) {
	cs, err := c.Candidates(logits)
	if err != nil {
		return 0, err
	}
	var total, pd float64
	for _, x := range cs {
		total += float64(x.Prob)
		if x.ID == d {
			pd = float64(x.Prob)
		}
	}
	if s.rng.Float64()*total < pd {
		return int(d), nil
	}
	u := s.rng.Float64() * (total - pd)
	last := -1
	for _, x := range cs {
		if x.ID == d {
			continue
		}
		last = int(x.ID)
		if u -= float64(x.Prob); u < 0 {
			return last, nil
		}
	}
	if last < 0 {
		return int(d), nil // d is the only candidate (then pd = total)
	}
	return last, nil // rounding left u ≥ 0: the last one
}
