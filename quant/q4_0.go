package quant

import (
	"encoding/binary"
	"math"
)

// Q4_0 block layout (spec §4.2): 32 elements in 18 bytes, x = (q−8)·d.
const (
	Q4_0BlockElems = 32 // elements per block
	Q4_0BlockBytes = 18 // bytes per block
	Q4_0OffD       = 0  // f16 scale d
	Q4_0OffQs      = 2  // 16 bytes: element j in the low nibble of byte j, element j+16 in its high nibble
)

// DequantizeQ4_0 decodes len(dst) elements (a multiple of 32) from exactly
// len(dst)/32 Q4_0 blocks: x = f32(q−8)·d, as ggml and gguf-py evaluate it.
func DequantizeQ4_0(src []byte, dst []float32) error {
	nb, err := rowBlocks(Q4_0, len(dst), len(src))
	if err != nil {
		return err
	}
	for i := range nb {
		b := src[i*Q4_0BlockBytes : (i+1)*Q4_0BlockBytes]
		y := dst[i*Q4_0BlockElems : (i+1)*Q4_0BlockElems]
		d := f16Table[binary.LittleEndian.Uint16(b[Q4_0OffD:])]
		qs := b[Q4_0OffQs : Q4_0OffQs+16]
		lo, hi := y[:16], y[16:32]
		for j, q := range qs {
			lo[j] = float32(int32(q&0xf)-8) * d
			hi[j] = float32(int32(q>>4)-8) * d
		}
	}
	return nil
}

// QuantizeQ4_0 encodes src (a multiple of 32 elements) into exactly
// len(src)/32 Q4_0 blocks with ggml's quantize_row_q4_0_ref: d = max/−8
// where max is the signed value of largest magnitude (first occurrence), and
// q = min(15, trunc(x·(1/d) + 8.5)).
func QuantizeQ4_0(src []float32, dst []byte) error {
	nb, err := rowBlocks(Q4_0, len(src), len(dst))
	if err != nil {
		return err
	}
	for i := range nb {
		x := src[i*Q4_0BlockElems : (i+1)*Q4_0BlockElems]
		y := dst[i*Q4_0BlockBytes : (i+1)*Q4_0BlockBytes]
		var amax, mx float32
		for _, v := range x {
			if a := abs32(v); amax < a {
				amax, mx = a, v
			}
		}
		d := mx / -8
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y[Q4_0OffD:], F32ToF16(d))
		qs := y[Q4_0OffQs : Q4_0OffQs+16]
		lo, hi := x[:16], x[16:32]
		for j := range qs {
			x0 := float32(lo[j] * id)
			x1 := float32(hi[j] * id)
			qs[j] = q4Nibble(x0+8.5) | q4Nibble(x1+8.5)<<4
		}
	}
	return nil
}

// q4Nibble is ggml's MIN(15, (int8_t)v) stored in a uint8: C truncates the
// float toward zero (x86 cvttss2si, whose out-of-range result is INT32_MIN),
// then keeps the low byte. Only NaN/inf inputs reach the odd cases, which are
// reproduced so that no input panics or depends on the platform.
func q4Nibble(v float32) uint8 {
	i := int32(math.MinInt32)
	if v > -2147483648 && v < 2147483648 {
		i = int32(v)
	}
	return uint8(min(15, int8(i)))
}

// abs32 is |v| by clearing the sign bit (also for NaN, like fabsf).
func abs32(v float32) float32 {
	return math.Float32frombits(math.Float32bits(v) &^ (1 << 31))
}
