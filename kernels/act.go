package kernels

// SwiGLUVec computes dst[i] = silu(gate[i])·up[i] with ggml's vectorised
// SiLU (ggml_v_silu, the AVX-512 ggml_v_expf) for the first len(dst)&^15
// elements, if the CPU level has an assembly kernel for it, and returns how
// many elements it computed: 0 when there is none, and the caller computes
// them itself (package tensor's SwiGLU emulates the same lanes in Go, bit
// for bit). gate and up must hold at least len(dst) values; dst may alias
// either.
func SwiGLUVec(dst, gate, up []float32) int {
	n := len(dst) &^ 15
	if n == 0 || swiglu == nil {
		return 0
	}
	gate, up = gate[:n], up[:n]
	swiglu(&dst[0], &gate[0], &up[0], n)
	return n
}

// swiglu is the assembly kernel of SwiGLUVec at the current level, or nil.
var swiglu func(dst, gate, up *float32, n int)

// RoPEVec applies NORM-mode RoPE to the first len(cs)&^15 elements of x
// (pairs (x[2i], x[2i+1]) rotated by cs[2i] = cos θ_i, cs[2i+1] = sin θ_i:
// x0' = fma(x0, cos, −(x1·sin)), x1' = fma(x0, sin, x1·cos)) if the CPU level
// has an assembly kernel for it, and returns how many elements it rotated:
// 0 when there is none, and the caller rotates them itself (package
// tensor's Rotate, bit for bit the same). x must hold at least as many
// elements.
func RoPEVec(x, cs []float32) int {
	n := len(cs) &^ 15
	if n == 0 || rope == nil {
		return 0
	}
	x = x[:n]
	rope(&x[0], &cs[0], n)
	return n
}

// rope is the assembly kernel of RoPEVec at the current level, or nil.
var rope func(x, cs *float32, n int)

// ExpVec sets dst[i] = e^src[i] for the first len(dst)&^7 elements,
// bit for bit as package tensor's Exp computes them (float64 range
// reduction and Taylor polynomial, one rounding to float32), if the CPU
// level has an assembly kernel for it, and returns how many elements it
// computed: 0 when there is none, and the caller computes them itself. src
// must hold at least as many elements; dst may alias src.
func ExpVec(dst, src []float32) int {
	n := len(dst) &^ 7
	if n == 0 || expf == nil {
		return 0
	}
	src = src[:n]
	expf(&dst[0], &src[0], n)
	return n
}

// expf is the assembly kernel of ExpVec at the current level, or nil.
var expf func(dst, src *float32, n int)
