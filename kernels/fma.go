package kernels

import "math"

// FMA32 returns a·b+c rounded once to float32, as a hardware fused
// multiply-add (VFMADD…PS) computes it. The product of two float32 is exact
// in float64, so the float64 sum has a single rounding; converting that to
// float32 could round a second time, which matters only when the float64
// sum lands exactly on a float32 rounding midpoint without being exact.
// That rare case is detected from the bit pattern and resolved with the
// exact error of the float64 sum (TwoSum).
//
// The generic kernels use it wherever llama.cpp's SIMD code fuses a
// multiply and an add, so that they reproduce its results bit for bit.
func FMA32(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	s := p + float64(c)
	u := math.Float64bits(s)
	// Midpoint pattern of a normal float32 result: the 29 mantissa bits
	// below float32 precision are exactly 1000…0. Results in the float32
	// subnormal range have more excess bits: take the slow path for them.
	if u&(1<<29-1) != 1<<28 && u&0x7ff0000000000000 >= 0x3810000000000000 {
		return float32(s)
	}
	return fma32Slow(p, float64(c), s)
}

// fma32Slow rounds the exact p+c (p = a·b exactly, s its float64 rounding)
// to float32.
func fma32Slow(p, c, s float64) float32 {
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	// TwoSum: p + c = s + e exactly.
	bb := s - p
	e := (p - (s - bb)) + (c - bb)
	if e == 0 {
		return float32(s)
	}
	// Move s one float64 ulp towards the exact value: the float32 rounding
	// of the nudged value is the rounding of the exact sum, since the nudge
	// cannot cross another float32 midpoint.
	if e > 0 {
		return float32(math.Nextafter(s, math.Inf(1)))
	}
	return float32(math.Nextafter(s, math.Inf(-1)))
}

// hsum16 is _mm512_reduce_add_ps as GCC expands it: lanes i and i+8, then
// i and i+4, then i and i+2, then 0 and 1 (llamafile's hsum(__m512) and the
// final step of GGML_F32_VEC_REDUCE on AVX-512).
func hsum16(v *[16]float32) float32 {
	var t [8]float32
	for i := range 8 {
		t[i] = v[i] + v[i+8]
	}
	return hsum8(&t)
}

// HSum16 is hsum16 for other packages reproducing ggml's arithmetic.
func HSum16(v *[16]float32) float32 { return hsum16(v) }

// Reduce4x16 is reduce4x16 (it folds acc in place) for other packages
// reproducing ggml's arithmetic.
func Reduce4x16(acc *[4][16]float32) float32 { return reduce4x16(acc) }

// hsum8 is ggml's hsum_float_8 (and llamafile's hsum(__m256)): the high
// and low 128-bit halves, then lanes 0+2 and 1+3, then their sum.
func hsum8(v *[8]float32) float32 {
	var t [4]float32
	for i := range 4 {
		t[i] = v[i] + v[i+4]
	}
	a := t[0] + t[2]
	b := t[1] + t[3]
	return a + b
}

// reduce4x16 folds four 16-lane accumulators as GGML_F32_VEC_REDUCE does
// on AVX-512 (0+2 and 1+3, then 0+1) and returns their horizontal sum.
func reduce4x16(acc *[4][16]float32) float32 {
	for l := range 16 {
		acc[0][l] += acc[2][l]
		acc[1][l] += acc[3][l]
	}
	for l := range 16 {
		acc[0][l] += acc[1][l]
	}
	return hsum16(&acc[0])
}
