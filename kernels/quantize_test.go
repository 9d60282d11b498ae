package kernels

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/quant"
)

// TestQuantizeQ8K checks the activation quantizer MatMul uses at each level
// against quant.QuantizeQ8K, bit for bit, non-finite inputs included.
func TestQuantizeQ8K(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 22))
	inputs := map[string][]float32{}
	for _, n := range []int{256, 512, 2048, 11008} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(7)-3)))
		}
		inputs["random"+string(rune('0'+n%10))] = x
	}
	edge := make([]float32, 10*256)
	b := edge[0:256] // all zero block
	_ = b
	// Ties: max −127 gives iscale 1, so halves round to even.
	for i := range 256 {
		edge[256+i] = float32(i%64)/2 - 16
	}
	edge[256+100] = -127
	// Both signs reach amax: the first one wins.
	for i := range 256 {
		edge[512+i] = float32(rng.NormFloat64())
	}
	edge[512+7], edge[512+200] = -9, 9
	edge[768+255] = 3 // a single non-zero value, last
	for i := range 256 {
		edge[1024+i] = float32(i) * 1e-30 // tiny, some subnormal products
	}
	for i := range 256 {
		edge[1280+i] = float32(rng.NormFloat64() * 1e30)
	}
	edge[1536+5] = float32(math.Copysign(0, -1))
	edge[1536+6] = 1e-45
	for i := range 256 {
		edge[1792+i] = -float32(i)
	}
	for i := range 256 {
		edge[2048+i] = float32(rng.NormFloat64())
		edge[2304+i] = float32(rng.NormFloat64())
	}
	edge[2048+3] = float32(math.NaN())
	edge[2048+9] = float32(math.Inf(-1))
	edge[2304+0] = float32(math.NaN())
	for i := 0; i < 256; i += 8 { // NaN in the same lane of every vector
		edge[2304+i+7] = float32(math.NaN())
	}
	inputs["edge"] = edge
	nan := make([]float32, 256)
	for i := range nan {
		nan[i] = float32(math.NaN())
	}
	inputs["nan"] = nan

	forEachLevel(t, func(t *testing.T) {
		for name, x := range inputs {
			want := make([]byte, len(x)/256*q8KBytes)
			quant.QuantizeQ8K(x, want)
			got := make([]byte, len(want)+7)
			for i := range got {
				got[i] = 0xAA
			}
			quantizeQ8K(x, got[:len(want)])
			if !bytes.Equal(got[:len(want)], want) {
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("%s: first difference at byte %d (block %d, offset %d): got %#x, want %#x",
							name, i, i/q8KBytes, i%q8KBytes, got[i], want[i])
					}
				}
			}
			for _, v := range got[len(want):] {
				if v != 0xAA {
					t.Fatalf("%s: wrote past the output", name)
				}
			}
		}
	})
}

// TestQuantizeQ8_0 checks the Q8_0 activation quantizer MatMul uses at each
// level against quant.QuantizeQ8_0Act, bit for bit.
func TestQuantizeQ8_0(t *testing.T) {
	rng := rand.New(rand.NewPCG(23, 24))
	var x []float32
	for b := 0; b < 200; b++ {
		scale := math.Pow(10, float64(rng.IntN(12)-6))
		for i := 0; i < 32; i++ {
			v := float32(rng.NormFloat64() * scale)
			switch b {
			case 0:
				v = 0
			case 1:
				v = float32(i%16)/2 - 4 // ties: amax 4 gives id 31.75
			case 2:
				v = float32(i) - 16 // id = 127/16: many products on .5
			case 3:
				v = float32(i) * 1e-44 // subnormal amax: id overflows to +Inf
			case 4:
				if i%8 == 7 {
					v = float32(math.NaN())
				}
			case 7:
				v = float32(math.NaN())
			case 5:
				if i == 3 {
					v = float32(math.Inf(1))
				}
			case 6:
				v = float32(rng.NormFloat64() * 1e36) // d overflows f16
			}
			x = append(x, v)
		}
	}
	forEachLevel(t, func(t *testing.T) {
		want := make([]byte, len(x)/32*q8_0Bytes)
		quant.QuantizeQ8_0Act(x, want)
		got := make([]byte, len(want))
		quantizeQ8_0(x, got)
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("first difference at byte %d (block %d, offset %d): got %#x, want %#x",
					i, i/q8_0Bytes, i%q8_0Bytes, got[i], want[i])
			}
		}
	})
}
