package kernels

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/quant"
)

// TestRowKernelsGuarded runs the row kernels (the multi-row loops that
// decode uses, the repacked Q4_K gemv among them) with the weights ending
// at an inaccessible page and the activations starting right after one,
// and the other way round: no kernel may read past a row's last block or
// before the first, whatever it loads a vector at a time. Each guarded
// result must equal the kernel's result on ordinary memory.
func TestRowKernelsGuarded(t *testing.T) {
	where := map[bool]string{false: "weights end at a guard page", true: "activations end at one"}
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		for _, wt := range weightTypes {
			k := &kernelTable[wt]
			kinds := []struct {
				name string
				rows rowsFunc
			}{{"rows", k.rows}}
			if wt == quant.Q4_K {
				kinds = append(kinds, struct {
					name string
					rows rowsFunc
				}{"repacked gemv", q4kRep.rows})
			}
			for _, kind := range kinds {
				for _, rows := range []int{1, 3, 4, 5, 8, 9} {
					for _, nb := range blockCounts(wt)[1:6] {
						w := genWeights(rng, wt, rows*nb, modeRandom)
						x := genActs(rng, k.act, nb, modeRandom)
						want := make([]float32, rows)
						kind.rows(want, w, nb*k.wBytes, x, nb)
						for _, atStart := range []bool{false, true} {
							got := make([]float32, rows)
							kind.rows(got, guarded(t, w, atStart), nb*k.wBytes, guarded(t, x, !atStart), nb)
							for r := range got {
								if math.Float32bits(got[r]) != math.Float32bits(want[r]) && !(math.IsNaN(float64(got[r])) && math.IsNaN(float64(want[r]))) {
									t.Errorf("%v %s, %s: %d rows × %d blocks, row %d: %v guarded, %v not", wt, kind.name, where[atStart], rows, nb, r, got[r], want[r])
								}
							}
						}
					}
				}
			}
		}
	})
}
