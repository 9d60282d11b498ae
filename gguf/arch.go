package gguf

import "fmt"

// NoPELayers returns the 0-based indices of the layers that skip rotary
// position embeddings (NoPE) in a model of architecture arch with nLayers
// layers, or nil if every layer uses RoPE.
//
// No GGUF key records this: llama.cpp hard-codes it per architecture. For
// smollm3 it fixes n_no_rope_layer_step = 4, so layer il skips RoPE iff
// (il+1)%4 == 0 — layers 3, 7, 11, … (spec §2.1). The converter drops the
// HF no_rope_layers list, so a fine-tune with another pattern is run with
// this one by llama.cpp too, and we match llama.cpp.
func NoPELayers(arch string, nLayers int) []int {
	const step = 4
	if arch != "smollm3" {
		return nil
	}
	var out []int
	for il := step - 1; il < nLayers; il += step {
		out = append(out, il)
	}
	return out
}

// fileTypeNames maps general.file_type (llama.cpp's llama_ftype) to the
// names llama-quantize uses. Ids 5 and 6 were retired formats.
var fileTypeNames = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 4: "Q4_1_SOME_F16", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1",
	10: "Q2_K", 11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M",
	16: "Q5_K_S", 17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S",
	22: "IQ3_XS", 23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M",
	28: "IQ2_S", 29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0",
	37: "TQ2_0", 38: "MXFP4_MOE",
}

// FileTypeName returns the llama-quantize name of a general.file_type value
// ("Q4_K_M" for 15), or "unknown(N)". The value only labels the file: each
// tensor's own type is what counts (spec §1.6).
func FileTypeName(ft uint64) string {
	if s, ok := fileTypeNames[ft]; ok {
		return s
	}
	return fmt.Sprintf("unknown(%d)", ft)
}
