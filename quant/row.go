package quant

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Errors returned (wrapped, with the type and sizes) by the row functions.
var (
	// ErrBlockSize means a row's element count is not a multiple of the
	// type's block size.
	ErrBlockSize = errors.New("element count is not a multiple of the block size")
	// ErrBufferSize means the byte buffer does not have exactly the size of
	// the row's blocks.
	ErrBufferSize = errors.New("buffer size does not match the row")
	// ErrUnsupported means the type has no (de)quantization routine here.
	ErrUnsupported = errors.New("unsupported type")
)

// rowBlocks checks that a row of n elements of type t occupies exactly
// nbytes bytes, and returns its number of blocks.
func rowBlocks(t Type, n, nbytes int) (int, error) {
	ti, ok := typeTable[t]
	if !ok || !ti.supported {
		return 0, fmt.Errorf("quant: %v: %w", t, ErrUnsupported)
	}
	if n%ti.blockSize != 0 {
		return 0, fmt.Errorf("quant: %s row of %d elements (block size %d): %w", ti.name, n, ti.blockSize, ErrBlockSize)
	}
	nb := n / ti.blockSize
	if nbytes != nb*ti.typeSize {
		return 0, fmt.Errorf("quant: %s row of %d elements needs %d bytes, got %d: %w", ti.name, n, nb*ti.typeSize, nbytes, ErrBufferSize)
	}
	return nb, nil
}

// DequantizeRow decodes len(dst) elements of type t from src, which must
// hold exactly those elements' blocks (t.RowBytes(len(dst)) bytes). It
// returns an error, and leaves dst unspecified, if the sizes do not match or
// the type is not supported; it never panics.
func DequantizeRow(t Type, src []byte, dst []float32) error {
	switch t {
	case F32:
		return DequantizeF32(src, dst)
	case F16:
		return DequantizeF16(src, dst)
	case BF16:
		return DequantizeBF16(src, dst)
	case Q4_0:
		return DequantizeQ4_0(src, dst)
	case Q8_0:
		return DequantizeQ8_0(src, dst)
	case Q4_K:
		return DequantizeQ4_K(src, dst)
	case Q5_K:
		return DequantizeQ5_K(src, dst)
	case Q6_K:
		return DequantizeQ6_K(src, dst)
	case Q8_K:
		return DequantizeQ8_K(src, dst)
	}
	return fmt.Errorf("quant: dequantize %v: %w", t, ErrUnsupported)
}

// QuantizeRow encodes src as type t into dst, which must be exactly
// t.RowBytes(len(src)) bytes, using ggml's reference rounding (the routines
// llama-quantize uses when no importance matrix is given). Q8_0 here is the
// reference (round half away from zero); activations use QuantizeQ8_0Act.
// It returns an error if the sizes do not match or the type is not
// supported; it never panics.
func QuantizeRow(t Type, src []float32, dst []byte) error {
	switch t {
	case F32:
		return QuantizeF32(src, dst)
	case F16:
		return QuantizeF16(src, dst)
	case BF16:
		return QuantizeBF16(src, dst)
	case Q4_0:
		return QuantizeQ4_0(src, dst)
	case Q8_0:
		return QuantizeQ8_0(src, dst)
	case Q4_K:
		return QuantizeQ4_K(src, dst)
	case Q5_K:
		return QuantizeQ5_K(src, dst)
	case Q6_K:
		return QuantizeQ6_K(src, dst)
	case Q8_K:
		if _, err := rowBlocks(Q8_K, len(src), len(dst)); err != nil {
			return err
		}
		QuantizeQ8K(src, dst)
		return nil
	}
	return fmt.Errorf("quant: quantize %v: %w", t, ErrUnsupported)
}

// DequantizeF32 decodes little-endian float32 values: len(src) must be
// 4·len(dst).
func DequantizeF32(src []byte, dst []float32) error {
	if _, err := rowBlocks(F32, len(dst), len(src)); err != nil {
		return err
	}
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
	return nil
}

// QuantizeF32 encodes little-endian float32 values: len(dst) must be
// 4·len(src).
func QuantizeF32(src []float32, dst []byte) error {
	if _, err := rowBlocks(F32, len(src), len(dst)); err != nil {
		return err
	}
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
	return nil
}

// DequantizeF16 decodes little-endian IEEE binary16 values exactly:
// len(src) must be 2·len(dst).
func DequantizeF16(src []byte, dst []float32) error {
	if _, err := rowBlocks(F16, len(dst), len(src)); err != nil {
		return err
	}
	for i := range dst {
		dst[i] = f16Table[binary.LittleEndian.Uint16(src[2*i:])]
	}
	return nil
}

// QuantizeF16 encodes with F32ToF16 (round to nearest even): len(dst) must
// be 2·len(src).
func QuantizeF16(src []float32, dst []byte) error {
	if _, err := rowBlocks(F16, len(src), len(dst)); err != nil {
		return err
	}
	for i, v := range src {
		b := math.Float32bits(v)
		h, ok := f32ToF16Normal(b)
		if !ok {
			h = f32ToF16Slow(b)
		}
		binary.LittleEndian.PutUint16(dst[2*i:], h)
	}
	return nil
}

// DequantizeBF16 decodes little-endian bfloat16 values exactly: len(src)
// must be 2·len(dst).
func DequantizeBF16(src []byte, dst []float32) error {
	if _, err := rowBlocks(BF16, len(dst), len(src)); err != nil {
		return err
	}
	for i := range dst {
		dst[i] = BF16ToF32(binary.LittleEndian.Uint16(src[2*i:]))
	}
	return nil
}

// QuantizeBF16 encodes with F32ToBF16 (round to nearest even, NaN made
// quiet): len(dst) must be 2·len(src).
func QuantizeBF16(src []float32, dst []byte) error {
	if _, err := rowBlocks(BF16, len(src), len(dst)); err != nil {
		return err
	}
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], F32ToBF16(v))
	}
	return nil
}
