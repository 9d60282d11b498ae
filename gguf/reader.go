// Package gguf reads and writes GGUF (v2 and v3) model files.
//
// Open maps the file into memory; tensor data are zero-copy views into that
// mapping and stay valid until Close. Every count, length, dimension and
// offset read from the file is checked against the bytes that remain before
// it is used, so a truncated, corrupt or hostile file yields a *FormatError
// naming the field and byte offset — never a panic or a huge allocation.
//
// NewWriter writes GGUF v3 in one forward pass, streaming tensor data of any
// size; File.WriteTo and WriteFile re-encode a parsed file, byte-identical
// to what llama.cpp and gguf-py write.
//
// The layout is described in ../shared/docs/smollm3-spec.md §1.
package gguf

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/smolbot/smolbot/internal/mmapfile"
	"github.com/smolbot/smolbot/quant"
)

// Magic is the first four bytes of every GGUF file.
const Magic = "GGUF"

// DefaultAlignment is the tensor data alignment when general.alignment is absent.
const DefaultAlignment = 32

// Limits applied while parsing, as llama.cpp does (spec §1.2, §1.4).
const (
	maxStringLen   = 1 << 30
	maxArrayLen    = 1 << 30
	maxDims        = 4
	maxDim         = 1 << 40 // per dimension; far beyond any model, and products stay far from overflow
	maxNameLen     = 63      // GGML_MAX_NAME = 64 including the NUL
	maxArrayDepth  = 8
	minKVBytes     = 8 + 1 + 4 // key length, 1-byte key, value type
	minTensorBytes = 8 + 1 + 4 + 8 + 4 + 8
)

// ErrFormat is the sentinel wrapped by every *FormatError.
var ErrFormat = errors.New("invalid GGUF file")

// FormatError reports a malformed file: which field, at which byte offset.
type FormatError struct {
	Field  string // what was being read, e.g. `tensor "blk.0.attn_q.weight" offset`
	Offset int64  // byte offset in the file where the field starts
	Msg    string
}

// Error formats the error as "gguf: FIELD at byte N: MSG".
func (e *FormatError) Error() string {
	return fmt.Sprintf("gguf: %s at byte %d: %s", e.Field, e.Offset, e.Msg)
}

// Unwrap lets errors.Is(err, ErrFormat) identify format errors.
func (e *FormatError) Unwrap() error { return ErrFormat }

// KV is one metadata key/value pair.
type KV struct {
	Key   string
	Value Value
}

// TensorInfo describes one tensor of the file.
type TensorInfo struct {
	Name   string
	Dims   []int64 // ggml order: Dims[0] is contiguous; a 2-D weight is [cols, rows]
	Type   quant.Type
	Offset uint64 // relative to the start of the data blob
	Size   int64  // bytes
}

// Elements is the number of elements.
func (t *TensorInfo) Elements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= d
	}
	return n
}

// Dim returns Dims[i], or 1 for dimensions the file did not write.
func (t *TensorInfo) Dim(i int) int64 {
	if i < len(t.Dims) {
		return t.Dims[i]
	}
	return 1
}

// File is a parsed GGUF file. Its tensor data views are valid until Close.
type File struct {
	Version    uint32
	KV         []KV // in file order
	Tensors    []TensorInfo
	Alignment  int
	DataOffset int64  // absolute offset of the tensor data blob
	Size       int64  // file size in bytes
	Path       string // the path given to Open; "" for Parse

	data    []byte
	unmap   func() error
	kvIndex map[string]int
	tIndex  map[string]int
}

// Open parses the GGUF file at path and maps it into memory.
func Open(path string) (*File, error) {
	data, unmap, err := mmapfile.Map(path)
	if err != nil {
		return nil, fmt.Errorf("gguf: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.unmap, f.Path = unmap, path
	return f, nil
}

// Parse parses a GGUF file held in memory. The returned File's tensor data
// alias b.
func Parse(b []byte) (*File, error) {
	f, err := parse(b)
	if err != nil {
		return nil, err
	}
	f.unmap = func() error { return nil }
	return f, nil
}

// Close releases the mapping. Tensor data views must not be used afterwards.
func (f *File) Close() error {
	if f == nil || f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.data = nil
	return err
}

// Raw returns the whole file's bytes (the mapping).
func (f *File) Raw() []byte { return f.data }

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.tIndex[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// TensorData returns the tensor's bytes, a view into the file mapping.
func (f *File) TensorData(t *TensorInfo) ([]byte, error) {
	start := f.DataOffset + int64(t.Offset)
	end := start + t.Size
	if f.data == nil && t.Size > 0 {
		return nil, fmt.Errorf("gguf: tensor %q: file is closed", t.Name)
	}
	if start < 0 || end > int64(len(f.data)) || end < start {
		return nil, fmt.Errorf("gguf: tensor %q: bytes [%d, %d) outside the file (%d bytes)", t.Name, start, end, len(f.data))
	}
	return f.data[start:end:end], nil
}

// Get returns the value of a metadata key.
func (f *File) Get(key string) (Value, bool) {
	i, ok := f.kvIndex[key]
	if !ok {
		return Value{}, false
	}
	return f.KV[i].Value, true
}

// Has reports whether the metadata key exists.
func (f *File) Has(key string) bool { _, ok := f.kvIndex[key]; return ok }

// String returns a string value, or def if absent or not a string.
func (f *File) String(key, def string) string {
	if v, ok := f.Get(key); ok {
		if s, ok := v.AsString(); ok {
			return s
		}
	}
	return def
}

// Uint returns a non-negative integer value of any width, or def if absent,
// negative or not an integer.
func (f *File) Uint(key string, def uint64) uint64 {
	if v, ok := f.Get(key); ok {
		if u, ok := v.v.(uint64); ok {
			return u
		}
		if i, ok := v.AsInt(); ok && i >= 0 {
			return uint64(i)
		}
	}
	return def
}

// Int returns an integer value of any width, or def.
func (f *File) Int(key string, def int64) int64 {
	if v, ok := f.Get(key); ok {
		if i, ok := v.AsInt(); ok {
			return i
		}
	}
	return def
}

// Float returns a float (or integer) value as float64, or def.
func (f *File) Float(key string, def float64) float64 {
	if v, ok := f.Get(key); ok {
		if x, ok := v.AsFloat(); ok {
			return x
		}
	}
	return def
}

// Float32 returns a float value as float32, or def. A value stored as f32
// comes back bit-exact.
func (f *File) Float32(key string, def float32) float32 {
	if v, ok := f.Get(key); ok {
		if x, ok := v.v.(float32); ok {
			return x
		}
		if x, ok := v.AsFloat(); ok {
			return float32(x)
		}
	}
	return def
}

// Bool returns a bool value, or def.
func (f *File) Bool(key string, def bool) bool {
	if v, ok := f.Get(key); ok {
		if b, ok := v.AsBool(); ok {
			return b
		}
	}
	return def
}

// Strings returns an array of strings.
func (f *File) Strings(key string) ([]string, bool) {
	a, ok := f.array(key)
	if !ok {
		return nil, false
	}
	s, ok := a.data.([]string)
	return s, ok
}

// Int32s returns an integer array (any element width that fits) as []int32.
func (f *File) Int32s(key string) ([]int32, bool) {
	a, ok := f.array(key)
	if !ok {
		return nil, false
	}
	if s, ok := a.data.([]int32); ok {
		return s, true
	}
	n := a.Len()
	out := make([]int32, n)
	for i := range n {
		x, ok := a.At(i).AsInt()
		if !ok || x < math.MinInt32 || x > math.MaxInt32 {
			return nil, false
		}
		out[i] = int32(x)
	}
	return out, true
}

// Float32s returns a float array as []float32.
func (f *File) Float32s(key string) ([]float32, bool) {
	a, ok := f.array(key)
	if !ok {
		return nil, false
	}
	if s, ok := a.data.([]float32); ok {
		return s, true
	}
	n := a.Len()
	out := make([]float32, n)
	for i := range n {
		x, ok := a.At(i).AsFloat()
		if !ok {
			return nil, false
		}
		out[i] = float32(x)
	}
	return out, true
}

func (f *File) array(key string) (Array, bool) {
	v, ok := f.Get(key)
	if !ok {
		return Array{}, false
	}
	return v.Array()
}

// decoder reads little-endian fields with bounds checks.
type decoder struct {
	b   []byte
	off int64
}

func (d *decoder) fail(field, format string, args ...any) error {
	return &FormatError{Field: field, Offset: d.off, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) remaining() int64 { return int64(len(d.b)) - d.off }

func (d *decoder) need(field string, n int64) error {
	if n < 0 || n > d.remaining() {
		return d.fail(field, "need %d bytes, only %d remain (truncated file?)", n, d.remaining())
	}
	return nil
}

func (d *decoder) u8(field string) (uint8, error) {
	if err := d.need(field, 1); err != nil {
		return 0, err
	}
	v := d.b[d.off]
	d.off++
	return v, nil
}

func (d *decoder) u16(field string) (uint16, error) {
	if err := d.need(field, 2); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v, nil
}

func (d *decoder) u32(field string) (uint32, error) {
	if err := d.need(field, 4); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v, nil
}

func (d *decoder) u64(field string) (uint64, error) {
	if err := d.need(field, 8); err != nil {
		return 0, err
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v, nil
}

func (d *decoder) str(field string) (string, error) {
	start := d.off
	n, err := d.u64(field + " length")
	if err != nil {
		return "", err
	}
	if n > maxStringLen {
		d.off = start
		return "", d.fail(field, "string length %d exceeds the 1 GiB limit", n)
	}
	if err := d.need(field, int64(n)); err != nil {
		d.off = start
		return "", d.fail(field, "string length %d exceeds the %d bytes that remain", n, d.remaining()-8)
	}
	s := string(d.b[d.off : d.off+int64(n)])
	d.off += int64(n)
	return s, nil
}

func parse(b []byte) (*File, error) {
	d := &decoder{b: b}
	if err := d.need("magic", 4); err != nil {
		return nil, err
	}
	if string(b[:4]) != Magic {
		return nil, d.fail("magic", "not a GGUF file (magic %q)", b[:4])
	}
	d.off = 4
	version, err := d.u32("version")
	if err != nil {
		return nil, err
	}
	switch {
	case version&0xFFFF == 0 && version != 0:
		return nil, &FormatError{"version", 4, fmt.Sprintf("version word %#x looks byte-swapped: big-endian GGUF is not supported", version)}
	case version == 1:
		return nil, &FormatError{"version", 4, "GGUF v1 is no longer supported"}
	case version < 2 || version > 3:
		return nil, &FormatError{"version", 4, fmt.Sprintf("unsupported version %d (want 2 or 3)", version)}
	}
	f := &File{Version: version, Size: int64(len(b)), data: b, kvIndex: map[string]int{}, tIndex: map[string]int{}}

	nTensorsOff := d.off
	nTensors, err := d.u64("tensor count")
	if err != nil {
		return nil, err
	}
	nKVOff := d.off
	nKV, err := d.u64("metadata count")
	if err != nil {
		return nil, err
	}
	if int64(nTensors) < 0 || nTensors > uint64(d.remaining()/minTensorBytes) {
		return nil, &FormatError{"tensor count", nTensorsOff, fmt.Sprintf("%d tensors cannot fit in %d bytes", int64(nTensors), d.remaining())}
	}
	if int64(nKV) < 0 || nKV > uint64(d.remaining()/minKVBytes) {
		return nil, &FormatError{"metadata count", nKVOff, fmt.Sprintf("%d key/value pairs cannot fit in %d bytes", int64(nKV), d.remaining())}
	}

	// Counts are bounded by the file size above, but a hostile header could
	// still ask for a few times the file size up front; grow as entries
	// actually parse instead.
	f.KV = make([]KV, 0, min(nKV, 1024))
	alignOff := int64(-1)
	for i := range int(nKV) {
		keyOff := d.off
		key, err := d.str(fmt.Sprintf("metadata key #%d", i))
		if err != nil {
			return nil, err
		}
		if key == "" {
			return nil, &FormatError{fmt.Sprintf("metadata key #%d", i), keyOff, "empty key"}
		}
		if _, dup := f.kvIndex[key]; dup {
			return nil, &FormatError{fmt.Sprintf("metadata key %q", key), keyOff, "duplicate key"}
		}
		field := fmt.Sprintf("metadata %q", key)
		tOff := d.off
		typ, err := d.u32(field + " type")
		if err != nil {
			return nil, err
		}
		if !ValueType(typ).valid() {
			return nil, &FormatError{field + " type", tOff, fmt.Sprintf("unknown value type %d", typ)}
		}
		if key == "general.alignment" {
			alignOff = d.off
		}
		v, err := d.value(field, ValueType(typ), 0)
		if err != nil {
			return nil, err
		}
		f.kvIndex[key] = len(f.KV)
		f.KV = append(f.KV, KV{key, v})
	}

	f.Alignment = DefaultAlignment
	if v, ok := f.Get("general.alignment"); ok {
		a, isU32 := v.v.(uint32)
		if !isU32 || a == 0 || a&(a-1) != 0 {
			return nil, &FormatError{"metadata \"general.alignment\"", alignOff, fmt.Sprintf("must be a non-zero power of two u32, got %s %v", v.Type, v.v)}
		}
		f.Alignment = int(a)
	}

	f.Tensors = make([]TensorInfo, 0, min(nTensors, 1024))
	offPos := make([]int64, 0, min(nTensors, 1024)) // where each offset field is, for errors
	for i := range int(nTensors) {
		nameOff := d.off
		ti, err := d.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.tIndex[ti.Name]; dup {
			return nil, &FormatError{fmt.Sprintf("tensor #%d name", i), nameOff, fmt.Sprintf("duplicate tensor name %q", ti.Name)}
		}
		offPos = append(offPos, d.off-8) // the offset is the info's last field
		f.tIndex[ti.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, ti)
	}

	// The data blob starts at the next multiple of the alignment after the
	// tensor infos (spec §1.5).
	align := int64(f.Alignment)
	f.DataOffset = (d.off + align - 1) / align * align
	if nTensors > 0 && f.DataOffset > int64(len(b)) {
		return nil, d.fail("tensor data", "data section would start at byte %d, beyond the end of the file (%d bytes)", f.DataOffset, len(b))
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		field := fmt.Sprintf("tensor %q offset", t.Name)
		if t.Offset%uint64(align) != 0 {
			return nil, &FormatError{field, offPos[i], fmt.Sprintf("offset %d is not a multiple of the alignment %d", t.Offset, align)}
		}
		// DataOffset ≤ len(b) and Size < 2^62, so the sum cannot overflow
		// once Offset is known to be inside the file.
		if t.Offset > uint64(len(b)) || f.DataOffset+int64(t.Offset)+t.Size > int64(len(b)) {
			return nil, &FormatError{field, offPos[i], fmt.Sprintf("data offset+size %d+%d exceeds the %d-byte data section that starts at byte %d (file truncated?)", t.Offset, t.Size, int64(len(b))-f.DataOffset, f.DataOffset)}
		}
	}
	if err := checkOverlap(f.Tensors, offPos); err != nil {
		return nil, err
	}
	return f, nil
}

// checkOverlap rejects tensors whose data overlap. llama.cpp goes further
// and requires each offset to be the running sum of the padded sizes; we
// accept any order but not aliasing, because aliasing would let a small
// file declare unbounded tensor bytes (n tensors all viewing the same
// megabyte), and everything downstream — totals, conversion, re-writing —
// may assume that the tensors' sizes add up to at most the file size.
func checkOverlap(ts []TensorInfo, offPos []int64) error {
	order := make([]int, len(ts))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(ts[a].Offset, ts[b].Offset) })
	end, prev := uint64(0), -1
	for _, i := range order {
		t := &ts[i]
		if t.Size == 0 {
			continue
		}
		if t.Offset < end {
			p := &ts[prev]
			return &FormatError{fmt.Sprintf("tensor %q offset", t.Name), offPos[i],
				fmt.Sprintf("data [%d, %d) overlaps tensor %q at [%d, %d)", t.Offset, t.Offset+uint64(t.Size), p.Name, p.Offset, end)}
		}
		end, prev = t.Offset+uint64(t.Size), i
	}
	return nil
}

func (d *decoder) tensorInfo(i int) (TensorInfo, error) {
	var t TensorInfo
	nameOff := d.off
	name, err := d.str(fmt.Sprintf("tensor #%d name", i))
	if err != nil {
		return t, err
	}
	if len(name) > maxNameLen {
		return t, &FormatError{fmt.Sprintf("tensor #%d name", i), nameOff, fmt.Sprintf("name of %d bytes exceeds %d", len(name), maxNameLen)}
	}
	t.Name = name
	field := fmt.Sprintf("tensor %q", name)
	nDimsOff := d.off
	nDims, err := d.u32(field + " dimension count")
	if err != nil {
		return t, err
	}
	if nDims > maxDims {
		return t, &FormatError{field + " dimension count", nDimsOff, fmt.Sprintf("%d dimensions (max %d)", nDims, maxDims)}
	}
	t.Dims = make([]int64, nDims)
	total := uint64(1)
	for j := range t.Dims {
		dimOff := d.off
		v, err := d.u64(fmt.Sprintf("%s dimension %d", field, j))
		if err != nil {
			return t, err
		}
		if int64(v) < 0 || v > maxDim {
			return t, &FormatError{fmt.Sprintf("%s dimension %d", field, j), dimOff, fmt.Sprintf("invalid size %d", int64(v))}
		}
		t.Dims[j] = int64(v)
		if v != 0 && total > math.MaxInt64/v {
			return t, &FormatError{fmt.Sprintf("%s dimension %d", field, j), dimOff, "element count overflows"}
		}
		total *= v
	}
	typeOff := d.off
	typ, err := d.u32(field + " type")
	if err != nil {
		return t, err
	}
	t.Type = quant.Type(typ)
	if !t.Type.Known() {
		return t, &FormatError{field + " type", typeOff, fmt.Sprintf("unknown ggml tensor type %d", typ)}
	}
	size, err := t.Type.Bytes(t.Dims)
	if err != nil {
		return t, &FormatError{field + " shape", nDimsOff, err.Error()}
	}
	t.Size = size
	t.Offset, err = d.u64(field + " offset")
	return t, err
}

// value decodes one value of type typ. Arrays may nest up to maxArrayDepth
// (llama.cpp rejects nesting; we read it so such files can be inspected).
func (d *decoder) value(field string, typ ValueType, depth int) (Value, error) {
	switch typ {
	case TypeUint8:
		v, err := d.u8(field)
		return Value{typ, v}, err
	case TypeInt8:
		v, err := d.u8(field)
		return Value{typ, int8(v)}, err
	case TypeBool:
		v, err := d.u8(field)
		return Value{typ, v != 0}, err
	case TypeUint16:
		v, err := d.u16(field)
		return Value{typ, v}, err
	case TypeInt16:
		v, err := d.u16(field)
		return Value{typ, int16(v)}, err
	case TypeUint32:
		v, err := d.u32(field)
		return Value{typ, v}, err
	case TypeInt32:
		v, err := d.u32(field)
		return Value{typ, int32(v)}, err
	case TypeFloat32:
		v, err := d.u32(field)
		return Value{typ, math.Float32frombits(v)}, err
	case TypeUint64:
		v, err := d.u64(field)
		return Value{typ, v}, err
	case TypeInt64:
		v, err := d.u64(field)
		return Value{typ, int64(v)}, err
	case TypeFloat64:
		v, err := d.u64(field)
		return Value{typ, math.Float64frombits(v)}, err
	case TypeString:
		v, err := d.str(field)
		return Value{typ, v}, err
	case TypeArray:
		a, err := d.array(field, depth)
		return Value{typ, a}, err
	}
	return Value{}, d.fail(field, "unknown value type %d", typ)
}

func (d *decoder) array(field string, depth int) (Array, error) {
	start := d.off
	if depth >= maxArrayDepth {
		return Array{}, d.fail(field, "arrays nested deeper than %d", maxArrayDepth)
	}
	et, err := d.u32(field + " element type")
	if err != nil {
		return Array{}, err
	}
	elem := ValueType(et)
	if !elem.valid() {
		return Array{}, &FormatError{field + " element type", start, fmt.Sprintf("unknown element type %d", et)}
	}
	countOff := d.off
	n64, err := d.u64(field + " length")
	if err != nil {
		return Array{}, err
	}
	// Every element takes at least minSize bytes, which bounds the count by
	// what remains in the file before anything is allocated.
	minSize := int64(elem.size())
	switch elem {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if n64 > maxArrayLen || int64(n64) > d.remaining()/minSize {
		return Array{}, &FormatError{field + " length", countOff, fmt.Sprintf("%d elements of %s cannot fit in the %d bytes that remain", n64, elem, d.remaining())}
	}
	n := int(n64)
	sz := int64(n) * int64(elem.size())
	le := binary.LittleEndian
	switch elem {
	case TypeUint8, TypeInt8, TypeBool, TypeUint16, TypeInt16, TypeUint32, TypeInt32, TypeFloat32, TypeUint64, TypeInt64, TypeFloat64:
		if err := d.need(field, sz); err != nil {
			return Array{}, err
		}
		raw := d.b[d.off : d.off+sz]
		d.off += sz
		var data any
		switch elem {
		case TypeUint8:
			data = append([]uint8(nil), raw...)
		case TypeInt8:
			s := make([]int8, n)
			for i := range s {
				s[i] = int8(raw[i])
			}
			data = s
		case TypeBool:
			s := make([]bool, n)
			for i := range s {
				s[i] = raw[i] != 0
			}
			data = s
		case TypeUint16:
			s := make([]uint16, n)
			for i := range s {
				s[i] = le.Uint16(raw[2*i:])
			}
			data = s
		case TypeInt16:
			s := make([]int16, n)
			for i := range s {
				s[i] = int16(le.Uint16(raw[2*i:]))
			}
			data = s
		case TypeUint32:
			s := make([]uint32, n)
			for i := range s {
				s[i] = le.Uint32(raw[4*i:])
			}
			data = s
		case TypeInt32:
			s := make([]int32, n)
			for i := range s {
				s[i] = int32(le.Uint32(raw[4*i:]))
			}
			data = s
		case TypeFloat32:
			s := make([]float32, n)
			for i := range s {
				s[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
			}
			data = s
		case TypeUint64:
			s := make([]uint64, n)
			for i := range s {
				s[i] = le.Uint64(raw[8*i:])
			}
			data = s
		case TypeInt64:
			s := make([]int64, n)
			for i := range s {
				s[i] = int64(le.Uint64(raw[8*i:]))
			}
			data = s
		case TypeFloat64:
			s := make([]float64, n)
			for i := range s {
				s[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
			}
			data = s
		}
		return Array{elem, data}, nil
	case TypeString:
		s := make([]string, n)
		for i := range s {
			if s[i], err = d.str(field); err != nil {
				return Array{}, err
			}
		}
		return Array{elem, s}, nil
	case TypeArray:
		s := make([]Array, n)
		for i := range s {
			if s[i], err = d.array(field, depth+1); err != nil {
				return Array{}, err
			}
		}
		return Array{elem, s}, nil
	}
	return Array{}, d.fail(field, "unknown element type %d", elem)
}

// PerLayer returns a per-layer integer hyperparameter for n layers. GGUF
// stores such keys (e.g. feed_forward_length, attention.head_count) either
// as one integer shared by all layers or as an array with one entry per
// layer, and models read both the same way. An absent key gives def for
// every layer. A value that is neither, an array whose length is not n, or a
// negative entry is an error.
func (f *File) PerLayer(key string, n int, def int64) ([]int64, error) {
	if n < 0 {
		return nil, fmt.Errorf("gguf: %s: negative layer count %d", key, n)
	}
	out := make([]int64, n)
	v, ok := f.Get(key)
	if !ok {
		for i := range out {
			out[i] = def
		}
		return out, nil
	}
	if a, isArray := v.Array(); isArray {
		if a.Len() != n {
			return nil, fmt.Errorf("gguf: %s: array of %d values for %d layers", key, a.Len(), n)
		}
		for i := range out {
			x, ok := a.At(i).AsInt()
			if !ok || x < 0 {
				return nil, fmt.Errorf("gguf: %s[%d]: want a non-negative integer, got %s %v", key, i, a.Elem, a.At(i).v)
			}
			out[i] = x
		}
		return out, nil
	}
	x, ok := v.AsInt()
	if !ok || x < 0 {
		return nil, fmt.Errorf("gguf: %s: want a non-negative integer or an array of them, got %s %v", key, v.Type, v.v)
	}
	for i := range out {
		out[i] = x
	}
	return out, nil
}
