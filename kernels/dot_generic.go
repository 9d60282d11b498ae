package kernels

import (
	"encoding/binary"
	"math"

	"github.com/smolbot/smolbot/quant"
)

// This file holds the pure-Go dot kernels. They are always compiled, they are
// the purego path, and they are the oracle the SIMD kernels are tested
// against. Integer partial sums follow spec §4.9 exactly; the float
// accumulation order is ggml's generic one (8 f32 lanes for the K-quants,
// one running f32 sum for Q4_0/Q8_0, an f64 sum for the float types).
//
// Every function takes whole blocks: nb blocks of the weight type in w and
// nb blocks of the activation type in x. Callers check the lengths.

// Byte sizes of the blocks the kernels read (spec §4.2-4.7).
const (
	q4_0Bytes = 18
	q8_0Bytes = 34
	q4KBytes  = 144
	q5KBytes  = 176
	q6KBytes  = 210
	q8KBytes  = 292
	qk        = quant.QK_K
	qk0       = 32
)

func f16(b []byte) float32 { return quant.F16ToF32(binary.LittleEndian.Uint16(b)) }

func f32(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }

// scaleMinK4 unpacks the eight 6-bit scales and eight 6-bit mins of a
// Q4_K/Q5_K block (get_scale_min_k4, spec §4.4).
func scaleMinK4(s []byte) (sc, m [8]int32) {
	_ = s[11]
	for j := 0; j < 4; j++ {
		sc[j] = int32(s[j] & 63)
		m[j] = int32(s[j+4] & 63)
	}
	for j := 4; j < 8; j++ {
		sc[j] = int32(s[j+4]&0x0F | (s[j-4]>>6)<<4)
		m[j] = int32(s[j+4]>>4 | (s[j]>>6)<<4)
	}
	return sc, m
}

// bsumsMinK returns B_b = Σ_j m_j·(bsums[2j]+bsums[2j+1]) of a Q8_K block.
func bsumsMinK(m *[8]int32, xb []byte) int32 {
	var b int32
	for j := 0; j < 8; j++ {
		b0 := int32(int16(binary.LittleEndian.Uint16(xb[260+4*j:])))
		b1 := int32(int16(binary.LittleEndian.Uint16(xb[262+4*j:])))
		b += m[j] * (b0 + b1)
	}
	return b
}

// kquantLanes adds the integer partials of one K-quant block into the 8
// lanes: lane L gets Σ scale(e)·u[e]·q8[e] over the elements e ≡ L (mod 8).
// u holds the 256 unsigned quant values (Q4_K/Q5_K) and
// scale16 the scale of each 16-element group. Integer sums are exact, so
// the grouping below (products of a 16-group first, then its scale) gives
// the same lanes as ggml's element-by-element loop.
func kquantLanes(aux *[8]int32, u *[qk]int8, q8b []byte, scale16 *[16]int32) {
	q8 := (*[qk]byte)(q8b)
	for g := 0; g < 16; g++ {
		uu := (*[16]int8)(u[16*g:])
		yy := (*[16]byte)(q8[16*g:])
		s := scale16[g]
		aux[0] += s * (int32(uu[0])*int32(int8(yy[0])) + int32(uu[8])*int32(int8(yy[8])))
		aux[1] += s * (int32(uu[1])*int32(int8(yy[1])) + int32(uu[9])*int32(int8(yy[9])))
		aux[2] += s * (int32(uu[2])*int32(int8(yy[2])) + int32(uu[10])*int32(int8(yy[10])))
		aux[3] += s * (int32(uu[3])*int32(int8(yy[3])) + int32(uu[11])*int32(int8(yy[11])))
		aux[4] += s * (int32(uu[4])*int32(int8(yy[4])) + int32(uu[12])*int32(int8(yy[12])))
		aux[5] += s * (int32(uu[5])*int32(int8(yy[5])) + int32(uu[13])*int32(int8(yy[13])))
		aux[6] += s * (int32(uu[6])*int32(int8(yy[6])) + int32(uu[14])*int32(int8(yy[14])))
		aux[7] += s * (int32(uu[7])*int32(int8(yy[7])) + int32(uu[15])*int32(int8(yy[15])))
	}
}

// dotQ4KQ8KGeneric is vec_dot_q4_K_q8_K (spec §4.4, §4.9).
func dotQ4KQ8KGeneric(w, x []byte, nb int) float32 {
	var sums [8]float32
	var sumf float32
	var u [qk]int8
	var sc16 [16]int32
	for b := 0; b < nb; b++ {
		wb := w[b*q4KBytes : (b+1)*q4KBytes]
		xb := x[b*q8KBytes : (b+1)*q8KBytes]
		sc, m := scaleMinK4(wb[4:16])
		qs := (*[128]byte)(wb[16:144])
		for c := 0; c < 4; c++ {
			q := (*[32]byte)(qs[32*c:])
			lo, hi := (*[32]int8)(u[64*c:]), (*[32]int8)(u[64*c+32:])
			for l := 0; l < 32; l++ {
				lo[l] = int8(q[l] & 0xF)
				hi[l] = int8(q[l] >> 4)
			}
		}
		for g := 0; g < 16; g++ {
			sc16[g] = sc[g/2]
		}
		var aux [8]int32
		kquantLanes(&aux, &u, xb[4:260], &sc16)
		yd := f32(xb)
		d := f16(wb[0:]) * yd
		for l := 0; l < 8; l++ {
			sums[l] += float32(d * float32(aux[l]))
		}
		dmin := f16(wb[2:]) * yd
		sumf -= float32(dmin * float32(bsumsMinK(&m, xb)))
	}
	for l := 0; l < 8; l++ {
		sumf += sums[l]
	}
	return sumf
}

// dotQ5KQ8KGeneric is vec_dot_q5_K_q8_K as llama.cpp's AVX2 build computes
// it (spec §4.5, §4.9): eight int32 lanes per block, lane L holding the
// elements e with (e mod 32)/4 = L (see q5kLanes), acc_L = fma(y.d·f32(d),
// f32(lane L), acc_L); the mins term of each block goes into one scalar,
// summs = fma(−y.d·f32(dmin), f32(Σ_j m_j·(bsums[2j]+bsums[2j+1])), summs);
// the result is hsum_float_8(acc) + summs.
func dotQ5KQ8KGeneric(w, x []byte, nb int) float32 {
	var acc [8]float32
	var summs float32
	for b := 0; b < nb; b++ {
		wb := w[b*q5KBytes : (b+1)*q5KBytes]
		xb := x[b*q8KBytes : (b+1)*q8KBytes]
		lanes, mins := q5kLanes(wb, xb)
		yd := f32(xb)
		d := yd * f16(wb[0:])
		dmin := -yd * f16(wb[2:])
		summs = FMA32(dmin, float32(mins), summs)
		for l := 0; l < 8; l++ {
			acc[l] = FMA32(d, float32(lanes[l]), acc[l])
		}
	}
	return hsum8(&acc) + summs
}

// q5kLanes returns the eight int32 lanes of one Q5_K×Q8_K block as ggml's
// AVX2 kernel forms them (lane L: Σ sc·q·y over the elements e with
// (e mod 32)/4 = L) and the block's mins term Σ_j m_j·(bsums[2j]+bsums[2j+1]).
func q5kLanes(wb, xb []byte) (lanes [8]int32, mins int32) {
	sc, m := scaleMinK4(wb[4:16])
	qh := wb[16:48]
	qs := wb[48:176]
	y := xb[4:260]
	for c := 0; c < 4; c++ {
		for l := 0; l < 32; l++ {
			lo := int32(qs[32*c+l]&0xF | (qh[l]>>(2*c)&1)<<4)
			hi := int32(qs[32*c+l]>>4 | (qh[l]>>(2*c+1)&1)<<4)
			lanes[l/4] += sc[2*c]*lo*int32(int8(y[64*c+l])) + sc[2*c+1]*hi*int32(int8(y[64*c+32+l]))
		}
	}
	return lanes, bsumsMinK(&m, xb)
}

// dotQ6KQ8KGeneric is vec_dot_q6_K_q8_K as llama.cpp's AVX2 build computes
// it (spec §4.6, §4.9; ggml since April 2026): see q6kLanes for the eight
// integer lanes, then acc_L = fma(f32(d)·y.d, f32(lane L), acc_L) per block
// and hsum_float_8 at the end. The lane split matters: the float result
// is bit-identical to llama.cpp's only with this exact split.
func dotQ6KQ8KGeneric(w, x []byte, nb int) float32 {
	var acc [8]float32
	for b := 0; b < nb; b++ {
		wb := w[b*q6KBytes : (b+1)*q6KBytes]
		xb := x[b*q8KBytes : (b+1)*q8KBytes]
		lanes := q6kLanes(wb, xb)
		d := f32(xb) * f16(wb[208:])
		for l := 0; l < 8; l++ {
			acc[l] = FMA32(d, float32(lanes[l]), acc[l])
		}
	}
	return hsum8(&acc)
}

// q6kLanes returns the eight int32 lanes of one Q6_K×Q8_K block the way
// ggml's AVX2 kernel forms them: the unsigned quants u = q+32 ∈ [0, 63]
// times y, scaled by their 16-group scale, lane L holding the elements
// e with (e mod 32)/4 = L; the offset is then removed per lane from the
// bsums, lane L losing 32·(s[2L]·bsums[2L] + s[2L+1]·bsums[2L+1]). The
// lane total is exact, but this split of the offset among the lanes (not
// element by element) decides how the f32 sum rounds.
func q6kLanes(wb, xb []byte) [8]int32 {
	var lanes [8]int32
	ql := wb[0:128]
	qh := wb[128:192]
	sc := wb[192:208]
	y := xb[4:260]
	for h := 0; h < 2; h++ {
		l0, h0 := ql[64*h:64*h+64], qh[32*h:32*h+32]
		for l := 0; l < 32; l++ {
			u0 := int32(l0[l]&0xF | (h0[l]>>0&3)<<4)
			u1 := int32(l0[l+32]&0xF | (h0[l]>>2&3)<<4)
			u2 := int32(l0[l]>>4 | (h0[l]>>4&3)<<4)
			u3 := int32(l0[l+32]>>4 | (h0[l]>>6&3)<<4)
			e := 128*h + l
			lane := l / 4
			lanes[lane] += int32(int8(sc[e/16]))*u0*int32(int8(y[e])) +
				int32(int8(sc[(e+32)/16]))*u1*int32(int8(y[e+32])) +
				int32(int8(sc[(e+64)/16]))*u2*int32(int8(y[e+64])) +
				int32(int8(sc[(e+96)/16]))*u3*int32(int8(y[e+96]))
		}
	}
	for k := 0; k < 8; k++ {
		b0 := int32(int16(binary.LittleEndian.Uint16(xb[260+4*k:])))
		b1 := int32(int16(binary.LittleEndian.Uint16(xb[262+4*k:])))
		lanes[k] -= 32 * (int32(int8(sc[2*k]))*b0 + int32(int8(sc[2*k+1]))*b1)
	}
	return lanes
}

// unpackQ6K writes the 256 centred quants q−32 of a Q6_K block.
func unpackQ6K(u *[qk]int8, wb []byte) {
	ql := wb[0:128]
	qh := wb[128:192]
	for h := 0; h < 2; h++ {
		l0, h0 := ql[64*h:64*h+64], qh[32*h:32*h+32]
		for l := 0; l < 32; l++ {
			u[128*h+l] = int8(l0[l]&0xF|(h0[l]>>0&3)<<4) - 32
			u[128*h+32+l] = int8(l0[l+32]&0xF|(h0[l]>>2&3)<<4) - 32
			u[128*h+64+l] = int8(l0[l]>>4|(h0[l]>>4&3)<<4) - 32
			u[128*h+96+l] = int8(l0[l+32]>>4|(h0[l]>>6&3)<<4) - 32
		}
	}
}

// q4_0Int is S_b of one Q4_0 block against one Q8_0 block (spec §4.9).
func q4_0Int(wb, xb []byte) int32 {
	qs := wb[2:18]
	y := xb[2:34]
	var s0, s1 int32
	for j := 0; j < 16; j++ {
		s0 += (int32(qs[j]&0xF) - 8) * int32(int8(y[j]))
		s1 += (int32(qs[j]>>4) - 8) * int32(int8(y[j+16]))
	}
	return s0 + s1
}

// dotQ4_0Q8_0Generic is vec_dot_q4_0_q8_0 (spec §4.2, §4.9).
func dotQ4_0Q8_0Generic(w, x []byte, nb int) float32 {
	var sumf float32
	for b := 0; b < nb; b++ {
		wb := w[b*q4_0Bytes : (b+1)*q4_0Bytes]
		xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
		s := q4_0Int(wb, xb)
		sumf += float32(float32(float32(s)*f16(wb)) * f16(xb))
	}
	return sumf
}

// dotQ8_0Q8_0Generic is ggml_vec_dot_q8_0_q8_0 and llamafile's
// tinyBLAS_Q0_AVX on an AVX2/AVX-512 build (the same arithmetic): per block,
// eight int32 lanes each hold the exact sum of four consecutive products
// (lane L: elements 4L…4L+3), and each lane accumulates
// fma(f32(dw)·f32(dx), f32(lane), acc); the eight lanes are summed with
// hsum_float_8 at the end.
func dotQ8_0Q8_0Generic(w, x []byte, nb int) float32 {
	var acc [8]float32
	for b := 0; b < nb; b++ {
		wb := w[b*q8_0Bytes : (b+1)*q8_0Bytes]
		xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
		d := f16(wb) * f16(xb)
		a := (*[32]byte)(wb[2:])
		y := (*[32]byte)(xb[2:])
		for l := 0; l < 8; l++ {
			s := int32(int8(a[4*l]))*int32(int8(y[4*l])) + int32(int8(a[4*l+1]))*int32(int8(y[4*l+1])) +
				int32(int8(a[4*l+2]))*int32(int8(y[4*l+2])) + int32(int8(a[4*l+3]))*int32(int8(y[4*l+3]))
			acc[l] = FMA32(d, float32(s), acc[l])
		}
	}
	return hsum8(&acc)
}

// The float kernels come in two forms, as in llama.cpp's CPU backend:
//   - the vector form is ggml_vec_dot_f32/_f16/_bf16 (AVX-512 build), used
//     for single-token products and for matrices llamafile's sgemm cannot
//     tile;
//   - the GEMM form is llamafile's tinyBLAS (AVX-512): one 16-lane fused
//     multiply-add accumulator per output over the whole row, then a
//     horizontal sum. llama.cpp uses it for prompt batches when the matrix
//     has a multiple of 4 rows and of 16 (BF16: 32) columns.
// F16 and BF16 weights take activations rounded to F16/BF16 (their
// VecDotType), whose products are exact in f32.

// dotF32Generic is ggml_vec_dot_f32: four 16-lane FMA accumulators over
// steps of 64, folded (0+2, 1+3, 0+1) and summed with hsum16; the last
// n mod 64 products are added one by one in f32 (not fused).
func dotF32Generic(w, x []byte, n int) float32 {
	w, x = w[:4*n], x[:4*n]
	np := n &^ 63
	var acc [4][16]float32
	for i := 0; i < np; i += 64 {
		for j := range 4 {
			a := &acc[j]
			wj, xj := w[4*(i+16*j):], x[4*(i+16*j):]
			for l := range 16 {
				a[l] = FMA32(f32(wj[4*l:]), f32(xj[4*l:]), a[l])
			}
		}
	}
	sum := reduce4x16(&acc)
	for i := np; i < n; i++ {
		sum += float32(f32(w[4*i:]) * f32(x[4*i:]))
	}
	return sum
}

// dotF32GemmGeneric is one output of tinyBLAS f32: n must be a multiple of
// 16.
func dotF32GemmGeneric(w, x []byte, n int) float32 {
	w, x = w[:4*n], x[:4*n]
	var acc [16]float32
	for i := 0; i+16 <= n; i += 16 {
		wi, xi := w[4*i:], x[4*i:]
		for l := range 16 {
			acc[l] = FMA32(f32(wi[4*l:]), f32(xi[4*l:]), acc[l])
		}
	}
	return hsum16(&acc)
}

// dotF16Generic is ggml_vec_dot_f16 with f16 weights and f16 activations:
// the F32 lane structure (the products are exact, so each fused step is a
// single rounding of the sum), the reduction converted to f64, the last
// n mod 64 products added in f64, and the total rounded to f32.
func dotF16Generic(w, x []byte, n int) float32 {
	w, x = w[:2*n], x[:2*n]
	np := n &^ 63
	var acc [4][16]float32
	for i := 0; i < np; i += 64 {
		for j := range 4 {
			a := &acc[j]
			wj, xj := w[2*(i+16*j):], x[2*(i+16*j):]
			for l := range 16 {
				a[l] += f16(wj[2*l:]) * f16(xj[2*l:])
			}
		}
	}
	sum := float64(reduce4x16(&acc))
	for i := np; i < n; i++ {
		sum += float64(f16(w[2*i:]) * f16(x[2*i:]))
	}
	return float32(sum)
}

// dotF16GemmGeneric is one output of tinyBLAS with f16 weights and
// activations: n must be a multiple of 16.
func dotF16GemmGeneric(w, x []byte, n int) float32 {
	w, x = w[:2*n], x[:2*n]
	var acc [16]float32
	for i := 0; i+16 <= n; i += 16 {
		wi, xi := w[2*i:], x[2*i:]
		for l := range 16 {
			acc[l] += f16(wi[2*l:]) * f16(xi[2*l:])
		}
	}
	return hsum16(&acc)
}

func bf16(b []byte) float32 { return math.Float32frombits(uint32(binary.LittleEndian.Uint16(b)) << 16) }

// dpbf16 is one 32-element step of VDPBF16PS on 16 lanes: lane l adds the
// product of elements 2l+1, then of elements 2l (each product is exact in
// f32, so each step is one rounding). The instruction also flushes
// subnormal inputs and results to zero; the kernels do not model that,
// which only matters for values below 1.2e-38.
func dpbf16(acc *[16]float32, w, x []byte) {
	for l := range 16 {
		a := acc[l] + bf16(w[4*l+2:])*bf16(x[4*l+2:])
		acc[l] = a + bf16(w[4*l:])*bf16(x[4*l:])
	}
}

// dotBF16Generic is ggml_vec_dot_bf16 on an AVX512-BF16 build: two
// accumulators c1 and c2 take the first and second 32 elements of each
// step of 64 (VDPBF16PS), their horizontal sums are added in f64, then the
// last n mod 64 products in f64; the total is rounded to f32.
func dotBF16Generic(w, x []byte, n int) float32 {
	w, x = w[:2*n], x[:2*n]
	var c1, c2 [16]float32
	i := 0
	for ; i+64 <= n; i += 64 {
		dpbf16(&c1, w[2*i:], x[2*i:])
		dpbf16(&c2, w[2*i+64:], x[2*i+64:])
	}
	var sum float64
	sum += float64(hsum16(&c1))
	sum += float64(hsum16(&c2))
	for ; i < n; i++ {
		sum += float64(bf16(w[2*i:]) * bf16(x[2*i:]))
	}
	return float32(sum)
}

// dotBF16GemmGeneric is one output of tinyBLAS<32> with VDPBF16PS: n must
// be a multiple of 32.
func dotBF16GemmGeneric(w, x []byte, n int) float32 {
	w, x = w[:2*n], x[:2*n]
	var acc [16]float32
	for i := 0; i+32 <= n; i += 32 {
		dpbf16(&acc, w[2*i:], x[2*i:])
	}
	return hsum16(&acc)
}

// dotF16F32Generic is Σ f16(w[i])·x[i] for f16 weights (a row of an F16
// KV cache) and f32 activations, with ggml_vec_dot_f32's lane structure.
func dotF16F32Generic(w, x []byte, n int) float32 {
	w, x = w[:2*n], x[:4*n]
	np := n &^ 63
	var acc [4][16]float32
	for i := 0; i < np; i += 64 {
		for j := range 4 {
			a := &acc[j]
			wj, xj := w[2*(i+16*j):], x[4*(i+16*j):]
			for l := range 16 {
				a[l] = FMA32(f16(wj[2*l:]), f32(xj[4*l:]), a[l])
			}
		}
	}
	sum := reduce4x16(&acc)
	for i := np; i < n; i++ {
		sum += float32(f16(w[2*i:]) * f32(x[4*i:]))
	}
	return sum
}

// dotBF16F32Generic is Σ bf16(w[i])·x[i] for bf16 weights and f32
// activations, with ggml_vec_dot_f32's lane structure.
func dotBF16F32Generic(w, x []byte, n int) float32 {
	w, x = w[:2*n], x[:4*n]
	np := n &^ 63
	var acc [4][16]float32
	for i := 0; i < np; i += 64 {
		for j := range 4 {
			a := &acc[j]
			wj, xj := w[2*(i+16*j):], x[4*(i+16*j):]
			for l := range 16 {
				a[l] = FMA32(bf16(wj[2*l:]), f32(xj[4*l:]), a[l])
			}
		}
	}
	sum := reduce4x16(&acc)
	for i := np; i < n; i++ {
		sum += float32(bf16(w[2*i:]) * f32(x[4*i:]))
	}
	return sum
}
