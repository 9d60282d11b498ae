package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/internal/cpu"
	"github.com/smolbot/smolbot/quant"
)

// tolerance of a kernel against the generic one and the f64 oracle, relative
// to Σ|terms| (spec §9: 1e-5 per matmul output).
const tolerance = 1e-5

var weightTypes = []quant.Type{quant.Q4_K, quant.Q5_K, quant.Q6_K, quant.Q4_0, quant.Q8_0, quant.F32, quant.F16, quant.BF16}

var genericDots = map[quant.Type]func(w, x []byte, nb int) float32{
	quant.Q4_K: dotQ4KQ8KGeneric, quant.Q5_K: dotQ5KQ8KGeneric, quant.Q6_K: dotQ6KQ8KGeneric,
	quant.Q4_0: dotQ4_0Q8_0Generic, quant.Q8_0: dotQ8_0Q8_0Generic,
	quant.F32: dotF32Generic, quant.F16: dotF16Generic, quant.BF16: dotBF16Generic,
}

var genericGemm = map[quant.Type]func(w, x []byte, nb int) float32{
	quant.F32: dotF32GemmGeneric, quant.F16: dotF16GemmGeneric, quant.BF16: dotBF16GemmGeneric,
}

// approxTypes are the weight types whose assembly kernels do not (yet)
// reproduce the generic kernels' float order bit for bit.
var approxTypes = map[quant.Type]bool{quant.Q4_K: true, quant.Q5_K: true, quant.Q6_K: true, quant.Q4_0: true}

// levels returns every level this machine can run, lowest first.
func levels() []cpu.Level {
	var ls []cpu.Level
	for _, l := range []cpu.Level{cpu.Generic, cpu.AVX2, cpu.AVX512} {
		if cpu.Has(l) {
			ls = append(ls, l)
		}
	}
	return ls
}

// forEachLevel runs f as a subtest at every level the machine has.
func forEachLevel(t *testing.T, f func(t *testing.T)) {
	for _, l := range levels() {
		t.Run(l.String(), func(t *testing.T) {
			defer cpu.Force(l)()
			if Level() != l {
				t.Fatalf("Force(%v) left the kernels at %v", l, Level())
			}
			f(t)
		})
	}
}

// blockCounts returns the row lengths tested for a type, in blocks: empty,
// one block, odd counts, and the SmolLM3 widths 2048 and 11008.
func blockCounts(wt quant.Type) []int {
	be := kernelTable[wt].blockElems
	ns := []int{0, 1, 2, 3, 5, 8, 2048 / be, 11008 / be}
	if be == 1 {
		ns = append(ns, 7, 15, 16, 17, 31, 33, 63, 64, 65, 100, 127, 129)
	} else if be == 32 {
		ns = append(ns, 7, 9, 15, 17)
	}
	return ns
}

func checkClose(t *testing.T, what string, got, want, abs float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tolerance*abs+1e-30 {
		t.Errorf("%s: got %.9g, want %.9g (diff %.3g, Σ|terms| %.3g)", what, got, want, got-want, abs)
	}
}

func TestGenericAgainstF64(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, wt := range weightTypes {
		for _, m := range genModes {
			for _, nb := range blockCounts(wt) {
				w := genWeights(rng, wt, nb, m.mode)
				x := genActs(rng, kernelTable[wt].act, nb, m.mode)
				sum, abs := terms(wt, w, x, nb)
				got := genericDots[wt](w, x, nb)
				checkClose(t, fmt.Sprintf("%v/%s/nb=%d", wt, m.name, nb), float64(got), sum, abs)
			}
		}
	}
}

func TestDotLevels(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, wt := range weightTypes {
			k := &kernelTable[wt]
			for _, m := range genModes {
				for _, nb := range blockCounts(wt) {
					w := genWeights(rng, wt, nb, m.mode)
					x := genActs(rng, k.act, nb, m.mode)
					want := genericDots[wt](w, x, nb)
					_, abs := terms(wt, w, x, nb)
					n := nb * k.blockElems
					for _, atStart := range []bool{false, true} {
						gw, gx := guarded(t, w, atStart), guarded(t, x, !atStart)
						got := Dot(wt, gw, gx, n)
						name := fmt.Sprintf("%v/%s/nb=%d", wt, m.name, nb)
						if approxTypes[wt] {
							checkClose(t, name, float64(got), float64(want), abs)
						} else if math.Float32bits(got) != math.Float32bits(want) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
							t.Errorf("%s: got %v, generic %v", name, got, want)
						}
					}
					if k.gemmK > 0 && n%k.gemmK == 0 && n > 0 {
						want := genericGemm[wt](w, x, nb)
						got := k.gemmDot(w, x, nb)
						if math.Float32bits(got) != math.Float32bits(want) && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
							t.Errorf("%v/%s/nb=%d gemm: got %v, generic %v", wt, m.name, nb, got, want)
						}
						_, abs := terms(wt, w, x, nb)
						sum, _ := terms(wt, w, x, nb)
						checkClose(t, fmt.Sprintf("%v/%s/nb=%d gemm vs f64", wt, m.name, nb), float64(got), sum, abs)
					}
				}
			}
		}
	})
}

// TestDotExactIntegers uses unit scales and small quants so that every f32
// partial sum is an exactly representable integer: any accumulation order
// then gives the same value, and a SIMD kernel must equal the generic one
// and the f64 oracle bit for bit. This checks the integer parts (nibble
// unpacking, sub-scales, mins, bsums, the Q6_K −32 offset) exactly.
func TestDotExactIntegers(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(5, 6))
		for _, wt := range weightTypes {
			k := &kernelTable[wt]
			for _, nb := range blockCounts(wt) {
				if k.blockElems == qk && nb > 8 {
					nb = 8 // keep Σ|terms| below 2^24
				}
				for rep := 0; rep < 3; rep++ {
					w := genWeights(rng, wt, nb, modeExact)
					x := genActs(rng, k.act, nb, modeExact)
					sum, abs := terms(wt, w, x, nb)
					if abs >= 1<<24 {
						t.Fatalf("%v nb=%d: Σ|terms| = %g is too large for an exact test", wt, nb, abs)
					}
					want := genericDots[wt](w, x, nb)
					got := Dot(wt, w, x, nb*k.blockElems)
					if float64(want) != sum || got != want {
						t.Errorf("%v nb=%d: got %v, generic %v, exact %v", wt, nb, got, want, sum)
					}
				}
			}
		}
	})
}

// TestRows checks the multi-row and 4-token kernels against Dot, with guard
// values around the output.
func TestRows(t *testing.T) {
	const guard = 12345.5
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for _, wt := range weightTypes {
			k := &kernelTable[wt]
			for _, nb := range []int{1, 3, 2048 / k.blockElems} {
				for _, rows := range []int{1, 2, 5, 17} {
					wstride := nb*k.wBytes + rng.IntN(3)*k.wBytes // rows may be padded
					w := genWeights(rng, wt, (rows-1)*wstride/k.wBytes+nb, modeRandom)
					xstride := nb*k.xBytes + k.xBytes
					x := genActs(rng, k.act, 4*xstride/k.xBytes, modeRandom)
					want := make([]float32, 4*rows)
					for tok := 0; tok < 4; tok++ {
						for r := 0; r < rows; r++ {
							want[tok*rows+r] = Dot(wt, w[r*wstride:], x[tok*xstride:], nb*k.blockElems)
						}
					}
					name := fmt.Sprintf("%v/nb=%d/rows=%d", wt, nb, rows)

					buf := make([]float32, rows+8)
					for i := range buf {
						buf[i] = guard
					}
					k.rows(buf[4:4+rows], w, wstride, x[xstride:], nb)
					for r := 0; r < rows; r++ {
						if buf[4+r] != want[rows+r] {
							t.Errorf("%s: rows[%d] = %v, Dot = %v", name, r, buf[4+r], want[rows+r])
						}
					}
					checkGuards(t, name+" rows", buf[:4], buf[4+rows:], guard)

					dstStride := rows + 3
					buf = make([]float32, 4*dstStride+8)
					for i := range buf {
						buf[i] = guard
					}
					k.rows4(buf[4:], dstStride, w, wstride, x, xstride, nb, rows)
					for tok := 0; tok < 4; tok++ {
						for r := 0; r < rows; r++ {
							if g := buf[4+tok*dstStride+r]; g != want[tok*rows+r] {
								t.Errorf("%s: rows4[%d][%d] = %v, Dot = %v", name, tok, r, g, want[tok*rows+r])
							}
						}
						checkGuards(t, name+" rows4", buf[4+tok*dstStride+rows:4+(tok+1)*dstStride], nil, guard)
					}
					checkGuards(t, name+" rows4", buf[:4], buf[4+4*dstStride:], guard)
				}
			}
		}
	})
}

func checkGuards(t *testing.T, name string, a, b []float32, guard float32) {
	t.Helper()
	for _, s := range [][]float32{a, b} {
		for _, v := range s {
			if v != guard {
				t.Fatalf("%s: guard overwritten", name)
			}
		}
	}
}

func TestDotPreconditions(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	w := make([]byte, q4KBytes)
	x := make([]byte, q8KBytes)
	if got := Dot(quant.Q4_K, w, x, 256); got != 0 {
		t.Errorf("zero blocks: %v", got)
	}
	if got := Dot(quant.Q4_K, nil, nil, 0); got != 0 {
		t.Errorf("empty: %v", got)
	}
	mustPanic("unsupported type", func() { Dot(quant.Q2_K, w, x, 256) })
	mustPanic("partial block", func() { Dot(quant.Q4_K, w, x, 255) })
	mustPanic("short weights", func() { Dot(quant.Q4_K, w[:143], x, 256) })
	mustPanic("short activations", func() { Dot(quant.Q4_K, w, x[:291], 256) })
	mustPanic("negative", func() { Dot(quant.F32, w, x, -1) })
	if Supports(quant.Q2_K) || !Supports(quant.Q6_K) || Supports(quant.Type(1000)) {
		t.Error("Supports is wrong")
	}
}

func TestTypedDots(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, wt := range weightTypes {
		k := &kernelTable[wt]
		nb := 4096 / k.blockElems
		w := genWeights(rng, wt, nb, modeRandom)
		x := genActs(rng, k.act, nb, modeRandom)
		n := nb * k.blockElems
		want := Dot(wt, w, x, n)
		var got float32
		switch wt {
		case quant.Q4_K:
			got = DotQ4KQ8K(w, x, n)
		case quant.Q5_K:
			got = DotQ5KQ8K(w, x, n)
		case quant.Q6_K:
			got = DotQ6KQ8K(w, x, n)
		case quant.Q4_0:
			got = DotQ4_0Q8_0(w, x, n)
		case quant.Q8_0:
			got = DotQ8_0Q8_0(w, x, n)
		case quant.F32:
			got = DotF32(bytesF32(w), bytesF32(x), n)
		case quant.F16, quant.BF16:
			continue // their typed entry points are the mixed f32 kernels (TestMixedDots)
		}
		if got != want {
			t.Errorf("%v: typed %v, Dot %v", wt, got, want)
		}
	}
}

func bytesF32(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = f32(b[4*i:])
	}
	return out
}

// TestMixedDots checks DotF16F32 and DotBF16F32 against their generic
// kernels bit for bit, and against f64.
func TestMixedDots(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, wt := range []quant.Type{quant.F16, quant.BF16} {
			for _, n := range []int{0, 1, 7, 16, 63, 64, 65, 128, 200, 2048} {
				w := genWeights(rng, wt, n, modeRandom)
				xb := genActs(rng, quant.F32, n, modeRandom)
				x := bytesF32(xb)
				var got, want float32
				var sum, abs float64
				for i := 0; i < n; i++ {
					wv := f16(w[2*i:])
					if wt == quant.BF16 {
						wv = bf16(w[2*i:])
					}
					sum += float64(wv) * float64(x[i])
					abs += math.Abs(float64(wv) * float64(x[i]))
				}
				if wt == quant.F16 {
					got = DotF16F32(w, x, n)
					if n > 0 {
						want = dotF16F32Generic(w, xb, n)
					}
				} else {
					got = DotBF16F32(w, x, n)
					if n > 0 {
						want = dotBF16F32Generic(w, xb, n)
					}
				}
				if got != want {
					t.Errorf("%v n=%d: got %v, generic %v", wt, n, got, want)
				}
				checkClose(t, fmt.Sprintf("%v n=%d", wt, n), float64(got), sum, abs)
			}
		}
	})
}

// TestDotF16F32Rows checks the multi-row entry point against DotF16F32 per
// row (and so against the generic kernel), with a stride wider than a row.
func TestDotF16F32Rows(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(13, 14))
		for _, n := range []int{0, 1, 7, 16, 17, 33, 63, 64, 65, 100, 127, 128, 256} {
			for _, rows := range []int{1, 3, 16, 21, 128} {
				stride := 2*n + 2*rng.IntN(40)
				w := genWeights(rng, quant.F16, ((rows-1)*stride)/2+n, modeRandom)
				x := bytesF32(genActs(rng, quant.F32, n, modeRandom))
				got := make([]float32, rows)
				for i := range got {
					got[i] = 42
				}
				DotF16F32Rows(got, w, stride, x, n)
				for r := range got {
					want := DotF16F32(w[r*stride:], x, n)
					if math.Float32bits(got[r]) != math.Float32bits(want) {
						t.Fatalf("n=%d rows=%d: row %d = %v, DotF16F32 %v", n, rows, r, got[r], want)
					}
				}
			}
		}
	})
}
