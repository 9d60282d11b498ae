package kernels

import (
	"encoding/binary"
	"math"
	"math/rand/v2"

	"github.com/smolbot/smolbot/quant"
)

// Test data: whole weight and activation rows built directly from random
// bytes, with valid f16/f32 scales, in several modes that stress the edges.

type genMode int

const (
	modeRandom      genMode = iota
	modeZeroScales          // every f16 scale is ±0
	modeMaxScales           // f16 scales ±65504, Q8_K d large
	modeSubnormal           // f16 scales subnormal
	modeExtremeActs         // activations only 127, -127, -128
	modeMaxQuants           // every quant bit set, every sub-scale at its maximum
	modeExact               // unit scales and small values: every f32 sum is exact
)

var genModes = []struct {
	name string
	mode genMode
}{
	{"random", modeRandom}, {"zero-scales", modeZeroScales}, {"max-scales", modeMaxScales},
	{"subnormal", modeSubnormal}, {"extreme-acts", modeExtremeActs}, {"max-quants", modeMaxQuants},
}

func putF16(b []byte, h uint16) { binary.LittleEndian.PutUint16(b, h) }

// randF16 returns an f16 scale for the mode.
func randF16(rng *rand.Rand, mode genMode) uint16 {
	sign := uint16(rng.IntN(2)) << 15
	switch mode {
	case modeZeroScales:
		return sign
	case modeMaxScales:
		return sign | 0x7BFF
	case modeSubnormal:
		return sign | uint16(1+rng.IntN(0x3FF))
	case modeExact:
		return 0x3C00 // 1.0
	}
	// Normal values between 2^-14 and 2^1, the range real scales live in.
	return sign | uint16(1+rng.IntN(16))<<10 | uint16(rng.IntN(1024))
}

// genWeights returns nb random blocks of weight type wt (nb elements for the
// float types).
func genWeights(rng *rand.Rand, wt quant.Type, nb int, mode genMode) []byte {
	k := &kernelTable[wt]
	w := make([]byte, nb*k.wBytes)
	for i := range w {
		w[i] = byte(rng.Uint32())
	}
	for b := 0; b < nb; b++ {
		wb := w[b*k.wBytes : (b+1)*k.wBytes]
		switch wt {
		case quant.Q4_K, quant.Q5_K:
			putF16(wb[0:], randF16(rng, mode))
			putF16(wb[2:], randF16(rng, mode))
			switch mode {
			case modeMaxQuants:
				for i := 4; i < len(wb); i++ {
					wb[i] = 0xFF
				}
			case modeExact:
				// Sub-scales and mins at most 15 keep Σ|terms| small.
				for i := 4; i < 16; i++ {
					wb[i] &= 0x0F
				}
			}
		case quant.Q6_K:
			putF16(wb[208:], randF16(rng, mode))
			switch mode {
			case modeMaxQuants:
				for i := 0; i < 192; i++ {
					wb[i] = 0xFF
				}
				for i := 192; i < 208; i++ {
					wb[i] = byte([]int8{127, -128}[rng.IntN(2)])
				}
			case modeExact:
				for i := 192; i < 208; i++ {
					wb[i] = byte(int8(rng.IntN(31) - 15))
				}
			}
		case quant.Q4_0, quant.Q8_0:
			putF16(wb, randF16(rng, mode))
			if mode == modeMaxQuants {
				for i := 2; i < len(wb); i++ {
					wb[i] = []byte{0xFF, 0x80}[rng.IntN(2)]
				}
			}
		case quant.F32:
			binary.LittleEndian.PutUint32(wb, math.Float32bits(randFloat(rng, mode)))
		case quant.F16:
			v := randFloat(rng, mode)
			v = max(-65504, min(65504, v)) // no infinities
			putF16(wb, quant.F32ToF16(v))
		case quant.BF16:
			putF16(wb, quant.F32ToBF16(randFloat(rng, mode)))
		}
	}
	return w
}

func randFloat(rng *rand.Rand, mode genMode) float32 {
	switch mode {
	case modeZeroScales:
		return 0
	case modeMaxScales:
		return float32(rng.NormFloat64() * 6e4)
	case modeSubnormal:
		return float32(rng.NormFloat64() * 1e-6)
	case modeExact:
		return float32(rng.IntN(33) - 16)
	}
	return float32(rng.NormFloat64())
}

// genActs returns nb random blocks of activation type act (Q8_K, Q8_0,
// F16, BF16 or F32; nb elements for the float types), with consistent Q8_K
// bsums.
func genActs(rng *rand.Rand, act quant.Type, nb int, mode genMode) []byte {
	q := func() int8 {
		switch mode {
		case modeExtremeActs:
			return []int8{127, -127, -128}[rng.IntN(3)]
		case modeExact:
			return int8(rng.IntN(33) - 16)
		}
		return int8(rng.Uint32())
	}
	switch act {
	case quant.Q8_K:
		x := make([]byte, nb*q8KBytes)
		for b := 0; b < nb; b++ {
			xb := x[b*q8KBytes : (b+1)*q8KBytes]
			d := float32(rng.Float64()*0.1 + 1e-4)
			switch mode {
			case modeMaxScales:
				d = 1e3
			case modeExact:
				d = 1
			}
			if rng.IntN(2) == 0 {
				d = -d
			}
			binary.LittleEndian.PutUint32(xb, math.Float32bits(d))
			for k := 0; k < 16; k++ {
				var s int16
				for e := 0; e < 16; e++ {
					v := q()
					xb[4+16*k+e] = byte(v)
					s += int16(v)
				}
				binary.LittleEndian.PutUint16(xb[260+2*k:], uint16(s))
			}
		}
		return x
	case quant.Q8_0:
		x := make([]byte, nb*q8_0Bytes)
		for b := 0; b < nb; b++ {
			xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
			m := mode
			if m != modeExact && m != modeMaxScales && m != modeSubnormal {
				m = modeRandom
			}
			putF16(xb, randF16(rng, m))
			for e := 0; e < 32; e++ {
				xb[2+e] = byte(q())
			}
		}
		return x
	case quant.F16, quant.BF16:
		x := make([]byte, 2*nb)
		for i := 0; i < nb; i++ {
			m := mode
			if m == modeZeroScales || m == modeMaxQuants || m == modeExtremeActs {
				m = modeRandom
			}
			v := randFloat(rng, m)
			if act == quant.F16 {
				putF16(x[2*i:], quant.F32ToF16(max(-65504, min(65504, v))))
			} else {
				putF16(x[2*i:], quant.F32ToBF16(v))
			}
		}
		return x
	default:
		x := make([]byte, 4*nb)
		for i := 0; i < nb; i++ {
			m := mode
			if m == modeZeroScales || m == modeMaxQuants || m == modeExtremeActs {
				m = modeRandom
			}
			binary.LittleEndian.PutUint32(x[4*i:], math.Float32bits(randFloat(rng, m)))
		}
		return x
	}
}

// actValue returns activation i of a float activation row of type act.
func actValue(act quant.Type, x []byte, i int) float32 {
	switch act {
	case quant.F16:
		return f16(x[2*i:])
	case quant.BF16:
		return bf16(x[2*i:])
	}
	return f32(x[4*i:])
}

// terms returns the dot product computed in f64 from the quantized integers
// (an oracle independent of the kernels' f32 order) and Σ|terms|, the scale
// against which rounding differences are measured.
func terms(wt quant.Type, w, x []byte, nb int) (sum, abs float64) {
	var s float64
	switch wt {
	case quant.Q4_K, quant.Q5_K, quant.Q6_K:
		k := &kernelTable[wt]
		for b := 0; b < nb; b++ {
			wb := w[b*k.wBytes : (b+1)*k.wBytes]
			xb := x[b*q8KBytes : (b+1)*q8KBytes]
			yd := math.Abs(float64(f32(xb)))
			var u [qk]int8
			var sc16 [16]int32
			var mins, minsSigned float64
			switch wt {
			case quant.Q6_K:
				unpackQ6K(&u, wb)
				for g := range sc16 {
					sc16[g] = int32(int8(wb[192+g]))
				}
			default:
				sc, m := scaleMinK4(wb[4:16])
				for c := 0; c < 4; c++ {
					for l := 0; l < 32; l++ {
						var qs, hb1, hb2 byte
						if wt == quant.Q4_K {
							qs = wb[16+32*c+l]
						} else {
							qs = wb[48+32*c+l]
							hb1 = (wb[16+l] >> (2 * c) & 1) << 4
							hb2 = (wb[16+l] >> (2*c + 1) & 1) << 4
						}
						u[64*c+l] = int8(qs&0xF | hb1)
						u[64*c+32+l] = int8(qs>>4 | hb2)
					}
				}
				for g := range sc16 {
					sc16[g] = sc[g/2]
				}
				for j := 0; j < 8; j++ {
					b0 := int16(binary.LittleEndian.Uint16(xb[260+4*j:]))
					b1 := int16(binary.LittleEndian.Uint16(xb[262+4*j:]))
					mins += float64(m[j]) * math.Abs(float64(b0)+float64(b1))
					minsSigned += float64(m[j]) * (float64(b0) + float64(b1))
				}
				mins *= math.Abs(float64(f16(wb[2:]))) * yd
				minsSigned *= float64(f16(wb[2:])) * float64(f32(xb))
			}
			var a, as float64
			for e := 0; e < qk; e++ {
				t := float64(sc16[e/16]) * float64(u[e]) * float64(int8(xb[4+e]))
				a += math.Abs(t)
				as += t
			}
			dw := f16(wb[0:])
			if wt == quant.Q6_K {
				dw = f16(wb[208:])
			}
			s += a*math.Abs(float64(dw))*yd + mins
			sum += as*float64(dw)*float64(f32(xb)) - minsSigned
		}
	case quant.Q4_0, quant.Q8_0:
		k := &kernelTable[wt]
		for b := 0; b < nb; b++ {
			wb := w[b*k.wBytes : (b+1)*k.wBytes]
			xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
			var a, as float64
			for e := 0; e < 32; e++ {
				var q int
				if wt == quant.Q8_0 {
					q = int(int8(wb[2+e]))
				} else if e < 16 {
					q = int(wb[2+e]&0xF) - 8
				} else {
					q = int(wb[2+e-16]>>4) - 8
				}
				a += math.Abs(float64(q) * float64(int8(xb[2+e])))
				as += float64(q) * float64(int8(xb[2+e]))
			}
			s += a * math.Abs(float64(f16(wb))*float64(f16(xb)))
			sum += as * float64(f16(wb)) * float64(f16(xb))
		}
	default:
		for i := 0; i < nb; i++ {
			var wv float32
			switch wt {
			case quant.F32:
				wv = f32(w[4*i:])
			case quant.F16:
				wv = f16(w[2*i:])
			case quant.BF16:
				wv = math.Float32frombits(uint32(binary.LittleEndian.Uint16(w[2*i:])) << 16)
			}
			xv := actValue(kernelTable[wt].act, x, i)
			s += math.Abs(float64(wv) * float64(xv))
			sum += float64(wv) * float64(xv)
		}
	}
	return sum, s
}
