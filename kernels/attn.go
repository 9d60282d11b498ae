package kernels

import (
	"encoding/binary"
	"fmt"

	"github.com/smolbot/smolbot/quant"
)

// Attention kernels over a KV cache page (package tensor's Attend). Each has
// a Go form, the definition of its bits, and at some CPU levels an assembly
// form that gives the same bits.

// Q8_0Scores sets scores[g*sstride+j] = DotF32(k_j, q_g, D)·scale for the
// n rows k_j of k (Q8_0, rowBytes apart, dequantized as float32(q)·d) and
// the len(q)/D query heads q_g. row is scratch of at least D floats. D must
// be a positive multiple of 32.
func Q8_0Scores(scores []float32, sstride int, q []float32, D int, k []byte, rowBytes, n int, scale float32, row []float32) {
	group := checkQ8_0Rows("scores", D, len(q), k, rowBytes, n, row)
	if n == 0 || group == 0 {
		return
	}
	checkLen("scores", len(scores), (group-1)*sstride+n)
	if q8Scores != nil && D%64 == 0 {
		q8Scores(&scores[0], sstride, &q[0], group, &k[0], rowBytes, n, D, &row[0], scale)
		return
	}
	q8_0ScoresGeneric(scores, sstride, q[:group*D], D, k, rowBytes, n, scale, row)
}

func q8_0ScoresGeneric(scores []float32, sstride int, q []float32, D int, k []byte, rowBytes, n int, scale float32, row []float32) {
	group := len(q) / D
	for j := 0; j < n; j++ {
		dequantQ8_0Row(k[j*rowBytes:], row[:D])
		for g := 0; g < group; g++ {
			scores[g*sstride+j] = DotF32(row[:D], q[g*D:(g+1)*D], D) * scale
		}
	}
}

// Q8_0Accum adds w[g*wstride+j]·v_j to acc[g*D:(g+1)*D] for every Q8_0 row
// v_j of v (rowBytes apart), j = 0 … n−1 in order, and every head g <
// len(acc)/D: each product is rounded, then added (no fused multiply-add).
// row is scratch of at least D floats; D must be a positive multiple of 32.
func Q8_0Accum(acc []float32, D int, w []float32, wstride int, v []byte, rowBytes, n int, row []float32) {
	group := checkQ8_0Rows("values", D, len(acc), v, rowBytes, n, row)
	if n == 0 || group == 0 {
		return
	}
	checkLen("weights", len(w), (group-1)*wstride+n)
	if q8Accum != nil {
		q8Accum(&acc[0], D, &w[0], wstride, group, &v[0], rowBytes, n)
		return
	}
	q8_0AccumGeneric(acc[:group*D], D, w, wstride, v, rowBytes, n, row)
}

func q8_0AccumGeneric(acc []float32, D int, w []float32, wstride int, v []byte, rowBytes, n int, row []float32) {
	group := len(acc) / D
	row = row[:D]
	for j := 0; j < n; j++ {
		dequantQ8_0Row(v[j*rowBytes:], row)
		for g := 0; g < group; g++ {
			wg := w[g*wstride+j]
			a := acc[g*D : (g+1)*D]
			for d, x := range row {
				a[d] += float32(wg * x) // rounded product: never fused
			}
		}
	}
}

// checkQ8_0Rows checks the shared arguments of the Q8_0 kernels and returns
// the number of heads, vlen/D.
func checkQ8_0Rows(what string, D, vlen int, rows []byte, rowBytes, n int, row []float32) int {
	if D <= 0 || D%qk0 != 0 || n < 0 || rowBytes < D/qk0*q8_0Bytes {
		panic(fmt.Sprintf("kernels: Q8_0 %s: head dim %d, %d rows of %d bytes", what, D, n, rowBytes))
	}
	checkLen("row scratch", len(row), D)
	if n > 0 {
		checkLen(what, len(rows), (n-1)*rowBytes+D/qk0*q8_0Bytes)
	}
	return vlen / D
}

// dequantQ8_0Row decodes len(dst)/32 Q8_0 blocks: float32(q)·d.
func dequantQ8_0Row(src []byte, dst []float32) {
	for b := 0; b*qk0 < len(dst); b++ {
		blk := src[b*q8_0Bytes : (b+1)*q8_0Bytes]
		d := quant.F16ToF32(binary.LittleEndian.Uint16(blk))
		out := dst[b*qk0 : (b+1)*qk0]
		for i := range out {
			out[i] = float32(int8(blk[2+i])) * d
		}
	}
}

// FMALanes16 runs tinyBLAS's 16 fused multiply-add lanes over rows: for
// each r < len(acc)/16 and j < len(p) in order, lane j%16 of row r,
// acc[16r+j%16], becomes FMA32(p[j], v[r*vstride+j], acc[16r+j%16]).
func FMALanes16(acc, p, v []float32, vstride int) {
	rows, n := checkLanes(acc, p, v, vstride, 16)
	if rows == 0 || n == 0 {
		return
	}
	if fmaLanes16 != nil {
		fmaLanes16(&acc[0], &p[0], &v[0], vstride, n, rows)
		return
	}
	fmaLanes16Generic(acc[:16*rows], p, v, vstride)
}

func fmaLanes16Generic(acc, p, v []float32, vstride int) {
	for r := 0; r < len(acc)/16; r++ {
		a := (*[16]float32)(acc[16*r:])
		vr := v[r*vstride : r*vstride+len(p)]
		for j, x := range vr {
			a[j%16] = FMA32(p[j], x, a[j%16])
		}
	}
}

// FMALanes4x16 is FMALanes16 with ggml_vec_dot_f32's four accumulators:
// element j of row r goes to acc[64r+16·((j/16)%4)+j%16].
func FMALanes4x16(acc, p, v []float32, vstride int) {
	rows, n := checkLanes(acc, p, v, vstride, 64)
	if rows == 0 || n == 0 {
		return
	}
	if fmaLanes4x16 != nil {
		fmaLanes4x16(&acc[0], &p[0], &v[0], vstride, n, rows)
		return
	}
	fmaLanes4x16Generic(acc[:64*rows], p, v, vstride)
}

func fmaLanes4x16Generic(acc, p, v []float32, vstride int) {
	for r := 0; r < len(acc)/64; r++ {
		a := acc[64*r : 64*r+64]
		vr := v[r*vstride : r*vstride+len(p)]
		for j, x := range vr {
			i := 16*((j/16)%4) + j%16
			a[i] = FMA32(p[j], x, a[i])
		}
	}
}

// checkLanes returns the rows (len(acc)/width) and length of an FMALanes
// call after checking the bounds.
func checkLanes(acc, p, v []float32, vstride, width int) (rows, n int) {
	rows, n = len(acc)/width, len(p)
	if vstride < 0 || (rows > 1 && vstride < n) {
		panic(fmt.Sprintf("kernels: %d lanes rows of %d, stride %d", rows, n, vstride))
	}
	if rows > 0 && n > 0 {
		checkLen("values", len(v), (rows-1)*vstride+n)
	}
	return rows, n
}

// The assembly forms at the current level, or nil (the Go forms). The
// scores kernel needs D to be a multiple of 64; vstride counts floats.
var (
	q8Scores     func(scores *float32, sstride int, q *float32, group int, k *byte, rowBytes, n, D int, row *float32, scale float32)
	q8Accum      func(acc *float32, D int, w *float32, wstride, group int, v *byte, rowBytes, n int)
	fmaLanes16   func(acc, p, v *float32, vstride, n, rows int)
	fmaLanes4x16 func(acc, p, v *float32, vstride, n, rows int)
)

// DotF32Rows sets dst[r] = DotF32(w[r*wstride:], x, n) (wstride in floats)
// for every r < len(dst), bit for bit, in one call.
func DotF32Rows(dst, w []float32, wstride int, x []float32, n int) {
	if len(dst) == 0 {
		return
	}
	if n <= 0 || wstride < 0 {
		panic(fmt.Sprintf("kernels: %d rows of length %d, stride %d", len(dst), n, wstride))
	}
	checkLen("weight", len(w), (len(dst)-1)*wstride+n)
	checkLen("activation", len(x), n)
	kernelTable[quant.F32].rows(dst, f32Bytes(w), 4*wstride, f32Bytes(x), n)
}
