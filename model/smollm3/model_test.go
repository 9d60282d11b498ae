package smollm3

import (
	"slices"
	"testing"
)

func TestUsesRoPE(t *testing.T) {
	// Spec §10: NoPE layers of the 36-layer SmolLM3-3B.
	var nope []int
	for il := range 36 {
		if !usesRoPE(il) {
			nope = append(nope, il)
		}
	}
	if want := []int{3, 7, 11, 15, 19, 23, 27, 31, 35}; !slices.Equal(nope, want) {
		t.Errorf("NoPE layers %v, want %v", nope, want)
	}
}
