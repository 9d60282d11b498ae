package quant

import "encoding/binary"

// Q5_K block layout (spec §4.5): 256 elements in 176 bytes, like Q4_K with a
// fifth bit per element, q ∈ [0, 31].
const (
	Q5_KBlockBytes = 176 // bytes per block (QK_K = 256 elements)
	Q5_KOffD       = 0   // f16 super-scale of the sub-block scales
	Q5_KOffDmin    = 2   // f16 super-scale of the sub-block mins
	Q5_KOffScales  = 4   // 12 bytes, packed as in Q4_K (ScaleMinK4)
	Q5_KOffQh      = 16  // 32 bytes: bit 2c (2c+1) of byte l is the 5th bit of element 64c+l (64c+32+l)
	Q5_KOffQs      = 48  // 128 bytes: low 4 bits, laid out as Q4_K's qs
)

// DequantizeQ5_K decodes len(dst) elements (a multiple of 256) from exactly
// len(dst)/256 Q5_K blocks: (d·sc)·f32(q) − (dmin·m) in float32.
func DequantizeQ5_K(src []byte, dst []float32) error {
	nb, err := rowBlocks(Q5_K, len(dst), len(src))
	if err != nil {
		return err
	}
	for i := range nb {
		b := src[i*Q5_KBlockBytes : (i+1)*Q5_KBlockBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := f16Table[binary.LittleEndian.Uint16(b[Q5_KOffD:])]
		dmin := f16Table[binary.LittleEndian.Uint16(b[Q5_KOffDmin:])]
		scales := b[Q5_KOffScales : Q5_KOffScales+12]
		qh := b[Q5_KOffQh : Q5_KOffQh+32]
		for c := range 4 {
			sc1, m1 := ScaleMinK4(2*c, scales)
			sc2, m2 := ScaleMinK4(2*c+1, scales)
			d1, min1 := float32(d*float32(sc1)), float32(dmin*float32(m1))
			d2, min2 := float32(d*float32(sc2)), float32(dmin*float32(m2))
			qs := b[Q5_KOffQs+32*c : Q5_KOffQs+32*c+32]
			lo := y[64*c : 64*c+32]
			hi := y[64*c+32 : 64*c+64]
			s1, s2 := uint(2*c), uint(2*c+1)
			for l, q := range qs {
				h := qh[l]
				q1 := q&0xf | (h>>s1&1)<<4
				q2 := q>>4 | (h>>s2&1)<<4
				lo[l] = float32(d1*float32(q1)) - min1
				hi[l] = float32(d2*float32(q2)) - min2
			}
		}
	}
	return nil
}

// QuantizeQ5_K encodes src (a multiple of 256 elements) into exactly
// len(src)/256 Q5_K blocks with ggml's quantize_row_q5_K_ref
// (make_qkx2_quants with nmax 31, rmin −0.5, rdelta 0.1, 15 steps).
func QuantizeQ5_K(src []float32, dst []byte) error {
	nb, err := rowBlocks(Q5_K, len(src), len(dst))
	if err != nil {
		return err
	}
	var L [QK_K]uint8
	for i := range nb {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q5_KBlockBytes : (i+1)*Q5_KBlockBytes]
		quantizeScaleMinK4(x, y, &L, 31, -0.5, 0.1, 15)
		qh := y[Q5_KOffQh : Q5_KOffQh+32]
		clear(qh)
		for c := range 4 {
			qs := y[Q5_KOffQs+32*c : Q5_KOffQs+32*c+32]
			lo := L[64*c : 64*c+32]
			hi := L[64*c+32 : 64*c+64]
			for l := range qs {
				q1, q2 := lo[l], hi[l]
				qh[l] |= (q1>>4)<<(2*c) | (q2>>4)<<(2*c+1)
				qs[l] = q1&0xf | (q2&0xf)<<4
			}
		}
	}
	return nil
}
