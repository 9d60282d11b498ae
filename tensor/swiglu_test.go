package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/internal/cpu"
	"github.com/smolbot/smolbot/kernels"
)

// TestSwiGLULevels checks that SwiGLU gives the same bits at every CPU level
// (the assembly SiLU against the Go emulation of ggml's vector lanes), over
// ordinary activations, the overflow and underflow edges of expf, subnormal
// results, infinities and NaNs.
func TestSwiGLULevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(41, 42))
	const n = 11008 + 13
	gate, up := make([]float32, n), make([]float32, n)
	for i := range gate {
		switch i % 8 {
		case 0:
			gate[i] = float32(rng.NormFloat64() * 200) // beyond ±88: the |n| > 192 lanes
		case 1:
			gate[i] = float32(rng.Float64()*40 - 110) // deep in expf's underflow and subnormal range
		case 2:
			gate[i] = float32(rng.Float64()*10 + 83) // near expf's overflow
		default:
			gate[i] = float32(rng.NormFloat64() * 3)
		}
		up[i] = float32(rng.NormFloat64())
	}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 1e-45, -1e-45, 88.72, -88.72, 103.97, -103.97, 87.3, -87.3, math.MaxFloat32, -math.MaxFloat32}
	copy(gate[100:], special)
	want := make([]float32, n)
	func() {
		defer cpu.Force(cpu.Generic)()
		SwiGLU(want, gate, up)
	}()
	for _, l := range []cpu.Level{cpu.AVX2, cpu.AVX512} {
		if !cpu.Has(l) {
			continue
		}
		func() {
			defer cpu.Force(l)()
			got := make([]float32, n)
			SwiGLU(got, gate, up)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v: swiglu(%v)·%v = %v (%#x), generic %v (%#x)", l, gate[i], up[i],
						got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
				}
			}
			// In place.
			g := append([]float32(nil), gate...)
			SwiGLU(g, g, up)
			for i := range g {
				if math.Float32bits(g[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%v: in place: element %d differs", l, i)
				}
			}
		}()
	}
}

// TestRotateLevels checks that Rotate gives the same bits at every CPU
// level, for a full and a partial rotation (RopeDims < head_dim, and a
// length that leaves pairs to the scalar loop).
func TestRotateLevels(t *testing.T) {
	rng := rand.New(rand.NewPCG(43, 44))
	const heads, D = 5, 128
	x := make([]float32, heads*D)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(9)-4)))
	}
	x[3], x[4] = float32(math.Inf(1)), float32(math.NaN())
	r, err := NewRoPE(RoPEConfig{Dims: D, FreqBase: 5e6})
	if err != nil {
		t.Fatal(err)
	}
	for _, dims := range []int{D, 72, 38} {
		for _, pos := range []int{0, 1, 77, 65000} {
			cs := make([]float32, D)
			r.CosSin(pos, cs)
			want := append([]float32(nil), x...)
			func() {
				defer cpu.Force(cpu.Generic)()
				Rotate(want, heads, D, cs[:dims])
			}()
			got := append([]float32(nil), x...)
			Rotate(got, heads, D, cs[:dims])
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("dims %d pos %d: element %d = %v, generic %v", dims, pos, i, got[i], want[i])
				}
			}
		}
	}
}

// TestExpVec checks the assembly exponential (kernels.ExpVec, where there
// is one) against Exp bit for bit over a sweep of float32 bit patterns:
// every sign and exponent, the range limits, subnormal results and NaNs.
func TestExpVec(t *testing.T) {
	const step = 997
	src := make([]float32, 0, 1<<32/step+16)
	for b := uint64(0); b < 1<<32; b += step {
		src = append(src, math.Float32frombits(uint32(b)))
	}
	src = append(src, expMaxArg, math.Nextafter32(expMaxArg, 100), expMinArg, math.Nextafter32(expMinArg, -200),
		0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), -87.33655, -87.33654, -88.72283)
	dst := make([]float32, len(src))
	n := kernels.ExpVec(dst, src)
	// The assembly kernels come as a set: where SwiGLU has one, so has Exp.
	v := make([]float32, 16)
	if kernels.SwiGLUVec(v, v, v) > 0 && n != len(src)&^7 {
		t.Fatalf("ExpVec computed %d of %d elements", n, len(src))
	}
	for i, x := range src[:n] {
		if want := Exp(x); math.Float32bits(dst[i]) != math.Float32bits(want) {
			t.Fatalf("exp(%v) (%#x) = %v (%#x), Exp %v (%#x)", x, math.Float32bits(x), dst[i], math.Float32bits(dst[i]), want, math.Float32bits(want))
		}
	}
}
