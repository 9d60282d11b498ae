package model_test

import (
	"encoding/json"
	"math"
	"os"
	"sort"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/model"
	_ "github.com/smolbot/smolbot/model/llama"
	_ "github.com/smolbot/smolbot/model/smollm3"
	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/tensor"
)

// reference is a fixtures ref-TYPE.json file (llama.cpp's outputs).
type reference struct {
	NVocab int    `json:"n_vocab"`
	KVType string `json:"kv_type"`
	Cases  []struct {
		Tokens           []int32     `json:"tokens"`
		Logits           [][]float32 `json:"logits"`
		Greedy           []int32     `json:"greedy"`
		GreedyLastLogits []float32   `json:"greedy_last_logits"`
	} `json:"cases"`
}

// fixtureModels lists every fixture model file with its tolerance (the
// issue's: F32 1e-3, F16/BF16 1e-2, quantized 0.05 and the same argmax at
// every position) and whether smolbot reproduces llama.cpp's logits bit
// for bit on it.
var fixtureModels = []struct {
	dir, typ string
	tol      float64 // max|Δlogit| at every position
	exact    bool    // bit-identical to the reference (prefill and greedy)
}{
	{"tiny-smollm3", "f32", 1e-3, true},
	{"tiny-smollm3", "f16", 1e-2, true},
	{"tiny-smollm3", "bf16", 1e-2, true},
	{"tiny-smollm3", "q8_0", 0.05, true},
	// Q4_0 and Q4_K are llama.cpp's repacked Q4_0x8/Q4_Kx8 gemv/gemm
	// arithmetic (kernels/q40rep.go, q4krep.go), Q5_K and Q6_K ggml's AVX2
	// vec_dot, lane for lane.
	{"tiny-smollm3", "q4_0", 0.05, true},
	{"tiny-smollm3", "q4_k_m", 0.05, true},
	{"tiny-smollm3", "q5_k_m", 0.05, true},
	{"tiny-smollm3", "q6_k", 0.05, true},
	{"tiny-llama", "f32", 1e-3, true},
	{"tiny-llama", "q8_0", 0.05, true},
	{"tiny-llama", "q4_k_m", 0.05, true},
	// Head dimension 8 and FFN 172 take ggml's scalar tails; within 1e-5.
	{"stories260K", "f32", 1e-3, false},
}

func modelFile(dir, typ string) string {
	if dir == "stories260K" {
		return "model.gguf"
	}
	return typ + ".gguf"
}

func loadReference(t testing.TB, dir, typ string) *reference {
	t.Helper()
	b, err := os.ReadFile(testutil.Fixture(t, dir, "ref-"+typ+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var r reference
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// loaded is a model opened for a test, with a pool and a workspace.
type loaded struct {
	f    *gguf.File
	m    model.Model
	pool *kernels.Pool
	ws   *model.Workspace
}

func openModel(t testing.TB, path string, threads, maxTokens int) *loaded {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(f)
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	pool := kernels.NewPool(threads)
	ws, err := model.NewWorkspace(m.Config(), pool, maxTokens)
	if err != nil {
		t.Fatal(err)
	}
	l := &loaded{f: f, m: m, pool: pool, ws: ws}
	t.Cleanup(func() { pool.Close(); f.Close() })
	return l
}

// maxAbsDiff returns max |a−b| and whether the argmaxes agree.
func maxAbsDiff(a, b []float32) (float64, bool) {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	if math.IsNaN(d) {
		d = math.Inf(1)
	}
	return d, tensor.Argmax(a) == tensor.Argmax(b)
}

// stats accumulates the agreement of one model file with its reference.
type stats struct {
	worst, worstPos0 float64
	diffs            []float64 // max|Δ| of every compared position
	exactPos         int       // positions whose logits are bit-identical
	argmaxSame       int
	greedySame       int // greedy tokens equal to the reference before the first miss
	greedyTotal      int
	greedyLast       float64 // worst max|Δ| of greedy_last_logits
	selfWorst        float64 // token-by-token decode vs our prefill
	decodeWorst      float64 // token-by-token decode vs the reference prefill
	refSelf          float64 // greedy_last_logits (llama.cpp, one token at a time) vs our batch over the same tokens
	pos0Bad          int     // sequences whose position 0 exceeds 1e-3
}

func (s *stats) add(pos int, got, want []float32) float64 {
	d, same := maxAbsDiff(got, want)
	s.worst = math.Max(s.worst, d)
	if pos == 0 {
		s.worstPos0 = math.Max(s.worstPos0, d)
		if d > 1e-3 {
			s.pos0Bad++
		}
	}
	s.diffs = append(s.diffs, d)
	if same {
		s.argmaxSame++
	}
	if bitEqual(got, want) {
		s.exactPos++
	}
	return d
}

func bitEqual(a, b []float32) bool {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

func (s *stats) median() float64 {
	d := append([]float64(nil), s.diffs...)
	sort.Float64s(d)
	if len(d) == 0 {
		return 0
	}
	return d[len(d)/2]
}

// TestFixtures checks every fixture model against llama.cpp's reference
// logits, with an F32 KV cache as the reference used:
//   - prefill: every position of one batch over each sequence;
//   - greedy: the 32-token greedy continuation from the prefilled cache, fed
//     one token at a time as the reference was made, and its last logits;
//   - decode: the same sequence one token at a time through a fresh cache
//     (all positions, or the first decodePositions in purego builds).
//
// For the files marked exact, prefill and greedy logits must equal the
// reference bit for bit (and so within the tolerance at every
// position, with the same argmax). Token-by-token decode reproduces
// llama.cpp's own single-token arithmetic, which differs from its batched
// arithmetic in the float matrix products, in the repacked Q4_K gemv/gemm
// forms and in P·V (vector dot instead of llamafile's GEMM): in F32 the
// difference is ~1e-5, within 1e-3, but in these small random models an
// F16/BF16/int8 activation rounding flipped by a last-bit difference moves
// later logits by up to ~1, in llama.cpp as here, so for those files decode
// is only logged. The reference itself shows it: its greedy_last_logits
// (single-token steps) differ from one batch over the same tokens — which
// is llama.cpp's batch arithmetic, since our prefill equals it bit for bit
// — by the amount logged at the end (0.63 for Q8_0, 1.37 for Q6_K).
//
// A file not reproduced exactly (none today but stories260K, whose F32
// tolerance applies) would keep looser checks: position 0 within 1e-3 (one
// sequence may miss), the argmax equal at ≥ 90% of positions.
func TestFixtures(t *testing.T) {
	for _, fm := range fixtureModels {
		t.Run(fm.dir+"/"+fm.typ, func(t *testing.T) {
			ref := loadReference(t, fm.dir, fm.typ)
			l := openModel(t, testutil.Fixture(t, fm.dir, modelFile(fm.dir, fm.typ)), 2, 256)
			V := l.m.Config().Vocab
			if V != ref.NVocab {
				t.Fatalf("n_vocab %d, reference %d", V, ref.NVocab)
			}
			isF32 := fm.typ == "f32"
			strict := fm.exact || isF32
			var st stats
			for ci, cs := range ref.Cases {
				n := len(cs.Tokens)
				// Prefill: one batch, logits at every position.
				cache, err := model.NewCache(l.m.Config(), 512, quant.F32)
				if err != nil {
					t.Fatal(err)
				}
				all := make([]float32, n*V)
				if err := l.m.Forward(l.ws, []model.Span{{Cache: cache, Tokens: cs.Tokens, Logits: model.LogitsAll}}, all); err != nil {
					t.Fatal(err)
				}
				for p := range n {
					got, want := all[p*V:(p+1)*V], cs.Logits[p]
					d := st.add(p, got, want)
					if !strict {
						continue
					}
					if d > fm.tol {
						t.Errorf("case %d prefill position %d: max|Δ| = %.3g > %.3g", ci, p, d, fm.tol)
					}
					if tensor.Argmax(got) != tensor.Argmax(want) {
						t.Errorf("case %d prefill position %d: argmax %d, reference %d", ci, p, tensor.Argmax(got), tensor.Argmax(want))
					}
					if fm.exact && !bitEqual(got, want) {
						t.Errorf("case %d prefill position %d: not bit-identical (max|Δ| %.3g)", ci, p, d)
					}
				}
				// Greedy continuation from the prefilled cache, as the
				// reference was made.
				logits := make([]float32, V)
				copy(logits, all[(n-1)*V:])
				matched := true
				for g, want := range cs.Greedy {
					next := int32(tensor.Argmax(logits))
					st.greedyTotal++
					if next != want {
						if strict {
							t.Errorf("case %d: greedy token %d = %d, reference %d", ci, g, next, want)
						}
						matched = false
						break
					}
					st.greedySame++
					span := []model.Span{{Cache: cache, Tokens: []int32{next}, Logits: model.LogitsLast}}
					if err := l.m.Forward(l.ws, span, logits); err != nil {
						t.Fatal(err)
					}
				}
				if matched {
					// The reference's own decode against a batch over the
					// same tokens: prompt and greedy tokens in one prefill
					// (bit-exact with llama.cpp's prefill above) gives the
					// logits llama.cpp's batch arithmetic would, so this is
					// how far llama.cpp's single-token results drift from
					// its batched ones, measured on its own output.
					if fm.exact {
						seq := append(append([]int32(nil), cs.Tokens...), cs.Greedy...)
						c2, err := model.NewCache(l.m.Config(), 512, quant.F32)
						if err != nil {
							t.Fatal(err)
						}
						last := make([]float32, V)
						if err := l.m.Forward(l.ws, []model.Span{{Cache: c2, Tokens: seq, Logits: model.LogitsLast}}, last); err != nil {
							t.Fatal(err)
						}
						d, _ := maxAbsDiff(last, cs.GreedyLastLogits)
						st.refSelf = math.Max(st.refSelf, d)
					}
					d, _ := maxAbsDiff(logits, cs.GreedyLastLogits)
					st.greedyLast = math.Max(st.greedyLast, d)
					if strict && d > fm.tol {
						t.Errorf("case %d greedy_last_logits: max|Δ| = %.3g > %.3g", ci, d, fm.tol)
					}
					if fm.exact && !bitEqual(logits, cs.GreedyLastLogits) {
						t.Errorf("case %d greedy_last_logits: not bit-identical (max|Δ| %.3g)", ci, d)
					}
				}
				// Decode: one token at a time through a fresh cache.
				dec, err := model.NewCache(l.m.Config(), 512, quant.F32)
				if err != nil {
					t.Fatal(err)
				}
				for p := range min(n, decodePositions) {
					span := []model.Span{{Cache: dec, Tokens: cs.Tokens[p : p+1], Logits: model.LogitsLast}}
					if err := l.m.Forward(l.ws, span, logits); err != nil {
						t.Fatal(err)
					}
					d, _ := maxAbsDiff(logits, all[p*V:(p+1)*V])
					st.selfWorst = math.Max(st.selfWorst, d)
					d, _ = maxAbsDiff(logits, cs.Logits[p])
					st.decodeWorst = math.Max(st.decodeWorst, d)
					if isF32 && d > fm.tol {
						t.Errorf("case %d decode position %d: max|Δ| = %.3g > %.3g", ci, p, d, fm.tol)
					}
				}
			}
			t.Logf("%s/%s: prefill max|Δlogit| worst %.3g (position 0 %.3g, median %.3g), bit-exact at %d/%d positions, argmax agrees at %d/%d; greedy %d/%d tokens, last logits max|Δ| %.3g; token-by-token decode vs reference %.3g, vs our prefill %.3g; llama.cpp's own greedy_last_logits vs one batch over the same tokens %.3g",
				fm.dir, fm.typ, st.worst, st.worstPos0, st.median(), st.exactPos, len(st.diffs), st.argmaxSame, len(st.diffs),
				st.greedySame, st.greedyTotal, st.greedyLast, st.decodeWorst, st.selfWorst, st.refSelf)
			if !strict {
				// Position 0 has no cross-position effects, but a single
				// rounding flip can still happen there; allow one sequence.
				if st.pos0Bad > 1 {
					t.Errorf("position 0: max|Δ| %.3g > 1e-3 in %d sequences", st.worstPos0, st.pos0Bad)
				}
				if agree := float64(st.argmaxSame) / float64(len(st.diffs)); agree < 0.9 {
					t.Errorf("argmax agrees at only %.0f%% of positions", 100*agree)
				}
			}
		})
	}
}
