package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/internal/cpu"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/quant"
)

// The scalar attention code that the kernels replaced, kept as the oracle
// of their bits.

func refDequantQ8_0(src []byte, dst []float32) {
	for b := 0; b*32 < len(dst); b++ {
		blk := src[b*34 : b*34+34]
		d := quant.F16ToF32(binary.LittleEndian.Uint16(blk))
		out := dst[b*32 : b*32+32]
		for i := range out {
			out[i] = float32(int8(blk[2+i])) * d
		}
	}
}

// refAttendQ8_0 is the former Attend over a Q8_0 cache.
func refAttendQ8_0(kv *KVLayer, out, q []float32, kvh, nCells int, scale float32) {
	D, P := kv.HeadDim, kv.PageCells
	group := len(q) / D
	acc := make([]float32, group*D)
	m, l := make([]float32, group), make([]float32, group)
	for g := range m {
		m[g] = float32(math.Inf(-1))
	}
	scores, row := make([]float32, group*P), make([]float32, D)
	rowBytes := kv.RowBytes()
	for p := 0; p*P < nCells; p++ {
		nc := min(P, nCells-p*P)
		kpage := kv.K[p][kvh*P*rowBytes:]
		for j := 0; j < nc; j++ {
			refDequantQ8_0(kpage[j*rowBytes:(j+1)*rowBytes], row)
			for g := 0; g < group; g++ {
				scores[g*P+j] = kernels.DotF32(row[:D], q[g*D:(g+1)*D], D) * scale
			}
		}
		for g := 0; g < group; g++ {
			sc := scores[g*P : g*P+nc]
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
			var sum float32
			for j, v := range sc {
				e := Exp(v - m[g])
				sc[j] = e
				sum += e
			}
			l[g] += sum
		}
		vpage := kv.V[p][kvh*P*rowBytes:]
		for j := 0; j < nc; j++ {
			refDequantQ8_0(vpage[j*rowBytes:(j+1)*rowBytes], row)
			for g := 0; g < group; g++ {
				w := scores[g*P+j]
				a := acc[g*D : (g+1)*D]
				for d, v := range row[:D] {
					a[d] += w * v
				}
			}
		}
	}
	for g := 0; g < group; g++ {
		inv := 1 / l[g]
		for d := range D {
			out[g*D+d] = acc[g*D+d] * inv
		}
	}
}

// refGGMLProbs is attendGGML's former scores and softmax.
func refGGMLProbs(kv *KVLayer, q []float32, kvh, nCells int, scale float32) []float32 {
	D, P := kv.HeadDim, kv.PageCells
	group := len(q) / D
	probs := make([]float32, group*nCells)
	rowBytes := kv.RowBytes()
	for g := 0; g < group; g++ {
		qg := q[g*D : (g+1)*D]
		pr := probs[g*nCells : (g+1)*nCells]
		m := float32(math.Inf(-1))
		for j := range pr {
			k := bytesF32(kv.K[j/P][(kvh*P+j%P)*rowBytes:])[:D]
			v := kernels.DotF32(k, qg, D) * scale
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
	return probs
}

// refGGMLOutput is attendGGML's former output loop, given the
// probabilities.
func refGGMLOutput(kv *KVLayer, out, probs []float32, kvh, nCells, group int, decode bool) {
	D, P := kv.HeadDim, kv.PageCells
	for g := 0; g < group; g++ {
		pr := probs[g*nCells : (g+1)*nCells]
		o := out[g*D : (g+1)*D]
		for d := 0; d < D; d++ {
			var gemm [simdLanes]float32
			var vec [4][simdLanes]float32
			for p := 0; p*P < nCells; p++ {
				nc := min(P, nCells-p*P)
				vt := bytesF32(kv.V[p][4*((kvh*D+d)*P):])[:nc]
				pp := pr[p*P : p*P+nc]
				if decode {
					for j, v := range vt {
						c := p*P + j
						a := &vec[(c/simdLanes)%4]
						a[c%simdLanes] = fma32(pp[j], v, a[c%simdLanes])
					}
					continue
				}
				for j, v := range vt {
					gemm[j%simdLanes] = fma32(pp[j], v, gemm[j%simdLanes])
				}
			}
			if decode {
				o[d] = kernels.Reduce4x16(&vec)
			} else {
				o[d] = kernels.HSum16(&gemm)
			}
		}
	}
}

func attnLevels() []cpu.Level {
	var ls []cpu.Level
	for _, l := range []cpu.Level{cpu.Generic, cpu.AVX2, cpu.AVX512} {
		if cpu.Has(l) {
			ls = append(ls, l)
		}
	}
	return ls
}

func sameF32Bits(t *testing.T, what string, got, want []float32) {
	t.Helper()
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: out[%d] = %v, former code %v", what, i, got[i], want[i])
		}
	}
}

// TestAttendQ8_0Former checks that Attend over a Q8_0 cache gives the bits
// of the former scalar code at every CPU level.
func TestAttendQ8_0Former(t *testing.T) {
	rng := rand.New(rand.NewPCG(71, 72))
	for _, D := range []int{64, 96, 128} {
		const heads, P, group, pages = 2, 64, 4, 3
		kv := &KVLayer{Type: quant.Q8_0, Heads: heads, HeadDim: D, PageCells: P}
		rb := kv.RowBytes()
		row := make([]float32, D)
		for range pages {
			k, v := make([]byte, heads*P*rb), make([]byte, heads*P*rb)
			for r := 0; r < heads*P; r++ {
				for i := range row {
					row[i] = float32(rng.NormFloat64() * 2)
				}
				if err := quant.QuantizeQ8_0(row, k[r*rb:(r+1)*rb]); err != nil {
					t.Fatal(err)
				}
				for i := range row {
					row[i] = float32(rng.NormFloat64())
				}
				if err := quant.QuantizeQ8_0(row, v[r*rb:(r+1)*rb]); err != nil {
					t.Fatal(err)
				}
			}
			kv.K, kv.V = append(kv.K, k), append(kv.V, v)
		}
		q := make([]float32, group*D)
		for i := range q {
			q[i] = float32(rng.NormFloat64())
		}
		scale := float32(1 / math.Sqrt(float64(D)))
		for _, l := range attnLevels() {
			func() {
				defer cpu.Force(l)()
				s := NewAttnScratch(group, D, P)
				for _, n := range []int{1, 2, 17, 63, 64, 65, 100, 129, pages * P} {
					for kvh := range heads {
						got, want := make([]float32, group*D), make([]float32, group*D)
						kv.Attend(got, q, kvh, n, scale, false, s)
						refAttendQ8_0(kv, want, q, kvh, n, scale)
						sameF32Bits(t, fmt.Sprintf("%v D=%d n=%d head %d", l, D, n, kvh), got, want)
					}
				}
			}()
		}
	}
}

// TestAttendGGMLFormer checks that attendGGML's output (batch and decode
// forms) gives the bits of the former scalar loops at every CPU level, for
// pages of a multiple of 64 cells and of other sizes.
func TestAttendGGMLFormer(t *testing.T) {
	rng := rand.New(rand.NewPCG(73, 74))
	const heads, D, group, pages = 2, 128, 3, 4
	for _, P := range []int{64, 256, 48, 40} {
		kv := &KVLayer{Type: quant.F32, Heads: heads, HeadDim: D, PageCells: P}
		for range pages {
			k, v := make([]byte, heads*P*D*4), make([]byte, heads*D*P*4)
			for i := 0; i < len(k); i += 4 {
				binary.LittleEndian.PutUint32(k[i:], math.Float32bits(float32(rng.NormFloat64())))
				binary.LittleEndian.PutUint32(v[i:], math.Float32bits(float32(rng.NormFloat64())))
			}
			kv.K, kv.V = append(kv.K, k), append(kv.V, v)
		}
		q := make([]float32, group*D)
		for i := range q {
			q[i] = float32(rng.NormFloat64())
		}
		scale := float32(1 / math.Sqrt(D))
		for _, l := range attnLevels() {
			func() {
				defer cpu.Force(l)()
				s := NewAttnScratch(group, D, P)
				for _, n := range []int{1, 15, 16, 17, 63, 64, 65, 100, 200, pages * P} {
					n = min(n, pages*P)
					for _, decode := range []bool{false, true} {
						got, want := make([]float32, group*D), make([]float32, group*D)
						kv.Attend(got, q, 1, n, scale, decode, s)
						probs := refGGMLProbs(kv, q, 1, n, scale)
						sameF32Bits(t, fmt.Sprintf("%v P=%d n=%d probabilities", l, P, n), s.probs[:group*n], probs)
						refGGMLOutput(kv, want, probs, 1, n, group, decode)
						sameF32Bits(t, fmt.Sprintf("%v P=%d n=%d decode %v", l, P, n, decode), got, want)
					}
				}
			}()
		}
	}
}
