package kernels

import (
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/quant"
)

// TestQ6KBitExact checks that every Q6_K kernel (Dot, the row kernel and
// the four-token kernel, at every CPU level) returns the generic kernel's
// f32 result bit for bit: they all do ggml's AVX2 arithmetic.
func TestQ6KBitExact(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		checkKernels(t, rand.New(rand.NewPCG(9, 9)), quant.Q6_K, q6KBytes, []int{1, 2, 3, 8, 43}, vecDotKernels(quant.Q6_K, dotQ6KQ8KGeneric))
	})
}
