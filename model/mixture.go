package model

import (
	"fmt"
	"strings"

	"github.com/smolbot/smolbot/quant"
)

// FileType is a llama.cpp quantization target (llama_ftype): the value of
// general.file_type and the default tensor type of a quantized file.
type FileType struct {
	Name    string     // llama-quantize's name, e.g. "Q4_K_M"
	ID      uint32     // general.file_type
	Default quant.Type // type of the tensors no rule singles out
}

// The file types smolbot can produce (spec §1.6, §4.10).
var (
	FileTypeF32   = FileType{"F32", 0, quant.F32}
	FileTypeF16   = FileType{"F16", 1, quant.F16}
	FileTypeBF16  = FileType{"BF16", 32, quant.BF16}
	FileTypeQ4_0  = FileType{"Q4_0", 2, quant.Q4_0}
	FileTypeQ8_0  = FileType{"Q8_0", 7, quant.Q8_0}
	FileTypeQ4_KM = FileType{"Q4_K_M", 15, quant.Q4_K}
	FileTypeQ5_KM = FileType{"Q5_K_M", 17, quant.Q5_K}
	FileTypeQ6_K  = FileType{"Q6_K", 18, quant.Q6_K}
)

// FileTypes lists the supported file types.
var FileTypes = []FileType{FileTypeF32, FileTypeF16, FileTypeBF16, FileTypeQ4_0, FileTypeQ8_0, FileTypeQ4_KM, FileTypeQ5_KM, FileTypeQ6_K}

// ParseFileType parses a file type name, case-insensitively ("q4_k_m",
// "Q8_0", "f16").
func ParseFileType(s string) (FileType, error) {
	for _, ft := range FileTypes {
		if strings.EqualFold(s, ft.Name) {
			return ft, nil
		}
	}
	names := make([]string, len(FileTypes))
	for i, ft := range FileTypes {
		names[i] = strings.ToLower(ft.Name)
	}
	return FileType{}, fmt.Errorf("model: unknown file type %q (supported: %s)", s, strings.Join(names, ", "))
}

// Quantized reports whether the default type is a block-quantized one,
// which is when llama-quantize applies its per-tensor rules.
func (ft FileType) Quantized() bool { return ft.Default.BlockSize() > 1 }

// Mixture decides each tensor's type the way llama-quantize does
// (llama_tensor_get_type, spec §4.10), so that synthesized and quantized
// files have llama.cpp's layout and size:
//
//   - tensors that are not 2-D (or more) weights, norms, and rope_freqs are
//     never quantized (they keep their type, F32 from the converter);
//   - for quantized file types, the LM head — output.weight, or
//     token_embd.weight when the file has no output.weight (tied
//     embeddings) — is Q6_K unless the file type is Q8_0 (or its rows are
//     not a multiple of 256: Q8_0);
//   - Q4_K_M and Q5_K_M use Q6_K for attn_v and ffn_down in the layers
//     use_more_bits picks (the first and last eighth, and every third in
//     between), counting those tensors in file order as llama.cpp does;
//   - rows that are not a multiple of the chosen type's block size fall
//     back as in llama.cpp (Q6_K → Q8_0), except that Q4_K and Q5_K fall
//     back to Q8_0 instead of Q5_0/Q5_1, which smolbot does not implement;
//     F16 if even that does not fit.
//
// Call TensorType once per tensor in file order.
type Mixture struct {
	ft               FileType
	hasOutput        bool
	nAttnV, nFFNDown int
	iAttnV, iFFNDown int
}

// NewMixture prepares the rules for a file with the given tensor names (in
// file order) quantized to ft.
func NewMixture(ft FileType, names []string) *Mixture {
	m := &Mixture{ft: ft}
	for _, n := range names {
		switch {
		case n == "output.weight":
			m.hasOutput = true
		case strings.Contains(n, "attn_v.weight"):
			m.nAttnV++
		case strings.Contains(n, "ffn_down"):
			m.nFFNDown++
		}
	}
	return m
}

// useMoreBits is llama.cpp's use_more_bits(i, n).
func useMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// Quantizable reports whether llama-quantize would convert a tensor at all:
// weights of 2+ dimensions, except norms and rope frequencies.
func Quantizable(name string, dims []int64) bool {
	n := 0
	for _, d := range dims {
		if d > 1 {
			n++
		}
	}
	return strings.HasSuffix(name, "weight") && len(dims) >= 2 && n >= 2 &&
		!strings.Contains(name, "_norm.weight") && !strings.Contains(name, "rope_freqs")
}

// TensorType returns the type of the next tensor (ggml dims; src is its
// current type, kept for tensors that are not quantized). It fails for
// tensors no supported type can hold, as llama-quantize does.
func (m *Mixture) TensorType(name string, dims []int64, src quant.Type) (quant.Type, error) {
	isAttnV := strings.Contains(name, "attn_v.weight")
	isFFNDown := strings.Contains(name, "ffn_down")
	var iAttnV, iFFNDown int
	if isAttnV {
		iAttnV = m.iAttnV
		m.iAttnV++
	}
	if isFFNDown {
		iFFNDown = m.iFFNDown
		m.iFFNDown++
	}
	if !Quantizable(name, dims) {
		return src, nil
	}
	t := m.ft.Default
	if !m.ft.Quantized() {
		return t, nil
	}
	nx := dims[0]
	switch {
	case name == "output.weight" || (!m.hasOutput && name == "token_embd.weight"):
		if nx%quant.QK_K != 0 {
			t = quant.Q8_0
		} else if t != quant.Q8_0 {
			t = quant.Q6_K
		}
	case isAttnV && (m.ft == FileTypeQ4_KM || m.ft == FileTypeQ5_KM) && useMoreBits(iAttnV, m.nAttnV):
		t = quant.Q6_K
	case isFFNDown && (m.ft == FileTypeQ4_KM || m.ft == FileTypeQ5_KM) && useMoreBits(iFFNDown, m.nFFNDown):
		t = quant.Q6_K
	}
	if nx%int64(t.BlockSize()) != 0 {
		switch t {
		case quant.Q4_K, quant.Q5_K, quant.Q6_K:
			t = quant.Q8_0
		default:
			return 0, fmt.Errorf("model: tensor %q: rows of %d elements cannot be stored as %v", name, nx, t)
		}
		if nx%int64(t.BlockSize()) != 0 {
			t = quant.F16
		}
	}
	return t, nil
}
