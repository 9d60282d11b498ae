package tensor

import "math"

// This file reproduces, bit for bit, the float32 sinf, cosf and expf of
// GNU libc 2.28 and later on x86-64 (the FMA variants selected on any CPU
// with FMA and AVX2). llama.cpp builds its RoPE table with cosf/sinf and
// its scalar SiLU and softmax tails with expf; those functions are not
// correctly rounded (about one result in a hundred differs in the last bit
// from the nearest float), so reproducing llama.cpp's activations exactly
// needs their algorithms, not just accurate functions. The algorithms are
// the published ones (single-step or 192-bit Payne-Hanek range reduction
// and short polynomials evaluated in float64, then one rounding to
// float32); the coefficients are the library's minimax constants.

// sincosCoef holds one polynomial set of the sine/cosine kernel: the
// second set negates the cosine polynomial for the odd half-turns.
type sincosCoef struct {
	c0, c1, s1, c2, s2, c3, s3, c4 float64
}

var sincosCoefs = [2]sincosCoef{
	{1, -0x1.ffffffd0c621cp-2, -0x1.555545995a603p-3, 0x1.55553e1068f19p-5,
		0x1.1107605230bc4p-7, -0x1.6c087e89a359dp-10, -0x1.994eb3774cf24p-13, 0x1.99343027bf8c3p-16},
	{-1, 0x1.ffffffd0c621cp-2, -0x1.555545995a603p-3, -0x1.55553e1068f19p-5,
		0x1.1107605230bc4p-7, 0x1.6c087e89a359dp-10, -0x1.994eb3774cf24p-13, -0x1.99343027bf8c3p-16},
}

var quadrantSign = [4]float64{1, -1, -1, 1}

const (
	hpiInv = 0x1.45f306dc9c883p+23 // 2/π · 2^24
	hpi    = 0x1.921fb54442d18p+0  // π/2
	pi63   = 0x1.921fb54442d18p-62 // 2π · 2^-64
)

// invPio4 is 4/π in overlapping 32-bit windows (bits 8i … 8i+31).
var invPio4 = [24]uint32{
	0xa2, 0xa2f9, 0xa2f983, 0xa2f9836e,
	0xf9836e4e, 0x836e4e44, 0x6e4e4415, 0x4e441529,
	0x441529fc, 0x1529fc27, 0x29fc2757, 0xfc2757d1,
	0x2757d1f5, 0x57d1f534, 0xd1f534dd, 0xf534ddc0,
	0x34ddc0db, 0xddc0db62, 0xc0db6295, 0xdb629599,
	0x6295993c, 0x95993c43, 0x993c4390, 0x3c439041,
}

func abstop12(x float32) uint32 { return math.Float32bits(x) >> 20 & 0x7ff }

// sincosPoly evaluates sin (n even) or cos (n odd) of the reduced
// argument x, |x| ≤ π/4, with x2 = x·x.
func sincosPoly(x, x2 float64, p *sincosCoef, n int) float32 {
	if n&1 == 0 {
		x3 := x * x2
		s1 := math.FMA(x2, p.s3, p.s2)
		x7 := x3 * x2
		s := math.FMA(x3, p.s1, x)
		return float32(math.FMA(x7, s1, s))
	}
	x4 := x2 * x2
	c2 := math.FMA(x2, p.c4, p.c3)
	c1 := math.FMA(x2, p.c1, p.c0)
	x6 := x4 * x2
	c := math.FMA(x4, p.c2, c1)
	return float32(math.FMA(x6, c2, c))
}

// reduceFast returns x − n·π/2 and the quadrant n for |x| < 120.
func reduceFast(x float64) (float64, int) {
	r := x * hpiInv
	n := (int32(r) + 0x800000) >> 24
	return math.FMA(-float64(n), hpi, x), int(n)
}

// reduceLarge reduces |x| ≥ 120 given as float bits xi, with a 32×96-bit
// product by 4/π (Payne-Hanek).
func reduceLarge(xi uint32) (float64, int) {
	arr := invPio4[(xi>>26)&15:]
	shift := (xi >> 23) & 7
	xi = (xi&0xffffff | 0x800000) << shift
	res0 := uint64(xi * arr[0])
	res1 := uint64(xi) * uint64(arr[4])
	res2 := uint64(xi) * uint64(arr[8])
	res0 = res2>>32 | res0<<32
	res0 += res1
	n := (res0 + 1<<61) >> 62
	res0 -= n << 62
	return float64(int64(res0)) * pi63, int(n)
}

// Sinf returns sin(x) exactly as glibc's sinf does.
func Sinf(y float32) float32 {
	x := float64(y)
	top := abstop12(y)
	switch {
	case top < abstop12(0x1.921fb6p-1):
		if top < abstop12(0x1p-12) {
			return y
		}
		return sincosPoly(x, x*x, &sincosCoefs[0], 0)
	case top < abstop12(120):
		r, n := reduceFast(x)
		s := quadrantSign[n&3]
		p := &sincosCoefs[(n>>1)&1]
		return sincosPoly(r*s, r*r, p, n)
	case top < abstop12(float32(math.Inf(1))):
		xi := math.Float32bits(y)
		sign := int(xi >> 31)
		r, n := reduceLarge(xi)
		s := quadrantSign[(n+sign)&3]
		p := &sincosCoefs[((n+sign)>>1)&1]
		return sincosPoly(r*s, r*r, p, n)
	}
	return float32(math.NaN())
}

// Cosf returns cos(x) exactly as glibc's cosf does.
func Cosf(y float32) float32 {
	x := float64(y)
	top := abstop12(y)
	switch {
	case top < abstop12(0x1.921fb6p-1):
		if top < abstop12(0x1p-12) {
			return 1
		}
		return sincosPoly(x, x*x, &sincosCoefs[0], 1)
	case top < abstop12(120):
		r, n := reduceFast(x)
		s := quadrantSign[n&3]
		p := &sincosCoefs[(n>>1)&1]
		return sincosPoly(r*s, r*r, p, n^1)
	case top < abstop12(float32(math.Inf(1))):
		xi := math.Float32bits(y)
		sign := int(xi >> 31)
		r, n := reduceLarge(xi)
		s := quadrantSign[(n+sign)&3]
		p := &sincosCoefs[((n+sign)>>1)&1]
		return sincosPoly(r*s, r*r, p, n^1)
	}
	return float32(math.NaN())
}

// exp2Tab[i] is the bits of 2^(i/32) minus i<<47, so that adding k<<47
// for the integer part k·32+i scales by 2^k.
var exp2Tab = func() (t [32]uint64) {
	for i := range t {
		t[i] = math.Float64bits(math.Exp2(float64(i)/32)) - uint64(i)<<47
	}
	return t
}()

const (
	expInvLn2N = 0x1.71547652b82fep+5 // 32/ln 2
	expShift   = 0x1.8p+52
	expC0      = 0x1.c6af84b912394p-20
	expC1      = 0x1.ebfce50fac4f3p-13
	expC2      = 0x1.62e42ff0c52d6p-6
)

// Expf returns e^x exactly as glibc's expf does.
func Expf(x float32) float32 {
	xd := float64(x)
	if abstop12(x) >= abstop12(88) {
		switch {
		case math.Float32bits(x) == math.Float32bits(float32(math.Inf(-1))):
			return 0
		case abstop12(x) >= abstop12(float32(math.Inf(1))):
			return x + x
		case x > 0x1.62e42ep6:
			return float32(math.Inf(1))
		case x < -0x1.9fe368p6:
			return 0
		}
	}
	kd := math.FMA(expInvLn2N, xd, expShift)
	ki := math.Float64bits(kd)
	kd -= expShift
	r := math.FMA(expInvLn2N, xd, -kd)
	t := exp2Tab[ki%32] + ki<<47
	s := math.Float64frombits(t)
	z := math.FMA(expC0, r, expC1)
	r2 := r * r
	y := math.FMA(expC2, r, 1)
	y = math.FMA(z, r2, y)
	return float32(y * s)
}
