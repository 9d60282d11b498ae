package tensor

import (
	"math"

	"github.com/smolbot/smolbot/kernels"
)

// This file reproduces, operation by operation, the float32 arithmetic of
// the ggml CPU code paths that llama.cpp runs on an x86 machine with
// AVX-512 (the reference machine of the fixtures): the vectorised expf
// behind SiLU and softmax (the summation orders of its f32 dot products and
// horizontal sums live in package kernels: DotF32, HSum16, Reduce4x16).
//
// Why bother: in a quantized model every matmul rounds its activations to
// int8 (Q8_0/Q8_K). A one-ulp difference anywhere upstream occasionally
// moves an activation across a rounding boundary, and in small random-weight
// test models one such flip shifts the logits by tenths. Matching ggml's
// operation order removes those flips, so quantized models agree with
// llama.cpp far beyond what tolerance-based arithmetic would.

// simdLanes is the f32 vector width of the reference build (AVX-512).
const simdLanes = 16

// fma32 is a float32 fused multiply-add, rounded once (kernels.FMA32).
func fma32(a, b, c float32) float32 { return kernels.FMA32(a, b, c) }

// vexpf is one lane of ggml_v_expf in its AVX-512 form (an Arm
// optimized-routines expf: ≤ 1.5 ulp, flushes above ~88.38 to +Inf and
// below ~−103.97 to 0).
func vexpf(x float32) float32 {
	const (
		shift = 0x1.8p23
		log2e = 0x1.715476p+0
		ln2hi = 0x1.62e4p-1
		ln2lo = 0x1.7f7d1cp-20
		c1    = 0x1.ffffecp-1
		c2    = 0x1.fffdb6p-2
		c3    = 0x1.555e66p-3
		c4    = 0x1.573e2ep-5
		c5    = 0x1.0e4020p-7
	)
	z := fma32(x, log2e, shift)
	n := z - shift
	b := fma32(-n, ln2lo, fma32(-n, ln2hi, x))
	if n > 192 || n < -192 {
		if n <= 0 {
			return 0
		}
		return float32(math.Inf(1))
	}
	u := b * b
	j := fma32(fma32(fma32(c5, b, c4), u, fma32(c3, b, c2)), u, fma32(c1, b, 1))
	// scalef: j·2^n, rounded once (float64 holds it exactly).
	return float32(math.Ldexp(float64(j), int(n)))
}

// vsilu is one lane of ggml_v_silu: x / (1 + vexpf(0 − x)).
func vsilu(x float32) float32 {
	return x / (1 + vexpf(0-x))
}
