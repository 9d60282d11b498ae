package tensor

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/quant"
)

// KVLayer is a read view of one transformer layer's cached keys and values
// for one sequence, in the paged layout package kvcache writes.
//
// Cells are grouped in pages of PageCells cells. In page p:
//   - K[p] holds Heads × PageCells key rows of HeadDim elements, head-major
//     ([head][cell][dim]), so one KV head's keys are contiguous.
//   - V[p], for F32 and F16, holds Heads × HeadDim rows of PageCells
//     elements ([head][dim][cell], transposed) so that Σ_j p_j·V_j is one
//     dot product per output dimension; for Q8_0 it is laid out like K
//     (quantized blocks run along the head dimension).
type KVLayer struct {
	Type      quant.Type // F32, F16 or Q8_0
	Heads     int        // KV heads
	HeadDim   int
	PageCells int
	K, V      [][]byte
}

// KVElemSupported reports whether t can be a KV cache element type.
func KVElemSupported(t quant.Type) bool {
	return t == quant.F32 || t == quant.F16 || t == quant.Q8_0
}

// RowBytes is the size of one key row (HeadDim elements of Type).
func (kv *KVLayer) RowBytes() int {
	n, _ := kv.Type.RowBytes(int64(kv.HeadDim))
	return int(n)
}

// AttnScratch is per-goroutine working memory for Attend. It is sized for a
// group of query heads, a head dimension and a page size.
type AttnScratch struct {
	group, headDim, pageCells int
	scores                    []float32 // group × pageCells
	acc                       []float32 // group × headDim
	m, l                      []float32 // running max and sum per head
	row                       []float32 // one dequantized K/V row (Q8_0)
	probs                     []float32 // group × cells, for attendGGML
	lanes                     []float32 // attendGGML's FMA lanes, headDim × 16 or × 64
}

// NewAttnScratch allocates scratch for Attend with up to group query heads
// per KV head, headDim-element heads and pages of pageCells cells.
func NewAttnScratch(group, headDim, pageCells int) *AttnScratch {
	return &AttnScratch{
		group: group, headDim: headDim, pageCells: pageCells,
		scores: make([]float32, group*pageCells),
		acc:    make([]float32, group*headDim),
		m:      make([]float32, group),
		l:      make([]float32, group),
		row:    make([]float32, headDim),
	}
}

// Attend computes causal attention for one query token against the first
// nCells cells of KV head kvh: for each query head g of the group,
//
//	out_g = Σ_j softmax_j(scale · q_g·K_j) · V_j,   j < nCells.
//
// q and out hold the group's query heads back to back (len(q) = group ×
// HeadDim, the heads kvh·group … kvh·group+group−1 of a GQA model); out may
// not alias q. The softmax is computed online, one page of scores at a time
// (a running maximum and sum per head, rescaling the partial output when the
// maximum grows), so memory does not grow with the context. With nCells = 0
// the output is zero.
func (kv *KVLayer) Attend(out, q []float32, kvh, nCells int, scale float32, decode bool, s *AttnScratch) {
	D := kv.HeadDim
	group := len(q) / D
	if group > s.group || D != s.headDim || kv.PageCells > s.pageCells {
		panic(fmt.Sprintf("tensor: attention scratch for %d heads of %d (pages %d) used for %d heads of %d (pages %d)",
			s.group, s.headDim, s.pageCells, group, D, kv.PageCells))
	}
	out = out[:group*D]
	if kv.Type == quant.F32 {
		kv.attendGGML(out, q, kvh, nCells, scale, decode, s)
		return
	}
	// F16 and Q8_0 caches: the online softmax below.
	acc := s.acc[:group*D]
	clear(acc)
	m, l := s.m[:group], s.l[:group]
	for g := range m {
		m[g] = float32(math.Inf(-1))
		l[g] = 0
	}
	P := kv.PageCells
	rowBytes := kv.RowBytes()
	for p := 0; p*P < nCells; p++ {
		nc := min(P, nCells-p*P)
		kpage := kv.K[p][kvh*P*rowBytes:]
		// Scores of this page: scale·q_g·K_j.
		if kv.Type == quant.F16 {
			// One multi-row call per query head: the page's keys are
			// contiguous rows, and the group's reads of them hit L1.
			for g := 0; g < group; g++ {
				sc := s.scores[g*P : g*P+nc]
				kernels.DotF16F32Rows(sc, kpage, rowBytes, q[g*D:(g+1)*D], D)
				for j := range sc {
					sc[j] *= scale
				}
			}
		} else {
			// Q8_0: each key row is dequantized once for the whole group.
			kernels.Q8_0Scores(s.scores, P, q[:group*D], D, kpage, rowBytes, nc, scale, s.row)
		}
		// Online softmax: fold this page's maximum into the running one.
		for g := 0; g < group; g++ {
			sc := s.scores[g*P : g*P+nc]
			mt := sc[0]
			for _, v := range sc[1:] {
				if v > mt {
					mt = v
				}
			}
			if mt > m[g] {
				if l[g] != 0 {
					c := Exp(m[g] - mt)
					l[g] *= c
					a := acc[g*D : (g+1)*D]
					for d := range a {
						a[d] *= c
					}
				}
				m[g] = mt
			}
			mg := m[g]
			for j, v := range sc {
				sc[j] = v - mg
			}
			// The assembly exponential (where there is one) gives Exp's bits.
			for j := kernels.ExpVec(sc, sc); j < len(sc); j++ {
				sc[j] = Exp(sc[j])
			}
			var sum float32
			for _, e := range sc {
				sum += e
			}
			l[g] += sum
		}
		// Accumulate P·V.
		kv.accumulateV(acc, s, p, kvh, nc, group)
	}
	for g := 0; g < group; g++ {
		a := acc[g*D : (g+1)*D]
		o := out[g*D : (g+1)*D]
		if l[g] == 0 {
			clear(o)
			continue
		}
		inv := 1 / l[g]
		for d := range a {
			o[d] = a[d] * inv
		}
	}
}

// accumulateV adds Σ_j scores[g][j]·V_j (j < nc, page p, head kvh) to acc
// for an F16 or Q8_0 cache.
func (kv *KVLayer) accumulateV(acc []float32, s *AttnScratch, p, kvh, nc, group int) {
	D, P := kv.HeadDim, kv.PageCells
	switch kv.Type {
	case quant.F16:
		// One multi-row call per query head over the transposed values
		// (row d of the plane is dimension d of the page's cells); each
		// accumulator gets one addition per page.
		plane := kv.V[p][kvh*D*P*2:]
		tmp := s.row[:D]
		for g := 0; g < group; g++ {
			kernels.DotF16F32Rows(tmp, plane, 2*P, s.scores[g*P:g*P+nc], nc)
			a := acc[g*D : (g+1)*D]
			for d, v := range tmp {
				a[d] += v
			}
		}
	default: // Q8_0 rows
		// Each row is dequantized once for the group; products rounded,
		// then added.
		rowBytes := kv.RowBytes()
		kernels.Q8_0Accum(acc, D, s.scores, P, kv.V[p][kvh*P*rowBytes:], rowBytes, nc, s.row)
	}
}

// bytesF32 views little-endian bytes as float32s. The cache allocates its
// pages through []float32-aligned allocations, so the view is aligned.
func bytesF32(b []byte) []float32 {
	if len(b) < 4 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}

// attendGGML reproduces llama.cpp's attention without flash attention over
// an F32 cache (the configuration of the reference fixtures) operation for
// operation, on the AVX-512 code paths:
//   - scores: ggml_vec_dot_f32(k_j, q) × scale;
//   - softmax: vectorised expf of (s − max) in 16-wide chunks, each chunk's
//     horizontal sum added in float64, then every probability multiplied by
//     the float32 reciprocal of the sum;
//   - output: for a batch of several tokens, llamafile's tinyBLAS GEMM of
//     the transposed V with the probabilities (16 FMA lanes over the cells,
//     one horizontal sum); for a single token (decode), ggml_vec_dot_f32
//     over the KV view, which llama.cpp pads with zero probabilities to a
//     multiple of 256 cells.
//
// It keeps all scores of a head (group × nCells floats of scratch), and it
// is slower than the online path; F32 caches exist for exactness checks.
func (kv *KVLayer) attendGGML(out, q []float32, kvh, nCells int, scale float32, decode bool, s *AttnScratch) {
	D, P := kv.HeadDim, kv.PageCells
	group := len(q) / D
	s.growProbs(group * nCells)
	probs := s.probs[:group*nCells]
	rowBytes := kv.RowBytes()
	for g := 0; g < group; g++ {
		qg := q[g*D : (g+1)*D]
		pr := probs[g*nCells : (g+1)*nCells]
		// One multi-row call per page: the keys of a page are contiguous.
		for p := 0; p*P < nCells; p++ {
			nc := min(P, nCells-p*P)
			keys := bytesF32(kv.K[p][kvh*P*rowBytes:])
			kernels.DotF32Rows(pr[p*P:p*P+nc], keys, rowBytes/4, qg, D)
		}
		m := float32(math.Inf(-1))
		for j, v := range pr {
			v *= scale
			pr[j] = v
			if v > m {
				m = v
			}
		}
		var sum float64
		for c := 0; c < nCells; c += simdLanes {
			var lanes [simdLanes]float32
			for l := 0; l < simdLanes && c+l < nCells; l++ {
				e := vexpf(pr[c+l] - m)
				pr[c+l] = e
				lanes[l] = e
			}
			sum += float64(kernels.HSum16(&lanes))
		}
		inv := float32(1 / sum)
		for j := range pr {
			pr[j] *= inv
		}
	}
	// Output: per dimension d, the lanes of every page in order. The batch
	// form's lane is the cell's index in its page mod 16; the decode form's
	// accumulator (c/16)%4 of global cell c is page-relative when pages
	// hold a multiple of 64 cells (else the Go loop below).
	width := simdLanes
	if decode {
		width = 4 * simdLanes
	}
	lanes := s.growLanes(D * width)
	for g := 0; g < group; g++ {
		pr := probs[g*nCells : (g+1)*nCells]
		o := out[g*D : (g+1)*D]
		clear(lanes)
		for p := 0; p*P < nCells; p++ {
			nc := min(P, nCells-p*P)
			plane := bytesF32(kv.V[p][4*(kvh*D*P):])[:(D-1)*P+nc]
			pp := pr[p*P : p*P+nc]
			switch {
			case !decode:
				kernels.FMALanes16(lanes, pp, plane, P)
			case P%(4*simdLanes) == 0:
				kernels.FMALanes4x16(lanes, pp, plane, P)
			default:
				for d := 0; d < D; d++ {
					vec := lanes4x16(lanes[d*width:])
					for j, v := range plane[d*P : d*P+nc] {
						c := p*P + j
						a := &vec[(c/simdLanes)%4]
						a[c%simdLanes] = fma32(pp[j], v, a[c%simdLanes])
					}
				}
			}
		}
		for d := range o {
			if decode {
				o[d] = kernels.Reduce4x16(lanes4x16(lanes[d*width:]))
			} else {
				o[d] = kernels.HSum16((*[simdLanes]float32)(lanes[d*width:]))
			}
		}
	}
}

// lanes4x16 views the first 64 floats of x as ggml_vec_dot_f32's four
// accumulators.
func lanes4x16(x []float32) *[4][simdLanes]float32 {
	return (*[4][simdLanes]float32)(unsafe.Pointer((*[4 * simdLanes]float32)(x)))
}

// growLanes returns n floats of accumulator scratch for attendGGML.
func (s *AttnScratch) growLanes(n int) []float32 {
	if cap(s.lanes) < n {
		s.lanes = make([]float32, n)
	}
	return s.lanes[:n]
}

// growProbs makes sure the probability scratch holds n values. It grows
// geometrically, so a growing sequence allocates only O(log n) times.
func (s *AttnScratch) growProbs(n int) {
	if cap(s.probs) < n {
		s.probs = make([]float32, max(n, 2*cap(s.probs), 1024))
	}
	s.probs = s.probs[:cap(s.probs)]
}
