package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"github.com/smolbot/smolbot/internal/cpu"
	"github.com/smolbot/smolbot/quant"
)

// randQ8_0Rows returns n Q8_0 rows of D elements, rowBytes apart, with
// scales over a wide range (subnormal f16 included) and full int8 range.
func randQ8_0Rows(rng *rand.Rand, n, D, rowBytes int) []byte {
	b := make([]byte, n*rowBytes)
	for j := range n {
		for blk := 0; blk < D/32; blk++ {
			o := j*rowBytes + blk*34
			d := float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(30)-20)))
			h := quant.F32ToF16(d)
			if rng.IntN(16) == 0 {
				h = uint16(rng.IntN(1024)) // subnormal
			}
			binary.LittleEndian.PutUint16(b[o:], h)
			for i := range 32 {
				b[o+2+i] = byte(rng.IntN(256))
			}
		}
	}
	return b
}

func randAttnF32(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(12)-6)))
	}
	return x
}

func sameBits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v (%#x), Go form %v (%#x)", what, i, got[i], math.Float32bits(got[i]),
				want[i], math.Float32bits(want[i]))
		}
	}
}

// atLevels runs f at every CPU level the machine has.
func atLevels(f func(l cpu.Level)) {
	for _, l := range levels() {
		func() {
			defer cpu.Force(l)()
			// swiglu marks a build with the AVX-512 assembly.
			if l == cpu.AVX512 && swiglu != nil && (q8Scores == nil || q8Accum == nil || fmaLanes16 == nil || fmaLanes4x16 == nil) {
				panic("kernels: no assembly attention kernels at avx512")
			}
			f(l)
		}()
	}
}

// TestQ8_0AttnKernels checks Q8_0Scores and Q8_0Accum against their Go
// forms bit for bit, for head dims with and without a multiple of 64,
// groups of 1 to 5 heads and 1 to 70 rows.
func TestQ8_0AttnKernels(t *testing.T) {
	rng := rand.New(rand.NewPCG(61, 62))
	for _, D := range []int{32, 64, 96, 128, 256} {
		rowBytes := D/32*34 + 2*rng.IntN(2)
		for _, group := range []int{1, 2, 4, 5} {
			for _, n := range []int{1, 3, 16, 33, 70} {
				const sstride = 71
				k := randQ8_0Rows(rng, n, D, rowBytes)
				q := randAttnF32(rng, group*D)
				w := randAttnF32(rng, group*sstride)
				acc0 := randAttnF32(rng, group*D)
				scale := float32(1 / math.Sqrt(float64(D)))
				row := make([]float32, D)
				wantS := make([]float32, group*sstride)
				q8_0ScoresGeneric(wantS, sstride, q, D, k, rowBytes, n, scale, row)
				wantA := append([]float32(nil), acc0...)
				q8_0AccumGeneric(wantA, D, w, sstride, k, rowBytes, n, row)
				atLevels(func(l cpu.Level) {
					gotS := make([]float32, group*sstride)
					Q8_0Scores(gotS, sstride, q, D, k, rowBytes, n, scale, row)
					sameBits(t, l.String()+" scores", gotS, wantS)
					gotA := append([]float32(nil), acc0...)
					Q8_0Accum(gotA, D, w, sstride, k, rowBytes, n, row)
					sameBits(t, l.String()+" accum", gotA, wantA)
				})
			}
		}
	}
}

// TestFMALanes checks FMALanes16 and FMALanes4x16 against their Go forms
// bit for bit over every length tail, from nonzero accumulators.
func TestFMALanes(t *testing.T) {
	rng := rand.New(rand.NewPCG(63, 64))
	for _, rows := range []int{1, 3, 128} {
		for n := 1; n <= 300; n += 1 + n/20 {
			vstride := n + rng.IntN(5)
			p := randAttnF32(rng, n)
			v := randAttnF32(rng, (rows-1)*vstride+n)
			a16, a64 := randAttnF32(rng, 16*rows), randAttnF32(rng, 64*rows)
			want16 := append([]float32(nil), a16...)
			fmaLanes16Generic(want16, p, v, vstride)
			want64 := append([]float32(nil), a64...)
			fmaLanes4x16Generic(want64, p, v, vstride)
			atLevels(func(l cpu.Level) {
				got := append([]float32(nil), a16...)
				FMALanes16(got, p, v, vstride)
				sameBits(t, l.String()+" lanes16", got, want16)
				got = append([]float32(nil), a64...)
				FMALanes4x16(got, p, v, vstride)
				sameBits(t, l.String()+" lanes4x16", got, want64)
			})
		}
	}
}

// TestDotF32Rows checks DotF32Rows against one DotF32 per row, bit for bit.
func TestDotF32Rows(t *testing.T) {
	rng := rand.New(rand.NewPCG(65, 66))
	for _, n := range []int{1, 15, 64, 96, 128, 130} {
		const rows = 37
		wstride := n + 3
		w, x := randAttnF32(rng, rows*wstride), randAttnF32(rng, n)
		atLevels(func(l cpu.Level) {
			got := make([]float32, rows)
			DotF32Rows(got, w, wstride, x, n)
			want := make([]float32, rows)
			for r := range want {
				want[r] = DotF32(w[r*wstride:], x, n)
			}
			sameBits(t, l.String()+" DotF32Rows", got, want)
		})
	}
}

// guardedF32 is guarded for float32 slices.
func guardedF32(t *testing.T, x []float32, atStart bool) []float32 {
	b := guarded(t, f32Bytes(x), atStart)
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(x))
}

// TestAttnKernelsGuarded runs the attention kernels with their cache rows
// and float operands ending at an inaccessible page, then starting right
// after one: no vector load may reach past a row's last block or a slice's
// last element (the masked tails included). Results must equal those on
// ordinary memory.
func TestAttnKernelsGuarded(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(21, 22))
		for _, atStart := range []bool{false, true} {
			const D, group, n = 128, 4, 37
			rowBytes := D / 32 * 34
			rows := randQ8_0Rows(rng, n, D, rowBytes)
			q := randAttnF32(rng, group*D)
			w := randAttnF32(rng, group*n)
			row := make([]float32, D)

			want := make([]float32, group*n)
			Q8_0Scores(want, n, q, D, rows, rowBytes, n, 0.125, row)
			got := make([]float32, group*n)
			Q8_0Scores(got, n, guardedF32(t, q, !atStart), D, guarded(t, rows, atStart), rowBytes, n, 0.125, row)
			sameBits(t, "Q8_0Scores", got, want)

			accWant := randAttnF32(rng, group*D)
			accGot := guardedF32(t, accWant, atStart)
			Q8_0Accum(accWant, D, w, n, rows, rowBytes, n, row)
			Q8_0Accum(accGot, D, guardedF32(t, w, !atStart), n, guarded(t, rows, atStart), rowBytes, n, row)
			sameBits(t, "Q8_0Accum", accGot, accWant)

			for _, cells := range []int{1, 15, 17, 64, 77} {
				const vrows = 3
				p := randAttnF32(rng, cells)
				v := randAttnF32(rng, (vrows-1)*80+cells)
				for _, width := range []int{16, 64} {
					fn := FMALanes16
					if width == 64 {
						fn = FMALanes4x16
					}
					lw := randAttnF32(rng, vrows*width)
					lg := guardedF32(t, lw, !atStart)
					fn(lw, p, v, 80)
					fn(lg, guardedF32(t, p, atStart), guardedF32(t, v, atStart), 80)
					sameBits(t, "FMALanes", lg, lw)
				}
			}
		}
	})
}
