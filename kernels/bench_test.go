package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/internal/cpu"
	"github.com/smolbot/smolbot/quant"
)

// Benchmarks. Kernel and matvec figures are in GB/s of weight bytes, so they
// can be set beside BenchmarkMemRead, the plain read bandwidth of the same
// machine in the same run:
//
//	go test -run '^$' -bench 'MemRead|MatVec' -benchtime 2s ./kernels/

// benchLevels runs f as a sub-benchmark at every level the machine has.
func benchLevels(b *testing.B, f func(b *testing.B)) {
	for _, l := range levels() {
		b.Run(l.String(), func(b *testing.B) {
			defer cpu.Force(l)()
			f(b)
		})
	}
}

// BenchmarkDot measures each kernel on 16 rows of 2048 elements, small
// enough to stay in L1/L2: this is compute throughput, not memory.
func BenchmarkDot(b *testing.B) {
	for _, wt := range weightTypes {
		b.Run(wt.String(), func(b *testing.B) { benchRowKernel(b, wt, 16, 2048, 1, false) })
	}
}

// benchRowKernel times a row kernel of wt on rows×cols random weights, at
// every kernel level: the vec_dot-order kernel of kernelTable, or with
// decode the one single-token products use (the repacked form's for Q4_K).
func benchRowKernel(b *testing.B, wt quant.Type, rows, cols int, seed uint64, decode bool) {
	rng := rand.New(rand.NewPCG(seed, seed))
	k := &kernelTable[wt]
	nb := cols / k.blockElems
	w := genWeights(rng, wt, rows*nb, modeRandom)
	x := genActs(rng, k.act, nb, modeRandom)
	dst := make([]float32, rows)
	benchLevels(b, func(b *testing.B) {
		rowsK := kernelTable[wt].rows // as selected for this level
		if decode && wt == quant.Q4_K {
			rowsK = q4kRep.rows
		}
		b.SetBytes(int64(len(w)))
		for b.Loop() {
			rowsK(dst, w, nb*k.wBytes, x, nb)
		}
	})
}

// BenchmarkQ4KRepRows is BenchmarkDot for the repacked-form Q4_K gemv
// kernel (q4kRep.rows), which single-token decode uses for every Q4_K
// matrix with rows%8 == 0.
func BenchmarkQ4KRepRows(b *testing.B) {
	const rows, cols = 16, 2048
	rng := rand.New(rand.NewPCG(1, 1))
	nb := cols / 256
	w := genWeights(rng, quant.Q4_K, rows*nb, modeRandom)
	x := genActs(rng, quant.Q8_K, nb, modeRandom)
	dst := make([]float32, rows)
	benchLevels(b, func(b *testing.B) {
		b.SetBytes(int64(len(w)))
		for b.Loop() {
			q4kRep.rows(dst, w, nb*q4KBytes, x, nb)
		}
	})
}

// bigWeights returns enough distinct copies of a rows×cols matrix to exceed
// the last-level cache, so that a matvec that cycles through them reads
// from DRAM as decode does.
func bigWeights(wt quant.Type, rows, cols int) []Matrix {
	rng := rand.New(rand.NewPCG(2, 2))
	m := randMatrix(rng, wt, rows, cols)
	const total = 384 << 20
	n := max(2, total/len(m.Data))
	ms := make([]Matrix, n)
	for i := range ms {
		ms[i] = m
		ms[i].Data = append([]byte(nil), m.Data...)
	}
	return ms
}

// BenchmarkMatVec is the SmolLM3 FFN up/gate shape at decode: 11008 rows of
// 2048, one token, weights streamed from DRAM.
func BenchmarkMatVec(b *testing.B) {
	for _, wt := range []quant.Type{quant.Q4_K, quant.Q6_K} {
		ws := bigWeights(wt, 11008, 2048)
		x := randF32(rand.New(rand.NewPCG(3, 3)), 2048)
		dst := make([]float32, 11008)
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%v/threads=%d", wt, threads), func(b *testing.B) {
				p := NewPool(threads)
				defer p.Close()
				b.SetBytes(int64(len(ws[0].Data)))
				i := 0
				for b.Loop() {
					if err := p.MatMul(dst, ws[i%len(ws)], x, 1); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
	}
}

// BenchmarkMatMulPrefill is a 512-token prefill through the same shape,
// reported in GFLOP/s (2·rows·cols·tokens per call).
func BenchmarkMatMulPrefill(b *testing.B) {
	const rows, cols, n = 11008, 2048, 512
	rng := rand.New(rand.NewPCG(4, 4))
	w := randMatrix(rng, quant.Q4_K, rows, cols)
	x := randF32(rng, n*cols)
	dst := make([]float32, n*rows)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("Q4_K/threads=%d", threads), func(b *testing.B) {
			p := NewPool(threads)
			defer p.Close()
			for b.Loop() {
				if err := p.MatMul(dst, w, x, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(2*rows*cols*n*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// memBuf is the buffer of BenchmarkMemRead, allocated once.
var memBuf []uint64

// BenchmarkMemRead is the machine's plain read bandwidth: summing a 512 MiB
// []uint64 with a simple loop, split into contiguous halves for 2 threads.
func BenchmarkMemRead(b *testing.B) {
	if memBuf == nil {
		memBuf = make([]uint64, 512<<20/8)
		for i := range memBuf {
			memBuf[i] = uint64(i)
		}
	}
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			p := NewPool(threads)
			defer p.Close()
			sums := make([]uint64, threads*8)
			body := func(i, thread int) {
				part := memBuf[i*len(memBuf)/threads : (i+1)*len(memBuf)/threads]
				sums[thread*8] += sumU64(part)
			}
			b.SetBytes(int64(len(memBuf) * 8))
			for b.Loop() {
				p.Run(threads, body)
			}
		})
	}
}

func sumU64(s []uint64) uint64 {
	var a, b, c, d uint64
	for len(s) >= 4 {
		a += s[0]
		b += s[1]
		c += s[2]
		d += s[3]
		s = s[4:]
	}
	for _, v := range s {
		a += v
	}
	return a + b + c + d
}

// BenchmarkQuantizeQ8K is the activation quantization MatMul does per
// call, for one 2048-element row, in GB/s of f32 input.
func BenchmarkQuantizeQ8K(b *testing.B) {
	x := randF32(rand.New(rand.NewPCG(5, 5)), 2048)
	dst := make([]byte, 8*q8KBytes)
	b.SetBytes(4 * 2048)
	for b.Loop() {
		quantizeQ8K(x, dst)
	}
}

// BenchmarkDecodeLayer runs the matrix products of one SmolLM3-3B Q4_K_M
// decoder layer for one token, as the engine would: q/k/v together, the
// attention output, gate/up together, then down (attn_v and ffn_down are
// Q6_K in half the layers; this uses Q6_K). Weights cycle through enough
// layer copies to stream from DRAM. GB/s is of weight bytes, including the
// activation quantization and the pool barriers.
func BenchmarkDecodeLayer(b *testing.B) {
	rng := rand.New(rand.NewPCG(6, 6))
	const d, kv, ff = 2048, 512, 11008
	proto := []Matrix{
		randMatrix(rng, quant.Q4_K, d, d),  // attn_q
		randMatrix(rng, quant.Q4_K, kv, d), // attn_k
		randMatrix(rng, quant.Q6_K, kv, d), // attn_v
		randMatrix(rng, quant.Q4_K, d, d),  // attn_output
		randMatrix(rng, quant.Q4_K, ff, d), // ffn_gate
		randMatrix(rng, quant.Q4_K, ff, d), // ffn_up
		randMatrix(rng, quant.Q6_K, d, ff), // ffn_down
	}
	layerBytes := 0
	for _, m := range proto {
		layerBytes += len(m.Data)
	}
	layers := make([][]Matrix, max(2, (384<<20)/layerBytes))
	for i := range layers {
		layers[i] = make([]Matrix, len(proto))
		for j, m := range proto {
			layers[i][j] = m
			layers[i][j].Data = append([]byte(nil), m.Data...)
		}
	}
	x := randF32(rng, ff)
	q, k, v, o := make([]float32, d), make([]float32, kv), make([]float32, kv), make([]float32, d)
	g, u, dn := make([]float32, ff), make([]float32, ff), make([]float32, d)
	for _, threads := range []int{1, 2} {
		b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
			p := NewPool(threads)
			defer p.Close()
			b.SetBytes(int64(layerBytes))
			i := 0
			for b.Loop() {
				l := layers[i%len(layers)]
				i++
				if err := p.MatMulMulti([][]float32{q, k, v}, l[0:3], x[:d], 1); err != nil {
					b.Fatal(err)
				}
				if err := p.MatMul(o, l[3], q, 1); err != nil {
					b.Fatal(err)
				}
				if err := p.MatMulMulti([][]float32{g, u}, l[4:6], o, 1); err != nil {
					b.Fatal(err)
				}
				if err := p.MatMul(dn, l[6], x, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "layers/s")
		})
	}
}

// BenchmarkDotF16F32 is the attention score of one F16 cache row against a
// 128-wide query head (DotF16F32, the F16 KV cache's inner loop).
func BenchmarkDotF16F32(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	const n = 128
	w := genWeights(rng, quant.F16, n, modeRandom)
	x := randF32(rng, n)
	var s float32
	for b.Loop() {
		s += DotF16F32(w, x, n)
	}
	_ = s
}

// BenchmarkDotF16F32Rows is the attention's value pass over one KV page:
// 128 transposed value rows (stride 256 cells) against n probabilities.
func BenchmarkDotF16F32Rows(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 3))
	w := genWeights(rng, quant.F16, 128*256, modeRandom)
	x := randF32(rng, 256)
	dst := make([]float32, 128)
	for _, n := range []int{64, 80, 127, 256} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			for b.Loop() {
				DotF16F32Rows(dst, w, 512, x, n)
			}
		})
	}
}

// BenchmarkDecodeMatrices runs each matrix product of a SmolLM3-3B Q4_K_M
// layer at decode on its own (weights cycling through enough copies to
// stream from DRAM), in GB/s of weights, to show which products stream
// slower than the big FFN matrices.
func BenchmarkDecodeMatrices(b *testing.B) {
	rng := rand.New(rand.NewPCG(7, 7))
	const d, kv, ff = 2048, 512, 11008
	cases := []struct {
		name string
		ms   []Matrix
	}{
		{"qkv", []Matrix{randMatrix(rng, quant.Q4_K, d, d), randMatrix(rng, quant.Q4_K, kv, d), randMatrix(rng, quant.Q6_K, kv, d)}},
		{"q", []Matrix{randMatrix(rng, quant.Q4_K, d, d)}},
		{"gate_up", []Matrix{randMatrix(rng, quant.Q4_K, ff, d), randMatrix(rng, quant.Q4_K, ff, d)}},
		{"down_q4k", []Matrix{randMatrix(rng, quant.Q4_K, d, ff)}},
		{"down_q6k", []Matrix{randMatrix(rng, quant.Q6_K, d, ff)}},
	}
	x := randF32(rng, ff)
	for _, c := range cases {
		bytes := 0
		for _, m := range c.ms {
			bytes += len(m.Data)
		}
		copies := make([][]Matrix, max(2, (256<<20)/bytes))
		dsts := make([][]float32, len(c.ms))
		for i := range copies {
			copies[i] = make([]Matrix, len(c.ms))
			for j, m := range c.ms {
				copies[i][j] = m
				copies[i][j].Data = append([]byte(nil), m.Data...)
				dsts[j] = make([]float32, m.Rows)
			}
		}
		b.Run(c.name, func(b *testing.B) {
			p := NewPool(2)
			defer p.Close()
			b.SetBytes(int64(bytes))
			i := 0
			for b.Loop() {
				if err := p.MatMulMulti(dsts, copies[i%len(copies)], x[:c.ms[0].Cols], 1); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// BenchmarkDecodeRows runs the single-token row kernels that decode uses
// (q4kRep.rows for Q4_K, the Q6_K row kernel) on 64 rows of SmolLM3-3B's
// two row lengths, small enough to stay in L2: compute throughput.
func BenchmarkDecodeRows(b *testing.B) {
	for _, wt := range []quant.Type{quant.Q4_K, quant.Q6_K} {
		for _, cols := range []int{2048, 11008} {
			b.Run(fmt.Sprintf("%v/cols=%d", wt, cols), func(b *testing.B) { benchRowKernel(b, wt, 64, cols, 9, true) })
		}
	}
}
