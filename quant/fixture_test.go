package quant_test

import (
	"encoding/binary"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/testutil"
	"github.com/smolbot/smolbot/quant"
)

// ulpDiff is the distance between a and b in float32 units in the last
// place (0 for equal values, including +0/−0).
func ulpDiff(a, b float32) int64 {
	key := func(f float32) int64 {
		i := int64(int32(math.Float32bits(f)))
		if i < 0 {
			i = math.MinInt32 - i // map negatives below zero, monotonically
		}
		return i
	}
	d := key(a) - key(b)
	if d < 0 {
		d = -d
	}
	return d
}

// openGGUF opens a fixture file for the duration of the test.
func openGGUF(t *testing.T, rel ...string) *gguf.File {
	t.Helper()
	f, err := gguf.Open(testutil.Fixture(t, rel...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// tensorRows returns the tensor's type, row length and data.
func tensorRows(t *testing.T, f *gguf.File, name string) (quant.Type, int, int, []byte) {
	t.Helper()
	ti, ok := f.Tensor(name)
	if !ok {
		t.Fatalf("tensor %s not found", name)
	}
	data, err := f.TensorData(ti)
	if err != nil {
		t.Fatal(err)
	}
	ne0 := int(ti.Dims[0])
	return ti.Type, ne0, int(ti.Elements()) / ne0, data
}

// dequantizeTensor decodes a whole tensor row by row through DequantizeRow.
func dequantizeTensor(t *testing.T, typ quant.Type, ne0, rows int, data []byte) []float32 {
	t.Helper()
	rb, err := typ.RowBytes(int64(ne0))
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != rb*int64(rows) {
		t.Fatalf("%v tensor: %d bytes for %d rows of %d", typ, len(data), rows, ne0)
	}
	out := make([]float32, ne0*rows)
	for r := range rows {
		if err := quant.DequantizeRow(typ, data[int64(r)*rb:int64(r+1)*rb], out[r*ne0:(r+1)*ne0]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestFixtureDequantize compares DequantizeRow with gguf-py's numpy
// dequantization of tensors from llama-quantize's files
// (fixtures/*/dequant/FILE/NAME.TYPE.f32).
func TestFixtureDequantize(t *testing.T) {
	root := testutil.Fixture(t)
	files, err := filepath.Glob(filepath.Join(root, "*", "dequant", "*", "*.f32"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dequant fixtures under %s (%v)", root, err)
	}
	maxULP := map[quant.Type]int64{}
	for _, path := range files {
		rel, _ := filepath.Rel(root, path)
		parts := strings.Split(filepath.ToSlash(rel), "/") // model, "dequant", file, NAME.TYPE.f32
		base := strings.TrimSuffix(parts[3], ".f32")
		dot := strings.LastIndexByte(base, '.')
		name, typeName := base[:dot], base[dot+1:]
		t.Run(rel, func(t *testing.T) {
			f := openGGUF(t, parts[0], parts[2]+".gguf")
			typ, ne0, rows, data := tensorRows(t, f, name)
			if typ.String() != typeName {
				t.Fatalf("tensor %s is %v in the file, fixture says %s", name, typ, typeName)
			}
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != 4*ne0*rows {
				t.Fatalf("fixture has %d floats, tensor %d", len(raw)/4, ne0*rows)
			}
			got := dequantizeTensor(t, typ, ne0, rows, data)
			var worst int64
			for i, g := range got {
				want := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
				d := ulpDiff(g, want)
				if d > 1 {
					t.Fatalf("element %d: got %g, want %g (%d ulp)", i, g, want, d)
				}
				worst = max(worst, d)
			}
			maxULP[typ] = max(maxULP[typ], worst)
		})
	}
	for _, typ := range slices.Sorted(maps.Keys(maxULP)) {
		t.Logf("dequantize %-5v max ulp vs gguf-py: %d", typ, maxULP[typ])
	}
}

type quantStats struct {
	blocks, same  int
	seOurs, seRef float64 // summed squared errors against the f32 source
	n             int
}

// TestFixtureQuantize re-quantizes every quantized tensor of the fixture
// files from f32.gguf with QuantizeRow, and compares the bytes with
// llama-quantize's: identical for the float types, Q4_0 and Q8_0; at least
// 99% identical blocks for the K-quants, whose searches are sensitive to the
// last float bit, with a round-trip RMSE no worse than llama-quantize's.
func TestFixtureQuantize(t *testing.T) {
	stats := map[string]*quantStats{} // by type
	for _, model := range []string{"tiny-smollm3", "tiny-llama"} {
		dir := testutil.Fixture(t, model)
		src := openGGUF(t, model, "f32.gguf")
		files, _ := filepath.Glob(filepath.Join(dir, "*.gguf"))
		for _, path := range files {
			file := filepath.Base(path)
			if file == "f32.gguf" {
				continue
			}
			f := openGGUF(t, model, file)
			for _, ti := range f.Tensors {
				if ti.Type == quant.F32 {
					continue
				}
				name := model + "/" + file + "/" + ti.Name
				typ, ne0, rows, ref := tensorRows(t, f, ti.Name)
				styp, sne0, srows, sdata := tensorRows(t, src, ti.Name)
				if styp != quant.F32 || sne0 != ne0 || srows != rows {
					t.Fatalf("%s: source is %v %dx%d, quantized %dx%d", name, styp, sne0, srows, ne0, rows)
				}
				x := dequantizeTensor(t, quant.F32, ne0, rows, sdata)
				rb, _ := typ.RowBytes(int64(ne0))
				ours := make([]byte, len(ref))
				for r := range rows {
					if err := quant.QuantizeRow(typ, x[r*ne0:(r+1)*ne0], ours[int64(r)*rb:int64(r+1)*rb]); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
				}
				st := stats[typ.String()]
				if st == nil {
					st = &quantStats{}
					stats[typ.String()] = st
				}
				bs := typ.TypeSize()
				same := 0
				for o := 0; o < len(ref); o += bs {
					if string(ref[o:o+bs]) == string(ours[o:o+bs]) {
						same++
					}
				}
				st.blocks += len(ref) / bs
				st.same += same
				yOurs := dequantizeTensor(t, typ, ne0, rows, ours)
				yRef := dequantizeTensor(t, typ, ne0, rows, ref)
				var seOurs, seRef float64
				for i, v := range x {
					seOurs += sq(float64(yOurs[i]) - float64(v))
					seRef += sq(float64(yRef[i]) - float64(v))
				}
				st.seOurs += seOurs
				st.seRef += seRef
				st.n += len(x)
				exact := typ == quant.F16 || typ == quant.BF16 || typ == quant.Q4_0 || typ == quant.Q8_0
				if exact && same != len(ref)/bs {
					t.Errorf("%s (%v): %d of %d blocks differ from llama-quantize", name, typ, len(ref)/bs-same, len(ref)/bs)
				}
				if math.Sqrt(seOurs) > math.Sqrt(seRef)*(1+1e-6) {
					t.Errorf("%s (%v): round-trip RMSE %g worse than llama-quantize's %g", name, typ,
						math.Sqrt(seOurs/float64(len(x))), math.Sqrt(seRef/float64(len(x))))
				}
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(stats)) {
		st := stats[k]
		pct := 100 * float64(st.same) / float64(st.blocks)
		t.Logf("quantize %-5s %7d blocks, %.4f%% identical; RMSE ours %.6g, llama-quantize %.6g",
			k, st.blocks, pct, math.Sqrt(st.seOurs/float64(st.n)), math.Sqrt(st.seRef/float64(st.n)))
		if pct < 99 {
			t.Errorf("%s: only %.3f%% of blocks identical to llama-quantize (want ≥ 99%%)", k, pct)
		}
	}
	if len(stats) == 0 {
		t.Fatal("no quantized tensors found")
	}
}

func sq(v float64) float64 { return v * v }
