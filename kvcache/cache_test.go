package kvcache

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/tensor"
)

// naiveAttend is the textbook two-pass softmax attention in float64.
func naiveAttend(q []float32, ks, vs [][]float32, scale float64) []float64 {
	s := make([]float64, len(ks))
	m := math.Inf(-1)
	for j, k := range ks {
		var d float64
		for i := range k {
			d += float64(q[i]) * float64(k[i])
		}
		s[j] = d * scale
		m = math.Max(m, s[j])
	}
	var sum float64
	for j := range s {
		s[j] = math.Exp(s[j] - m)
		sum += s[j]
	}
	out := make([]float64, len(q))
	for j, v := range vs {
		for i := range v {
			out[i] += s[j] / sum * float64(v[i])
		}
	}
	return out
}

func TestAttendMatchesNaive(t *testing.T) {
	const layers, heads, D, group = 2, 2, 64, 3
	for _, typ := range []quant.Type{quant.F32, quant.F16, quant.Q8_0} {
		for _, n := range []int{1, 7, PageCells, PageCells + 1, 2*PageCells + 37} {
			c, err := New(Options{Layers: layers, KVHeads: heads, HeadDim: D, Context: 1000, Type: typ})
			if err != nil {
				t.Fatal(err)
			}
			r := rand.New(rand.NewPCG(uint64(n), uint64(typ)))
			if err := c.Grow(n); err != nil {
				t.Fatal(err)
			}
			// ks[l][h][j], after storage rounding.
			ks := make([][][][]float32, layers)
			vs := make([][][][]float32, layers)
			for l := range layers {
				ks[l] = make([][][]float32, heads)
				vs[l] = make([][][]float32, heads)
				for h := range heads {
					ks[l][h] = make([][]float32, n)
					vs[l][h] = make([][]float32, n)
				}
			}
			k := make([]float32, heads*D)
			v := make([]float32, heads*D)
			for pos := range n {
				for l := range layers {
					for i := range k {
						k[i] = float32(r.NormFloat64())
						v[i] = float32(r.NormFloat64())
					}
					c.Put(l, pos, k, v)
					for h := range heads {
						ks[l][h][pos] = roundTrip(typ, k[h*D:(h+1)*D])
						vs[l][h][pos] = roundTrip(typ, v[h*D:(h+1)*D])
					}
				}
			}
			if err := c.SetLen(n); err != nil {
				t.Fatal(err)
			}
			q := make([]float32, group*D)
			for i := range q {
				q[i] = float32(r.NormFloat64())
			}
			out := make([]float32, group*D)
			s := tensor.NewAttnScratch(group, D, PageCells)
			scale := float32(1 / math.Sqrt(D))
			for l := range layers {
				for h := range heads {
					for _, nc := range []int{1, n / 2, n} {
						if nc == 0 {
							continue
						}
						c.Layer(l).Attend(out, q, h, nc, scale, false, s)
						for g := range group {
							want := naiveAttend(q[g*D:(g+1)*D], ks[l][h][:nc], vs[l][h][:nc], float64(scale))
							for i, w := range want {
								if d := math.Abs(float64(out[g*D+i]) - w); d > 1e-5 {
									t.Fatalf("%v n=%d layer %d head %d cells %d: out[%d][%d] = %v, want %v", typ, n, l, h, nc, g, i, out[g*D+i], w)
								}
							}
						}
					}
				}
			}
		}
	}
}

func roundTrip(typ quant.Type, x []float32) []float32 {
	out := make([]float32, len(x))
	switch typ {
	case quant.F32:
		copy(out, x)
	case quant.F16:
		for i, v := range x {
			out[i] = quant.F16ToF32(quant.F32ToF16(v))
		}
	case quant.Q8_0:
		b := make([]byte, len(x)/32*34)
		quant.QuantizeQ8_0Act(x, b)
		if err := quant.DequantizeQ8_0(b, out); err != nil {
			panic(err)
		}
	}
	return out
}

func TestCacheBookkeeping(t *testing.T) {
	c, err := New(Options{Layers: 36, KVHeads: 4, HeadDim: 128, Context: 1000, Type: quant.F16})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.BytesPerToken(); got != 73728 {
		t.Errorf("bytes per token = %d, want 73728 (spec §7.2)", got)
	}
	if c.Bytes() != 0 || c.Allocated() != 0 {
		t.Error("memory allocated before Grow")
	}
	if err := c.Grow(300); err != nil {
		t.Fatal(err)
	}
	if c.Allocated() != 2*PageCells || c.Bytes() != 2*PageCells*73728 {
		t.Errorf("allocated %d cells, %d bytes", c.Allocated(), c.Bytes())
	}
	if err := c.Grow(1001); err == nil {
		t.Error("Grow beyond the context succeeded")
	}
	if err := c.SetLen(300); err != nil {
		t.Fatal(err)
	}
	c.Truncate(500)
	if c.Len() != 300 {
		t.Errorf("Truncate beyond Len changed it to %d", c.Len())
	}
	c.Truncate(120)
	if c.Len() != 120 {
		t.Errorf("Len after Truncate(120) = %d", c.Len())
	}
	c.Truncate(-5)
	if c.Len() != 0 {
		t.Errorf("Len after Truncate(-5) = %d", c.Len())
	}
	if err := c.SetLen(513); err == nil {
		t.Error("SetLen beyond the allocation succeeded")
	}
	c.Release()
	if c.Bytes() != 0 || c.Allocated() != 0 {
		t.Error("Release kept memory")
	}
	for _, o := range []Options{
		{Layers: 0, KVHeads: 1, HeadDim: 32, Context: 1, Type: quant.F16},
		{Layers: 1, KVHeads: 1, HeadDim: 48, Context: 1, Type: quant.Q8_0},
		{Layers: 1, KVHeads: 1, HeadDim: 32, Context: 1, Type: quant.Q4_K},
		{Layers: 1 << 20, KVHeads: 1 << 10, HeadDim: 1 << 10, Context: 1 << 20, Type: quant.F32},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
	for _, s := range []string{"f16", "F32", "q8_0"} {
		if _, err := ParseType(s); err != nil {
			t.Error(err)
		}
	}
	if _, err := ParseType("q4_0"); err == nil {
		t.Error("ParseType(q4_0) succeeded")
	}
}
