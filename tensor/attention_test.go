package tensor

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/quant"
)

// attendF16RowByRow is the F16 online attention with one DotF16F32 call
// per key row and query head and per value dimension and query head: the
// oracle of Attend's multi-row calls, which must give the same bits.
func attendF16RowByRow(kv *KVLayer, out, q []float32, kvh, nCells int, scale float32) {
	D, P := kv.HeadDim, kv.PageCells
	group := len(q) / D
	acc := make([]float32, group*D)
	m, l := make([]float32, group), make([]float32, group)
	for g := range m {
		m[g] = float32(math.Inf(-1))
	}
	scores := make([]float32, group*P)
	rb := 2 * D
	for p := 0; p*P < nCells; p++ {
		nc := min(P, nCells-p*P)
		kpage := kv.K[p][kvh*P*rb:]
		for j := 0; j < nc; j++ {
			for g := 0; g < group; g++ {
				scores[g*P+j] = kernels.DotF16F32(kpage[j*rb:(j+1)*rb], q[g*D:(g+1)*D], D) * scale
			}
		}
		for g := 0; g < group; g++ {
			sc := scores[g*P : g*P+nc]
			mt := sc[0]
			for _, v := range sc[1:] {
				mt = max(mt, v)
			}
			if mt > m[g] {
				if l[g] != 0 {
					c := Exp(m[g] - mt)
					l[g] *= c
					for d := range D {
						acc[g*D+d] *= c
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
		plane := kv.V[p][kvh*D*P*2:]
		for d := 0; d < D; d++ {
			vt := plane[d*P*2 : (d*P+nc)*2]
			for g := 0; g < group; g++ {
				acc[g*D+d] += kernels.DotF16F32(vt, scores[g*P:g*P+nc], nc)
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

func TestAttendF16MultiRow(t *testing.T) {
	const heads, D, P, group = 2, 128, 64, 4
	rng := rand.New(rand.NewPCG(51, 52))
	pages := 3
	kv := &KVLayer{Type: quant.F16, Heads: heads, HeadDim: D, PageCells: P}
	for range pages {
		k := make([]byte, heads*P*D*2)
		v := make([]byte, heads*D*P*2)
		for i := 0; i < len(k); i += 2 {
			binary.LittleEndian.PutUint16(k[i:], quant.F32ToF16(float32(rng.NormFloat64())))
			binary.LittleEndian.PutUint16(v[i:], quant.F32ToF16(float32(rng.NormFloat64())))
		}
		kv.K, kv.V = append(kv.K, k), append(kv.V, v)
	}
	s := NewAttnScratch(group, D, P)
	q := make([]float32, group*D)
	for i := range q {
		q[i] = float32(rng.NormFloat64())
	}
	scale := float32(1 / math.Sqrt(D))
	for _, n := range []int{1, 2, 17, 63, 64, 65, 100, 128, 129, 3 * P} {
		for kvh := range heads {
			got, want := make([]float32, group*D), make([]float32, group*D)
			kv.Attend(got, q, kvh, n, scale, true, s)
			attendF16RowByRow(kv, want, q, kvh, n, scale)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
					t.Fatalf("%d cells, head %d: out[%d] = %v, row by row %v", n, kvh, i, got[i], want[i])
				}
			}
		}
	}
}

// BenchmarkAttendF16 is one decode step's attention for one KV head of
// SmolLM3-3B (4 query heads of 128) over an F16 cache of n cells.
func BenchmarkAttendF16(b *testing.B) {
	const D, P, group = 128, 256, 4
	rng := rand.New(rand.NewPCG(53, 54))
	for _, n := range []int{100, 1000, 4000} {
		kv := &KVLayer{Type: quant.F16, Heads: 1, HeadDim: D, PageCells: P}
		for p := 0; p*P < n; p++ {
			k, v := make([]byte, P*D*2), make([]byte, D*P*2)
			for i := 0; i < len(k); i += 2 {
				binary.LittleEndian.PutUint16(k[i:], quant.F32ToF16(float32(rng.NormFloat64())))
				binary.LittleEndian.PutUint16(v[i:], quant.F32ToF16(float32(rng.NormFloat64())))
			}
			kv.K, kv.V = append(kv.K, k), append(kv.V, v)
		}
		q := make([]float32, group*D)
		for i := range q {
			q[i] = float32(rng.NormFloat64())
		}
		out := make([]float32, group*D)
		s := NewAttnScratch(group, D, P)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				kv.Attend(out, q, 0, n, 0.088, true, s)
			}
		})
	}
}
