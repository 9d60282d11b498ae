package tensor

import (
	"math"
	"testing"
)

// TestLibmGolden checks Sinf, Cosf and Expf bit for bit against values
// computed by glibc (libm_golden_test.go): small and large arguments, both
// reduction paths, RoPE angle sequences, and expf's range limits.
func TestLibmGolden(t *testing.T) {
	for _, g := range glibcSinCos {
		x := math.Float32frombits(g[0])
		if s := math.Float32bits(Sinf(x)); s != g[1] {
			t.Errorf("Sinf(%v) = %#x, glibc %#x", x, s, g[1])
		}
		if c := math.Float32bits(Cosf(x)); c != g[2] {
			t.Errorf("Cosf(%v) = %#x, glibc %#x", x, c, g[2])
		}
	}
	for _, g := range glibcExp {
		x := math.Float32frombits(g[0])
		if e := math.Float32bits(Expf(x)); e != g[1] {
			t.Errorf("Expf(%v) = %#x, glibc %#x", x, e, g[1])
		}
	}
}

// TestLibmSpecial checks the non-finite and range-limit cases.
func TestLibmSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, x := range []float32{inf, -inf, float32(math.NaN())} {
		if !math.IsNaN(float64(Sinf(x))) || !math.IsNaN(float64(Cosf(x))) {
			t.Errorf("sin/cos(%v) not NaN", x)
		}
	}
	if Expf(-inf) != 0 || Expf(inf) != inf || Expf(100) != inf || Expf(-200) != 0 || Expf(0) != 1 {
		t.Error("Expf limits")
	}
	if Sinf(0) != 0 || Cosf(0) != 1 {
		t.Error("sin/cos at 0")
	}
}
