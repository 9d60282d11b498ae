package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestExpAccuracy(t *testing.T) {
	// Every float32 in a dense sweep of the useful range, plus edges.
	worst := 0.0
	check := func(x float32) {
		got := Exp(x)
		want := math.Exp(float64(x))
		if want > math.MaxFloat32 {
			if !math.IsInf(float64(got), 1) {
				t.Fatalf("Exp(%v) = %v, want +Inf", x, got)
			}
			return
		}
		w32 := float32(want)
		if w32 == 0 || w32 < math.SmallestNonzeroFloat32*(1<<23) {
			// subnormal range: absolute error of one subnormal step
			if math.Abs(float64(got)-want) > 1.5e-45 {
				t.Fatalf("Exp(%v) = %v, want %v", x, got, want)
			}
			return
		}
		ulp := float64(math.Nextafter32(w32, float32(math.Inf(1))) - w32)
		e := math.Abs(float64(got)-want) / ulp
		if e > worst {
			worst = e
		}
		if e > 1 {
			t.Fatalf("Exp(%v) = %v, want %v (%.2f ulp)", x, got, want, e)
		}
	}
	for x := float32(-104); x < 89; x += 0.00173 {
		check(x)
	}
	for _, x := range []float32{0, -0, 1, -1, 88.7228, 88.72284, 89, -87.3, -103.9, -104, -200, 200, 1e-30, -1e-30} {
		check(x)
	}
	if v := Exp(float32(math.NaN())); v == v {
		t.Errorf("Exp(NaN) = %v", v)
	}
	t.Logf("worst error %.3f ulp", worst)
}

func TestRMSNorm(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 2048
	x := make([]float32, n)
	w := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64())
		w[i] = float32(1 + 0.1*r.NormFloat64())
	}
	dst := make([]float32, n)
	RMSNorm(dst, x, w, 1e-6)
	var ss float64
	for _, v := range x {
		ss += float64(v) * float64(v)
	}
	scale := 1 / math.Sqrt(ss/float64(n)+1e-6)
	for i := range x {
		want := float64(x[i]) * scale * float64(w[i])
		if math.Abs(float64(dst[i])-want) > 1e-6*math.Abs(want)+1e-7 {
			t.Fatalf("dst[%d] = %v, want %v", i, dst[i], want)
		}
	}
	// In place.
	y := append([]float32(nil), x...)
	RMSNorm(y, y, w, 1e-6)
	for i := range y {
		if y[i] != dst[i] {
			t.Fatalf("in-place result differs at %d", i)
		}
	}
}

func TestSwiGLUSoftmax(t *testing.T) {
	g := []float32{-100, -2, 0, 0.5, 3, 50}
	u := []float32{1, 2, 3, 4, 5, 6}
	d := make([]float32, len(g))
	SwiGLU(d, g, u)
	for i := range g {
		want := float64(g[i]) / (1 + math.Exp(-float64(g[i]))) * float64(u[i])
		if math.Abs(float64(d[i])-want) > 1e-6*math.Abs(want)+1e-30 {
			t.Errorf("swiglu[%d] = %v, want %v", i, d[i], want)
		}
	}
	x := []float32{1, 2, 3, float32(math.Inf(-1))}
	Softmax(x)
	e := []float64{math.Exp(-2), math.Exp(-1), 1}
	s := e[0] + e[1] + e[2]
	for i := range e {
		if math.Abs(float64(x[i])-e[i]/s) > 1e-7 {
			t.Errorf("softmax[%d] = %v, want %v", i, x[i], e[i]/s)
		}
	}
	if x[3] != 0 {
		t.Errorf("softmax of -Inf = %v", x[3])
	}
	if Argmax([]float32{1, 3, 3, 2}) != 1 || Argmax(nil) != -1 {
		t.Error("argmax")
	}
}

func TestRoPE(t *testing.T) {
	r, err := NewRoPE(RoPEConfig{Dims: 128, FreqBase: 5e6})
	if err != nil {
		t.Fatal(err)
	}
	// Spec §10: theta_scale = powf(5e6, -2/128) ≈ 0.78582996.
	if math.Abs(float64(r.thetaScale)-0.78582996) > 1e-7 {
		t.Errorf("theta_scale = %v", r.thetaScale)
	}
	cs := make([]float32, 128)
	pos := 1234
	r.CosSin(pos, cs)
	theta := float32(pos)
	for i := 0; i < 64; i++ {
		// glibc's cosf/sinf (Cosf/Sinf), within an ulp of the exact values.
		if cs[2*i] != Cosf(theta) || cs[2*i+1] != Sinf(theta) {
			t.Fatalf("pair %d: cos/sin %v %v for θ %v", i, cs[2*i], cs[2*i+1], theta)
		}
		for j, want := range []float64{math.Cos(float64(theta)), math.Sin(float64(theta))} {
			got := cs[2*i+j]
			ulp := float64(math.Nextafter32(float32(math.Abs(want)), 1e9) - float32(math.Abs(want)))
			if math.Abs(float64(got)-want) > ulp {
				t.Fatalf("pair %d: %v, exact %v", i, got, want)
			}
		}
		theta *= r.thetaScale
	}
	// Rotation preserves the norm of each pair and rotates pair 0 by pos radians.
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(i%7) - 3
	}
	y := append([]float32(nil), x...)
	Rotate(y, 2, 128, cs)
	for i := 0; i < 256; i += 2 {
		n0 := math.Hypot(float64(x[i]), float64(x[i+1]))
		n1 := math.Hypot(float64(y[i]), float64(y[i+1]))
		if math.Abs(n0-n1) > 1e-5 {
			t.Fatalf("pair %d norm %v -> %v", i, n0, n1)
		}
	}
	// Position 0 is the identity.
	r.CosSin(0, cs)
	z := append([]float32(nil), x...)
	Rotate(z, 2, 128, cs)
	for i := range z {
		if z[i] != x[i] {
			t.Fatalf("pos 0 changed element %d", i)
		}
	}
}

func TestYaRN(t *testing.T) {
	// Spec §7.3/§10: SmolLM3 with factor 2, orig 65536: low 24, high 39,
	// mscale 1 + 0.1 ln 2.
	r, err := NewRoPE(RoPEConfig{Dims: 128, FreqBase: 5e6, FreqScale: 0.5, ExtFactor: 1, OrigContext: 65536})
	if err != nil {
		t.Fatal(err)
	}
	if r.corr != [2]float32{24, 39} {
		t.Errorf("corr dims = %v, want [24 39]", r.corr)
	}
	cs := make([]float32, 128)
	pos := 1000
	r.CosSin(pos, cs)
	mscale := 1 + 0.1*math.Log(2)
	theta := float32(pos)
	for i := 0; i < 64; i++ {
		var want float64
		switch {
		case i <= 24:
			want = float64(theta)
		case i >= 39:
			want = float64(theta) / 2
		default:
			mix := 1 - float64(i-24)/15
			want = float64(theta)/2*(1-mix) + float64(theta)*mix
		}
		c := math.Cos(want) * mscale
		if math.Abs(float64(cs[2*i])-c) > 2e-6 {
			t.Errorf("pair %d: cos %v, want %v", i, cs[2*i], c)
		}
		theta *= r.thetaScale
	}
	if _, err := NewRoPE(RoPEConfig{Dims: 3, FreqBase: 1e4}); err == nil {
		t.Error("odd dims accepted")
	}
	if _, err := NewRoPE(RoPEConfig{Dims: 4}); err == nil {
		t.Error("zero base accepted")
	}
}
