// Package quant defines ggml's tensor element types: their block layouts,
// sizes, and the reference (scalar) quantization and dequantization routines
// that every faster kernel is tested against.
//
// Layouts and rounding rules follow ../shared/docs/smollm3-spec.md §4.
//
// Row functions take (src, dst): DequantizeRow and QuantizeRow dispatch on
// the type to per-format functions (DequantizeQ4_K, QuantizeQ6_K, ...), check
// sizes and return errors instead of panicking. Weights are quantized with
// ggml's reference rounding, so re-quantizing an f32 model reproduces
// llama-quantize's bytes. QuantizeQ8K and QuantizeQ8_0Act convert activation
// rows on the matmul hot path, with llama.cpp's x86 rounding, and do not
// allocate. F16/BF16 conversions (F32ToF16, ...) are exact IEEE/ggml
// round-to-nearest-even.
package quant

import (
	"fmt"
	"math/bits"
)

// Type is a ggml tensor element type, numbered as in GGUF files (ggml_type).
type Type uint32

// The ggml type ids. Only the types with a non-zero block size in typeTable
// are supported for computation; the others are known by name so that
// `smolbot inspect` can describe files that use them.
const (
	F32     Type = 0
	F16     Type = 1
	Q4_0    Type = 2
	Q4_1    Type = 3
	Q5_0    Type = 6
	Q5_1    Type = 7
	Q8_0    Type = 8
	Q8_1    Type = 9
	Q2_K    Type = 10
	Q3_K    Type = 11
	Q4_K    Type = 12
	Q5_K    Type = 13
	Q6_K    Type = 14
	Q8_K    Type = 15
	IQ2_XXS Type = 16
	IQ2_XS  Type = 17
	IQ3_XXS Type = 18
	IQ1_S   Type = 19
	IQ4_NL  Type = 20
	IQ3_S   Type = 21
	IQ2_S   Type = 22
	IQ4_XS  Type = 23
	I8      Type = 24
	I16     Type = 25
	I32     Type = 26
	I64     Type = 27
	F64     Type = 28
	IQ1_M   Type = 29
	BF16    Type = 30
	TQ1_0   Type = 34
	TQ2_0   Type = 35
	MXFP4   Type = 39
)

// QK_K is the super-block size of the K-quant formats.
const QK_K = 256

type typeInfo struct {
	name      string
	blockSize int // elements per block
	typeSize  int // bytes per block
	supported bool
}

// typeTable holds ggml's GGML_QUANT_SIZES for every type we can name.
// Sizes of unsupported types are kept so that files using them can still be
// inspected (tensor byte counts), even though they cannot be computed with.
var typeTable = map[Type]typeInfo{
	F32:     {"F32", 1, 4, true},
	F16:     {"F16", 1, 2, true},
	Q4_0:    {"Q4_0", 32, 18, true},
	Q4_1:    {"Q4_1", 32, 20, false},
	Q5_0:    {"Q5_0", 32, 22, false},
	Q5_1:    {"Q5_1", 32, 24, false},
	Q8_0:    {"Q8_0", 32, 34, true},
	Q8_1:    {"Q8_1", 32, 36, false},
	Q2_K:    {"Q2_K", 256, 84, false},
	Q3_K:    {"Q3_K", 256, 110, false},
	Q4_K:    {"Q4_K", 256, 144, true},
	Q5_K:    {"Q5_K", 256, 176, true},
	Q6_K:    {"Q6_K", 256, 210, true},
	Q8_K:    {"Q8_K", 256, 292, true},
	IQ2_XXS: {"IQ2_XXS", 256, 66, false},
	IQ2_XS:  {"IQ2_XS", 256, 74, false},
	IQ3_XXS: {"IQ3_XXS", 256, 98, false},
	IQ1_S:   {"IQ1_S", 256, 50, false},
	IQ4_NL:  {"IQ4_NL", 32, 18, false},
	IQ3_S:   {"IQ3_S", 256, 110, false},
	IQ2_S:   {"IQ2_S", 256, 82, false},
	IQ4_XS:  {"IQ4_XS", 256, 136, false},
	I8:      {"I8", 1, 1, false},
	I16:     {"I16", 1, 2, false},
	I32:     {"I32", 1, 4, false},
	I64:     {"I64", 1, 8, false},
	F64:     {"F64", 1, 8, false},
	IQ1_M:   {"IQ1_M", 256, 56, false},
	BF16:    {"BF16", 1, 2, true},
	TQ1_0:   {"TQ1_0", 256, 54, false},
	TQ2_0:   {"TQ2_0", 256, 66, false},
	MXFP4:   {"MXFP4", 32, 17, false},
}

// String returns ggml's name for the type ("Q4_K"), or "type(N)" if unknown.
func (t Type) String() string {
	if ti, ok := typeTable[t]; ok {
		return ti.name
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// Known reports whether the type id is one ggml defines (with a known size).
func (t Type) Known() bool { _, ok := typeTable[t]; return ok }

// Supported reports whether smolbot can compute with tensors of this type.
func (t Type) Supported() bool { return typeTable[t].supported }

// BlockSize is the number of elements in one block (1 for float types).
// It is 0 for unknown types.
func (t Type) BlockSize() int { return typeTable[t].blockSize }

// TypeSize is the number of bytes in one block. It is 0 for unknown types.
func (t Type) TypeSize() int { return typeTable[t].typeSize }

// RowBytes returns the number of bytes of a row of n elements. It fails if
// the type is unknown, n is negative or not a multiple of the block size.
func (t Type) RowBytes(n int64) (int64, error) {
	ti, ok := typeTable[t]
	if !ok {
		return 0, fmt.Errorf("quant: unknown type %d", uint32(t))
	}
	if n < 0 || n%int64(ti.blockSize) != 0 {
		return 0, fmt.Errorf("quant: row of %d elements is not a multiple of %s's block size %d", n, ti.name, ti.blockSize)
	}
	return n / int64(ti.blockSize) * int64(ti.typeSize), nil
}

// Bytes returns the byte size of a tensor with the given ggml dimensions
// (ne[0] contiguous), checking for overflow. It fails if ne[0] is not a
// multiple of the block size or the size does not fit in an int64.
func (t Type) Bytes(ne []int64) (int64, error) {
	if len(ne) == 0 {
		return t.RowBytes(1)
	}
	row, err := t.RowBytes(ne[0])
	if err != nil {
		return 0, err
	}
	total := uint64(row)
	for _, d := range ne[1:] {
		if d < 0 {
			return 0, fmt.Errorf("quant: negative dimension %d", d)
		}
		hi, lo := bits.Mul64(total, uint64(d))
		if hi != 0 || lo > 1<<62 {
			return 0, fmt.Errorf("quant: tensor size overflows")
		}
		total = lo
	}
	return int64(total), nil
}

// ParseType returns the type with ggml's name s (case-sensitive, "Q4_K").
func ParseType(s string) (Type, bool) {
	for t, ti := range typeTable {
		if ti.name == s {
			return t, true
		}
	}
	return 0, false
}

// VecDotType is the type activations are converted to before a dot product
// with a weight row of type t. Like llama.cpp's CPU backend (spec §3.6) it is
// Q8_K for K-quants and Q8_0 for Q4_0/Q8_0, so quantized logits carry the same
// rounding as the reference. F16 and BF16 weights take activations rounded to
// their own type, as llama.cpp does (type_traits_cpu[].vec_dot_type), and F32
// weights F32 activations.
func (t Type) VecDotType() Type {
	switch t {
	case Q4_K, Q5_K, Q6_K:
		return Q8_K
	case Q4_0, Q8_0:
		return Q8_0
	case F16, BF16:
		return t
	default:
		return F32
	}
}
