package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/quant"
)

// TestQ4KRepBitExact checks that every kernel of the repacked Q4_K forms
// (single output, row kernel, four-token kernel, at every CPU level)
// returns the generic kernel's f32 result bit for bit: the gemv form for
// one token, the gemm form for four.
func TestQ4KRepBitExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		// 70 blocks: longer than the assembly four-token kernels take.
		checkKernels(t, rand.New(rand.NewPCG(4, 4)), quant.Q4_K, q4KBytes, []int{1, 2, 3, 8, 43, 70},
			kernelSet{quant.Q8_K, q8KBytes, q4kRep.dot, q4kRep.gemmDot, q4kRep.rows, q4kRep.rows4, dotQ4KQ8KRepGeneric, dotQ4KQ8KRepGemmGeneric})
	})
}

// kernelSet are the kernels of one weight form at one CPU level and the
// generic single-output functions they must equal: for a repacked form,
// gemv for the one-token kernels and gemm for the four-token ones; for the
// vec_dot form (vecDotKernels) the generic vec_dot for both.
type kernelSet struct {
	act          quant.Type // the activation type
	xBytes       int        // bytes per activation block
	dot, gemmDot func(w, x []byte, nb int) float32
	rows         rowsFunc
	rows4        rows4Func
	gemv, gemm   func(w, x []byte, nb int) float32
}

// vecDotKernels is the kernelSet of wt's vec_dot form at the current level
// (Dot, the row and four-token kernels of kernelTable), all to equal
// generic.
func vecDotKernels(wt quant.Type, generic func(w, x []byte, nb int) float32) kernelSet {
	k := &kernelTable[wt]
	dot := func(w, x []byte, nb int) float32 { return Dot(wt, w, x, nb*k.blockElems) }
	return kernelSet{k.act, actBlockBytes[actSlot(k.act)], dot, dot, k.rows, k.rows4, generic, generic}
}

// checkKernels compares k's kernels with its generic functions bit for
// bit on rows of nb blocks for every nb in nbs and every data mode, over 5
// or 11 rows (one or two row quads and a tail).
func checkKernels(t *testing.T, rng *rand.Rand, wt quant.Type, wBytes int, nbs []int, k kernelSet) {
	at, xBytes := k.act, k.xBytes
	t.Helper()
	for _, m := range genModes {
		for _, nb := range nbs {
			rows := 5 + 6*(nb%2)
			w := genWeights(rng, wt, nb*rows, m.mode)
			xs := genActs(rng, at, nb*4, m.mode)
			rb, xb := nb*wBytes, nb*xBytes
			row := func(r int) []byte { return w[r*rb : (r+1)*rb] }
			bad := 0
			check := func(got, want float32) {
				if math.Float32bits(got) != math.Float32bits(want) {
					bad++
				}
			}
			for r := 0; r < rows; r++ {
				check(k.dot(row(r), xs[:xb], nb), k.gemv(row(r), xs[:xb], nb))
				check(k.gemmDot(row(r), xs[:xb], nb), k.gemm(row(r), xs[:xb], nb))
			}
			dst := make([]float32, rows)
			k.rows(dst, w, rb, xs[:xb], nb)
			for r := 0; r < rows; r++ {
				check(dst[r], k.gemv(row(r), xs[:xb], nb))
			}
			d4 := make([]float32, 4*rows)
			k.rows4(d4, rows, w, rb, xs, xb, nb, rows)
			for tk := 0; tk < 4; tk++ {
				for r := 0; r < rows; r++ {
					check(d4[tk*rows+r], k.gemm(row(r), xs[tk*xb:(tk+1)*xb], nb))
				}
			}
			if bad > 0 {
				t.Errorf("%s nb=%d: %d mismatches", m.name, nb, bad)
			}
		}
	}
}

// TestQ4KRepForms checks the arithmetic of the repacked forms against a
// direct transcription of ggml's kernels (element sums in f64 are exact
// here, so only the f32 steps matter), and that MatMul picks them like
// llama.cpp: repacked matrices (rows%8 == 0) use the gemm form for the
// tokens in groups of four and the gemv form for the last n%4; other
// matrices keep vec_dot_q4_K_q8_K.
func TestQ4KRepForms(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	const nb = 3
	w := genWeights(rng, quant.Q4_K, nb, modeRandom)
	x := genActs(rng, quant.Q8_K, nb, modeRandom)
	var acc, accm, gacc, gaccm float32
	for b := 0; b < nb; b++ {
		wb, xb := w[b*q4KBytes:], x[b*q8KBytes:]
		sc, mn := scaleMinK4(wb[4:16])
		yd := f32(xb)
		d, dmin := f16(wb)*yd, f16(wb[2:])*yd
		var I, M int64
		for c := 0; c < 4; c++ {
			var ic, mc int64
			for e := 64 * c; e < 64*c+64; e++ {
				q := wb[16+32*c+e%32]
				if e%64 >= 32 {
					q >>= 4
				}
				ic += int64(sc[e/32]) * int64(q&0xF) * int64(int8(xb[4+e]))
			}
			for j := 2 * c; j < 2*c+2; j++ {
				for k := 2 * j; k < 2*j+2; k++ {
					mc += int64(mn[j]) * int64(int16(uint16(xb[260+2*k])|uint16(xb[261+2*k])<<8))
				}
			}
			gacc = float32(math.FMA(float64(ic), float64(d), float64(gacc)))
			gaccm = float32(math.FMA(float64(mc), float64(dmin), float64(gaccm)))
			I += ic
			M += mc
		}
		acc = float32(math.FMA(float64(I), float64(d), float64(acc)))
		accm = float32(math.FMA(float64(M), float64(dmin), float64(accm)))
	}
	if got, want := dotQ4KQ8KRepGeneric(w, x, nb), acc-accm; got != want {
		t.Errorf("gemv form %v, want %v", got, want)
	}
	if got, want := dotQ4KQ8KRepGemmGeneric(w, x, nb), gacc-gaccm; got != want {
		t.Errorf("gemm form %v, want %v", got, want)
	}

	// MatMul's choice of form.
	const cols, n = nb * qk, 7
	acts := make([]float32, n*cols)
	for i := range acts {
		acts[i] = float32(rng.NormFloat64())
	}
	xq := make([]byte, n*nb*q8KBytes)
	for tk := 0; tk < n; tk++ {
		quant.QuantizeQ8K(acts[tk*cols:(tk+1)*cols], xq[tk*nb*q8KBytes:(tk+1)*nb*q8KBytes])
	}
	p := NewPool(2)
	defer p.Close()
	for _, rows := range []int{8, 12, 16} {
		m := randMatrix(rng, quant.Q4_K, rows, cols)
		for _, nn := range []int{1, 3, 4, n} {
			dst := make([]float32, nn*rows)
			if err := p.MatMul(dst, m, acts, nn); err != nil {
				t.Fatal(err)
			}
			for tk := 0; tk < nn; tk++ {
				for r := 0; r < rows; r++ {
					wr := m.Data[r*nb*q4KBytes : (r+1)*nb*q4KBytes]
					xr := xq[tk*nb*q8KBytes : (tk+1)*nb*q8KBytes]
					var want float32
					switch {
					case !q4kRepacked(rows):
						want = Dot(quant.Q4_K, wr, xr, cols)
					case tk < nn-nn%4:
						want = dotQ4KQ8KRepGemmGeneric(wr, xr, nb)
					default:
						want = dotQ4KQ8KRepGeneric(wr, xr, nb)
					}
					if got := dst[tk*rows+r]; math.Float32bits(got) != math.Float32bits(want) {
						t.Errorf("rows=%d n=%d token %d row %d: %v, want %v", rows, nn, tk, r, got, want)
					}
				}
			}
		}
	}
}

// TestQ5KBitExact checks that every Q5_K kernel (Dot, the row kernel and
// the four-token kernel, at every CPU level) returns the generic kernel's
// f32 result bit for bit: they all do ggml's AVX2 arithmetic.
func TestQ5KBitExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		checkKernels(t, rand.New(rand.NewPCG(5, 9)), quant.Q5_K, q5KBytes, []int{1, 2, 3, 8, 43}, vecDotKernels(quant.Q5_K, dotQ5KQ8KGeneric))
	})
}

// TestQ40RepBitExact checks the repacked Q4_0 form: every kernel at every
// CPU level against the generic one, the generic one against a direct
// transcription of ggml's kernel, and MatMul's choice (repacked for
// rows%8 == 0, vec_dot otherwise).
func TestQ40RepBitExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		// The gemv and gemm forms are the same arithmetic.
		checkKernels(t, rand.New(rand.NewPCG(6, 6)), quant.Q4_0, q4_0Bytes, []int{1, 2, 3, 8, 43},
			kernelSet{quant.Q8_0, q8_0Bytes, q40Rep.dot, q40Rep.dot, q40Rep.rows, q40Rep.rows4, dotQ4_0Q8_0RepGeneric, dotQ4_0Q8_0RepGeneric})
	})

	rng := rand.New(rand.NewPCG(7, 7))
	const nb = 5
	w := genWeights(rng, quant.Q4_0, nb, modeRandom)
	x := genActs(rng, quant.Q8_0, nb, modeRandom)
	var acc float32
	for b := 0; b < nb; b++ {
		wb, xb := w[b*q4_0Bytes:], x[b*q8_0Bytes:]
		var s int64
		for j := 0; j < 16; j++ {
			s += (int64(wb[2+j]&0xF) - 8) * int64(int8(xb[2+j]))
			s += (int64(wb[2+j]>>4) - 8) * int64(int8(xb[18+j]))
		}
		acc = float32(math.FMA(float64(s), float64(f16(wb)*f16(xb)), float64(acc)))
	}
	if got := dotQ4_0Q8_0RepGeneric(w, x, nb); got != acc {
		t.Errorf("repacked Q4_0 %v, want %v", got, acc)
	}

	const cols, n = nb * qk0, 6
	acts := make([]float32, n*cols)
	for i := range acts {
		acts[i] = float32(rng.NormFloat64())
	}
	xq := make([]byte, n*nb*q8_0Bytes)
	for tk := 0; tk < n; tk++ {
		quant.QuantizeQ8_0Act(acts[tk*cols:(tk+1)*cols], xq[tk*nb*q8_0Bytes:(tk+1)*nb*q8_0Bytes])
	}
	p := NewPool(2)
	defer p.Close()
	for _, rows := range []int{8, 12} {
		mat := randMatrix(rng, quant.Q4_0, rows, cols)
		dst := make([]float32, n*rows)
		if err := p.MatMul(dst, mat, acts, n); err != nil {
			t.Fatal(err)
		}
		for tk := 0; tk < n; tk++ {
			for r := 0; r < rows; r++ {
				wr := mat.Data[r*nb*q4_0Bytes : (r+1)*nb*q4_0Bytes]
				xr := xq[tk*nb*q8_0Bytes : (tk+1)*nb*q8_0Bytes]
				want := Dot(quant.Q4_0, wr, xr, cols)
				if q4_0Repacked(rows) {
					want = dotQ4_0Q8_0RepGeneric(wr, xr, nb)
				}
				if got := dst[tk*rows+r]; math.Float32bits(got) != math.Float32bits(want) {
					t.Errorf("rows=%d token %d row %d: %v, want %v", rows, tk, r, got, want)
				}
			}
		}
	}
}
