//go:build amd64 && !purego

package kernels

import (
	"testing"

	"github.com/smolbot/smolbot/internal/cpu"
)

// TestWithoutVBMIGFNI runs the bit-exactness tests of the kernels that the
// AVX512 level picks by avx512VBMIGFNI with the older ones it keeps for
// CPUs without AVX512-VBMI and GFNI (the other tests run whichever this
// machine selects).
func TestWithoutVBMIGFNI(t *testing.T) {
	if !avx512VBMIGFNI {
		t.Skip("no AVX512-VBMI and GFNI: the other tests cover these kernels")
	}
	setVBMIGFNI := func(on bool) {
		avx512VBMIGFNI = on
		cpu.Force(Level())() // re-select the kernels
	}
	setVBMIGFNI(false)
	defer setVBMIGFNI(true)
	t.Run("Q4KRep", TestQ4KRepBitExact)
	t.Run("Q6K", TestQ6KBitExact)
}
