// Package tensor holds the element-wise operations of the transformer
// forward pass — RMSNorm, RoPE, SwiGLU, softmax, residual adds — and the
// grouped-query attention over a KV cache. Matrix products live in package
// kernels; this package is everything else the models compute, in f32.
//
// Every operation follows the numerics of llama.cpp's CPU backend as
// described in ../shared/docs/smollm3-spec.md §3, down to the last bit where
// the reference fixtures can check it: RMSNorm sums squares in f64; RoPE
// builds its angles by iterated f32 multiplication, takes glibc's cosf/sinf
// (Cosf, Sinf) and rotates with GCC's fused multiply-adds; SiLU and the F32
// cache's softmax use ggml's vectorised expf (vexpf) with glibc's expf for
// scalar tails (Expf).
//
// Functions take slices whose lengths the caller has checked (they are the
// inner loops of the model, called with buffers sized at load time);
// mismatched lengths are programmer errors and panic with an index error.
package tensor

import (
	"math"

	"github.com/smolbot/smolbot/kernels"
)

// RMSNorm computes dst = x / sqrt(mean(x²) + eps) ⊙ w over one row
// (spec §3.2): the squares are computed in f32 and summed in f64, the scale
// is an f32, and each output is (x·scale)·w in that order. len(dst) and
// len(w) must be at least len(x); dst may alias x.
func RMSNorm(dst, x, w []float32, eps float32) {
	n := len(x)
	dst = dst[:n]
	w = w[:n]
	var sum float64
	for _, v := range x {
		sq := v * v
		sum += float64(sq)
	}
	mean := float32(sum / float64(n))
	scale := 1 / float32(math.Sqrt(float64(mean+eps)))
	for i, v := range x {
		s := v * scale
		dst[i] = s * w[i]
	}
}

// Add computes dst[i] += x[i] for i < len(dst) (the residual connection).
func Add(dst, x []float32) {
	x = x[:len(dst)]
	for i := range dst {
		dst[i] += x[i]
	}
}

// Silu returns x·σ(x) = x / (1 + e^(−x)) in float32.
func Silu(x float32) float32 {
	return x / (1 + Exp(-x))
}

// SwiGLU computes dst[i] = silu(gate[i]) · up[i] (the "PAR" gated MLP,
// spec §3.1 step 10) over one row, as ggml_vec_swiglu_f32 does on the
// reference build: whole groups of 16 from the start of the slice use the
// vectorised SiLU (see vexpf), the remaining len%16 elements the scalar
// x/(1+expf(−x)) with glibc's expf (Expf). Callers that split a row must
// split it at multiples of 16. dst may alias gate or up.
func SwiGLU(dst, gate, up []float32) {
	n := len(dst)
	gate = gate[:n]
	up = up[:n]
	nv := n &^ (simdLanes - 1)
	// The assembly kernel (where there is one) computes the same lanes.
	for i := kernels.SwiGLUVec(dst[:nv], gate, up); i < nv; i++ {
		dst[i] = vsilu(gate[i]) * up[i]
	}
	for i := nv; i < n; i++ {
		g := gate[i]
		s := g / (1 + Expf(-g))
		dst[i] = s * up[i]
	}
}

// Softmax replaces x with softmax(x) in place: subtract the maximum,
// exponentiate, and scale by the reciprocal of the f64 sum, as ggml's
// soft_max does. −Inf entries become 0; an all −Inf row becomes all 0.
func Softmax(x []float32) {
	if len(x) == 0 {
		return
	}
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	if math.IsInf(float64(m), -1) {
		clear(x)
		return
	}
	var sum float64
	for i, v := range x {
		e := Exp(v - m)
		x[i] = e
		sum += float64(e)
	}
	inv := float32(1 / sum)
	for i := range x {
		x[i] *= inv
	}
}

// Argmax returns the index of the largest element (the first one on ties),
// or -1 for an empty slice. NaNs are never selected unless all are NaN.
func Argmax(x []float32) int {
	best := -1
	for i, v := range x {
		if best < 0 || v > x[best] || (x[best] != x[best] && v == v) {
			best = i
		}
	}
	return best
}
