package quant

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchElems is one SmolLM3-3B activation row (n_embd 2048).
const benchElems = 2048

func BenchmarkQuantizeQ8K(b *testing.B) {
	for _, n := range []int{benchElems, 11008} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			x := gaussianRow(rand.New(rand.NewPCG(1, 1)), n, 1)
			dst := make([]byte, n/QK_K*Q8_KBlockBytes)
			b.SetBytes(int64(4 * n))
			for b.Loop() {
				QuantizeQ8K(x, dst)
			}
		})
	}
}

func BenchmarkQuantizeQ8_0Act(b *testing.B) {
	x := gaussianRow(rand.New(rand.NewPCG(1, 1)), benchElems, 1)
	dst := make([]byte, benchElems/32*Q8_0BlockBytes)
	b.SetBytes(4 * benchElems)
	for b.Loop() {
		QuantizeQ8_0Act(x, dst)
	}
}

// BenchmarkDequantize reports throughput in encoded (input) bytes.
func BenchmarkDequantize(b *testing.B) {
	r := rand.New(rand.NewPCG(2, 2))
	for _, ty := range computeTypes {
		b.Run(ty.String(), func(b *testing.B) {
			x := gaussianRow(r, benchElems, 1)
			n, _ := ty.RowBytes(benchElems)
			src := make([]byte, n)
			if err := QuantizeRow(ty, x, src); err != nil {
				b.Fatal(err)
			}
			dst := make([]float32, benchElems)
			b.SetBytes(n)
			for b.Loop() {
				if err := DequantizeRow(ty, src, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQuantizeRow measures the reference (weight) quantizers, in input
// float bytes.
func BenchmarkQuantizeRow(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 3))
	for _, ty := range computeTypes {
		b.Run(ty.String(), func(b *testing.B) {
			x := gaussianRow(r, benchElems, 1)
			n, _ := ty.RowBytes(benchElems)
			dst := make([]byte, n)
			b.SetBytes(4 * benchElems)
			for b.Loop() {
				if err := QuantizeRow(ty, x, dst); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
