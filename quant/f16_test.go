package quant

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

// f16Value is the exact value of a binary16 pattern computed from the IEEE
// definition in float64, independently of the conversion code. For the
// exponent 31 it returns (1+m/1024)·2¹⁶, the "next binade" value used as the
// rounding target just above the largest finite half (65504).
func f16Value(h uint16) float64 {
	e := int(h>>10) & 0x1f
	m := float64(h & 0x3ff)
	var v float64
	if e == 0 {
		v = math.Ldexp(m, -24)
	} else {
		v = math.Ldexp(1024+m, e-25)
	}
	if h&0x8000 != 0 {
		v = -v
	}
	return v
}

func TestF16ToF32Exhaustive(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		got := F16ToF32(h)
		if got != f16ToF32Slow(h) && !math.IsNaN(float64(got)) {
			t.Fatalf("table and slow path differ at %#04x", h)
		}
		if h&0x7c00 == 0x7c00 { // inf/NaN: sign, all-ones exponent, payload in the top mantissa bits
			want := uint32(h&0x8000)<<16 | 0x7f800000 | uint32(h&0x3ff)<<13
			if b := math.Float32bits(got); b != want {
				t.Fatalf("F16ToF32(%#04x) = %#08x, want %#08x", h, b, want)
			}
			continue
		}
		if want := f16Value(h); float64(got) != want || math.Signbit(float64(got)) != (h&0x8000 != 0) {
			t.Fatalf("F16ToF32(%#04x) = %g, want %g", h, got, want)
		}
	}
}

func TestF32ToF16RoundTripAndMidpoints(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := F16ToF32(h)
		if h&0x7c00 == 0x7c00 && h&0x3ff != 0 {
			if got := F32ToF16(f); got != 0x7e00 {
				t.Fatalf("F32ToF16(NaN from %#04x) = %#04x, want 0x7e00", h, got)
			}
			continue
		}
		if got := F32ToF16(f); got != h {
			t.Fatalf("round trip %#04x -> %g -> %#04x", h, f, got)
		}
		if h&0x7fff >= 0x7c00 {
			continue
		}
		// The midpoint between h and the next value away from zero has 12
		// significant bits, so it is exact in float32: it must round to the
		// even one of the two, and one float32 ulp either side to the nearer.
		next := h + 1
		mid := float32((f16Value(h) + f16Value(next)) / 2)
		even := h
		if h&1 != 0 {
			even = next
		}
		if got := F32ToF16(mid); got != even {
			t.Fatalf("midpoint %g of %#04x/%#04x -> %#04x, want %#04x", mid, h, next, got, even)
		}
		away := math.Nextafter32(mid, float32(math.Copysign(math.Inf(1), float64(mid))))
		toward := math.Nextafter32(mid, 0)
		if got := F32ToF16(away); got != next {
			t.Fatalf("just above midpoint %g -> %#04x, want %#04x", away, got, next)
		}
		if got := F32ToF16(toward); got != h {
			t.Fatalf("just below midpoint %g -> %#04x, want %#04x", toward, got, h)
		}
	}
}

// refF32ToF16 rounds by searching the sorted positive halves: an oracle that
// shares no code with F32ToF16.
type f16Oracle struct{ vals []float64 } // vals[i] = value of pattern i, i = 0..0x7c00 (0x7c00 stands for 65536)

func newF16Oracle() *f16Oracle {
	o := &f16Oracle{vals: make([]float64, 0x7c01)}
	for i := range o.vals {
		o.vals[i] = f16Value(uint16(i))
	}
	return o
}

func (o *f16Oracle) convert(f float32) uint16 {
	if math.IsNaN(float64(f)) {
		return 0x7e00
	}
	var sign uint16
	a := float64(f)
	if math.Signbit(a) {
		sign, a = 0x8000, -a
	}
	i := sort.SearchFloat64s(o.vals, a) // first vals[i] >= a
	if i == len(o.vals) {
		return sign | 0x7c00
	}
	if o.vals[i] == a || i == 0 {
		return sign | uint16(i)
	}
	lo, hi := o.vals[i-1], o.vals[i]
	switch {
	case a-lo < hi-a:
		i--
	case a-lo == hi-a && (i-1)&1 == 0:
		i--
	}
	return sign | uint16(i)
}

func TestF32ToF16AgainstOracle(t *testing.T) {
	o := newF16Oracle()
	r := rand.New(rand.NewPCG(1, 2))
	check := func(f float32) {
		if got, want := F32ToF16(f), o.convert(f); got != want {
			t.Fatalf("F32ToF16(%g [%#08x]) = %#04x, want %#04x", f, math.Float32bits(f), got, want)
		}
	}
	for range 500000 {
		check(math.Float32frombits(r.Uint32()))
	}
	// Concentrate on the half range, where rounding is interesting.
	for range 500000 {
		e := r.IntN(48) - 30 // 2^-30 .. 2^17
		check(float32(math.Ldexp(r.Float64()+0.5, e)) * float32(1-2*r.IntN(2)))
	}
	specials := map[float32]uint16{
		0:                           0x0000,
		float32(math.Inf(1)):        0x7c00,
		float32(math.Inf(-1)):       0xfc00,
		65504:                       0x7bff,
		65519.996:                   0x7bff,
		65520:                       0x7c00, // midpoint to 65536, ties to even = inf
		1e9:                         0x7c00,
		-1e9:                        0xfc00,
		0x1p-24:                     0x0001,
		0x1p-25:                     0x0000, // tie with 0, even
		0x1.000002p-25:              0x0001,
		0x3p-25:                     0x0002, // 1.5 ulp ties to 2
		0x1p-14:                     0x0400,
		0x1.ff8p-15:                 0x03ff, // largest subnormal
		0x1.ffcp-15:                 0x0400, // its midpoint to 2^-14 ties to even
		math.SmallestNonzeroFloat32: 0,
	}
	for f, want := range specials {
		if got := F32ToF16(f); got != want {
			t.Errorf("F32ToF16(%g) = %#04x, want %#04x", f, got, want)
		}
	}
	if got := F32ToF16(float32(math.Copysign(0, -1))); got != 0x8000 {
		t.Errorf("F32ToF16(-0) = %#04x", got)
	}
	for _, b := range []uint32{0x7fc00000, 0xffc00000, 0x7f800001, 0xff800001, 0x7fffffff} {
		if got := F32ToF16(math.Float32frombits(b)); got != 0x7e00 {
			t.Errorf("F32ToF16(NaN %#08x) = %#04x, want 0x7e00", b, got)
		}
	}
}

func TestBF16(t *testing.T) {
	for i := range 1 << 16 {
		h := uint16(i)
		f := BF16ToF32(h)
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BF16ToF32(%#04x) bits %#08x", h, math.Float32bits(f))
		}
		isNaN := h&0x7f80 == 0x7f80 && h&0x7f != 0
		if got := F32ToBF16(f); isNaN {
			if got != h|0x40 {
				t.Fatalf("F32ToBF16(NaN %#04x) = %#04x, want %#04x", h, got, h|0x40)
			}
			continue
		} else if got != h {
			t.Fatalf("bf16 round trip %#04x -> %#04x", h, got)
		}
		if h&0x7f80 == 0x7f80 || h == 0x7f7f || h == 0xff7f {
			continue
		}
		// Midpoint to the next pattern (away from zero) ties to even.
		mid := math.Float32frombits(uint32(h)<<16 | 0x8000)
		even := h
		if h&1 != 0 {
			even = h + 1
		}
		if got := F32ToBF16(mid); got != even {
			t.Fatalf("bf16 midpoint above %#04x -> %#04x, want %#04x", h, got, even)
		}
		if got := F32ToBF16(math.Float32frombits(uint32(h)<<16 | 0x8001)); got != h+1 {
			t.Fatalf("bf16 above midpoint of %#04x -> %#04x", h, got)
		}
		if got := F32ToBF16(math.Float32frombits(uint32(h)<<16 | 0x7fff)); got != h {
			t.Fatalf("bf16 below midpoint of %#04x -> %#04x", h, got)
		}
	}
	cases := map[uint32]uint16{
		0x7f7fffff: 0x7f80, // max float rounds up to inf
		0xff7fffff: 0xff80,
		0x7f800000: 0x7f80,
		0x7f800001: 0x7fc0, // signalling NaN made quiet
		0xff800001: 0xffc0,
		0x7fc00000: 0x7fc0,
		0x00000001: 0x0000, // f32 subnormals round like any value
		0x00008000: 0x0000,
		0x00018000: 0x0002,
	}
	for b, want := range cases {
		if got := F32ToBF16(math.Float32frombits(b)); got != want {
			t.Errorf("F32ToBF16(%#08x) = %#04x, want %#04x", b, got, want)
		}
	}
}

func TestSliceHelpers(t *testing.T) {
	src := []float32{1, -2.5, 65504, 1e-7, float32(math.Inf(1))}
	h := make([]uint16, 3)
	if n := F32ToF16Slice(src, h); n != 3 {
		t.Fatalf("F32ToF16Slice converted %d, want 3", n)
	}
	back := make([]float32, 8)
	if n := F16ToF32Slice(h, back); n != 3 || back[0] != 1 || back[1] != -2.5 || back[2] != 65504 || back[3] != 0 {
		t.Fatalf("F16ToF32Slice: n=%d %v", n, back)
	}
	b := make([]uint16, len(src))
	if n := F32ToBF16Slice(src, b); n != len(src) {
		t.Fatal(n)
	}
	for i, v := range b {
		if v != F32ToBF16(src[i]) {
			t.Fatalf("F32ToBF16Slice[%d]", i)
		}
	}
	if n := BF16ToF32Slice(b[:2], back); n != 2 || back[0] != 1 || back[1] != -2.5 {
		t.Fatalf("BF16ToF32Slice: %d %v", n, back)
	}
	if F16ToF32Slice(nil, back)+F32ToF16Slice(src, nil)+BF16ToF32Slice(nil, nil)+F32ToBF16Slice(nil, b) != 0 {
		t.Fatal("empty slices must convert nothing")
	}
}

func TestF32ToF16PathsAgree(t *testing.T) {
	// The general (slow) path must agree with the fast path where both
	// apply, and the bulk helpers with the scalar conversion everywhere.
	r := rand.New(rand.NewPCG(21, 22))
	src := make([]float32, 1<<16)
	for i := range src {
		src[i] = math.Float32frombits(r.Uint32())
		if i%2 == 0 {
			src[i] = float32(r.NormFloat64() * math.Ldexp(1, r.IntN(40)-25))
		}
	}
	h := make([]uint16, len(src))
	F32ToF16Slice(src, h)
	buf := make([]byte, 2*len(src))
	if err := QuantizeF16(src, buf); err != nil {
		t.Fatal(err)
	}
	for i, f := range src {
		b := math.Float32bits(f)
		want := f32ToF16Slow(b)
		if got := F32ToF16(f); got != want {
			t.Fatalf("F32ToF16(%#08x) = %#04x, slow path %#04x", b, got, want)
		}
		if h[i] != want || uint16(buf[2*i])|uint16(buf[2*i+1])<<8 != want {
			t.Fatalf("bulk conversions of %#08x differ", b)
		}
	}
}
