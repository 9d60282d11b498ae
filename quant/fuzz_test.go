package quant

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// FuzzRow feeds arbitrary bytes to DequantizeRow and arbitrary float bit
// patterns to QuantizeRow (and the activation quantizers) for every type id:
// nothing may panic, and an error must be returned exactly when the sizes
// or the type are wrong.
func FuzzRow(f *testing.F) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, ty := range computeTypes {
		blk := randomBlocks(r, ty, 2)
		f.Add(uint32(ty), uint16(2*ty.BlockSize()), blk)
		f.Add(uint32(ty), uint16(ty.BlockSize()), blk)
		f.Add(uint32(ty), uint16(ty.BlockSize()+1), blk[:len(blk)-1])
	}
	f.Add(uint32(Q4_1), uint16(32), make([]byte, 20))
	f.Add(uint32(1<<31), uint16(0), []byte{})
	f.Fuzz(func(t *testing.T, typ uint32, n uint16, data []byte) {
		ty := Type(typ % 64) // mostly known ids, some unknown ones
		if typ >= 1<<31 {
			ty = Type(typ)
		}
		dst := make([]float32, int(n)%4096)
		err := DequantizeRow(ty, data, dst)
		want, rerr := ty.RowBytes(int64(len(dst)))
		valid := ty.Supported() && rerr == nil && int64(len(data)) == want
		if (err == nil) != valid {
			t.Fatalf("DequantizeRow(%v, %d bytes, %d elems) = %v, valid = %v", ty, len(data), len(dst), err, valid)
		}

		// Quantize the data reinterpreted as float32 bit patterns.
		src := make([]float32, len(data)/4)
		for i := range src {
			src[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		if !ty.Supported() {
			if err := QuantizeRow(ty, src, make([]byte, len(data))); !errors.Is(err, ErrUnsupported) {
				t.Fatalf("QuantizeRow(%v) = %v, want ErrUnsupported", ty, err)
			}
			return
		}
		bs := ty.BlockSize()
		src = src[:len(src)-len(src)%bs]
		nb, _ := ty.RowBytes(int64(len(src)))
		out := make([]byte, nb)
		if err := QuantizeRow(ty, src, out); err != nil {
			t.Fatalf("QuantizeRow(%v, %d elems) = %v", ty, len(src), err)
		}
		if err := DequantizeRow(ty, out, make([]float32, len(src))); err != nil {
			t.Fatalf("DequantizeRow after QuantizeRow: %v", err)
		}
		if err := QuantizeRow(ty, src, make([]byte, nb+1)); err == nil {
			t.Fatalf("QuantizeRow(%v) accepted a buffer one byte too long", ty)
		}
		if ty == F32 {
			back := make([]float32, len(src))
			_ = DequantizeRow(F32, out, back)
			for i := range src {
				if math.Float32bits(back[i]) != math.Float32bits(src[i]) {
					t.Fatalf("F32 round trip changed element %d", i)
				}
			}
		}
		m := len(src) - len(src)%QK_K
		QuantizeQ8K(src[:m], make([]byte, m/QK_K*Q8_KBlockBytes))
		m = len(src) - len(src)%32
		QuantizeQ8_0Act(src[:m], make([]byte, m/32*Q8_0BlockBytes))
	})
}
