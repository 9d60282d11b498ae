package quant

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Q8_K block layout (spec §4.7): 256 elements in 292 bytes, x = d·q with an
// f32 d. Used only for activations, before dot products with K-quant weights.
const (
	Q8_KBlockBytes = 292 // bytes per block (QK_K = 256 elements)
	Q8_KOffD       = 0   // f32 scale (negative when the largest-magnitude element is positive)
	Q8_KOffQs      = 4   // 256 int8 quants
	Q8_KOffBsums   = 260 // 16 int16: bsums[k] = Σ qs[16k .. 16k+15]
)

// DequantizeQ8_K decodes len(dst) elements (a multiple of 256) from exactly
// len(dst)/256 Q8_K blocks: x = d·f32(q).
func DequantizeQ8_K(src []byte, dst []float32) error {
	nb, err := rowBlocks(Q8_K, len(dst), len(src))
	if err != nil {
		return err
	}
	for i := range nb {
		b := src[i*Q8_KBlockBytes : (i+1)*Q8_KBlockBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := math.Float32frombits(binary.LittleEndian.Uint32(b[Q8_KOffD:]))
		for j, q := range b[Q8_KOffQs : Q8_KOffQs+QK_K] {
			y[j] = d * float32(int8(q))
		}
	}
	return nil
}

// QuantizeQ8K quantizes an activation row to Q8_K exactly as ggml's
// quantize_row_q8_K_ref (spec §4.7), which is also what llama.cpp's x86 CPU
// backend runs. Per block of 256: max is the signed value of the first
// element of largest magnitude; iscale = −127/max (negative when max > 0);
// q = min(127, round-half-even(iscale·x)); d = 1/iscale as f32; bsums are the
// sums of each 16 quants. An all-zero block gets d = 0 and zero quants and
// bsums.
//
// len(src) must be a multiple of 256 and len(dst) at least len(src)/256·292;
// it panics otherwise, as those are programming errors (size buffers with
// Q8_K.RowBytes). It does not allocate.
func QuantizeQ8K(src []float32, dst []byte) {
	nb := len(src) / QK_K
	if len(src)%QK_K != 0 || len(dst) < nb*Q8_KBlockBytes {
		panic(fmt.Sprintf("quant: QuantizeQ8K: %d elements into %d bytes", len(src), len(dst)))
	}
	for i := range nb {
		quantizeBlockQ8K(src[i*QK_K:(i+1)*QK_K], dst[i*Q8_KBlockBytes:(i+1)*Q8_KBlockBytes])
	}
}

func quantizeBlockQ8K(x []float32, y []byte) {
	x, y = x[:QK_K], y[:Q8_KBlockBytes]
	var amax, mx float32
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, mx = a, v
		}
	}
	if amax == 0 {
		clear(y)
		return
	}
	iscale := -127 / mx
	qs := y[Q8_KOffQs : Q8_KOffQs+QK_K]
	bsums := y[Q8_KOffBsums : Q8_KOffBsums+32]
	for k := range 16 {
		xs := x[16*k : 16*k+16]
		q16 := qs[16*k : 16*k+16]
		var sum int32
		for j, v := range xs {
			q := int8(min(127, nearestInt(float32(iscale*v))))
			q16[j] = byte(q)
			sum += int32(q)
		}
		binary.LittleEndian.PutUint16(bsums[2*k:], uint16(int16(sum)))
	}
	binary.LittleEndian.PutUint32(y[Q8_KOffD:], math.Float32bits(1/iscale))
}
