package gguf

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/quant"
)

// allValues has every value type with edge values, including arrays of each
// element type, empty arrays, arrays of strings and nested arrays.
func allValues() []KV {
	kv := func(k string, v any) KV { return KV{k, MustValue(v)} }
	return []KV{
		kv("u8.max", uint8(math.MaxUint8)),
		kv("i8.min", int8(math.MinInt8)),
		kv("u16.max", uint16(math.MaxUint16)),
		kv("i16.min", int16(math.MinInt16)),
		kv("u32.max", uint32(math.MaxUint32)),
		kv("i32.min", int32(math.MinInt32)),
		kv("u64.max", uint64(math.MaxUint64)),
		kv("i64.min", int64(math.MinInt64)),
		kv("f32.eps", math.Float32frombits(0x358637BD)),
		kv("f32.nan", math.Float32frombits(0x7FC00001)),
		kv("f32.negzero", float32(math.Copysign(0, -1))),
		kv("f32.subnormal", math.Float32frombits(1)),
		kv("f64.nan", math.Float64frombits(0x7FF8000000000001)),
		kv("f64.max", math.MaxFloat64),
		kv("bool.true", true),
		kv("bool.false", false),
		kv("str.empty", ""),
		kv("str.utf8", "héllo ✓ <|im_start|>\x00\n"),
		kv("arr.u8", []uint8{0, 1, 255}),
		kv("arr.i8", []int8{-128, 0, 127}),
		kv("arr.u16", []uint16{0, 65535}),
		kv("arr.i16", []int16{-32768, 1}),
		kv("arr.u32", []uint32{16, 16, 8}),
		kv("arr.i32", []int32{-1, 0, math.MaxInt32}),
		kv("arr.u64", []uint64{math.MaxUint64}),
		kv("arr.i64", []int64{math.MinInt64, 5}),
		kv("arr.f32", []float32{-0.0, math.Float32frombits(0xFF800000), 1.5}),
		kv("arr.f64", []float64{math.Inf(1), 1e-300}),
		kv("arr.bool", []bool{true, false, true}),
		kv("arr.str", []string{"<unk>", "", "Ġthe", strings.Repeat("x", 300)}),
		kv("arr.empty.str", []string{}),
		kv("arr.empty.f32", []float32(nil)),
		kv("arr.nested", []Array{
			{TypeString, []string{"a", "b c"}},
			{TypeInt32, []int32{-7}},
			{TypeArray, []Array{{TypeBool, []bool{true}}, {TypeUint8, []uint8{}}}},
			{},
		}),
	}
}

// encodeValue is the canonical encoding of a value, used to compare values
// bit for bit (NaNs included) and type for type.
func encodeValue(t *testing.T, v Value) string {
	t.Helper()
	b, err := appendValue(nil, v, 0)
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%s:%x", v.Type, b)
}

func testTensors() ([]TensorSpec, [][]byte) {
	specs := []TensorSpec{
		{"token_embd.weight", []int64{256, 3}, quant.Q6_K},
		{"output_norm.weight", []int64{7}, quant.F32},
		{"empty", []int64{32, 0}, quant.Q8_0},
		{"blk.0.attn_q.weight", []int64{64, 5}, quant.Q8_0},
		{"scalar", nil, quant.F32},
		{"blk.0.ffn_up.weight", []int64{256, 2, 1, 2}, quant.Q4_K},
		{"half", []int64{3}, quant.F16},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	data := make([][]byte, len(specs))
	for i, s := range specs {
		n, err := s.Type.Bytes(s.Dims)
		if err != nil {
			panic(err)
		}
		data[i] = make([]byte, n)
		for j := range data[i] {
			data[i][j] = byte(rng.Uint32())
		}
	}
	return specs, data
}

func writeAll(t *testing.T, kv []KV, specs []TensorSpec, data [][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kv, specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		if err := w.WriteTensor(s.Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != w.Size() {
		t.Errorf("wrote %d bytes, Size() = %d", buf.Len(), w.Size())
	}
	return buf.Bytes()
}

func TestWriteRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 1, 32, 64, 4096} {
		t.Run(fmt.Sprintf("align=%d", align), func(t *testing.T) {
			kv := allValues()
			if align != 0 {
				kv = append([]KV{{"general.alignment", MustValue(align)}}, kv...)
			}
			specs, data := testTensors()
			b := writeAll(t, kv, specs, data)
			f, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if f.Version != Version {
				t.Errorf("version %d", f.Version)
			}
			wantAlign := DefaultAlignment
			if align != 0 {
				wantAlign = int(align)
			}
			if f.Alignment != wantAlign || f.DataOffset%int64(wantAlign) != 0 {
				t.Errorf("alignment %d, data offset %d; want alignment %d", f.Alignment, f.DataOffset, wantAlign)
			}
			if len(f.KV) != len(kv) {
				t.Fatalf("%d KV pairs, want %d", len(f.KV), len(kv))
			}
			for i, p := range kv {
				if f.KV[i].Key != p.Key || encodeValue(t, f.KV[i].Value) != encodeValue(t, p.Value) {
					t.Errorf("KV %d: got %s = %v, want %s = %v", i, f.KV[i].Key, f.KV[i].Value, p.Key, p.Value)
				}
			}
			var off uint64
			for i, s := range specs {
				ti := f.Tensors[i]
				if ti.Name != s.Name || ti.Type != s.Type || fmt.Sprint(ti.Dims) != fmt.Sprint(s.Dims) || len(ti.Dims) != len(s.Dims) {
					t.Errorf("tensor %d = %+v, want %+v", i, ti, s)
				}
				// llama.cpp requires offset = running sum of padded sizes.
				if ti.Offset != off {
					t.Errorf("tensor %q offset %d, want %d", s.Name, ti.Offset, off)
				}
				off += uint64(alignUp(ti.Size, int64(wantAlign)))
				d, err := f.TensorData(&ti)
				if err != nil || !bytes.Equal(d, data[i]) {
					t.Errorf("tensor %q data differs (%v)", s.Name, err)
				}
			}
			if f.DataOffset+int64(off) != int64(len(b)) {
				t.Errorf("file is %d bytes, want data offset %d + %d", len(b), f.DataOffset, off)
			}
			// Padding is zeros.
			for i := range f.Tensors {
				ti := &f.Tensors[i]
				end := f.DataOffset + int64(ti.Offset) + ti.Size
				for j := end; j < f.DataOffset+int64(ti.Offset)+alignUp(ti.Size, int64(wantAlign)); j++ {
					if b[j] != 0 {
						t.Fatalf("non-zero padding byte at %d", j)
					}
				}
			}
			// Re-encoding the parsed file gives the same bytes.
			var again bytes.Buffer
			if _, err := f.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), b) {
				t.Errorf("WriteTo of the parsed file differs (%v)", err)
			}
		})
	}
}

// TestWriteStreaming writes the data in odd chunks that straddle tensors;
// the result must equal the one-tensor-at-a-time output.
func TestWriteStreaming(t *testing.T) {
	specs, data := testTensors()
	want := writeAll(t, allValues(), specs, data)
	all := bytes.Join(data, nil)
	for _, chunk := range []int{1, 7, 100, 1000, len(all)} {
		var buf bytes.Buffer
		w, err := NewWriter(&buf, allValues(), specs)
		if err != nil {
			t.Fatal(err)
		}
		for p := all; len(p) > 0; {
			k := min(chunk, len(p))
			if n, err := w.Write(p[:k]); err != nil || n != k {
				t.Fatalf("chunk %d: Write = %d, %v", chunk, n, err)
			}
			p = p[k:]
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), want) {
			t.Errorf("chunk %d: output differs", chunk)
		}
	}

	// io.Copy and StartTensor work together; StartTensor accepts an empty
	// tensor by name and moves past it.
	var buf bytes.Buffer
	w, err := NewWriter(&buf, allValues(), specs)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		if err := w.StartTensor(s.Name); err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, bytes.NewReader(data[i])); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("io.Copy output differs (%v)", err)
	}
}

// TestWriteLayout checks the Writer's reported layout against the parser.
func TestWriteLayout(t *testing.T) {
	specs, data := testTensors()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, nil, specs)
	if err != nil {
		t.Fatal(err)
	}
	if int64(buf.Len()) != w.DataOffset() || w.Alignment() != 32 {
		t.Errorf("after NewWriter: %d bytes written, DataOffset %d", buf.Len(), w.DataOffset())
	}
	infos := w.Tensors()
	for i := range specs {
		if err := w.WriteTensor(specs[i].Name, data[i]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for i, ti := range infos {
		if got := f.Tensors[i]; got.Offset != ti.Offset || got.Size != ti.Size {
			t.Errorf("tensor %q: parsed offset/size %d/%d, writer said %d/%d", ti.Name, got.Offset, got.Size, ti.Offset, ti.Size)
		}
	}

	// No tensors: header, metadata and padding only, as llama.cpp writes.
	buf.Reset()
	w, err = NewWriter(&buf, []KV{{"k", MustValue("v")}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil || buf.Len() != 64 || w.Size() != 64 {
		t.Errorf("metadata-only file is %d bytes (%v), want 64", buf.Len(), err)
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) > f.after {
		n := f.after
		f.after = 0
		return n, errors.New("disk full")
	}
	f.after -= len(p)
	return len(p), nil
}

func TestWriteErrors(t *testing.T) {
	f32 := func(name string, n int64) TensorSpec { return TensorSpec{name, []int64{n}, quant.F32} }
	u32 := func(k string, v uint32) KV { return KV{k, MustValue(v)} }
	bad := []struct {
		name    string
		kv      []KV
		tensors []TensorSpec
		want    string
	}{
		{"empty key", []KV{u32("", 1)}, nil, "empty metadata key"},
		{"duplicate key", []KV{u32("a", 1), u32("a", 2)}, nil, `duplicate metadata key "a"`},
		{"alignment 0", []KV{u32("general.alignment", 0)}, nil, "general.alignment"},
		{"alignment 48", []KV{u32("general.alignment", 48)}, nil, "general.alignment"},
		{"alignment as u64", []KV{{"general.alignment", MustValue(uint64(32))}}, nil, "general.alignment"},
		{"zero Value", []KV{{"k", Value{}}}, nil, `metadata "k": value of type u8 holds a Go <nil>`},
		{"mismatched Value", []KV{{"k", Value{TypeUint32, int32(1)}}}, nil, "value of type u32 holds a Go int32"},
		{"unknown value type", []KV{{"k", Value{13, uint8(1)}}}, nil, "unknown value type 13"},
		{"mismatched array", []KV{{"k", MustValue(Array{TypeInt32, []uint32{1}})}}, nil, "array of i32 holds a Go []uint32"},
		{"array of unknown type", []KV{{"k", MustValue(Array{99, nil})}}, nil, "unknown element type 99"},
		{"bad nested array", []KV{{"k", MustValue([]Array{{TypeString, []int8{1}}})}}, nil, "element 0: array of string"},
		{"arrays nested 9 deep", []KV{{"k", deepArray(9)}}, nil, "nested deeper than 8"},
		{"duplicate tensor", nil, []TensorSpec{f32("t", 1), f32("t", 2)}, `duplicate tensor name "t"`},
		{"tensor name of 64 bytes", nil, []TensorSpec{f32(strings.Repeat("n", 64), 1)}, "exceeds 63"},
		{"5 dimensions", nil, []TensorSpec{{"t", []int64{1, 1, 1, 1, 1}, quant.F32}}, "5 dimensions"},
		{"negative dimension", nil, []TensorSpec{f32("t", -1)}, "invalid size -1"},
		{"unknown type", nil, []TensorSpec{{"t", []int64{1}, 5}}, "unknown ggml tensor type 5"},
		{"partial block", nil, []TensorSpec{{"t", []int64{100}, quant.Q4_K}}, "block size"},
		{"data over 2^63", nil, []TensorSpec{{"a", []int64{1 << 40, 1 << 20}, quant.F32}, {"b", []int64{1 << 40, 1 << 20}, quant.F32}, {"c", []int64{1 << 40, 1 << 20}, quant.F32}}, "exceeds 2^63"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			_, err := NewWriter(&buf, c.kv, c.tensors)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
			if buf.Len() != 0 {
				t.Errorf("%d bytes written before the error", buf.Len())
			}
		})
	}
	if _, err := NewWriter(io.Discard, []KV{{"k", deepArray(8)}}, nil); err != nil {
		t.Errorf("arrays nested 8 deep: %v", err)
	}

	specs := []TensorSpec{f32("a", 4), f32("b", 2)}
	newW := func() *Writer {
		w, err := NewWriter(io.Discard, nil, specs)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	w := newW()
	if err := w.WriteTensor("b", make([]byte, 8)); err == nil || !strings.Contains(err.Error(), `"a" comes next`) {
		t.Errorf("out of order: %v", err)
	}
	if err := w.WriteTensor("a", make([]byte, 15)); err == nil || !strings.Contains(err.Error(), "got 15 bytes, want 16") {
		t.Errorf("short tensor: %v", err)
	}
	if _, err := w.Write(make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	if err := w.StartTensor("a"); err == nil || !strings.Contains(err.Error(), "3 of 16 bytes already written") {
		t.Errorf("restart: %v", err)
	}
	if err := w.Close(); err == nil || !strings.Contains(err.Error(), `tensor "a" has 3 of 16 bytes, and 1 more tensors follow`) {
		t.Errorf("incomplete Close: %v", err)
	}
	if n, err := w.Write(make([]byte, 13+8+5)); err == nil || n != 21 {
		t.Errorf("overlong Write = %d, %v", n, err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("Close after all data: %v", err)
	}
	if err := w.WriteTensor("a", nil); err == nil {
		t.Error("WriteTensor after the end succeeded")
	}

	// Errors from the underlying writer are returned and stick.
	for _, after := range []int{0, 100, 197, 220} {
		fw := &failWriter{after: after}
		w, err := NewWriter(fw, []KV{{"k", MustValue(strings.Repeat("x", 60))}}, specs)
		if err != nil {
			if !strings.Contains(err.Error(), "disk full") {
				t.Errorf("after %d: %v", after, err)
			}
			continue
		}
		err1 := w.WriteTensor("a", make([]byte, 16))
		err2 := w.WriteTensor("b", make([]byte, 8))
		if err1 == nil && err2 == nil {
			t.Errorf("after %d: no error", after)
		}
		if err := w.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Errorf("after %d: Close = %v", after, err)
		}
	}
}

func deepArray(depth int) Value {
	a := Array{TypeUint8, []uint8{1}}
	for range depth - 1 {
		a = Array{TypeArray, []Array{a}}
	}
	return MustValue(a)
}

// TestFixturesRoundTrip re-writes every fixture from its parsed File and
// requires the exact original bytes.
func TestFixturesRoundTrip(t *testing.T) {
	dir := testutil.FixturesDir()
	if dir == "" {
		testutil.Fixture(t, "tiny-smollm3") // skips, or fails under CI
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*", "*.gguf"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.gguf"))
	paths = append(paths, more...)
	if len(paths) == 0 {
		t.Fatalf("no .gguf fixtures under %s", dir)
	}
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		t.Run(rel, func(t *testing.T) {
			f, err := Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			want := sha256.Sum256(f.Raw())
			h := sha256.New()
			n, err := f.WriteTo(h)
			if err != nil {
				t.Fatal(err)
			}
			if n != f.Size || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("re-written file: %d bytes, sha256 %x; original %d bytes, sha256 %x", n, h.Sum(nil), f.Size, want)
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	src := testutil.Fixture(t, "tiny-llama", "q4_k_m.gguf")
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "copy.gguf")
	if err := os.WriteFile(path, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite the very file f maps: the rename keeps f's view intact.
	if err := WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(orig) {
		t.Error("WriteFile output differs from the original")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.gguf"), f); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestVocabOnlyWithoutPadding(t *testing.T) {
	// convert_hf_to_gguf.py --vocab-only ends the file right after the
	// metadata; such a file must parse and round-trip unchanged.
	b := new(enc).header(3, 0, 1).str("k").typ(TypeString).str("abc").b
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := f.WriteTo(&out); err != nil || !bytes.Equal(out.Bytes(), b) {
		t.Errorf("round trip: %x (%v), want %x", out.Bytes(), err, b)
	}
}
