package kernels

import "github.com/smolbot/smolbot/internal/cpu"

// Like Q4_K (q4krep.go), a Q4_0 weight matrix whose row count is a multiple
// of 8 is repacked by llama.cpp on an AVX2 machine (Q4_0x8) and multiplied
// with ggml_gemv_q4_0_8x8_q8_0 / ggml_gemm_q4_0_8x8_q8_0. Both perform, for
// each output, one fused step per 32-element block on a single f32
// accumulator: acc = fma(f32(S_b), f32(dw)·f32(dy), acc), S_b the block's
// exact integer sum; there is no lane split and no horizontal sum. (The
// gemm form's activations come from ggml_quantize_mat_q8_0_4x8, whose
// bytes are quantize_row_q8_0's.) Smaller or odd matrices keep
// vec_dot_q4_0_q8_0 (dotQ4_0Q8_0Generic).

// dotQ4_0Q8_0RepGeneric is one output of the repacked Q4_0 kernels.
func dotQ4_0Q8_0RepGeneric(w, x []byte, nb int) float32 {
	var acc float32
	for b := 0; b < nb; b++ {
		wb := w[b*q4_0Bytes : (b+1)*q4_0Bytes]
		xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
		acc = FMA32(float32(q4_0Int(wb, xb)), f16(wb)*f16(xb), acc)
	}
	return acc
}

// q40Rep holds the repacked Q4_0 kernels for the current CPU level (the
// gemv and gemm forms are the same arithmetic).
var q40Rep struct {
	dot   func(w, x []byte, nb int) float32
	rows  rowsFunc
	rows4 rows4Func
}

func init() {
	cpu.OnChange(selectQ40Rep)
}

func selectQ40Rep(l cpu.Level) {
	q40Rep.dot = dotQ4_0Q8_0RepGeneric
	q40Rep.rows = genericRows(dotQ4_0Q8_0RepGeneric)
	q40Rep.rows4 = genericRows4(dotQ4_0Q8_0RepGeneric)
	archQ40Rep(l)
}

// q4_0Repacked reports whether llama.cpp repacks a Q4_0 matrix of this many
// rows (ne[1] % 8 == 0).
func q4_0Repacked(rows int) bool { return rows%8 == 0 }
