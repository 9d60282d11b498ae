package quant

import (
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// computeTypes are the types with (de)quantization routines.
var computeTypes = []Type{F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K}

func TestLayoutConstants(t *testing.T) {
	cases := []struct {
		t            Type
		elems, bytes int
		fieldsEnd    int // offset + size of the last field
	}{
		{Q4_0, Q4_0BlockElems, Q4_0BlockBytes, Q4_0OffQs + 16},
		{Q8_0, Q8_0BlockElems, Q8_0BlockBytes, Q8_0OffQs + 32},
		{Q4_K, QK_K, Q4_KBlockBytes, Q4_KOffQs + 128},
		{Q5_K, QK_K, Q5_KBlockBytes, Q5_KOffQs + 128},
		{Q6_K, QK_K, Q6_KBlockBytes, Q6_KOffD + 2},
		{Q8_K, QK_K, Q8_KBlockBytes, Q8_KOffBsums + 32},
	}
	for _, c := range cases {
		if c.t.BlockSize() != c.elems || c.t.TypeSize() != c.bytes || c.fieldsEnd != c.bytes {
			t.Errorf("%v: constants (%d elems, %d bytes, fields end %d) disagree with the type table (%d, %d)",
				c.t, c.elems, c.bytes, c.fieldsEnd, c.t.BlockSize(), c.t.TypeSize())
		}
	}
	// Field sequences are contiguous.
	if Q4_KOffDmin != Q4_KOffD+2 || Q4_KOffScales != Q4_KOffDmin+2 || Q4_KOffQs != Q4_KOffScales+12 ||
		Q5_KOffScales != 4 || Q5_KOffQh != Q5_KOffScales+12 || Q5_KOffQs != Q5_KOffQh+32 ||
		Q6_KOffQh != Q6_KOffQl+128 || Q6_KOffScales != Q6_KOffQh+64 || Q6_KOffD != Q6_KOffScales+16 ||
		Q8_KOffQs != Q8_KOffD+4 || Q8_KOffBsums != Q8_KOffQs+256 {
		t.Error("block field offsets are not contiguous")
	}
	for _, ty := range computeTypes {
		if !ty.Supported() {
			t.Errorf("%v has routines but is not marked supported", ty)
		}
	}
}

func TestRowErrors(t *testing.T) {
	for _, ty := range computeTypes {
		bs, ts := ty.BlockSize(), ty.TypeSize()
		type shape struct{ n, nbytes int }
		bad := []shape{
			{bs, ts - 1}, {bs, ts + 1}, {bs, 0}, {2 * bs, ts}, {0, ts},
		}
		if bs > 1 {
			bad = append(bad, shape{bs - 1, ts}, shape{bs + 1, 2 * ts}, shape{1, ts})
		}
		for _, s := range bad {
			err := DequantizeRow(ty, make([]byte, s.nbytes), make([]float32, s.n))
			if err == nil || !(errors.Is(err, ErrBlockSize) || errors.Is(err, ErrBufferSize)) {
				t.Errorf("DequantizeRow(%v, %d bytes, %d elems) = %v, want a size error", ty, s.nbytes, s.n, err)
			}
			err = QuantizeRow(ty, make([]float32, s.n), make([]byte, s.nbytes))
			if err == nil || !(errors.Is(err, ErrBlockSize) || errors.Is(err, ErrBufferSize)) {
				t.Errorf("QuantizeRow(%v, %d elems, %d bytes) = %v, want a size error", ty, s.n, s.nbytes, err)
			}
		}
		if bs > 1 {
			if err := DequantizeRow(ty, make([]byte, ts), make([]float32, bs+1)); !errors.Is(err, ErrBlockSize) {
				t.Errorf("%v: partial block: %v, want ErrBlockSize", ty, err)
			}
		}
		// Empty rows are valid and do nothing.
		if err := DequantizeRow(ty, nil, nil); err != nil {
			t.Errorf("DequantizeRow(%v, empty) = %v", ty, err)
		}
		if err := QuantizeRow(ty, nil, nil); err != nil {
			t.Errorf("QuantizeRow(%v, empty) = %v", ty, err)
		}
	}
	for _, ty := range []Type{Q4_1, Q5_0, Q2_K, Q3_K, IQ4_NL, I8, F64, MXFP4, Type(5), Type(1000)} {
		bs, ts := max(ty.BlockSize(), 1), max(ty.TypeSize(), 1)
		if err := DequantizeRow(ty, make([]byte, ts), make([]float32, bs)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("DequantizeRow(%v) = %v, want ErrUnsupported", ty, err)
		}
		if err := QuantizeRow(ty, make([]float32, bs), make([]byte, ts)); !errors.Is(err, ErrUnsupported) {
			t.Errorf("QuantizeRow(%v) = %v, want ErrUnsupported", ty, err)
		}
	}
}

func TestActivationQuantizerPanicsOnBadSizes(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	mustPanic("QuantizeQ8K partial block", func() { QuantizeQ8K(make([]float32, 255), make([]byte, 292)) })
	mustPanic("QuantizeQ8K short dst", func() { QuantizeQ8K(make([]float32, 256), make([]byte, 291)) })
	mustPanic("QuantizeQ8_0Act partial block", func() { QuantizeQ8_0Act(make([]float32, 33), make([]byte, 68)) })
	mustPanic("QuantizeQ8_0Act short dst", func() { QuantizeQ8_0Act(make([]float32, 64), make([]byte, 67)) })
}

// --- An independent, element-at-a-time decoder written from the spec's
// words (§4.2–4.7), to check the block-at-a-time dequantizers bit for bit
// without the fixtures.

func specScaleMin(s []byte, j int) (sc, m float32) {
	// "bytes 0–3 carry sc0..3 in their low 6 bits and the top 2 bits of
	// sc4..7; bytes 4–7 carry m0..3 and the top 2 bits of m4..7; bytes 8–11
	// carry the low 4 bits of sc4..7 (low nibble) and of m4..7 (high nibble)".
	if j < 4 {
		return float32(s[j] % 64), float32(s[4+j] % 64)
	}
	k := j - 4
	return float32(s[8+k]%16 + (s[k]/64)*16), float32(s[8+k]/16 + (s[4+k]/64)*16)
}

func specElement(t Type, blk []byte, e int) float32 {
	le16 := func(o int) float32 { return f16ToF32Slow(uint16(blk[o]) | uint16(blk[o+1])<<8) }
	switch t {
	case Q4_0:
		var q int
		if e < 16 {
			q = int(blk[2+e] % 16)
		} else {
			q = int(blk[2+e-16] / 16)
		}
		return float32(q-8) * le16(0)
	case Q8_0:
		return float32(int8(blk[2+e])) * le16(0)
	case Q4_K, Q5_K:
		c, r := e/64, e%64
		sub := 2*c + r/32
		qsOff := 16
		if t == Q5_K {
			qsOff = 48
		}
		byteQ := blk[qsOff+32*c+r%32]
		q := int(byteQ % 16)
		if r >= 32 {
			q = int(byteQ / 16)
		}
		if t == Q5_K && blk[16+r%32]&(1<<sub) != 0 {
			q += 16
		}
		sc, m := specScaleMin(blk[4:16], sub)
		d1 := le16(0) * sc
		m1 := le16(2) * m
		prod := d1 * float32(q)
		return prod - m1
	case Q6_K:
		h, r := e/128, e%128
		quarter, l := r/32, r%32
		b := blk[64*h+32*(quarter%2)+l]
		low := int(b % 16)
		if quarter >= 2 {
			low = int(b / 16)
		}
		high := int(blk[128+32*h+l]>>(2*quarter)) & 3
		q := low + 16*high - 32
		ds := le16(208) * float32(int8(blk[192+e/16]))
		return ds * float32(q)
	case Q8_K:
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
		return d * float32(int8(blk[4+e]))
	}
	panic("specElement: " + t.String())
}

// randomBlocks returns nb blocks of random bytes whose f16/f32 scale fields
// hold finite values (normal and subnormal, both signs), so that decoded
// values compare with ==.
func randomBlocks(r *rand.Rand, t Type, nb int) []byte {
	buf := make([]byte, nb*t.TypeSize())
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	finiteF16 := func() uint16 {
		for {
			h := uint16(r.Uint32())
			if r.IntN(4) == 0 {
				h &= 0x83ff // subnormal
			}
			if h&0x7c00 != 0x7c00 {
				return h
			}
		}
	}
	for i := range nb {
		blk := buf[i*t.TypeSize() : (i+1)*t.TypeSize()]
		switch t {
		case Q4_0, Q8_0:
			binary.LittleEndian.PutUint16(blk, finiteF16())
		case Q4_K, Q5_K:
			binary.LittleEndian.PutUint16(blk, finiteF16())
			binary.LittleEndian.PutUint16(blk[2:], finiteF16())
		case Q6_K:
			binary.LittleEndian.PutUint16(blk[208:], finiteF16())
		case Q8_K:
			binary.LittleEndian.PutUint32(blk, math.Float32bits(float32(r.NormFloat64()*1e-2)))
		}
	}
	return buf
}

func TestDequantizeMatchesSpecDecoder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, ty := range []Type{Q4_0, Q8_0, Q4_K, Q5_K, Q6_K, Q8_K} {
		const nb = 64
		src := randomBlocks(r, ty, nb)
		dst := make([]float32, nb*ty.BlockSize())
		if err := DequantizeRow(ty, src, dst); err != nil {
			t.Fatal(err)
		}
		for e, got := range dst {
			b := e / ty.BlockSize()
			want := specElement(ty, src[b*ty.TypeSize():(b+1)*ty.TypeSize()], e%ty.BlockSize())
			if math.Float32bits(got) != math.Float32bits(want) {
				t.Fatalf("%v element %d: got %g, spec decoder %g", ty, e, got, want)
			}
		}
	}
}

func TestDequantizeArbitraryBytes(t *testing.T) {
	// Any bytes decode without panicking (inf/NaN scales included).
	r := rand.New(rand.NewPCG(5, 6))
	for _, ty := range computeTypes {
		n := 4 * max(ty.BlockSize(), 64)
		src := make([]byte, n/ty.BlockSize()*ty.TypeSize())
		for i := range src {
			src[i] = byte(r.Uint32())
		}
		for i := range src {
			if i%7 == 0 {
				src[i] = 0xff // plenty of all-ones exponents
			}
		}
		if err := DequantizeRow(ty, src, make([]float32, n)); err != nil {
			t.Errorf("%v: %v", ty, err)
		}
	}
}

// --- Round trips.

func gaussianRow(r *rand.Rand, n int, scale float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.NormFloat64() * scale)
	}
	return x
}

func roundTrip(t *testing.T, ty Type, x []float32) []float32 {
	t.Helper()
	n, err := ty.RowBytes(int64(len(x)))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, n)
	if err := QuantizeRow(ty, x, buf); err != nil {
		t.Fatal(err)
	}
	y := make([]float32, len(x))
	if err := DequantizeRow(ty, buf, y); err != nil {
		t.Fatal(err)
	}
	return y
}

func relRMSE(x, y []float32) float64 {
	var se, ss float64
	for i := range x {
		d := float64(x[i]) - float64(y[i])
		se += d * d
		ss += float64(x[i]) * float64(x[i])
	}
	if ss == 0 {
		return math.Sqrt(se)
	}
	return math.Sqrt(se / ss)
}

func TestRoundTripRMSE(t *testing.T) {
	// Caps are about 1.3× what each format achieves on Gaussian data (the
	// Q8_K figure is for the activation quantizer; Q6_K is worst at the
	// smallest scale, where its f16 d is subnormal).
	caps := map[Type]float64{
		F32: 0, F16: 2.8e-4, BF16: 2.2e-3,
		Q8_0: 7e-3, Q8_K: 9.5e-3, Q6_K: 2.6e-2, Q5_K: 4.8e-2, Q4_K: 9.6e-2, Q4_0: 1.15e-1,
	}
	r := rand.New(rand.NewPCG(7, 8))
	for _, ty := range computeTypes {
		for _, scale := range []float64{1e-3, 0.02, 1, 300} {
			x := gaussianRow(r, 16*QK_K, scale)
			y := roundTrip(t, ty, x)
			e := relRMSE(x, y)
			t.Logf("%-5v scale %-6g relative RMSE %.3g", ty, scale, e)
			if e > caps[ty] {
				t.Errorf("%v scale %g: relative RMSE %.4g > cap %.4g", ty, scale, e, caps[ty])
			}
		}
	}
}

func TestEdgeValues(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	n := 2 * QK_K
	rows := map[string][]float32{
		"zeros":     make([]float32, n),
		"neg zeros": make([]float32, n),
		"constant":  make([]float32, n),
		"±f16max":   make([]float32, n),
		"tiny":      gaussianRow(r, n, 1e-6), // scales land in f16 subnormals
		"one spike": make([]float32, n),
		"mixed":     gaussianRow(r, n, 1),
	}
	for i := range n {
		rows["neg zeros"][i] = float32(math.Copysign(0, -1))
		rows["constant"][i] = 0.75
		rows["±f16max"][i] = float32(65504 * (1 - 2*float64(i%2)))
	}
	rows["one spike"][37] = -3
	for i := 0; i < QK_K; i++ { // a zero super-block next to a live one
		rows["mixed"][i] = 0
	}
	for name, x := range rows {
		for _, ty := range computeTypes {
			y := roundTrip(t, ty, x)
			amax := 0.0
			for _, v := range x {
				amax = max(amax, math.Abs(float64(v)))
			}
			for i := range x {
				if math.IsNaN(float64(y[i])) || math.IsInf(float64(y[i]), 0) {
					t.Fatalf("%s %v: element %d decoded to %g", name, ty, i, y[i])
				}
				if amax == 0 && y[i] != 0 {
					t.Fatalf("%s %v: zero row decoded to %g at %d", name, ty, y[i], i)
				}
				// Every format keeps values within a few percent of the
				// block maximum (the scales are fitted to it), except where
				// the f16 scale underflows (the "tiny" row).
				if name != "tiny" && math.Abs(float64(y[i]-x[i])) > 0.13*amax+1e-30 {
					t.Fatalf("%s %v: element %d: %g -> %g (amax %g)", name, ty, i, x[i], y[i], amax)
				}
			}
		}
	}
	// Known encodings of an all-zero block.
	zero := make([]float32, QK_K)
	q4 := make([]byte, 8*Q4_0BlockBytes)
	if err := QuantizeQ4_0(zero, q4); err != nil {
		t.Fatal(err)
	}
	for i, b := range q4 {
		// d = 0/−8 = −0 (f16 0x8000), as in ggml; q = trunc(0 + 8.5) = 8.
		want := [18]byte{0x00, 0x80, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88, 0x88}[i%18]
		if b != want {
			t.Fatalf("Q4_0 zero block byte %d = %#x, want %#x", i, b, want)
		}
	}
	for _, ty := range []Type{Q8_0, Q4_K, Q5_K, Q6_K, Q8_K} {
		buf := make([]byte, QK_K/ty.BlockSize()*ty.TypeSize())
		for i := range buf {
			buf[i] = 0xaa
		}
		if err := QuantizeRow(ty, zero, buf); err != nil {
			t.Fatal(err)
		}
		for i, b := range buf {
			if b != 0 {
				t.Fatalf("%v zero block byte %d = %#x, want 0", ty, i, b)
			}
		}
	}
	// Non-finite inputs must not panic in any quantizer.
	bad := gaussianRow(r, QK_K, 1)
	bad[3], bad[70], bad[200] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
	for _, ty := range computeTypes {
		n, _ := ty.RowBytes(QK_K)
		if err := QuantizeRow(ty, bad, make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	QuantizeQ8_0Act(bad, make([]byte, 8*Q8_0BlockBytes))
}

func TestNearestInt(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for range 200000 {
		f := float32((r.Float64()*2 - 1) * 4194303)
		if r.IntN(2) == 0 {
			f = float32(r.IntN(2000)-1000) + 0.5 // exact ties
		}
		if got, want := nearestInt(f), int32(math.RoundToEven(float64(f))); got != want {
			t.Fatalf("nearestInt(%g) = %d, want %d", f, got, want)
		}
	}
	if nearestInt(float32(math.NaN())) != 0 {
		t.Error("nearestInt(NaN) should be 0 as in ggml")
	}
}

// --- Activation quantizers.

func TestQuantizeQ8KSemantics(t *testing.T) {
	x := make([]float32, QK_K)
	for i := range x {
		x[i] = float32(i%13) * 0.125
	}
	x[5], x[10] = 3, -3 // same magnitude: the first (positive) one sets max
	buf := make([]byte, Q8_KBlockBytes)
	QuantizeQ8K(x, buf)
	d := math.Float32frombits(binary.LittleEndian.Uint32(buf))
	if want := 1 / (-127 / float32(3)); d != want || d >= 0 {
		t.Fatalf("d = %g, want %g (negative: max is positive)", d, want)
	}
	if q5, q10 := int8(buf[4+5]), int8(buf[4+10]); q5 != -127 || q10 != 127 {
		t.Fatalf("q[5], q[10] = %d, %d, want -127, 127", q5, q10)
	}
	x[5], x[10] = -3, 3
	QuantizeQ8K(x, buf)
	if d := math.Float32frombits(binary.LittleEndian.Uint32(buf)); d <= 0 {
		t.Fatalf("d = %g, want positive when the first extreme is negative", d)
	}

	// Ties round to even: with max = -127, iscale = 1 exactly.
	y := make([]float32, QK_K)
	y[0] = -127
	y[1], y[2], y[3], y[4], y[5] = 2.5, 3.5, -2.5, 0.5, -0.5
	QuantizeQ8K(y, buf)
	for i, want := range []int8{-127, 2, 4, -2, 0, 0} {
		if got := int8(buf[4+i]); got != want {
			t.Errorf("tie %g: q = %d, want %d", y[i], got, want)
		}
	}

	// A reference written from spec §4.7 with math.RoundToEven, over many rows.
	r := rand.New(rand.NewPCG(13, 14))
	for trial := range 200 {
		row := gaussianRow(r, 3*QK_K, math.Pow(10, float64(trial%7-3)))
		if trial%5 == 0 {
			clear(row[QK_K : 2*QK_K])
		}
		out := make([]byte, 3*Q8_KBlockBytes)
		for i := range out {
			out[i] = 0x5a // stale contents must be overwritten
		}
		QuantizeQ8K(row, out)
		for b := range 3 {
			checkQ8KBlock(t, row[b*QK_K:(b+1)*QK_K], out[b*Q8_KBlockBytes:(b+1)*Q8_KBlockBytes])
		}
	}
}

func checkQ8KBlock(t *testing.T, x []float32, blk []byte) {
	t.Helper()
	var amax, mx float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); a > amax {
			amax, mx = a, v
		}
	}
	wantQ := make([]int8, QK_K)
	var wantD float32
	if amax != 0 {
		iscale := -127 / mx
		for i, v := range x {
			wantQ[i] = int8(min(127, math.RoundToEven(float64(iscale*v))))
		}
		wantD = 1 / iscale
	}
	if d := math.Float32frombits(binary.LittleEndian.Uint32(blk)); math.Float32bits(d) != math.Float32bits(wantD) {
		t.Fatalf("d = %g, want %g", d, wantD)
	}
	for i := range QK_K {
		if int8(blk[4+i]) != wantQ[i] {
			t.Fatalf("q[%d] = %d, want %d", i, int8(blk[4+i]), wantQ[i])
		}
	}
	for k := range 16 {
		var s int16
		for _, q := range wantQ[16*k : 16*k+16] {
			s += int16(q)
		}
		if got := int16(binary.LittleEndian.Uint16(blk[260+2*k:])); got != s {
			t.Fatalf("bsums[%d] = %d, want %d", k, got, s)
		}
	}
}

func TestQuantizeQ8_0ActSemantics(t *testing.T) {
	x := make([]float32, 32)
	x[0] = 127 // amax = 127: d = 1 and id = 1
	x[1], x[2], x[3], x[4] = 2.5, 3.5, -2.5, -0.5
	act := make([]byte, Q8_0BlockBytes)
	QuantizeQ8_0Act(x, act)
	ref := make([]byte, Q8_0BlockBytes)
	if err := QuantizeQ8_0(x, ref); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int8{127, 2, 4, -2, 0} { // half to even
		if got := int8(act[2+i]); got != want {
			t.Errorf("act: q(%g) = %d, want %d", x[i], got, want)
		}
	}
	for i, want := range []int8{127, 3, 4, -3, -1} { // reference: half away from zero
		if got := int8(ref[2+i]); got != want {
			t.Errorf("ref: q(%g) = %d, want %d", x[i], got, want)
		}
	}

	// Against a reference written from spec §4.8 (id = 127/amax, not 1/d).
	r := rand.New(rand.NewPCG(15, 16))
	differ := 0
	for trial := range 2000 {
		row := gaussianRow(r, 64, math.Pow(10, float64(trial%9-4)))
		if trial%11 == 0 {
			clear(row[:32])
		}
		out := make([]byte, 2*Q8_0BlockBytes)
		QuantizeQ8_0Act(row, out)
		refOut := make([]byte, 2*Q8_0BlockBytes)
		if err := QuantizeQ8_0(row, refOut); err != nil {
			t.Fatal(err)
		}
		for b := range 2 {
			xs, blk := row[32*b:32*b+32], out[34*b:34*b+34]
			var amax float32
			for _, v := range xs {
				amax = max(amax, float32(math.Abs(float64(v))))
			}
			if d := binary.LittleEndian.Uint16(blk); d != F32ToF16(amax/127) {
				t.Fatalf("d = %#04x, want f16(%g)", d, amax/127)
			}
			var id float32
			if amax != 0 {
				id = 127 / amax
			}
			for i, v := range xs {
				want := int8(max(-128, min(127, math.RoundToEven(float64(v*id)))))
				if got := int8(blk[2+i]); got != want {
					t.Fatalf("q(%g) = %d, want %d", v, got, want)
				}
			}
			if string(blk) != string(refOut[34*b:34*b+34]) {
				differ++
			}
		}
	}
	t.Logf("activation vs reference Q8_0: %d of 4000 blocks differ (ties and 1-ulp id differences)", differ)
}

func TestQuantizeQ8_0ActNonFinite(t *testing.T) {
	x := make([]float32, 32)
	x[0], x[1] = float32(math.NaN()), 1
	out := make([]byte, Q8_0BlockBytes)
	QuantizeQ8_0Act(x, out)
	if int8(out[2]) != -128 || int8(out[3]) != 127 {
		t.Errorf("NaN block: q = %d, %d; want -128 (x86 integer indefinite, saturated), 127", int8(out[2]), int8(out[3]))
	}
}

func TestFloatRowSpecials(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	src := []float32{nan, inf, -inf, negZero, 0x1p-24, -0x1p-20, 65504, 1e6, 3.0e38}
	wantF16 := []float32{nan, inf, -inf, negZero, 0x1p-24, -0x1p-20, 65504, inf, inf}
	wantBF16 := []float32{nan, inf, -inf, negZero, 0x1p-24, -0x1p-20, 65536, 999424, 3.0040553e38} // 3e38 = 0x7f61b1e6 rounds up
	for _, c := range []struct {
		t    Type
		want []float32
	}{{F32, src}, {F16, wantF16}, {BF16, wantBF16}} {
		buf := make([]byte, len(src)*c.t.TypeSize())
		if err := QuantizeRow(c.t, src, buf); err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(src))
		if err := DequantizeRow(c.t, buf, got); err != nil {
			t.Fatal(err)
		}
		for i := range got {
			g, w := got[i], c.want[i]
			if math.IsNaN(float64(w)) {
				if !math.IsNaN(float64(g)) {
					t.Errorf("%v: NaN decoded as %g", c.t, g)
				}
				continue
			}
			if math.Float32bits(g) != math.Float32bits(w) {
				t.Errorf("%v: %g -> %g, want %g", c.t, src[i], g, w)
			}
		}
	}
}
