package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/quant"
)

// TestQ6KBitExact checks that every Q6_K kernel (Dot, the row kernel and
// the four-token kernel, at every CPU level) returns the generic kernel's
// f32 result bit for bit: they all do ggml's AVX2 arithmetic.
func TestQ6KBitExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(9, 9))
		k := &kernelTable[quant.Q6_K]
		for _, m := range genModes {
			for _, nb := range []int{1, 2, 3, 8, 43} {
				const rows = 5
				w := genWeights(rng, quant.Q6_K, nb*rows, m.mode)
				xs := genActs(rng, k.act, nb*4, m.mode)
				rb, xb := nb*q6KBytes, nb*q8KBytes
				bad := 0
				for r := 0; r < rows; r++ {
					want := dotQ6KQ8KGeneric(w[r*rb:(r+1)*rb], xs[:xb], nb)
					got := Dot(quant.Q6_K, w[r*rb:(r+1)*rb], xs[:xb], nb*256)
					if math.Float32bits(got) != math.Float32bits(want) {
						bad++
					}
				}
				dst := make([]float32, rows)
				k.rows(dst, w, rb, xs[:xb], nb)
				for r := 0; r < rows; r++ {
					if math.Float32bits(dst[r]) != math.Float32bits(dotQ6KQ8KGeneric(w[r*rb:(r+1)*rb], xs[:xb], nb)) {
						bad++
					}
				}
				d4 := make([]float32, 4*rows)
				k.rows4(d4, rows, w, rb, xs, xb, nb, rows)
				for tk := 0; tk < 4; tk++ {
					for r := 0; r < rows; r++ {
						want := dotQ6KQ8KGeneric(w[r*rb:(r+1)*rb], xs[tk*xb:(tk+1)*xb], nb)
						if math.Float32bits(d4[tk*rows+r]) != math.Float32bits(want) {
							bad++
						}
					}
				}
				if bad > 0 {
					t.Errorf("%s nb=%d: %d mismatches", m.name, nb, bad)
				}
			}
		}
	})
}
