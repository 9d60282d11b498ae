package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func sample() []WriteTensor {
	f32 := make([]byte, 2*3*4)
	for i := range f32 {
		f32[i] = byte(i)
	}
	return []WriteTensor{
		{Name: "a.weight", DType: F32, Shape: []int64{2, 3}, Data: f32},
		{Name: "b.bias", DType: BF16, Shape: []int64{3}, Data: []byte{1, 2, 3, 4, 5, 6}},
		{Name: "scalar", DType: F16, Shape: nil, Data: []byte{9, 8}},
	}
}

func encode(t *testing.T, ts []WriteTensor, meta map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, ts, meta); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	ts := sample()
	b := encode(t, ts, map[string]string{"format": "pt"})
	if (binary.LittleEndian.Uint64(b)+8)%8 != 0 {
		t.Errorf("header not padded to 8 bytes")
	}
	f, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata = %v", f.Metadata)
	}
	if len(f.Tensors) != len(ts) {
		t.Fatalf("%d tensors, want %d", len(f.Tensors), len(ts))
	}
	for i, w := range ts {
		got := f.Tensors[i] // data order = write order
		if got.Name != w.Name || got.DType != w.DType || len(got.Shape) != len(w.Shape) {
			t.Errorf("tensor %d = %+v, want %s %s %v", i, got, w.Name, w.DType, w.Shape)
		}
		d, err := f.Data(&got)
		if err != nil || !bytes.Equal(d, w.Data) {
			t.Errorf("%s data = %v, %v; want %v", w.Name, d, err, w.Data)
		}
		if tt, ok := f.Tensor(w.Name); !ok || tt.Elements() != max(1, int64(len(w.Data)/w.DType.Size())) {
			t.Errorf("Tensor(%q) = %+v, %v", w.Name, tt, ok)
		}
	}
	if typ, ok := BF16.GGML(); !ok || typ.String() != "BF16" {
		t.Errorf("BF16.GGML() = %v, %v", typ, ok)
	}
	if _, ok := I64.GGML(); ok {
		t.Errorf("I64 maps to a ggml type")
	}
}

func TestOpenFileMapped(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.safetensors")
	if err := os.WriteFile(p, encode(t, sample(), nil), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	tt, _ := f.Tensor("b.bias")
	d, err := f.Data(tt)
	if err != nil || !bytes.Equal(d, []byte{1, 2, 3, 4, 5, 6}) {
		t.Fatalf("data = %v, %v", d, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Data(tt); err == nil {
		t.Errorf("Data after Close succeeded")
	}
}

// header builds a file from a raw JSON header and n data bytes.
func header(js string, n int) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
	b = append(b, js...)
	return append(b, make([]byte, n)...)
}

func TestCorrupt(t *testing.T) {
	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<40)
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"short length", []byte{1, 2, 3}, "too short"},
		{"huge header", append(hugeLen, '{', '}'), "limit"},
		{"truncated header", header(`{"a":{}}`, 0)[:12], "truncated"},
		{"not json", header(`{oops`, 0), "bad JSON"},
		{"not object", header(`[1,2]`, 0), "does not start"},
		{"trailing garbage", header(`{} x`, 0), "unexpected bytes"},
		{"unknown dtype", header(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, 1), "unknown dtype"},
		{"negative dim", header(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1), "negative"},
		{"overflow", header(`{"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,1]}}`, 1), "overflows"},
		{"size mismatch", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 8), "needs 8"},
		{"beyond data", header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 4), "outside"},
		{"reversed offsets", header(`{"a":{"dtype":"U8","shape":[0],"data_offsets":[4,0]}}`, 4), "outside"},
		{"one offset", header(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0]}}`, 4), "want [begin, end]"},
		{"overlap", header(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, 4), "overlaps"},
		{"bad metadata", header(`{"__metadata__":{"x":1}}`, 0), "__metadata__"},
		{"bad entry", header(`{"a":3}`, 0), "bad entry"},
		{"too many dims", header(`{"a":{"dtype":"U8","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,1]}}`, 1), "dimensions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.b)
			if err == nil {
				t.Fatalf("no error")
			}
			if !errors.Is(err, ErrFormat) {
				t.Errorf("error %v does not wrap ErrFormat", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not mention %q", err, c.want)
			}
		})
	}
}

func writeFile(t *testing.T, p string, ts []WriteTensor) {
	t.Helper()
	if err := os.WriteFile(p, encode(t, ts, nil), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeIndex(t *testing.T, dir string, wm map[string]string) {
	t.Helper()
	js, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 1}, "weight_map": wm})
	if err := os.WriteFile(filepath.Join(dir, IndexFile), js, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenDirSharded(t *testing.T) {
	dir := t.TempDir()
	ts := sample()
	writeFile(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), ts[:2])
	writeFile(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), ts[2:])
	writeIndex(t, dir, map[string]string{
		"a.weight": "model-00001-of-00002.safetensors",
		"b.bias":   "model-00001-of-00002.safetensors",
		"scalar":   "model-00002-of-00002.safetensors",
	})
	s, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if strings.Join(s.Names, ",") != "a.weight,b.bias,scalar" {
		t.Errorf("names = %v", s.Names)
	}
	d, err := s.Data("scalar")
	if err != nil || !bytes.Equal(d, []byte{9, 8}) {
		t.Errorf("scalar = %v, %v", d, err)
	}
	if _, err := s.Data("nope"); err == nil {
		t.Errorf("missing tensor gave no error")
	}
}

func TestOpenDirErrors(t *testing.T) {
	ts := sample()
	t.Run("empty dir", func(t *testing.T) {
		if _, err := OpenDir(t.TempDir()); err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("escaping shard", func(t *testing.T) {
		dir := t.TempDir()
		writeIndex(t, dir, map[string]string{"a.weight": "../x.safetensors"})
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "bad shard") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("index lies", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "s1.safetensors"), ts[:1])
		writeFile(t, filepath.Join(dir, "s2.safetensors"), ts[1:])
		writeIndex(t, dir, map[string]string{"a.weight": "s2.safetensors", "b.bias": "s2.safetensors"})
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "does not hold") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("duplicate tensor", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.safetensors"), ts[:1])
		writeFile(t, filepath.Join(dir, "b.safetensors"), ts[:1])
		if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), "in both") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("glob", func(t *testing.T) {
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "a.safetensors"), ts[:1])
		writeFile(t, filepath.Join(dir, "b.safetensors"), ts[1:])
		s, err := OpenDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	})
}

func FuzzSafetensorsHeader(f *testing.F) {
	var buf bytes.Buffer
	_ = Write(&buf, sample(), map[string]string{"format": "pt"})
	f.Add(buf.Bytes())
	f.Add(header(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Add(header(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, 4))
	f.Add(header(`{"__metadata__":{"x":"y"}}`, 0))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		for i := range sf.Tensors {
			tt := &sf.Tensors[i]
			d, err := sf.Data(tt)
			if err != nil {
				t.Fatalf("valid file, tensor %q: %v", tt.Name, err)
			}
			if int64(len(d)) != tt.Elements()*int64(tt.DType.Size()) {
				t.Fatalf("tensor %q: %d bytes for %d elements", tt.Name, len(d), tt.Elements())
			}
		}
	})
}
