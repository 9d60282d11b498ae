package kernels

import (
	"encoding/binary"

	"github.com/smolbot/smolbot/internal/cpu"
)

// llama.cpp's CPU backend, on an x86 machine with AVX2, repacks every Q4_K
// weight matrix whose row count is a multiple of 8 into interleaved
// Q4_Kx8 blocks (eight rows per block) when the model loads, and multiplies
// it with ggml_gemv_q4_K_8x8_q8_K (single activation rows) and
// ggml_gemm_q4_K_8x8_q8_K (groups of four activation rows). Their f32
// arithmetic differs from vec_dot_q4_K_q8_K's, so to give llama.cpp's bits
// smolbot performs, for every output, the operations these kernels perform
// for it, reading the original (not repacked) rows:
//
//   - gemv: per 256-element block, the whole integer sum I = Σ sc·q·y and
//     the mins term M = Σ_j m_j·(bsums[2j]+bsums[2j+1]) are each converted
//     to f32 once: acc = fma(f32(I), d·y.d, acc), accm = fma(f32(M),
//     dmin·y.d, accm); the result is acc − accm.
//   - gemm: the same, but per 64-element chunk c (two sub-blocks, processed
//     in order c = 0…3): I_c and M_c = m_2c·(bs[4c]+bs[4c+1]) +
//     m_2c+1·(bs[4c+2]+bs[4c+3]) each go through their own fused step.
//
// A batch of n tokens goes through the gemm form for its first n − n%4
// tokens and the gemv form for the last n%4 (llama.cpp quantizes the
// groups of four with ggml_quantize_mat_q8_K_4x8, whose bytes are
// quantize_row_q8_K's), which is what MatMul's 4-token row kernel and
// 1-token row kernel cover. As with the float types' GEMM form, a token's
// result therefore depends on whether it is in a group of four. Matrices
// with rows%8 != 0 are not repacked and keep vec_dot's arithmetic
// (dotQ4KQ8KGeneric), as do Dot and DotQ4KQ8K.

// q4kChunkInts returns the integer sums of the four 64-element chunks of
// one Q4_K block wb against one Q8_K block xb: I[c] = Σ sc(e)·q(e)·y(e)
// over the chunk, and M[c], the mins term of its two sub-blocks.
func q4kChunkInts(wb, xb []byte) (I, M [4]int32) {
	sc, m := scaleMinK4(wb[4:16])
	qs := (*[128]byte)(wb[16:144])
	y := (*[256]byte)(xb[4:260])
	for c := 0; c < 4; c++ {
		q := (*[32]byte)(qs[32*c:])
		var lo, hi int32
		for l := 0; l < 32; l++ {
			lo += int32(q[l]&0xF) * int32(int8(y[64*c+l]))
			hi += int32(q[l]>>4) * int32(int8(y[64*c+32+l]))
		}
		I[c] = sc[2*c]*lo + sc[2*c+1]*hi
		var bs [4]int32
		for k := range bs {
			bs[k] = int32(int16(binary.LittleEndian.Uint16(xb[260+2*(4*c+k):])))
		}
		M[c] = m[2*c]*(bs[0]+bs[1]) + m[2*c+1]*(bs[2]+bs[3])
	}
	return I, M
}

// dotQ4KQ8KRepGeneric is one output of ggml_gemv_q4_K_8x8_q8_K (the
// repacked single-token form, see above).
func dotQ4KQ8KRepGeneric(w, x []byte, nb int) float32 {
	var acc, accm float32
	for b := 0; b < nb; b++ {
		wb := w[b*q4KBytes : (b+1)*q4KBytes]
		xb := x[b*q8KBytes : (b+1)*q8KBytes]
		I, M := q4kChunkInts(wb, xb)
		yd := f32(xb)
		d, dmin := f16(wb[0:])*yd, f16(wb[2:])*yd
		acc = FMA32(float32(I[0]+I[1]+I[2]+I[3]), d, acc)
		accm = FMA32(float32(M[0]+M[1]+M[2]+M[3]), dmin, accm)
	}
	return acc - accm
}

// dotQ4KQ8KRepGemmGeneric is one output of ggml_gemm_q4_K_8x8_q8_K (the
// repacked four-token form, see above).
func dotQ4KQ8KRepGemmGeneric(w, x []byte, nb int) float32 {
	var acc, accm float32
	for b := 0; b < nb; b++ {
		wb := w[b*q4KBytes : (b+1)*q4KBytes]
		xb := x[b*q8KBytes : (b+1)*q8KBytes]
		I, M := q4kChunkInts(wb, xb)
		yd := f32(xb)
		d, dmin := f16(wb[0:])*yd, f16(wb[2:])*yd
		for c := 0; c < 4; c++ {
			acc = FMA32(float32(I[c]), d, acc)
			accm = FMA32(float32(M[c]), dmin, accm)
		}
	}
	return acc - accm
}

// q4kRep holds the kernels of the repacked Q4_K forms for the current CPU
// level: rows is the gemv form (one token), rows4 the gemm form (four
// tokens); dot and gemmDot are their single-output versions (tests).
var q4kRep struct {
	dot, gemmDot func(w, x []byte, nb int) float32
	rows         rowsFunc
	rows4        rows4Func
}

func init() {
	cpu.OnChange(selectQ4KRep)
}

func selectQ4KRep(l cpu.Level) {
	q4kRep.dot, q4kRep.gemmDot = dotQ4KQ8KRepGeneric, dotQ4KQ8KRepGemmGeneric
	q4kRep.rows = genericRows(dotQ4KQ8KRepGeneric)
	q4kRep.rows4 = genericRows4(dotQ4KQ8KRepGemmGeneric)
	archQ4KRep(l)
}

// q4kRepacked reports whether llama.cpp repacks a Q4_K matrix of this many
// rows (ggml_repack_get_optimal_repack_type: ne[1] % 8 == 0).
func q4kRepacked(rows int) bool { return rows%8 == 0 }
