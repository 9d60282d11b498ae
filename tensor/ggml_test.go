package tensor

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/kernels"
)

func TestVexpf(t *testing.T) {
	// ggml_v_expf is documented within 1.45 + 0.5 ulp of e^x; flushes
	// beyond its range.
	for x := float32(-103); x < 88.3; x += 0.0071 {
		got := vexpf(x)
		want := math.Exp(float64(x))
		w32 := float32(want)
		if w32 < math.SmallestNonzeroFloat32*(1<<24) {
			continue // subnormal results: absolute accuracy only
		}
		ulp := float64(math.Nextafter32(w32, float32(math.Inf(1))) - w32)
		if e := math.Abs(float64(got)-want) / ulp; e > 2.5 {
			t.Fatalf("vexpf(%v) = %v, want %v (%.2f ulp)", x, got, want, e)
		}
	}
	if vexpf(200) != float32(math.Inf(1)) || vexpf(-200) != 0 || vexpf(float32(math.Inf(-1))) != 0 {
		t.Error("vexpf range limits")
	}
	if vexpf(0) != 1 {
		t.Errorf("vexpf(0) = %v", vexpf(0))
	}
}

func TestGGMLDots(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{16, 64, 128, 130, 256} {
		x := make([]float32, n)
		y := make([]float32, n)
		var want float64
		for i := range x {
			x[i], y[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			want += float64(x[i]) * float64(y[i])
		}
		if d := math.Abs(float64(kernels.DotF32(x, y, n)) - want); d > 1e-4 {
			t.Errorf("DotF32 n=%d off by %g", n, d)
		}
	}
	v := [16]float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	if kernels.HSum16(&v) != 136 {
		t.Error("hsum16")
	}
}
