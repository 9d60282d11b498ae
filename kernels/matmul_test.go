package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/smolbot/smolbot/quant"
)

// quantizeActs converts n rows of cols f32 values to the activation type of
// wt, row by row, with the quant package's reference quantizers.
func quantizeActs(wt quant.Type, x []float32, n, cols int) (rows [][]byte) {
	k := &kernelTable[wt]
	for t := 0; t < n; t++ {
		src := x[t*cols : (t+1)*cols]
		dst := make([]byte, cols/actBlockElems[actSlot(k.act)]*k.xBytes)
		switch k.act {
		case quant.Q8_K:
			quant.QuantizeQ8K(src, dst)
		case quant.Q8_0:
			quant.QuantizeQ8_0Act(src, dst)
		case quant.F16:
			for i, v := range src {
				putF16(dst[2*i:], quant.F32ToF16(v))
			}
		case quant.BF16:
			for i, v := range src {
				putF16(dst[2*i:], quant.F32ToBF16(v))
			}
		default:
			copy(dst, f32Bytes(src))
		}
		rows = append(rows, dst)
	}
	return rows
}

func randMatrix(rng *rand.Rand, wt quant.Type, rows, cols int) Matrix {
	k := &kernelTable[wt]
	nb := cols / k.blockElems
	return Matrix{Type: wt, Rows: rows, Cols: cols, Data: genWeights(rng, wt, rows*nb, modeRandom)}
}

func randF32(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// refMatMul is MatMul as a loop of Dot (or, for a float matrix that
// llamafile's sgemm would tile in a batch, its GEMM form) over
// reference-quantized rows.
func refMatMul(w Matrix, x []float32, n int) []float32 {
	xq := quantizeActs(w.Type, x, n, w.Cols)
	rb := w.RowBytes()
	k := &kernelTable[w.Type]
	dot := func(wr, xr []byte) float32 { return Dot(w.Type, wr, xr, w.Cols) }
	if k.gemmK > 0 && n >= 2 && w.Rows%4 == 0 && w.Cols%k.gemmK == 0 {
		dot = func(wr, xr []byte) float32 { return k.gemmDot(wr, xr, w.Cols) }
	}
	out := make([]float32, n*w.Rows)
	for t := 0; t < n; t++ {
		for r := 0; r < w.Rows; r++ {
			out[t*w.Rows+r] = dot(w.Data[r*rb:(r+1)*rb], xq[t])
		}
	}
	return out
}

func TestMatMul(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(11, 12))
		pools := map[int]*Pool{1: NewPool(1), 2: NewPool(2), 3: NewPool(3)}
		defer func() {
			for _, p := range pools {
				p.Close()
			}
		}()
		for _, wt := range weightTypes {
			be := kernelTable[wt].blockElems
			for _, cols := range []int{max(be, 32), 8 * max(be, 32), 2048} {
				for _, rows := range []int{1, 7, 130} {
					w := randMatrix(rng, wt, rows, cols)
					ns := []int{1, 2, 4, 5, 9, 70}
					if cols*rows > 100000 {
						ns = []int{1, 6} // keep the generic reference quick
					}
					for _, n := range ns {
						x := randF32(rng, n*cols)
						want := refMatMul(w, x, n)
						for threads, p := range pools {
							got := make([]float32, n*rows+1)
							got[n*rows] = 42
							if err := p.MatMul(got[:n*rows], w, x, n); err != nil {
								t.Fatal(err)
							}
							name := fmt.Sprintf("%v %dx%d n=%d threads=%d", wt, rows, cols, n, threads)
							if got[n*rows] != 42 {
								t.Fatalf("%s: wrote past dst", name)
							}
							for i := range want {
								if got[i] != want[i] {
									t.Fatalf("%s: dst[%d] = %v, want %v", name, i, got[i], want[i])
								}
							}
						}
					}
				}
			}
		}
	})
}

func TestMatMulMulti(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	p := NewPool(2)
	defer p.Close()
	const cols = 512
	ws := []Matrix{
		randMatrix(rng, quant.Q4_K, 33, cols),
		randMatrix(rng, quant.Q6_K, 17, cols),
		randMatrix(rng, quant.Q8_0, 9, cols),
		randMatrix(rng, quant.F16, 5, cols),
		randMatrix(rng, quant.Q4_K, 0, cols),
	}
	for _, n := range []int{1, 3, 8} {
		x := randF32(rng, n*cols)
		dsts := make([][]float32, len(ws))
		for i, w := range ws {
			dsts[i] = make([]float32, n*w.Rows)
		}
		if err := p.MatMulMulti(dsts, ws, x, n); err != nil {
			t.Fatal(err)
		}
		for i, w := range ws {
			want := refMatMul(w, x, n)
			for j := range want {
				if dsts[i][j] != want[j] {
					t.Fatalf("n=%d matrix %d (%v): dst[%d] = %v, want %v", n, i, w.Type, j, dsts[i][j], want[j])
				}
			}
		}
	}
}

func TestMatMulErrors(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	w := Matrix{Type: quant.Q4_K, Rows: 2, Cols: 256, Data: make([]byte, 2*q4KBytes)}
	x := make([]float32, 2*256)
	dst := make([]float32, 4)
	cases := []struct {
		name string
		dst  []float32
		w    Matrix
		x    []float32
		n    int
	}{
		{"unsupported type", dst, Matrix{Type: quant.Q2_K, Rows: 2, Cols: 256, Data: make([]byte, 1000)}, x, 1},
		{"unknown type", dst, Matrix{Type: quant.Type(99), Rows: 2, Cols: 256, Data: make([]byte, 1000)}, x, 1},
		{"partial block", dst, Matrix{Type: quant.Q4_K, Rows: 2, Cols: 200, Data: w.Data}, x, 1},
		{"zero cols", dst, Matrix{Type: quant.F32, Rows: 2, Cols: 0}, x, 1},
		{"negative rows", dst, Matrix{Type: quant.Q4_K, Rows: -1, Cols: 256, Data: w.Data}, x, 1},
		{"short data", dst, Matrix{Type: quant.Q4_K, Rows: 3, Cols: 256, Data: w.Data}, x, 1},
		{"short x", dst, w, x[:300], 2},
		{"short dst", dst[:3], w, x, 2},
		{"negative n", dst, w, x, -1},
	}
	for _, c := range cases {
		for i := range c.dst {
			c.dst[i] = 7
		}
		if err := p.MatMul(c.dst, c.w, c.x, c.n); err == nil {
			t.Errorf("%s: no error", c.name)
		} else {
			t.Logf("%s: %v", c.name, err)
		}
		for _, v := range c.dst {
			if v != 7 {
				t.Errorf("%s: dst written", c.name)
				break
			}
		}
	}
	if err := p.MatMul(x[100:], w, x, 1); err == nil {
		t.Error("dst overlapping x: no error")
	}
	if err := p.MatMulMulti([][]float32{dst}, []Matrix{w, w}, x, 1); err == nil {
		t.Error("length mismatch: no error")
	}
	w2 := Matrix{Type: quant.Q4_K, Rows: 1, Cols: 512, Data: make([]byte, 2*q4KBytes)}
	if err := p.MatMulMulti([][]float32{dst, dst}, []Matrix{w, w2}, make([]float32, 512), 1); err == nil {
		t.Error("cols mismatch: no error")
	}
	if err := p.MatMul(nil, w, nil, 0); err != nil {
		t.Errorf("n=0: %v", err)
	}
	p.Close()
	if err := p.MatMul(dst, w, x, 1); err == nil {
		t.Error("closed pool: no error")
	}
	p.Close() // idempotent
}

func TestRun(t *testing.T) {
	for _, threads := range []int{1, 2, 4} {
		p := NewPool(threads)
		if p.Threads() != threads {
			t.Fatalf("Threads() = %d", p.Threads())
		}
		for _, n := range []int{0, 1, 2, 3, 100, 1000} {
			hits := make([]atomic.Int32, n)
			var bad atomic.Bool
			p.Run(n, func(i, thread int) {
				hits[i].Add(1)
				if thread < 0 || thread >= threads {
					bad.Store(true)
				}
			})
			for i := range hits {
				if hits[i].Load() != 1 {
					t.Fatalf("threads=%d n=%d: iteration %d ran %d times", threads, n, i, hits[i].Load())
				}
			}
			if bad.Load() {
				t.Fatalf("threads=%d: thread index out of range", threads)
			}
		}
		p.Close()
	}
	if NewPool(0).Threads() < 1 {
		t.Error("NewPool(0) has no threads")
	}
}

// TestPoolParking lets the workers fall asleep between calls, so that the
// park and wake-up paths run, not just the spinning one.
func TestPoolParking(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	var sum atomic.Int64
	for rep := 0; rep < 5; rep++ {
		p.Run(64, func(i, _ int) { sum.Add(int64(i)) })
		time.Sleep(3 * time.Millisecond)
	}
	if sum.Load() != 5*64*63/2 {
		t.Fatalf("sum = %d", sum.Load())
	}
}

type countTask struct{ n atomic.Int64 }

func (c *countTask) Do(i, _ int) { c.n.Add(int64(i)) }

func TestNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	p := NewPool(2)
	defer p.Close()
	q := randMatrix(rng, quant.Q4_K, 64, 512)
	v := randMatrix(rng, quant.Q6_K, 32, 512)
	f := randMatrix(rng, quant.F32, 8, 512)
	for _, n := range []int{1, 6} {
		x := randF32(rng, n*512)
		dq, dv, df := make([]float32, n*64), make([]float32, n*32), make([]float32, n*8)
		p.MatMulMulti([][]float32{dq, dv, df}, []Matrix{q, v, f}, x, n) // grow scratch
		if a := testing.AllocsPerRun(50, func() {
			if err := p.MatMul(dq, q, x, n); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("n=%d: MatMul allocates %v times per call", n, a)
		}
		if a := testing.AllocsPerRun(50, func() {
			if err := p.MatMulMulti([][]float32{dq, dv, df}, []Matrix{q, v, f}, x, n); err != nil {
				t.Fatal(err)
			}
		}); a != 0 {
			t.Errorf("n=%d: MatMulMulti allocates %v times per call", n, a)
		}
	}
	wq := genWeights(rng, quant.Q4_K, 8, modeRandom)
	xq := genActs(rng, quant.Q8_K, 8, modeRandom)
	xf := randF32(rng, 2048)
	if a := testing.AllocsPerRun(50, func() {
		_ = Dot(quant.Q4_K, wq, xq, 2048)
		_ = DotQ4KQ8K(wq, xq, 2048)
		_ = DotF32(xf, xf, 2048)
	}); a != 0 {
		t.Errorf("Dot allocates %v times per call", a)
	}
	ct := &countTask{}
	if a := testing.AllocsPerRun(50, func() { p.RunTask(100, ct) }); a != 0 {
		t.Errorf("RunTask allocates %v times per call", a)
	}
	var sink atomic.Int64
	body := func(i, _ int) { sink.Add(int64(i)) }
	if a := testing.AllocsPerRun(50, func() { p.Run(100, body) }); a != 0 {
		t.Errorf("Run with a hoisted closure allocates %v times per call", a)
	}
}

// scaleRows is a test Prologue: x = 2·src, chunk by chunk, counting the
// elements it prepared.
type scaleRows struct {
	src, x []float32
	cols   int
	done   atomic.Int64
}

func (s *scaleRows) Prepare(t, e0, e1 int) {
	for e := e0; e < e1; e++ {
		s.x[t*s.cols+e] = 2 * s.src[t*s.cols+e]
	}
	s.done.Add(int64(e1 - e0))
}

// TestMatMulPrologue checks that MatMulPrologue prepares every input
// element once before using it, for quantized and float matrices, with a
// row length that is not a multiple of the prologue chunk.
func TestMatMulPrologue(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 18))
	p := NewPool(2)
	defer p.Close()
	const cols = 2560
	for _, wt := range []quant.Type{quant.Q4_K, quant.Q8_0, quant.F32} {
		w := randMatrix(rng, wt, 37, cols)
		for _, n := range []int{1, 3} {
			src := randF32(rng, n*cols)
			pro := &scaleRows{src: src, x: make([]float32, n*cols), cols: cols}
			for i := range pro.x {
				pro.x[i] = float32(math.NaN())
			}
			dst := make([]float32, n*w.Rows)
			if err := p.MatMulPrologue(dst, w, pro.x, n, pro); err != nil {
				t.Fatal(err)
			}
			if pro.done.Load() != int64(n*cols) {
				t.Fatalf("%v n=%d: prepared %d elements, want %d", wt, n, pro.done.Load(), n*cols)
			}
			x := make([]float32, n*cols)
			for i := range x {
				x[i] = 2 * src[i]
			}
			want := refMatMul(w, x, n)
			for j := range want {
				if dst[j] != want[j] {
					t.Fatalf("%v n=%d: dst[%d] = %v, want %v", wt, n, j, dst[j], want[j])
				}
			}
		}
	}
	w := randMatrix(rng, quant.Q6_K, 16, cols)
	src := randF32(rng, cols)
	pro := &scaleRows{src: src, x: make([]float32, cols), cols: cols}
	dst := make([]float32, w.Rows)
	if a := testing.AllocsPerRun(50, func() {
		if err := p.MatMulPrologue(dst, w, pro.x, 1, pro); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Errorf("MatMulPrologue allocates %v times per call", a)
	}
}
