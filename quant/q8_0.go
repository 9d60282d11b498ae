package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Q8_0 block layout (spec §4.3): 32 elements in 34 bytes, x = q·d.
const (
	Q8_0BlockElems = 32 // elements per block
	Q8_0BlockBytes = 34 // bytes per block
	Q8_0OffD       = 0  // f16 scale d
	Q8_0OffQs      = 2  // 32 int8 quants
)

// DequantizeQ8_0 decodes len(dst) elements (a multiple of 32) from exactly
// len(dst)/32 Q8_0 blocks: x = f32(q)·d.
func DequantizeQ8_0(src []byte, dst []float32) error {
	nb, err := rowBlocks(Q8_0, len(dst), len(src))
	if err != nil {
		return err
	}
	for i := range nb {
		b := src[i*Q8_0BlockBytes : (i+1)*Q8_0BlockBytes]
		y := dst[i*Q8_0BlockElems : (i+1)*Q8_0BlockElems]
		d := f16Table[binary.LittleEndian.Uint16(b[Q8_0OffD:])]
		qs := b[Q8_0OffQs : Q8_0OffQs+32]
		for j, q := range qs {
			y[j] = float32(int8(q)) * d
		}
	}
	return nil
}

// QuantizeQ8_0 encodes src (a multiple of 32 elements) into exactly
// len(src)/32 Q8_0 blocks with ggml's reference quantize_row_q8_0_ref:
// d = amax/127, id = 1/d, q = round(x·id) with ties away from zero. This is
// how llama-quantize writes Q8_0 weights; activations use QuantizeQ8_0Act.
func QuantizeQ8_0(src []float32, dst []byte) error {
	nb, err := rowBlocks(Q8_0, len(src), len(dst))
	if err != nil {
		return err
	}
	for i := range nb {
		x := src[i*Q8_0BlockElems : (i+1)*Q8_0BlockElems]
		y := dst[i*Q8_0BlockBytes : (i+1)*Q8_0BlockBytes]
		var amax float32
		for _, v := range x {
			// ggml's MAX(amax, |v|) macro: a NaN replaces amax only until
			// the next comparison, reproduced for determinism.
			if a := abs32(v); !(amax > a) {
				amax = a
			}
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[Q8_0OffD:], F32ToF16(d))
		qs := y[Q8_0OffQs : Q8_0OffQs+32]
		for j, v := range x {
			qs[j] = byte(int8(truncInt32(math.Round(float64(float32(v * id))))))
		}
	}
	return nil
}

// truncInt32 converts like x86 cvttsd2si: toward zero, with NaN and
// out-of-range values giving INT32_MIN, so that no input is
// platform-dependent.
func truncInt32(v float64) int32 {
	if v > -2147483649 && v < 2147483648 {
		return int32(v)
	}
	return math.MinInt32
}

// QuantizeQ8_0Act quantizes an activation row to Q8_0 exactly like
// llama.cpp's x86 AVX2 quantize_row_q8_0 (spec §4.8), so that dot products
// with Q4_0/Q8_0 weights see the same integers as the reference: per block of
// 32, amax = max|x|, d = amax/127 stored as f16, id = 127/amax (0 if amax is
// 0; not 1/d, and from the unrounded amax), q = round-half-even(x·id)
// saturated to int8. NaN inputs are not reproduced bit for bit (the SIMD
// max reduction order decides them there).
//
// len(src) must be a multiple of 32 and len(dst) at least len(src)/32·34;
// it panics otherwise, as those are programming errors (size buffers with
// Q8_0.RowBytes). It does not allocate.
func QuantizeQ8_0Act(src []float32, dst []byte) {
	nb := len(src) / Q8_0BlockElems
	if len(src)%Q8_0BlockElems != 0 || len(dst) < nb*Q8_0BlockBytes {
		panic(fmt.Sprintf("quant: QuantizeQ8_0Act: %d elements into %d bytes", len(src), len(dst)))
	}
	for i := range nb {
		x := src[i*Q8_0BlockElems : (i+1)*Q8_0BlockElems]
		y := dst[i*Q8_0BlockBytes : (i+1)*Q8_0BlockBytes]
		var amax float32
		for _, v := range x {
			if a := abs32(v); a > amax {
				amax = a
			}
		}
		binary.LittleEndian.PutUint16(y[Q8_0OffD:], F32ToF16(amax/127))
		var id float32
		if amax != 0 {
			id = 127 / amax
		}
		qs := y[Q8_0OffQs : Q8_0OffQs+32]
		for j, v := range x {
			p := float32(v * id)
			var q int32
			switch {
			case p >= 127:
				q = 127
			case p > -128:
				q = nearestInt(p)
			default: // ≤ −128 or NaN: cvtps2dq gives INT32_MIN, packs saturates it
				q = -128
			}
			qs[j] = byte(int8(q))
		}
	}
}
