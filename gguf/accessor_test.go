package gguf

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/smolbot/smolbot/internal/testutil"
)

// metaFile writes kv with no tensors and parses it back, so accessors are
// tested on values as the reader produces them.
func metaFile(t *testing.T, kv ...KV) *File {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewWriter(&buf, kv, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func kv(k string, v any) KV { return KV{k, MustValue(v)} }

func TestGettersDefaults(t *testing.T) {
	f := metaFile(t,
		kv("s", "smollm3"),
		kv("u32", uint32(36)),
		kv("f32", float32(5e6)),
		kv("b", true),
		kv("arr", []string{"a"}),
	)
	if !f.Has("s") || f.Has("missing") || f.Has("") {
		t.Error("Has")
	}
	if _, ok := f.Get("missing"); ok {
		t.Error("Get(missing) ok")
	}
	if v, ok := f.Get("u32"); !ok || v.Type != TypeUint32 || v.Any() != uint32(36) {
		t.Errorf("Get(u32) = %v %v", v, ok)
	}
	// Absent keys and keys of the wrong kind give the default.
	for _, key := range []string{"missing", "s", "arr"} {
		if got := f.Uint(key, 7); got != 7 {
			t.Errorf("Uint(%q) = %d", key, got)
		}
		if got := f.Int(key, -7); got != -7 {
			t.Errorf("Int(%q) = %d", key, got)
		}
		if got := f.Float(key, 0.5); got != 0.5 {
			t.Errorf("Float(%q) = %v", key, got)
		}
		if got := f.Float32(key, 0.25); got != 0.25 {
			t.Errorf("Float32(%q) = %v", key, got)
		}
		if got := f.Bool(key, true); !got {
			t.Errorf("Bool(%q) = %v", key, got)
		}
	}
	if got := f.String("u32", "def"); got != "def" {
		t.Errorf("String(u32) = %q", got)
	}
	if got := f.String("missing", "def"); got != "def" {
		t.Errorf("String(missing) = %q", got)
	}
	if got := f.String("s", "def"); got != "smollm3" {
		t.Errorf("String(s) = %q", got)
	}
	if got := f.Bool("b", false); !got {
		t.Error("Bool(b) = false")
	}
	if got := f.Bool("u32", false); got {
		t.Error("Bool of an integer converted it")
	}
	// Integers read as floats, floats never as integers.
	if got := f.Float("u32", 0); got != 36 {
		t.Errorf("Float(u32) = %v", got)
	}
	if got := f.Int("f32", -1); got != -1 {
		t.Errorf("Int(f32) = %d", got)
	}
	if _, ok := f.Strings("s"); ok {
		t.Error("Strings of a string scalar")
	}
	if _, ok := f.Int32s("arr"); ok {
		t.Error("Int32s of a string array")
	}
	if _, ok := f.Float32s("missing"); ok {
		t.Error("Float32s of a missing key")
	}
}

func TestIntegerWidths(t *testing.T) {
	f := metaFile(t,
		kv("u8", uint8(200)),
		kv("i8", int8(-100)),
		kv("u16", uint16(60000)),
		kv("i16", int16(-30000)),
		kv("u32", uint32(4000000000)),
		kv("i32", int32(-2000000000)),
		kv("u64", uint64(math.MaxUint64)),
		kv("u64.small", uint64(65536)),
		kv("i64", int64(math.MinInt64)),
		kv("i64.pos", int64(1)<<40),
	)
	ints := map[string]int64{
		"u8": 200, "i8": -100, "u16": 60000, "i16": -30000, "u32": 4000000000,
		"i32": -2000000000, "u64.small": 65536, "i64": math.MinInt64, "i64.pos": 1 << 40,
	}
	for k, want := range ints {
		if got := f.Int(k, 0); got != want {
			t.Errorf("Int(%s) = %d, want %d", k, got, want)
		}
		wantU, wantF := uint64(99), float64(want)
		if want >= 0 {
			wantU = uint64(want)
		}
		if got := f.Uint(k, 99); got != wantU {
			t.Errorf("Uint(%s) = %d, want %d", k, got, wantU)
		}
		if got := f.Float(k, 0); got != wantF {
			t.Errorf("Float(%s) = %v, want %v", k, got, wantF)
		}
	}
	// A u64 above MaxInt64 is a valid Uint but not an Int.
	if got := f.Uint("u64", 0); got != math.MaxUint64 {
		t.Errorf("Uint(u64) = %d", got)
	}
	if got := f.Int("u64", -1); got != -1 {
		t.Errorf("Int(u64 max) = %d, want the default", got)
	}
}

func TestArrays(t *testing.T) {
	f := metaFile(t,
		kv("toks", []string{"<s>", "a", ""}),
		kv("i32", []int32{1, -2, math.MaxInt32}),
		kv("u8", []uint8{0, 255}),
		kv("i64", []int64{math.MinInt32, math.MaxInt32}),
		kv("i64.big", []int64{1 << 31}),
		kv("u32.big", []uint32{math.MaxUint32}),
		kv("f32", []float32{0.5, -1}),
		kv("f64", []float64{0.1}),
		kv("i16", []int16{-3}),
		kv("mixed", []Array{{TypeInt32, []int32{1}}}),
	)
	if s, ok := f.Strings("toks"); !ok || !slices.Equal(s, []string{"<s>", "a", ""}) {
		t.Errorf("Strings = %q %v", s, ok)
	}
	for key, want := range map[string][]int32{
		"i32": {1, -2, math.MaxInt32},
		"u8":  {0, 255},
		"i64": {math.MinInt32, math.MaxInt32},
		"i16": {-3},
	} {
		if got, ok := f.Int32s(key); !ok || !slices.Equal(got, want) {
			t.Errorf("Int32s(%s) = %v %v, want %v", key, got, ok, want)
		}
	}
	for _, key := range []string{"i64.big", "u32.big", "f32", "toks", "mixed"} {
		if got, ok := f.Int32s(key); ok {
			t.Errorf("Int32s(%s) = %v, want failure", key, got)
		}
	}
	if got, ok := f.Float32s("f32"); !ok || !slices.Equal(got, []float32{0.5, -1}) {
		t.Errorf("Float32s(f32) = %v %v", got, ok)
	}
	if got, ok := f.Float32s("f64"); !ok || got[0] != float32(0.1) {
		t.Errorf("Float32s(f64) = %v %v", got, ok)
	}
	if got, ok := f.Float32s("i16"); !ok || got[0] != -3 {
		t.Errorf("Float32s(i16) = %v %v", got, ok)
	}
	if _, ok := f.Float32s("toks"); ok {
		t.Error("Float32s of strings")
	}
	v, _ := f.Get("i32")
	a, _ := v.Array()
	if a.Len() != 3 || a.Elem != TypeInt32 || a.At(1).Type != TypeInt32 {
		t.Errorf("Array = %v", a)
	}
	if d, ok := a.Data().([]int32); !ok || d[2] != math.MaxInt32 {
		t.Errorf("Data() = %v", a.Data())
	}
	if s := v.String(); s != "[i32 × 3] [1, -2, 2147483647]" {
		t.Errorf("String() = %q", s)
	}
}

func TestPerLayer(t *testing.T) {
	f := metaFile(t,
		kv("scalar", uint32(16)),
		kv("arr", []uint32{16, 16, 8, 0}),
		kv("arr.i32", []int32{4, 4, 2, 2}),
		kv("short", []uint32{1, 2}),
		kv("neg", []int32{1, -1, 1, 1}),
		kv("neg.scalar", int32(-4)),
		kv("str", "x"),
		kv("strs", []string{"a", "b", "c", "d"}),
	)
	for key, want := range map[string][]int64{
		"scalar":  {16, 16, 16, 16},
		"arr":     {16, 16, 8, 0},
		"arr.i32": {4, 4, 2, 2},
		"missing": {9, 9, 9, 9},
	} {
		got, err := f.PerLayer(key, 4, 9)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("PerLayer(%s) = %v, %v; want %v", key, got, err, want)
		}
	}
	for _, key := range []string{"short", "neg", "neg.scalar", "str", "strs"} {
		if got, err := f.PerLayer(key, 4, 9); err == nil {
			t.Errorf("PerLayer(%s) = %v, want an error", key, got)
		}
	}
	if got, err := f.PerLayer("scalar", 0, 1); err != nil || len(got) != 0 {
		t.Errorf("0 layers: %v %v", got, err)
	}
	if _, err := f.PerLayer("scalar", -1, 1); err == nil {
		t.Error("negative layer count accepted")
	}
}

// TestFloat32BitExact checks that f32 values survive write, read and the
// accessors with every bit intact: the RMS epsilon 1e-6 is f32 0x358637BD,
// and a model computing with the nearest float64 instead would differ.
func TestFloat32BitExact(t *testing.T) {
	bits := []uint32{0x358637BD, 0x4A989680, 0x7FC00001, 0xFFC12345, 0x80000000, 0x00000001, 0x7F7FFFFF, 0x7F800000}
	kvs := make([]KV, 0, len(bits)+1)
	arr := make([]float32, len(bits))
	for i, b := range bits {
		arr[i] = math.Float32frombits(b)
		kvs = append(kvs, kv(string(rune('a'+i)), arr[i]))
	}
	kvs = append(kvs, kv("arr", arr))
	f := metaFile(t, kvs...)
	for i, b := range bits {
		key := string(rune('a' + i))
		if got := math.Float32bits(f.Float32(key, 0)); got != b {
			t.Errorf("Float32(%s) bits %#08x, want %#08x", key, got, b)
		}
		// Widening to float64 is exact, so narrowing it back is too.
		if got := math.Float32bits(float32(f.Float(key, 0))); got != b && b&0x7F800000 != 0x7F800000 {
			t.Errorf("Float(%s) bits %#08x, want %#08x", key, got, b)
		}
	}
	got, ok := f.Float32s("arr")
	if !ok {
		t.Fatal("Float32s failed")
	}
	for i, b := range bits {
		if math.Float32bits(got[i]) != b {
			t.Errorf("Float32s[%d] bits %#08x, want %#08x", i, math.Float32bits(got[i]), b)
		}
	}
	// A float64 value reads as the nearest float32.
	f = metaFile(t, kv("f64", 1e-6))
	if got := f.Float32("f64", 0); math.Float32bits(got) != 0x358637BD {
		t.Errorf("Float32(f64 1e-6) bits %#08x", math.Float32bits(got))
	}
}

func TestNoPELayers(t *testing.T) {
	if got := NoPELayers("smollm3", 36); !slices.Equal(got, []int{3, 7, 11, 15, 19, 23, 27, 31, 35}) {
		t.Errorf("smollm3 36 layers: %v", got)
	}
	if got := NoPELayers("smollm3", 8); !slices.Equal(got, []int{3, 7}) {
		t.Errorf("smollm3 8 layers: %v", got)
	}
	if got := NoPELayers("smollm3", 3); got != nil {
		t.Errorf("smollm3 3 layers: %v", got)
	}
	if got := NoPELayers("llama", 36); got != nil {
		t.Errorf("llama: %v", got)
	}
}

func TestFileTypeName(t *testing.T) {
	for ft, want := range map[uint64]string{0: "F32", 1: "F16", 2: "Q4_0", 7: "Q8_0", 15: "Q4_K_M", 17: "Q5_K_M", 18: "Q6_K", 32: "BF16", 5: "unknown(5)", 1000: "unknown(1000)"} {
		if got := FileTypeName(ft); got != want {
			t.Errorf("FileTypeName(%d) = %q, want %q", ft, got, want)
		}
	}
}

// TestFixtureHyperparameters reads the tiny SmolLM3 fixture's keys with the
// types the converter writes (spec §2.1).
func TestFixtureHyperparameters(t *testing.T) {
	f, err := Open(testutil.Fixture(t, "tiny-smollm3", "q4_k_m.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u32 := func(key string) uint64 {
		t.Helper()
		v, ok := f.Get(key)
		if !ok || v.Type != TypeUint32 {
			t.Fatalf("%s = %v, want a u32", key, v)
		}
		return f.Uint(key, 0)
	}
	if n := u32("smollm3.block_count"); n != 8 {
		t.Errorf("block_count %d", n)
	}
	if n := u32("smollm3.embedding_length"); n != 256 {
		t.Errorf("embedding_length %d", n)
	}
	heads, err := f.PerLayer("smollm3.attention.head_count", 8, 0)
	if err != nil || heads[7] != 4 {
		t.Errorf("head_count %v %v", heads, err)
	}
	if kvh, err := f.PerLayer("smollm3.attention.head_count_kv", 8, 0); err != nil || kvh[0] != 1 {
		t.Errorf("head_count_kv %v %v", kvh, err)
	}
	if got := f.Float32("smollm3.rope.freq_base", 10000); got != 5e6 {
		t.Errorf("freq_base %v", got)
	}
	if got := math.Float32bits(f.Float32("smollm3.attention.layer_norm_rms_epsilon", 0)); got != 0x358637BD {
		t.Errorf("rms eps bits %#08x", got)
	}
	if toks, ok := f.Strings("tokenizer.ggml.tokens"); !ok || len(toks) != 306 {
		t.Errorf("%d tokens", len(toks))
	}
	if f.String("general.architecture", "") != "smollm3" || FileTypeName(f.Uint("general.file_type", 0)) != "Q4_K_M" {
		t.Errorf("arch %q, file type %d", f.String("general.architecture", ""), f.Uint("general.file_type", 0))
	}
}

func TestValueString(t *testing.T) {
	long := MustValue(strings.Repeat("é", 100)) // 200 bytes; byte 120 starts a rune
	odd := MustValue("x" + strings.Repeat("é", 100))
	for _, v := range []Value{long, odd} {
		s := v.String()
		if !utf8.ValidString(s) || !strings.HasSuffix(s, "… (200 bytes)") && !strings.HasSuffix(s, "… (201 bytes)") {
			t.Errorf("String() = %q", s)
		}
	}
	if s := MustValue([]uint32{1, 2, 3, 4, 5, 6, 7, 8, 9}).String(); s != "[u32 × 9] [1, 2, 3, 4, 5, 6, 7, 8, …]" {
		t.Errorf("String() = %q", s)
	}
	if s := MustValue(float32(0.1)).String(); s != "0.1" {
		t.Errorf("String() = %q", s)
	}
}
