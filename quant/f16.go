package quant

import "math"

// f16Table maps every IEEE binary16 bit pattern to its exact float32 value.
// 256 KiB, built once at init: a table lookup is faster than the bit
// manipulation on the dequantization hot path and is trivially exact.
var f16Table [1 << 16]float32

func init() {
	for h := range f16Table {
		f16Table[h] = f16ToF32Slow(uint16(h))
	}
}

// f16ToF32Slow converts by bit manipulation. It is exact for every input:
// every binary16 value (subnormals, ±inf, NaN payloads) is representable in
// binary32.
func f16ToF32Slow(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	switch {
	case exp == 0x1f: // inf or NaN: keep the payload in the top mantissa bits
		return math.Float32frombits(sign | 0x7f800000 | mant<<13)
	case exp != 0: // normal: rebias 15 -> 127
		return math.Float32frombits(sign | (exp+112)<<23 | mant<<13)
	case mant == 0: // ±0
		return math.Float32frombits(sign)
	default: // subnormal: mant·2⁻²⁴, exact in float32
		v := float32(mant) * (1.0 / (1 << 24))
		if sign != 0 {
			v = -v
		}
		return v
	}
}

// F16ToF32 returns the exact float32 value of the IEEE binary16 bit pattern
// h, including subnormals, ±inf and NaN (payload preserved).
func F16ToF32(h uint16) float32 { return f16Table[h] }

// F32ToF16 rounds f to the nearest IEEE binary16 value, ties to even, as
// ggml's fp32→fp16 conversion (and x86 F16C) does (spec §3.6, §4.1).
// Values too large for binary16 become ±inf, values below half the smallest
// subnormal become ±0, and every NaN becomes the quiet NaN 0x7E00.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	if h, ok := f32ToF16Normal(b); ok {
		return h
	}
	return f32ToF16Slow(b)
}

// f32ToF16Normal converts the common case 2⁻¹⁴ ≤ |f| < 2¹⁶, where the result
// is a normal half or (rounding up past 65504) inf, and reports whether b
// was in that range. It adds just under half an ulp plus the lsb (round half
// to even; a carry correctly bumps the exponent), drops 13 mantissa bits and
// rebiases the exponent from 127 to 15. Small enough to inline into loops.
func f32ToF16Normal(b uint32) (uint16, bool) {
	abs := b & 0x7fffffff
	if abs-0x38800000 >= 0x47800000-0x38800000 {
		return 0, false
	}
	return uint16(b>>16)&0x8000 | uint16((abs+0xfff+(abs>>13)&1)>>13-(127-15)<<10), true
}

// f32ToF16Slow handles every input of F32ToF16 from its bit pattern b.
func f32ToF16Slow(b uint32) uint16 {
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // binary16 biased exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e >= 1 {
		// Normal. A carry out of the mantissa correctly bumps the exponent,
		// and from 0x7bff up to 0x7c00 (inf).
		h := sign | uint16(e)<<10 | uint16(mant>>13)
		rem := mant & 0x1fff
		if rem > 0x1000 || (rem == 0x1000 && h&1 != 0) {
			h++
		}
		return h
	}
	// Subnormal (or zero) result: the value in units of 2⁻²⁴ is
	// (mant|implicit)·2^(e-14), i.e. shifted right by 14-e ≥ 14.
	shift := uint32(14 - e)
	if shift >= 32 || exp == 0 {
		return sign // below 2⁻²⁵ (or an f32 subnormal): rounds to zero
	}
	m := mant | 0x800000
	h := uint16(m >> shift)
	rem := m & (1<<shift - 1)
	half := uint32(1) << (shift - 1)
	if rem > half || (rem == half && h&1 != 0) {
		h++ // may carry into the smallest normal, which is the right encoding
	}
	return sign | h
}

// BF16ToF32 returns the exact float32 value of the bfloat16 bit pattern h
// (the top 16 bits of a float32).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 rounds f to bfloat16, ties to even, as ggml does (spec §4.1).
// A NaN keeps its sign and top payload bits and is forced quiet:
// (bits>>16) | 0x40. Overflow rounds to ±inf.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// F16ToF32Slice converts min(len(src), len(dst)) binary16 values and
// returns how many it converted.
func F16ToF32Slice(src []uint16, dst []float32) int {
	n := min(len(src), len(dst))
	src, dst = src[:n], dst[:n]
	for i, h := range src {
		dst[i] = f16Table[h]
	}
	return n
}

// F32ToF16Slice converts min(len(src), len(dst)) values with F32ToF16 and
// returns how many it converted.
func F32ToF16Slice(src []float32, dst []uint16) int {
	n := min(len(src), len(dst))
	src, dst = src[:n], dst[:n]
	for i, f := range src {
		b := math.Float32bits(f)
		h, ok := f32ToF16Normal(b)
		if !ok {
			h = f32ToF16Slow(b)
		}
		dst[i] = h
	}
	return n
}

// BF16ToF32Slice converts min(len(src), len(dst)) bfloat16 values and
// returns how many it converted.
func BF16ToF32Slice(src []uint16, dst []float32) int {
	n := min(len(src), len(dst))
	src, dst = src[:n], dst[:n]
	for i, h := range src {
		dst[i] = math.Float32frombits(uint32(h) << 16)
	}
	return n
}

// F32ToBF16Slice converts min(len(src), len(dst)) values with F32ToBF16 and
// returns how many it converted.
func F32ToBF16Slice(src []float32, dst []uint16) int {
	n := min(len(src), len(dst))
	src, dst = src[:n], dst[:n]
	for i, f := range src {
		dst[i] = F32ToBF16(f)
	}
	return n
}
