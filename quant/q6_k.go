package quant

import "encoding/binary"

// Q6_K block layout (spec §4.6): 256 elements in 210 bytes, sixteen
// sub-blocks of 16 with x = (d·scale_k)·(q − 32), q ∈ [0, 63]. d comes last.
const (
	Q6_KBlockBytes = 210 // bytes per block (QK_K = 256 elements)
	Q6_KOffQl      = 0   // 128 bytes: low 4 bits; half h uses bytes 64h..64h+63
	Q6_KOffQh      = 128 // 64 bytes: high 2 bits; half h uses bytes 32h..32h+31
	Q6_KOffScales  = 192 // 16 int8 sub-block scales (signed)
	Q6_KOffD       = 208 // f16 super-scale
)

// DequantizeQ6_K decodes len(dst) elements (a multiple of 256) from exactly
// len(dst)/256 Q6_K blocks, evaluating (d·f32(scale))·f32(q−32) in float32
// in that order, as ggml and gguf-py do.
func DequantizeQ6_K(src []byte, dst []float32) error {
	nb, err := rowBlocks(Q6_K, len(dst), len(src))
	if err != nil {
		return err
	}
	var ds [16]float32
	for i := range nb {
		b := src[i*Q6_KBlockBytes : (i+1)*Q6_KBlockBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := f16Table[binary.LittleEndian.Uint16(b[Q6_KOffD:])]
		for k, s := range b[Q6_KOffScales : Q6_KOffScales+16] {
			ds[k] = d * float32(int8(s))
		}
		for h := range 2 {
			ql := b[Q6_KOffQl+64*h : Q6_KOffQl+64*h+64]
			qh := b[Q6_KOffQh+32*h : Q6_KOffQh+32*h+32]
			yh := y[128*h : 128*h+128]
			for l := range 32 {
				is := 8*h + l/16
				q1 := int32(ql[l]&0xf|(qh[l]&3)<<4) - 32
				q2 := int32(ql[l+32]&0xf|(qh[l]>>2&3)<<4) - 32
				q3 := int32(ql[l]>>4|(qh[l]>>4&3)<<4) - 32
				q4 := int32(ql[l+32]>>4|(qh[l]>>6)<<4) - 32
				yh[l] = ds[is] * float32(q1)
				yh[l+32] = ds[is+2] * float32(q2)
				yh[l+64] = ds[is+4] * float32(q3)
				yh[l+96] = ds[is+6] * float32(q4)
			}
		}
	}
	return nil
}

// QuantizeQ6_K encodes src (a multiple of 256 elements) into exactly
// len(src)/256 Q6_K blocks with ggml's quantize_row_q6_K_ref: a
// make_qx_quants search (nmax 32, weights x²) per sub-block of 16, the
// sub-scales quantized to int8 against −128/max_scale, then the elements
// re-quantized against the rounded scales.
func QuantizeQ6_K(src []float32, dst []byte) error {
	nb, err := rowBlocks(Q6_K, len(src), len(dst))
	if err != nil {
		return err
	}
	var L [QK_K]uint8
	for i := range nb {
		quantizeBlockQ6K(src[i*QK_K:(i+1)*QK_K], dst[i*Q6_KBlockBytes:(i+1)*Q6_KBlockBytes], &L)
	}
	return nil
}

func quantizeBlockQ6K(x []float32, y []byte, L *[QK_K]uint8) {
	x, y = x[:QK_K], y[:Q6_KBlockBytes]
	var scales [16]float32
	var maxScale, maxAbsScale float32
	for ib := range 16 {
		s := makeQXQuants(32, x[16*ib:16*ib+16], L[16*ib:16*ib+16])
		scales[ib] = s
		if a := abs32(s); a > maxAbsScale {
			maxAbsScale, maxScale = a, s
		}
	}
	if maxAbsScale < groupMaxEps {
		clear(y)
		return
	}
	iscale := -128 / maxScale
	d := F32ToF16(1 / iscale)
	binary.LittleEndian.PutUint16(y[Q6_KOffD:], d)
	sc := y[Q6_KOffScales : Q6_KOffScales+16]
	for ib := range 16 {
		sc[ib] = byte(int8(min(127, nearestInt(float32(iscale*scales[ib])))))
	}
	df := F16ToF32(d)
	for j := range 16 {
		dj := df * float32(int8(sc[j]))
		if dj == 0 {
			continue // keep the search's quants, as ggml does
		}
		for ii, v := range x[16*j : 16*j+16] {
			L[16*j+ii] = uint8(clampInt32(nearestInt(v/dj), -32, 31) + 32)
		}
	}
	for h := range 2 {
		ql := y[Q6_KOffQl+64*h : Q6_KOffQl+64*h+64]
		qh := y[Q6_KOffQh+32*h : Q6_KOffQh+32*h+32]
		lh := L[128*h : 128*h+128]
		for l := range 32 {
			q1, q2, q3, q4 := lh[l], lh[l+32], lh[l+64], lh[l+96]
			ql[l] = q1&0xf | q3<<4
			ql[l+32] = q2&0xf | q4<<4
			qh[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
		}
	}
}
