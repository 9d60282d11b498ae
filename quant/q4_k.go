package quant

import "encoding/binary"

// Q4_K block layout (spec §4.4): 256 elements in 144 bytes, eight sub-blocks
// of 32 with x = (d·sc_j)·q − (dmin·m_j), q ∈ [0, 15].
const (
	Q4_KBlockBytes = 144 // bytes per block (QK_K = 256 elements)
	Q4_KOffD       = 0   // f16 super-scale of the sub-block scales
	Q4_KOffDmin    = 2   // f16 super-scale of the sub-block mins
	Q4_KOffScales  = 4   // 12 bytes: eight 6-bit scales and mins (ScaleMinK4)
	Q4_KOffQs      = 16  // 128 bytes: chunk c of 64 elements in bytes 32c..32c+31, low nibbles first
)

// DequantizeQ4_K decodes len(dst) elements (a multiple of 256) from exactly
// len(dst)/256 Q4_K blocks, evaluating (d·sc)·f32(q) − (dmin·m) in float32
// in that order, as ggml and gguf-py do.
func DequantizeQ4_K(src []byte, dst []float32) error {
	nb, err := rowBlocks(Q4_K, len(dst), len(src))
	if err != nil {
		return err
	}
	for i := range nb {
		b := src[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		y := dst[i*QK_K : (i+1)*QK_K]
		d := f16Table[binary.LittleEndian.Uint16(b[Q4_KOffD:])]
		dmin := f16Table[binary.LittleEndian.Uint16(b[Q4_KOffDmin:])]
		scales := b[Q4_KOffScales : Q4_KOffScales+12]
		for c := range 4 {
			sc1, m1 := ScaleMinK4(2*c, scales)
			sc2, m2 := ScaleMinK4(2*c+1, scales)
			d1, min1 := float32(d*float32(sc1)), float32(dmin*float32(m1))
			d2, min2 := float32(d*float32(sc2)), float32(dmin*float32(m2))
			qs := b[Q4_KOffQs+32*c : Q4_KOffQs+32*c+32]
			lo := y[64*c : 64*c+32]
			hi := y[64*c+32 : 64*c+64]
			for l, q := range qs {
				lo[l] = float32(d1*float32(q&0xf)) - min1
				hi[l] = float32(d2*float32(q>>4)) - min2
			}
		}
	}
	return nil
}

// QuantizeQ4_K encodes src (a multiple of 256 elements) into exactly
// len(src)/256 Q4_K blocks with ggml's quantize_row_q4_K_ref
// (make_qkx2_quants with nmax 15, rmin −1, rdelta 0.1, 20 steps).
func QuantizeQ4_K(src []float32, dst []byte) error {
	nb, err := rowBlocks(Q4_K, len(src), len(dst))
	if err != nil {
		return err
	}
	var L [QK_K]uint8
	for i := range nb {
		x := src[i*QK_K : (i+1)*QK_K]
		y := dst[i*Q4_KBlockBytes : (i+1)*Q4_KBlockBytes]
		quantizeScaleMinK4(x, y, &L, 15, -1, 0.1, 20)
		for c := range 4 {
			qs := y[Q4_KOffQs+32*c : Q4_KOffQs+32*c+32]
			lo := L[64*c : 64*c+32]
			hi := L[64*c+32 : 64*c+64]
			for l := range qs {
				qs[l] = lo[l] | hi[l]<<4
			}
		}
	}
	return nil
}
