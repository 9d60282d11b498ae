//go:build amd64 && !purego

package kernels

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/smolbot/smolbot/internal/cpu"
)

// The repacked-form Q4_K kernels (q4k_amd64.s, see q4krep.go): *RepRows*
// is the gemv form of one token, *RepRows4* the gemm form of four tokens.
// Same calling conventions and preconditions as the other row kernels.

//go:noescape
func q4kRepRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q4kRepRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int, aux *byte)

//go:noescape
func q4kRepRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

//go:noescape
func q4kRepRowsVBMIAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

// q4kRepRowsVBMI is the gemv kernel of CPUs with AVX512-VBMI and GFNI: whole
// quads of rows go through q4kRepRowsVBMIAVX512, the rest through
// q4kRepRowsAVX512 (its one-row loop).
func q4kRepRowsVBMI(dst *float32, w *byte, wstride int, x *byte, nb, rows int) {
	q := rows &^ 3
	if q > 0 {
		q4kRepRowsVBMIAVX512(dst, w, wstride, x, nb, q)
	}
	if rows > q {
		q4kRepRowsAVX512((*float32)(unsafe.Add(unsafe.Pointer(dst), 4*q)), (*byte)(unsafe.Add(unsafe.Pointer(w), q*wstride)), wstride, x, nb, rows-q)
	}
}

//go:noescape
func q4kRepRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int, aux *byte)

// archQ4KRep installs the assembly kernels of the repacked Q4_K forms
// available at level l.
func archQ4KRep(l cpu.Level) {
	k := kernel{wBytes: q4KBytes, xBytes: q8KBytes}
	switch {
	case l >= cpu.AVX512:
		q4kRep.dot, q4kRep.gemmDot = q4kRepDotAVX512, q4kRepGemmDotAVX512
		rows := q4kRepRowsAVX512
		if avx512VBMIGFNI {
			rows = q4kRepRowsVBMI
		}
		q4kRep.rows, _ = wrapRows(&k, rows, nil)
		q4kRep.rows4 = q4kRepRows4AVX512Go
	case l >= cpu.AVX2:
		q4kRep.dot, q4kRep.gemmDot = q4kRepDotAVX2, q4kRepGemmDotAVX2
		q4kRep.rows, _ = wrapRows(&k, q4kRepRowsAVX2, nil)
		q4kRep.rows4 = q4kRepRows4AVX2Go
	}
}

// q4kRepAuxBlocks bounds the rows the four-token assembly kernels take, in
// blocks (16384 columns; SmolLM3-3B's longest is 11008): their per-block
// token data lives in a stack array of the wrapper. Longer rows go through
// the generic kernel.
const q4kRepAuxBlocks = 64

// q4kRepRows4Long is the four-token kernel of rows longer than
// q4kRepAuxBlocks blocks.
var q4kRepRows4Long = genericRows4(dotQ4KQ8KRepGemmGeneric)

// q4kRepAuxBytes is the size of one block's token data.
const q4kRepAuxBytes = 80

// q4kRepAux writes the token data of the four-token kernels for nb blocks
// of four activation rows xstride bytes apart: per block, y.d of the four
// tokens, then for each chunk c and token t the words (P_2c, P_2c+1) with
// P_j = bsums[2j] + bsums[2j+1] (|P_j| ≤ 4096).
func q4kRepAux(aux []byte, x []byte, xstride, nb int) {
	for b := 0; b < nb; b++ {
		a := aux[b*q4kRepAuxBytes : (b+1)*q4kRepAuxBytes]
		for t := 0; t < 4; t++ {
			xb := x[t*xstride+b*q8KBytes : t*xstride+(b+1)*q8KBytes]
			copy(a[4*t:4*t+4], xb[:4])
			bs := xb[260:292]
			for j := 0; j < 8; j++ {
				p := int16(binary.LittleEndian.Uint16(bs[4*j:])) + int16(binary.LittleEndian.Uint16(bs[4*j+2:]))
				binary.LittleEndian.PutUint16(a[16+16*(j/2)+4*t+2*(j%2):], uint16(p))
			}
		}
	}
}

// rows4Aux does the checks of wrapRows for a four-token call of an
// assembly kernel that takes q4kRepAux token data (weight blocks of wBytes
// bytes), runs long, the kernel of rows longer than q4kRepAuxBlocks
// blocks, when the rows are that long, and reports whether the caller is
// left to run its kernel. The callers call their kernel directly, not
// through a func value, so that aux stays on their stack.
func rows4Aux(long rows4Func, wBytes int, dst []float32, dstStride int, w []byte, wstride int, x []byte, xstride int, nb, nrows int) bool {
	if nrows <= 0 {
		return false
	}
	if len(dst) < 3*dstStride+nrows || dstStride < nrows {
		panic(fmt.Sprintf("kernels: rows4 output of %d values for 4×%d rows (stride %d)", len(dst), nrows, dstStride))
	}
	if nb == 0 {
		for t := 0; t < 4; t++ {
			clear(dst[t*dstStride : t*dstStride+nrows])
		}
		return false
	}
	checkRows(nrows, len(w), wstride, len(x), xstride, nb, wBytes, q8KBytes, 4)
	if nb > q4kRepAuxBlocks {
		long(dst, dstStride, w, wstride, x, xstride, nb, nrows)
		return false
	}
	return true
}

func q4kRepRows4AVX2Go(dst []float32, dstStride int, w []byte, wstride int, x []byte, xstride int, nb, nrows int) {
	if rows4Aux(q4kRepRows4Long, q4KBytes, dst, dstStride, w, wstride, x, xstride, nb, nrows) {
		var aux [q4kRepAuxBlocks * q4kRepAuxBytes]byte
		q4kRepAux(aux[:], x, xstride, nb)
		q4kRepRows4AVX2(&dst[0], dstStride, &w[0], wstride, &x[0], xstride, nb, nrows, &aux[0])
	}
}

func q4kRepRows4AVX512Go(dst []float32, dstStride int, w []byte, wstride int, x []byte, xstride int, nb, nrows int) {
	if rows4Aux(q4kRepRows4Long, q4KBytes, dst, dstStride, w, wstride, x, xstride, nb, nrows) {
		var aux [q4kRepAuxBlocks * q4kRepAuxBytes]byte
		q4kRepAux(aux[:], x, xstride, nb)
		q4kRepRows4AVX512(&dst[0], dstStride, &w[0], wstride, &x[0], xstride, nb, nrows, &aux[0])
	}
}

// The single-output forms call the kernels directly (not through a func
// value) so that the result stays on the stack; the gemm form runs the
// four-token kernel on one activation row repeated (stride 0).

func q4kRepDotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q4KBytes, q8KBytes)
	q4kRepRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q4kRepDotAVX512(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q4KBytes, q8KBytes)
	q4kRepRowsAVX512(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

func q4kRepGemmDotAVX2(w, x []byte, nb int) float32 {
	var d [4]float32
	checkDot(len(w), len(x), nb, q4KBytes, q8KBytes)
	q4kRepRows4AVX2Go(d[:], 1, w, 0, x, 0, nb, 1)
	return d[0]
}

func q4kRepGemmDotAVX512(w, x []byte, nb int) float32 {
	var d [4]float32
	checkDot(len(w), len(x), nb, q4KBytes, q8KBytes)
	q4kRepRows4AVX512Go(d[:], 1, w, 0, x, 0, nb, 1)
	return d[0]
}

// q4_0RepRowsAVX2 is the repacked-form Q4_0 row kernel (q40rep_amd64.s),
// used at the AVX2 and AVX-512 levels.
//
//go:noescape
func q4_0RepRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)

// archQ40Rep installs the assembly kernel of the repacked Q4_0 form at
// level l (the four-token entry runs the row kernel once per token).
func archQ40Rep(l cpu.Level) {
	if l >= cpu.AVX2 {
		k := kernel{wBytes: q4_0Bytes, xBytes: q8_0Bytes}
		q40Rep.dot = q40RepDotAVX2
		q40Rep.rows, q40Rep.rows4 = wrapRows(&k, q4_0RepRowsAVX2, nil)
	}
}

func q40RepDotAVX2(w, x []byte, nb int) float32 {
	var d float32
	checkDot(len(w), len(x), nb, q4_0Bytes, q8_0Bytes)
	q4_0RepRowsAVX2(&d, &w[0], 0, &x[0], nb, 1)
	return d
}

// q5kRows4AuxAVX512 is the AVX-512 four-token Q5_K kernel with the token
// data of q4kRepAux (q5k_amd64.s).
//
//go:noescape
func q5kRows4AuxAVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int, aux *byte)

// q5kRows4Long is the four-token Q5_K kernel of rows longer than
// q4kRepAuxBlocks blocks.
var q5kRows4Long = genericRows4(dotQ5KQ8KGeneric)

// q5kRows4AVX512Go is the four-token Q5_K entry of the AVX-512 level.
func q5kRows4AVX512Go(dst []float32, dstStride int, w []byte, wstride int, x []byte, xstride int, nb, nrows int) {
	if rows4Aux(q5kRows4Long, q5KBytes, dst, dstStride, w, wstride, x, xstride, nb, nrows) {
		var aux [q4kRepAuxBlocks * q4kRepAuxBytes]byte
		q4kRepAux(aux[:], x, xstride, nb)
		q5kRows4AuxAVX512(&dst[0], dstStride, &w[0], wstride, &x[0], xstride, nb, nrows, &aux[0])
	}
}
