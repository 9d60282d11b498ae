package gguf

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/smolbot/smolbot/internal/testutil"
)

// FuzzOpenGGUF parses arbitrary bytes. Every failure must be a format error
// (never a panic or a huge allocation); every success must give tensor views
// inside the input and values that can all be read, and must survive a
// write/parse round trip unchanged.
//
// Seeds: the hand-made valid and corrupt files of reader_test.go and, when
// the fixtures are present, miniatures of real files (every key with arrays
// cut to a few elements, a few tensors cut to one block row). Seeds stay
// under a few KB on purpose: the fuzzer minimizes each new interesting
// input for up to a minute, in time that grows with its size, and inputs
// derived from a 14 KB real header stalled it there.
func FuzzOpenGGUF(f *testing.F) {
	b, _ := smallValid()
	f.Add(b)
	for _, c := range corruptCases() {
		f.Add(c.b)
	}
	if dir := testutil.FixturesDir(); dir != "" {
		for _, rel := range []string{"stories260K/model.gguf", "tiny-smollm3/q4_k_m.gguf", "tiny-llama/q8_0.gguf", "tokenizer/smollm3-vocab.gguf"} {
			if g, err := Open(filepath.Join(dir, rel)); err == nil {
				f.Add(miniature(f, g))
				g.Close()
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := Parse(data)
		if err != nil {
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v (%T) is not a *FormatError", err, err)
			}
			if fe.Offset < 0 || fe.Offset > int64(len(data)) {
				t.Fatalf("error offset %d outside the %d-byte input", fe.Offset, len(data))
			}
			return
		}
		touch(t, g, data)

		var out bytes.Buffer
		if _, err := g.WriteTo(&out); err != nil {
			t.Fatalf("WriteTo of a parsed file: %v", err)
		}
		h, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("re-parsing the written file: %v", err)
		}
		if len(h.KV) != len(g.KV) || len(h.Tensors) != len(g.Tensors) {
			t.Fatalf("round trip: %d KV, %d tensors; want %d, %d", len(h.KV), len(h.Tensors), len(g.KV), len(g.Tensors))
		}
		for i := range g.KV {
			if h.KV[i].Key != g.KV[i].Key || encodeValue(t, h.KV[i].Value) != encodeValue(t, g.KV[i].Value) {
				t.Fatalf("round trip changed KV %d (%q)", i, g.KV[i].Key)
			}
		}
		for i := range g.Tensors {
			a, b := &g.Tensors[i], &h.Tensors[i]
			da, _ := g.TensorData(a)
			db, _ := h.TensorData(b)
			if a.Name != b.Name || a.Type != b.Type || a.Size != b.Size || !bytes.Equal(da, db) {
				t.Fatalf("round trip changed tensor %q", a.Name)
			}
		}
		// The written form is canonical: writing it again changes nothing.
		var again bytes.Buffer
		if _, err := h.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) {
			t.Fatalf("second WriteTo differs (%v)", err)
		}
	})
}

// touch reads every value and every tensor byte of a parsed file.
func touch(t *testing.T, g *File, data []byte) {
	for _, p := range g.KV {
		_ = p.Value.String()
		touchValue(p.Value)
		if !g.Has(p.Key) {
			t.Fatalf("Has(%q) = false", p.Key)
		}
		g.String(p.Key, "")
		g.Uint(p.Key, 0)
		g.Int(p.Key, 0)
		g.Float(p.Key, 0)
		g.Float32(p.Key, 0)
		g.Bool(p.Key, false)
		g.Strings(p.Key)
		g.Int32s(p.Key)
		g.Float32s(p.Key)
		g.PerLayer(p.Key, 4, 0)
	}
	for i := range g.Tensors {
		ti := &g.Tensors[i]
		if got, ok := g.Tensor(ti.Name); !ok || got != ti {
			t.Fatalf("Tensor(%q) lookup failed", ti.Name)
		}
		d, err := g.TensorData(ti)
		if err != nil {
			t.Fatalf("TensorData(%q): %v", ti.Name, err)
		}
		if int64(len(d)) != ti.Size {
			t.Fatalf("tensor %q: %d bytes, want %d", ti.Name, len(d), ti.Size)
		}
		var sum byte
		for _, x := range d {
			sum += x
		}
		_ = sum
		if ti.Elements() < 0 {
			t.Fatalf("tensor %q: %d elements", ti.Name, ti.Elements())
		}
	}
	if g.DataOffset%int64(g.Alignment) != 0 || (len(g.Tensors) > 0 && g.DataOffset > int64(len(data))) {
		t.Fatalf("data offset %d (alignment %d, %d bytes)", g.DataOffset, g.Alignment, len(data))
	}
}

func touchValue(v Value) {
	a, ok := v.Array()
	if !ok {
		v.AsInt()
		v.AsFloat()
		v.AsBool()
		v.AsString()
		return
	}
	for i := range a.Len() {
		touchValue(a.At(i))
	}
}

// miniature re-writes g with every array cut to 3 elements, every string to
// 24 bytes and only its first 3 tensors, each cut to one block row.
func miniature(tb testing.TB, g *File) []byte {
	kvs := make([]KV, len(g.KV))
	for i, p := range g.KV {
		kvs[i] = KV{p.Key, shrinkValue(p.Value)}
	}
	var specs []TensorSpec
	var data [][]byte
	for _, t := range g.Tensors[:min(3, len(g.Tensors))] {
		dims := make([]int64, len(t.Dims))
		for j := range dims {
			dims[j] = 1
		}
		if len(dims) > 0 {
			dims[0] = int64(t.Type.BlockSize())
		}
		specs = append(specs, TensorSpec{t.Name, dims, t.Type})
		src, _ := g.TensorData(&t)
		n, _ := t.Type.Bytes(dims)
		data = append(data, src[:n])
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kvs, specs)
	if err != nil {
		tb.Fatal(err)
	}
	for i, s := range specs {
		if err := w.WriteTensor(s.Name, data[i]); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func shrinkValue(v Value) Value {
	if s, ok := v.AsString(); ok {
		return Value{TypeString, s[:min(len(s), 24)]}
	}
	a, ok := v.Array()
	if !ok {
		return v
	}
	rv := reflect.ValueOf(a.data)
	a.data = rv.Slice(0, min(rv.Len(), 3)).Interface()
	if ss, ok := a.data.([]string); ok {
		short := make([]string, len(ss))
		for i, s := range ss {
			short[i] = s[:min(len(s), 24)]
		}
		a.data = short
	}
	return Value{TypeArray, a}
}
