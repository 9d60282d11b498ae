package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/quant"
)

// enc builds GGUF bytes by hand, independently of Writer, so that tests can
// put any value in any field and know where each field starts.
type enc struct{ b []byte }

func (e *enc) pos() int64           { return int64(len(e.b)) }
func (e *enc) raw(p ...byte) *enc   { e.b = append(e.b, p...); return e }
func (e *enc) rs(s string) *enc     { e.b = append(e.b, s...); return e }
func (e *enc) u8(v uint8) *enc      { return e.raw(v) }
func (e *enc) u32(v uint32) *enc    { e.b = binary.LittleEndian.AppendUint32(e.b, v); return e }
func (e *enc) u64(v uint64) *enc    { e.b = binary.LittleEndian.AppendUint64(e.b, v); return e }
func (e *enc) str(s string) *enc    { return e.u64(uint64(len(s))).raw([]byte(s)...) }
func (e *enc) typ(t ValueType) *enc { return e.u32(uint32(t)) }

func (e *enc) header(version uint32, nTensors, nKV uint64) *enc {
	return e.rs(Magic).u32(version).u64(nTensors).u64(nKV)
}

// tinfo writes one tensor info.
func (e *enc) tinfo(name string, dims []uint64, typ quant.Type, off uint64) *enc {
	e.str(name).u32(uint32(len(dims)))
	for _, d := range dims {
		e.u64(d)
	}
	return e.u32(uint32(typ)).u64(off)
}

func (e *enc) padTo(align int) *enc {
	for len(e.b)%align != 0 {
		e.b = append(e.b, 0)
	}
	return e
}

// pattern returns n deterministic non-zero-ish bytes.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7) + seed
	}
	return p
}

// smallValid is a complete small file: three KV pairs (a string, a string
// array, a nested array) and two tensors, the second ending in padding.
// It returns the bytes and the offset where the last tensor's data ends.
func smallValid() ([]byte, int64) {
	e := new(enc).header(3, 2, 3)
	e.str("general.architecture").typ(TypeString).str("llama")
	e.str("tokenizer.ggml.tokens").typ(TypeArray).typ(TypeString).u64(3).str("a").str("bc").str("")
	e.str("nested").typ(TypeArray).typ(TypeArray).u64(2).
		typ(TypeUint8).u64(2).u8(1).u8(2).
		typ(TypeInt32).u64(1).u32(0xFFFFFFFF)
	e.tinfo("a", []uint64{8}, quant.F32, 0)
	e.tinfo("b", []uint64{32, 2}, quant.Q8_0, 32)
	e.padTo(32)
	e.raw(pattern(32, 1)...)
	e.raw(pattern(68, 2)...)
	end := e.pos()
	e.padTo(32)
	return e.b, end
}

func TestSmallValid(t *testing.T) {
	b, _ := smallValid()
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if f.Version != 3 || len(f.KV) != 3 || len(f.Tensors) != 2 || f.Alignment != 32 {
		t.Fatalf("parsed %+v", f)
	}
	if got := f.String("general.architecture", ""); got != "llama" {
		t.Errorf("architecture = %q", got)
	}
	if s, ok := f.Strings("tokenizer.ggml.tokens"); !ok || strings.Join(s, ",") != "a,bc," {
		t.Errorf("tokens = %q %v", s, ok)
	}
	v, _ := f.Get("nested")
	a, _ := v.Array()
	if a.Elem != TypeArray || a.Len() != 2 {
		t.Fatalf("nested = %v", v)
	}
	inner, _ := a.At(1).Array()
	if x, _ := inner.At(0).AsInt(); inner.Elem != TypeInt32 || x != -1 {
		t.Errorf("nested[1] = %v", a.At(1))
	}
	tb, _ := f.Tensor("b")
	if tb.Offset != 32 || tb.Size != 68 || tb.Type != quant.Q8_0 || tb.Dim(1) != 2 || tb.Dim(3) != 1 || tb.Elements() != 64 {
		t.Errorf("tensor b = %+v", tb)
	}
	data, err := f.TensorData(tb)
	if err != nil || !bytes.Equal(data, pattern(68, 2)) {
		t.Errorf("tensor b data = %v, %v", data, err)
	}

	// The Writer must produce exactly the hand-encoded bytes.
	var out bytes.Buffer
	if _, err := f.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(out.Bytes(), b) {
		t.Errorf("WriteTo differs from the hand-encoded file:\n got %x\nwant %x", out.Bytes(), b)
	}
}

// checkFormatError asserts err is a *FormatError for a field containing
// field, at byte off, and that the message says both.
func checkFormatError(t *testing.T, err error, field string, off int64) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want a format error in %q at byte %d", field, off)
	}
	if !errors.Is(err, ErrFormat) {
		t.Fatalf("error %v does not wrap ErrFormat", err)
	}
	var fe *FormatError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FormatError", err)
	}
	if !strings.Contains(fe.Field, field) || fe.Offset != off {
		t.Errorf("error %q: got field %q at byte %d, want field containing %q at byte %d", err, fe.Field, fe.Offset, field, off)
	}
	msg := err.Error()
	if !strings.Contains(msg, fe.Field) || !strings.Contains(msg, " at byte ") {
		t.Errorf("message %q does not name the field and offset", msg)
	}
}

func TestTruncated(t *testing.T) {
	b, end := smallValid()
	for n := range len(b) {
		_, err := Parse(b[:n])
		if n < int(end) {
			var fe *FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("prefix of %d bytes: got %v, want a *FormatError", n, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(n) {
				t.Errorf("prefix of %d bytes: error offset %d outside the input", n, fe.Offset)
			}
		} else if err != nil {
			// Only the last tensor's trailing padding is missing: every
			// tensor is whole, and llama.cpp's loader accepts this too.
			t.Errorf("prefix of %d bytes (all data present): %v", n, err)
		}
	}
}

// TestTruncatedFixtureHeader cuts a real file's metadata and tensor infos at
// every byte.
func TestTruncatedFixtureHeader(t *testing.T) {
	b, err := os.ReadFile(testutil.Fixture(t, "stories260K", "model.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	for n := range int(f.DataOffset) + 1 {
		if _, err := Parse(b[:n]); !errors.Is(err, ErrFormat) {
			t.Fatalf("prefix of %d bytes: got %v, want a format error", n, err)
		}
	}
}

// corruptCase is a hand-made bad file and the error it must produce.
type corruptCase struct {
	name  string
	b     []byte
	field string
	off   int64
}

// kvFile is a file with no tensors and one KV pair, written by kv. The key
// "k" starts at byte 24, its type at 33 and its value at 37.
func kvFile(kv func(e *enc)) []byte {
	e := new(enc).header(3, 0, 1)
	kv(e)
	return e.b
}

// tensorFile is a file with no KV pairs and the tensor infos written by
// ti, followed by padding and 256 bytes of data. The first info starts at
// byte 24; for a one-letter name its dimension count is at 33 and its first
// dimension at 37.
func tensorFile(nTensors uint64, ti func(e *enc)) []byte {
	e := new(enc).header(3, nTensors, 0)
	ti(e)
	e.padTo(32).raw(pattern(256, 3)...)
	return e.b
}

func nested(e *enc, depth int) *enc {
	for range depth - 1 {
		e.typ(TypeArray).u64(1)
	}
	return e.typ(TypeUint8).u64(1).u8(7)
}

func corruptCases() []corruptCase {
	const huge = 1<<63 - 1
	alignKV := func(t ValueType, val func(e *enc)) []byte {
		return kvFile(func(e *enc) { e.str("general.alignment").typ(t); val(e) })
	}
	const alignVal = 24 + 8 + 17 + 4
	f32 := func(e *enc) { e.tinfo("t", []uint64{8}, quant.F32, 0) }
	return []corruptCase{
		{"empty file", nil, "magic", 0},
		{"three bytes", []byte("GGU"), "magic", 0},
		{"bad magic", new(enc).rs("GGML").u32(3).u64(0).u64(0).b, "magic", 0},
		{"lowercase magic", new(enc).rs("gguf").u32(3).u64(0).u64(0).b, "magic", 0},
		{"version 0", new(enc).header(0, 0, 0).b, "version", 4},
		{"version 1", new(enc).header(1, 0, 0).b, "version", 4},
		{"version 4", new(enc).header(4, 0, 0).b, "version", 4},
		{"byte-swapped version", new(enc).header(0x03000000, 0, 0).b, "version", 4},
		{"n_tensors 2^63-1", new(enc).header(3, huge, 0).b, "tensor count", 8},
		{"n_tensors negative", new(enc).header(3, 1<<63, 0).b, "tensor count", 8},
		{"n_tensors 2^64-1", new(enc).header(3, math.MaxUint64, 0).b, "tensor count", 8},
		{"n_tensors beyond file", new(enc).header(3, 2, 0).tinfo("t", []uint64{8}, quant.F32, 0).b, "tensor count", 8},
		{"n_kv 2^63-1", new(enc).header(3, 0, huge).b, "metadata count", 16},
		{"n_kv negative", new(enc).header(3, 0, 1<<63).b, "metadata count", 16},
		{"n_kv beyond file", new(enc).header(3, 0, 5).str("k").typ(TypeUint8).u8(1).b, "metadata count", 16},
		{"key length 2^63-1", kvFile(func(e *enc) { e.u64(huge).rs("k").typ(TypeUint8).u8(0) }), "metadata key #0", 24},
		{"key length 2^30+1", kvFile(func(e *enc) { e.u64(1<<30 + 1).rs("k").typ(TypeUint8).u8(0) }), "metadata key #0", 24},
		{"key length beyond file", kvFile(func(e *enc) { e.u64(100).rs("k").typ(TypeUint8).u8(0) }), "metadata key #0", 24},
		{"empty key", kvFile(func(e *enc) { e.str("").typ(TypeUint8).u8(0) }), "metadata key #0", 24},
		{"duplicate key", new(enc).header(3, 0, 2).str("k").typ(TypeUint8).u8(0).str("k").typ(TypeUint8).u8(1).b, `metadata key "k"`, 38},
		{"unknown value type 13", kvFile(func(e *enc) { e.str("k").u32(13).u64(0) }), `metadata "k" type`, 33},
		{"unknown value type 2^32-1", kvFile(func(e *enc) { e.str("k").u32(math.MaxUint32).u64(0) }), `metadata "k" type`, 33},
		{"string value length 2^63-1", kvFile(func(e *enc) { e.str("k").typ(TypeString).u64(huge).rs("x") }), `metadata "k"`, 37},
		{"string value beyond file", kvFile(func(e *enc) { e.str("k").typ(TypeString).u64(9).rs("x") }), `metadata "k"`, 37},
		{"u64 value truncated", kvFile(func(e *enc) { e.str("k").typ(TypeUint64).u32(1) }), `metadata "k"`, 37},
		{"array length 2^63-1", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeUint8).u64(huge).u64(0) }), `metadata "k" length`, 41},
		{"array length 2^64-1", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeUint32).u64(math.MaxUint64).u64(0) }), `metadata "k" length`, 41},
		{"array length 2^30+1", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeBool).u64(1<<30 + 1).u64(0) }), `metadata "k" length`, 41},
		{"array longer than file", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeUint32).u64(3).u64(0) }), `metadata "k" length`, 41},
		{"string array length 2^40", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeString).u64(1 << 40).str("a") }), `metadata "k" length`, 41},
		{"string element length 2^63-1", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeString).u64(2).str("a").u64(huge) }), `metadata "k"`, 41 + 8 + 9},
		{"nested array length 2^40", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeArray).u64(1 << 40).u64(0) }), `metadata "k" length`, 41},
		{"array element type 13", kvFile(func(e *enc) { e.str("k").typ(TypeArray).u32(13).u64(0) }), `metadata "k" element type`, 37},
		{"nested array element type 13", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeArray).u64(1).u32(13).u64(0) }), `metadata "k" element type`, 37 + 12},
		{"arrays nested 9 deep", kvFile(func(e *enc) { nested(e.str("k").typ(TypeArray), 9) }), `metadata "k"`, 37 + 8*12},
		{"alignment 0", alignKV(TypeUint32, func(e *enc) { e.u32(0) }), `metadata "general.alignment"`, alignVal},
		{"alignment 3", alignKV(TypeUint32, func(e *enc) { e.u32(3) }), `metadata "general.alignment"`, alignVal},
		{"alignment 2^31+1", alignKV(TypeUint32, func(e *enc) { e.u32(1<<31 + 1) }), `metadata "general.alignment"`, alignVal},
		{"alignment as u64", alignKV(TypeUint64, func(e *enc) { e.u64(32) }), `metadata "general.alignment"`, alignVal},
		{"alignment as i32", alignKV(TypeInt32, func(e *enc) { e.u32(32) }), `metadata "general.alignment"`, alignVal},
		{"alignment as string", alignKV(TypeString, func(e *enc) { e.str("32") }), `metadata "general.alignment"`, alignVal},
		{"tensor name length 2^63-1", tensorFile(1, func(e *enc) { e.u64(huge) }), "tensor #0 name", 24},
		{"tensor name of 64 bytes", tensorFile(1, func(e *enc) { e.tinfo(strings.Repeat("x", 64), []uint64{8}, quant.F32, 0) }), "tensor #0 name", 24},
		{"5 dimensions", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{1, 1, 1, 1, 1}, quant.F32, 0) }), `tensor "t" dimension count`, 33},
		{"2^32-1 dimensions", tensorFile(1, func(e *enc) { e.str("t").u32(math.MaxUint32).u64(1) }), `tensor "t" dimension count`, 33},
		{"negative dimension", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{8, math.MaxUint64}, quant.F32, 0) }), `tensor "t" dimension 1`, 45},
		{"dimension 2^63", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{1 << 63}, quant.F32, 0) }), `tensor "t" dimension 0`, 37},
		{"dimension 2^41", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{1 << 41}, quant.F32, 0) }), `tensor "t" dimension 0`, 37},
		{"element count overflow", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{1 << 40, 1 << 40}, quant.F32, 0) }), `tensor "t" dimension 1`, 45},
		{"byte size overflow", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{1 << 40, 1 << 21, 2}, quant.F64, 0) }), `tensor "t" shape`, 33},
		{"unknown tensor type 4", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{8}, 4, 0) }), `tensor "t" type`, 45},
		{"unknown tensor type 2^32-1", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{8, 1}, math.MaxUint32, 0) }), `tensor "t" type`, 53},
		{"row not a whole block", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{33}, quant.Q8_0, 0) }), `tensor "t" shape`, 33},
		{"0-d quantized tensor", tensorFile(1, func(e *enc) { e.tinfo("t", nil, quant.Q4_K, 0) }), `tensor "t" shape`, 33},
		{"duplicate tensor name", tensorFile(2, func(e *enc) { f32(e); f32(e) }), "tensor #1 name", 24 + 33},
		{"misaligned offset", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{8}, quant.F32, 16) }), `tensor "t" offset`, 49},
		{"offset beyond file", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{8}, quant.F32, 1<<40) }), `tensor "t" offset`, 49},
		{"offset 2^64-32", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{8}, quant.F32, math.MaxUint64-31) }), `tensor "t" offset`, 49},
		{"size beyond file", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{65}, quant.F32, 0) }), `tensor "t" offset`, 49},
		{"offset+size beyond file", tensorFile(2, func(e *enc) { f32(e); e.tinfo("u", []uint64{64}, quant.F32, 32) }), `tensor "u" offset`, 24 + 33 + 25},
		{"tensors overlap", tensorFile(2, func(e *enc) { e.tinfo("t", []uint64{16}, quant.F32, 32); e.tinfo("u", []uint64{8}, quant.F32, 64) }), `tensor "u" offset`, 24 + 33 + 25},
		{"tensors alias", tensorFile(2, func(e *enc) { f32(e); e.tinfo("u", []uint64{8}, quant.F32, 0) }), `tensor "u" offset`, 24 + 33 + 25},
		{"data section beyond file", new(enc).header(3, 1, 0).tinfo("t", []uint64{0}, quant.F32, 0).b, "tensor data", 57},
		{"truncated tensor info", new(enc).header(3, 1, 0).str("t").u32(2).u64(4).raw(make([]byte, 12)...).b, `tensor "t" offset`, 57},
	}
}

func TestCorrupt(t *testing.T) {
	for _, c := range corruptCases() {
		t.Run(c.name, func(t *testing.T) {
			var ms0, ms1 runtime.MemStats
			runtime.ReadMemStats(&ms0)
			f, err := Parse(c.b)
			runtime.ReadMemStats(&ms1)
			if err == nil {
				t.Fatalf("parsed %d tensors, %d KV; want an error", len(f.Tensors), len(f.KV))
			}
			checkFormatError(t, err, c.field, c.off)
			// Counts and lengths are checked before anything is allocated.
			if d := ms1.TotalAlloc - ms0.TotalAlloc; d > 1<<20 {
				t.Errorf("parsing %d bytes allocated %d bytes", len(c.b), d)
			}
		})
	}
}

// TestAccepted covers unusual but valid files, including the limits just
// inside each rejection in TestCorrupt.
func TestAccepted(t *testing.T) {
	cases := []struct {
		name  string
		b     []byte
		check func(t *testing.T, f *File)
	}{
		{"version 2", new(enc).header(2, 0, 0).b, func(t *testing.T, f *File) {
			if f.Version != 2 {
				t.Errorf("version %d", f.Version)
			}
		}},
		{"arrays nested 8 deep", kvFile(func(e *enc) { nested(e.str("k").typ(TypeArray), 8) }), func(t *testing.T, f *File) {
			v, _ := f.Get("k")
			for range 7 {
				a, ok := v.Array()
				if !ok || a.Elem != TypeArray || a.Len() != 1 {
					t.Fatalf("level: %v", v)
				}
				v = a.At(0)
			}
			a, _ := v.Array()
			if x, _ := a.At(0).AsInt(); a.Elem != TypeUint8 || x != 7 {
				t.Errorf("innermost array %v", v)
			}
		}},
		{"bool 0x02 is true", kvFile(func(e *enc) { e.str("k").typ(TypeBool).u8(2) }), func(t *testing.T, f *File) {
			if !f.Bool("k", false) {
				t.Error("false")
			}
		}},
		{"empty string array", kvFile(func(e *enc) { e.str("k").typ(TypeArray).typ(TypeString).u64(0) }), func(t *testing.T, f *File) {
			if s, ok := f.Strings("k"); !ok || len(s) != 0 {
				t.Errorf("%q %v", s, ok)
			}
		}},
		{"tensor name of 63 bytes", tensorFile(1, func(e *enc) { e.tinfo(strings.Repeat("x", 63), []uint64{8}, quant.F32, 0) }), nil},
		{"4 dimensions", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{2, 2, 2, 2}, quant.F32, 0) }), func(t *testing.T, f *File) {
			if ti := f.Tensors[0]; ti.Size != 64 || ti.Elements() != 16 {
				t.Errorf("%+v", ti)
			}
		}},
		{"0-d F32 tensor", tensorFile(1, func(e *enc) { e.tinfo("t", nil, quant.F32, 0) }), func(t *testing.T, f *File) {
			if ti := f.Tensors[0]; ti.Size != 4 || ti.Elements() != 1 || len(ti.Dims) != 0 {
				t.Errorf("%+v", ti)
			}
		}},
		{"empty tensor", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{256, 0}, quant.Q4_K, 0) }), func(t *testing.T, f *File) {
			if d, err := f.TensorData(&f.Tensors[0]); err != nil || len(d) != 0 {
				t.Errorf("%v %v", d, err)
			}
		}},
		{"tensors out of order", tensorFile(3, func(e *enc) {
			e.tinfo("a", []uint64{8}, quant.F32, 64)
			e.tinfo("b", []uint64{0}, quant.F32, 64)
			e.tinfo("c", []uint64{16}, quant.F32, 0)
		}), func(t *testing.T, f *File) {
			d, _ := f.TensorData(&f.Tensors[0])
			if !bytes.Equal(d, pattern(256, 3)[64:96]) {
				t.Errorf("tensor a = %v", d)
			}
			var out bytes.Buffer // re-written in declaration order
			if _, err := f.WriteTo(&out); err != nil {
				t.Fatal(err)
			}
			g, err := Parse(out.Bytes())
			if err != nil || g.Tensors[0].Offset != 0 || g.Tensors[2].Offset != 32 {
				t.Fatalf("re-written: %v %+v", err, g.Tensors)
			}
			if d2, _ := g.TensorData(&g.Tensors[0]); !bytes.Equal(d2, d) {
				t.Errorf("re-written tensor a = %v", d2)
			}
		}},
		{"tensor ending at EOF", tensorFile(1, func(e *enc) { e.tinfo("t", []uint64{64}, quant.F32, 0) }), nil},
		{"alignment 64", new(enc).header(3, 2, 1).str("general.alignment").typ(TypeUint32).u32(64).
			tinfo("a", []uint64{4}, quant.F32, 0).tinfo("b", []uint64{4}, quant.F32, 64).padTo(64).raw(pattern(128, 4)...).b,
			func(t *testing.T, f *File) {
				if f.Alignment != 64 || f.DataOffset%64 != 0 {
					t.Errorf("alignment %d, data offset %d", f.Alignment, f.DataOffset)
				}
				d, _ := f.TensorData(&f.Tensors[1])
				if !bytes.Equal(d, pattern(128, 4)[64:80]) {
					t.Errorf("tensor b = %v", d)
				}
			}},
		{"alignment 1", new(enc).header(3, 1, 1).str("general.alignment").typ(TypeUint32).u32(1).
			tinfo("a", []uint64{1}, quant.F32, 0).raw(1, 2, 3, 4).b, nil},
		{"no tensors, no padding", kvFile(func(e *enc) { e.str("k").typ(TypeUint8).u8(1) }), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := Parse(c.b)
			if err != nil {
				t.Fatal(err)
			}
			if c.check != nil {
				c.check(t, f)
			}
		})
	}
}

func TestOpenCorrupt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.gguf")
	if err := os.WriteFile(path, new(enc).header(3, 1<<62, 0).b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Open(path)
	checkFormatError(t, err, "tensor count", 8)
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}

	empty := filepath.Join(t.TempDir(), "empty.gguf")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Open(empty)
	checkFormatError(t, err, "magic", 0)

	if _, err := Open(t.TempDir()); err == nil {
		t.Error("opening a directory succeeded")
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestOpenFixture(t *testing.T) {
	f, err := Open(testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 74 || f.String("general.architecture", "") != "smollm3" {
		t.Fatalf("%d tensors, arch %q", len(f.Tensors), f.String("general.architecture", ""))
	}
	ti, ok := f.Tensor("token_embd.weight")
	if !ok || ti.Type != quant.Q6_K || ti.Dim(0) != 256 || ti.Dim(1) != 306 {
		t.Fatalf("token_embd = %+v", ti)
	}
	d, err := f.TensorData(ti)
	if err != nil || int64(len(d)) != ti.Size || cap(d) != len(d) {
		t.Fatalf("data len %d cap %d, %v", len(d), cap(d), err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.TensorData(ti); err == nil {
		t.Error("TensorData after Close succeeded")
	}
	if err := f.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
