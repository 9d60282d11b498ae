//go:build amd64 && !purego

package kernels

import (
	"fmt"

	xcpu "golang.org/x/sys/cpu"

	"github.com/smolbot/smolbot/internal/cpu"
	"github.com/smolbot/smolbot/quant"
)

// The assembly kernels. Each *Rows* function computes rows dot products of
// consecutive weight rows (wstride bytes apart) against one activation row:
// dst[r] = dot(w+r*wstride, x) over nb blocks, with exactly the generic
// kernel's integer partial sums, accumulated in f32 SIMD lanes. Each
// *Rows4* function does the same for four activation rows xstride bytes
// apart, writing dst[t*dstStride+r]; it decodes every weight block once for
// the four tokens and gives bit-identical results to four *Rows* calls.
// For the float types (F32, F16, BF16 weights against f32) nb counts
// elements. Preconditions, checked by the Go wrappers: nb ≥ 1, rows ≥ 1,
// and every row and activation in bounds. The AVX2 kernels need AVX2, FMA and F16C;
// the AVX512 ones AVX-512 F/BW/VL and VNNI (cpu.AVX512).

// avx512VBMIGFNI reports whether the CPU also has AVX512-VBMI and GFNI, which
// the faster single-token Q4_K (repacked form) and Q6_K kernels of the
// AVX512 level use (q4kRepRowsVBMIAVX512, q6kRowsGFNIAVX512); without them
// the level keeps q4kRepRowsAVX512 and q6kRowsAVX512. A variable so that
// tests can check both.
var avx512VBMIGFNI = xcpu.X86.HasAVX512VBMI && xcpu.X86.HasAVX512GFNI

//go:noescape
func q4kRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q4kRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)

//go:noescape
func q4kRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q4kRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)

//go:noescape
func q6kRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q6kRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)

//go:noescape
func q6kRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q6kRowsGFNIAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q6kRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)

//go:noescape
func q5kRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q5kRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)

//go:noescape
func q5kRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q5kRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)

//go:noescape
func q8_0RowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q4_0RowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

// quantizeQ8KAVX2 and quantizeQ8KAVX512 quantize nb blocks of 256 floats
// at src to Q8_K at dst, with exactly the bytes of quant.QuantizeQ8K.
//
//go:noescape
func quantizeQ8KAVX2(dst *byte, src *float32, nb int)

//go:noescape
func quantizeQ8KAVX512(dst *byte, src *float32, nb int)

// quantizeQ8_0AVX2 quantizes nb blocks of 32 floats at src to Q8_0 at
// dst, with exactly the bytes of quant.QuantizeQ8_0Act.
//
//go:noescape
func quantizeQ8_0AVX2(dst *byte, src *float32, nb int)

func quantizeQ8_0AVX2Go(src []float32, dst []byte) {
	nb := len(src) / qk0
	if len(src)%qk0 != 0 || len(dst) < nb*q8_0Bytes {
		panic(fmt.Sprintf("kernels: quantize %d elements into %d bytes", len(src), len(dst)))
	}
	if nb > 0 {
		quantizeQ8_0AVX2(&dst[0], &src[0], nb)
	}
}

func checkQuantize(src []float32, dst []byte) int {
	nb := len(src) / qk
	if len(src)%qk != 0 || len(dst) < nb*q8KBytes {
		panic(fmt.Sprintf("kernels: quantize %d elements into %d bytes", len(src), len(dst)))
	}
	return nb
}

func quantizeQ8KAVX2Go(src []float32, dst []byte) {
	if nb := checkQuantize(src, dst); nb > 0 {
		quantizeQ8KAVX2(&dst[0], &src[0], nb)
	}
}

func quantizeQ8KAVX512Go(src []float32, dst []byte) {
	if nb := checkQuantize(src, dst); nb > 0 {
		quantizeQ8KAVX512(&dst[0], &src[0], nb)
	}
}

// swigluAVX512 is SwiGLUVec's kernel: n > 0, a multiple of 16.
//
//go:noescape
func swigluAVX512(dst, gate, up *float32, n int)

// ropeAVX512 is RoPEVec's kernel: n > 0, a multiple of 16.
//
//go:noescape
func ropeAVX512(x, cs *float32, n int)

// expAVX512 is ExpVec's kernel: n > 0, a multiple of 8.
//
//go:noescape
func expAVX512(dst, src *float32, n int)

// The attention kernels of attn.go (q8Scores, q8Accum, fmaLanes16,
// fmaLanes4x16), with the preconditions their Go wrappers check.
//
//go:noescape
func q8_0ScoresAVX512(scores *float32, sstride int, q *float32, group int, k *byte, rowBytes, n, D int, row *float32, scale float32)

//go:noescape
func q8_0AccumAVX512(acc *float32, D int, w *float32, wstride, group int, v *byte, rowBytes, n int)

//go:noescape
func fmaLanes16AVX512(acc, p, v *float32, vstride, n, rows int)

//go:noescape
func fmaLanes4x16AVX512(acc, p, v *float32, vstride, n, rows int)

//go:noescape
func q4_0RowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

// Single dot products call the row kernels directly (not through a func
// value) so that the result variable stays on the stack.

func q4kDotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q4KBytes, q8KBytes)
	q4kRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q4kDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q4KBytes, q8KBytes)
	q4kRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q6kDotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q6KBytes, q8KBytes)
	q6kRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q6kDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q6KBytes, q8KBytes)
	q6kRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q5kDotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q5KBytes, q8KBytes)
	q5kRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q5kDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q5KBytes, q8KBytes)
	q5kRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q8_0DotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q8_0Bytes, q8_0Bytes)
	q8_0RowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q4_0DotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q4_0Bytes, q8_0Bytes)
	q4_0RowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q4_0DotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q4_0Bytes, q8_0Bytes)
	q4_0RowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

// The float kernels (float_amd64.s); nb counts elements.

//go:noescape
func f32VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func f16VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func bf16VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func f16f32VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func bf16f32VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func f32GemmRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func f16GemmRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func bf16GemmRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func f32VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func f16VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func f16f32VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func bf16f32VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

func f32VecDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 4, 4)
	f32VecRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func f16VecDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 2)
	f16VecRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func bf16VecDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 2)
	bf16VecRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func f16f32DotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 4)
	f16f32VecRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func bf16f32DotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 4)
	bf16f32VecRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func f32GemmDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 4, 4)
	f32GemmRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func f16GemmDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 2)
	f16GemmRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func bf16GemmDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 2)
	bf16GemmRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func f32VecDotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 4, 4)
	f32VecRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func f16VecDotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 2)
	f16VecRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func f16f32DotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 4)
	f16f32VecRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func bf16f32DotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, 2, 4)
	bf16f32VecRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

// archKernels installs the assembly kernels available at level l.
func archKernels(l cpu.Level, t *[maxType]kernel) {
	quantizeQ8K = quant.QuantizeQ8K
	quantizeQ8_0 = quant.QuantizeQ8_0Act
	if l >= cpu.AVX2 {
		quantizeQ8_0 = quantizeQ8_0AVX2Go
	}
	swiglu, rope, expf = nil, nil, nil
	switch {
	case l >= cpu.AVX512:
		quantizeQ8K = quantizeQ8KAVX512Go
		swiglu, rope, expf = swigluAVX512, ropeAVX512, expAVX512
		q8Scores, q8Accum = q8_0ScoresAVX512, q8_0AccumAVX512
		fmaLanes16, fmaLanes4x16 = fmaLanes16AVX512, fmaLanes4x16AVX512
		install(t, quant.Q4_K, q4kDotAVX512, q4kRowsAVX512, q4kRows4AVX512)
		install(t, quant.Q5_K, q5kDotAVX512, q5kRowsAVX512, q5kRows4AVX512)
		q6kRows := q6kRowsAVX512
		if avx512VBMIGFNI {
			q6kRows = q6kRowsGFNIAVX512
		}
		install(t, quant.Q6_K, q6kDotAVX512, q6kRows, q6kRows4AVX512)
		install(t, quant.Q4_0, q4_0DotAVX512, q4_0RowsAVX512, nil)
		install(t, quant.Q8_0, q8_0DotAVX2, q8_0RowsAVX2, nil)
		install(t, quant.F32, f32VecDotAVX512, f32VecRowsAVX512, nil)
		install(t, quant.F16, f16VecDotAVX512, f16VecRowsAVX512, nil)
		install(t, quant.BF16, bf16VecDotAVX512, bf16VecRowsAVX512, nil)
		installGemm(t, quant.F32, f32GemmDotAVX512, f32GemmRowsAVX512)
		installGemm(t, quant.F16, f16GemmDotAVX512, f16GemmRowsAVX512)
		installGemm(t, quant.BF16, bf16GemmDotAVX512, bf16GemmRowsAVX512)
		dotF16F32, dotBF16F32 = f16f32DotAVX512, bf16f32DotAVX512
		dotF16F32Rows = f16f32RowsAVX512
	case l >= cpu.AVX2:
		quantizeQ8K = quantizeQ8KAVX2Go
		install(t, quant.Q4_K, q4kDotAVX2, q4kRowsAVX2, q4kRows4AVX2)
		install(t, quant.Q5_K, q5kDotAVX2, q5kRowsAVX2, q5kRows4AVX2)
		install(t, quant.Q6_K, q6kDotAVX2, q6kRowsAVX2, q6kRows4AVX2)
		install(t, quant.Q4_0, q4_0DotAVX2, q4_0RowsAVX2, nil)
		install(t, quant.Q8_0, q8_0DotAVX2, q8_0RowsAVX2, nil)
		install(t, quant.F32, f32VecDotAVX2, f32VecRowsAVX2, nil)
		install(t, quant.F16, f16VecDotAVX2, f16VecRowsAVX2, nil)
		dotF16F32, dotBF16F32 = f16f32DotAVX2, bf16f32DotAVX2
		dotF16F32Rows = asmMixedRows(f16f32VecRowsAVX2)
	}
}

//go:noescape
func f16f32TailAVX512(dst *float32, w *byte, wstride int, x *byte, n, rows int)

// f16f32RowsAVX512 is dotF16F32Rows on AVX-512. Each row's result is
// ggml_vec_dot_f32's 64-element main part, reduced, plus a scalar tail of
// n%64 elements added one by one. For short rows (the transposed values of
// a partly filled KV page) the tail's serial additions dominate, so they
// run across 16 rows at a time instead, one row per lane, with the same
// operations per row.
func f16f32RowsAVX512(dst []float32, w []byte, wstride int, x []byte, n int) {
	np := n &^ 63
	r16 := len(dst) &^ 15
	if n == np || r16 == 0 {
		f16f32VecRowsAVX512(&dst[0], &w[0], wstride, &x[0], n, len(dst))
		return
	}
	if np > 0 {
		f16f32VecRowsAVX512(&dst[0], &w[0], wstride, &x[0], np, r16)
	} else {
		clear(dst[:r16])
	}
	f16f32TailAVX512(&dst[0], &w[2*np], wstride, &x[4*np], n-np, r16)
	if r16 < len(dst) {
		f16f32VecRowsAVX512(&dst[r16], &w[r16*wstride], wstride, &x[0], n, len(dst)-r16)
	}
}

// asmMixedRows adapts a mixed-precision row kernel to dotF16F32Rows (whose
// caller has checked the bounds).
func asmMixedRows(rows asmRows) func(dst []float32, w []byte, wstride int, x []byte, n int) {
	return func(dst []float32, w []byte, wstride int, x []byte, n int) {
		rows(&dst[0], &w[0], wstride, &x[0], n, len(dst))
	}
}

// installGemm puts an assembly GEMM-form kernel of a float type into the
// table (its 4-token entry runs the row kernel once per token).
func installGemm(t *[maxType]kernel, wt quant.Type, dot func(w, x []byte, nb int) float32, rows asmRows) {
	k := &t[wt]
	k.gemmDot = dot
	k.gemmRows, k.gemmRows4 = wrapRows(k, rows, nil)
}

// asmRows is the shape of every *Rows* assembly function.
type asmRows func(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

// asmRows4 is the shape of every *Rows4* assembly function.
type asmRows4 func(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)

// install puts an assembly kernel into the table behind bounds-checking
// wrappers. Without rows4 the four-token entry runs rows once per token,
// which gives the same results without the weight reuse.
func install(t *[maxType]kernel, wt quant.Type, dot func(w, x []byte, nb int) float32, rows asmRows, rows4 asmRows4) {
	k := &t[wt]
	k.dot = dot
	k.rows, k.rows4 = wrapRows(k, rows, rows4)
}

// wrapRows returns bounds-checking wrappers of the assembly row kernels.
func wrapRows(k *kernel, rows asmRows, rows4 asmRows4) (rowsFunc, rows4Func) {
	wb, xb := k.wBytes, k.xBytes
	r := func(dst []float32, w []byte, wstride int, x []byte, nb int) {
		if len(dst) == 0 {
			return
		}
		if nb == 0 {
			clear(dst)
			return
		}
		checkRows(len(dst), len(w), wstride, len(x), 0, nb, wb, xb, 1)
		rows(&dst[0], &w[0], wstride, &x[0], nb, len(dst))
	}
	r4 := func(dst []float32, dstStride int, w []byte, wstride int, x []byte, xstride int, nb, nrows int) {
		if nrows <= 0 {
			return
		}
		if len(dst) < 3*dstStride+nrows || dstStride < nrows {
			panic(fmt.Sprintf("kernels: rows4 output of %d values for 4×%d rows (stride %d)", len(dst), nrows, dstStride))
		}
		if nb == 0 {
			for t := 0; t < 4; t++ {
				clear(dst[t*dstStride : t*dstStride+nrows])
			}
			return
		}
		checkRows(nrows, len(w), wstride, len(x), xstride, nb, wb, xb, 4)
		if rows4 == nil {
			for t := 0; t < 4; t++ {
				rows(&dst[t*dstStride], &w[0], wstride, &x[t*xstride], nb, nrows)
			}
			return
		}
		rows4(&dst[0], dstStride, &w[0], wstride, &x[0], xstride, nb, nrows)
	}
	return r, r4
}

// checkRows panics unless rows weight rows wstride bytes apart and toks
// activation rows xstride bytes apart, each of nb blocks, fit in their
// buffers: the assembly trusts these bounds.
func checkRows(rows, wlen, wstride, xlen, xstride, nb, wb, xb, toks int) {
	if wstride < 0 || xstride < 0 || (rows-1)*wstride+nb*wb > wlen || (toks-1)*xstride+nb*xb > xlen {
		panic(fmt.Sprintf("kernels: %d rows (stride %d) of %d blocks in %d bytes, %d activations (stride %d) in %d bytes",
			rows, wstride, nb, wlen, toks, xstride, xlen))
	}
}

// checkDot panics unless nb ≥ 1 blocks fit in both rows.
func checkDot(wlen, xlen, nb, wb, xb int) {
	if nb <= 0 || nb*wb > wlen || nb*xb > xlen {
		panic(fmt.Sprintf("kernels: dot of %d blocks with %d weight and %d activation bytes", nb, wlen, xlen))
	}
}
