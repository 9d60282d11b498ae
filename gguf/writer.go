package gguf

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/smolbot/smolbot/internal/mmapfile"
	"github.com/smolbot/smolbot/quant"
)

// Version is the GGUF version the Writer produces.
const Version = 3

// TensorSpec declares one tensor for a Writer: its name, ggml dimensions
// (Dims[0] is the contiguous one) and element type. The Writer computes its
// size and offset.
type TensorSpec struct {
	Name string
	Dims []int64
	Type quant.Type
}

// Writer writes a GGUF v3 file in a single forward pass, so that multi-GB
// models can be produced without holding their tensors in memory (and to a
// non-seekable io.Writer).
//
// NewWriter writes the header, the metadata and every tensor info at once:
// offsets are known up front because they depend only on the tensors' sizes.
// The tensor data then follows in declaration order, through WriteTensor (one
// whole tensor) or Write (any chunking, e.g. row by row); the Writer inserts
// the zero padding after each tensor. Close checks that every byte declared
// was written.
//
// The layout is the one gguf-py and llama.cpp write (spec §1.2, §1.5):
// header, KV pairs, tensor infos, zero padding to the alignment, then each
// tensor at offset = running sum of align_up(size), each followed by zero
// padding to the alignment.
//
// Writer does no buffering of tensor data; wrap a file in a buffered writer
// (mmapfile.Writer for model files).
type Writer struct {
	w       io.Writer
	align   int64
	tensors []TensorInfo
	dataOff int64 // absolute offset of the data blob
	size    int64 // total file size once complete
	cur     int   // index of the tensor being written
	done    int64 // bytes of tensors[cur] written so far
	n       int64 // bytes written to w so far
	err     error // sticky: a failed write leaves the output unusable
}

// NewWriter validates kv and tensors and writes everything that precedes the
// tensor data to w. Keys must be non-empty and unique; values must be
// well-formed (as built by NewValue); general.alignment, if present, must be
// a u32 power of two and sets the alignment (default 32). Tensor names must
// be unique and shorter than 64 bytes, with at most 4 non-negative
// dimensions whose first is a multiple of the type's block size.
func NewWriter(w io.Writer, kv []KV, tensors []TensorSpec) (*Writer, error) {
	return newWriter(w, kv, tensors, true)
}

// newWriter is NewWriter; padEmpty=false leaves a file without tensors
// unpadded, as convert_hf_to_gguf.py --vocab-only writes them, so that such
// files also round-trip byte for byte.
func newWriter(w io.Writer, kv []KV, tensors []TensorSpec, padEmpty bool) (*Writer, error) {
	gw := &Writer{w: w, align: DefaultAlignment}
	seen := make(map[string]bool, len(kv))
	for _, p := range kv {
		if p.Key == "" {
			return nil, errors.New("gguf: write: empty metadata key")
		}
		if len(p.Key) > maxStringLen {
			return nil, fmt.Errorf("gguf: write: metadata key of %d bytes exceeds the 1 GiB limit", len(p.Key))
		}
		if seen[p.Key] {
			return nil, fmt.Errorf("gguf: write: duplicate metadata key %q", p.Key)
		}
		seen[p.Key] = true
		if p.Key == "general.alignment" {
			a, ok := p.Value.v.(uint32)
			if p.Value.Type != TypeUint32 || !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("gguf: write: general.alignment must be a non-zero power of two u32, got %s %v", p.Value.Type, p.Value.v)
			}
			gw.align = int64(a)
		}
	}

	gw.tensors = make([]TensorInfo, len(tensors))
	names := make(map[string]bool, len(tensors))
	var off int64
	for i, s := range tensors {
		if names[s.Name] {
			return nil, fmt.Errorf("gguf: write: duplicate tensor name %q", s.Name)
		}
		names[s.Name] = true
		size, err := checkTensor(s.Name, s.Dims, s.Type)
		if err != nil {
			return nil, fmt.Errorf("gguf: write: %w", err)
		}
		padded := alignUp(size, gw.align)
		if padded < 0 || off > math.MaxInt64-padded {
			return nil, fmt.Errorf("gguf: write: tensor %q: data section exceeds 2^63 bytes", s.Name)
		}
		gw.tensors[i] = TensorInfo{Name: s.Name, Dims: append([]int64(nil), s.Dims...), Type: s.Type, Offset: uint64(off), Size: size}
		off += padded
	}

	var b []byte
	b = append(b, Magic...)
	b = binary.LittleEndian.AppendUint32(b, Version)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(tensors)))
	b = binary.LittleEndian.AppendUint64(b, uint64(len(kv)))
	for _, p := range kv {
		b = appendString(b, p.Key)
		b = binary.LittleEndian.AppendUint32(b, uint32(p.Value.Type))
		var err error
		if b, err = appendValue(b, p.Value, 0); err != nil {
			return nil, fmt.Errorf("gguf: write: metadata %q: %w", p.Key, err)
		}
	}
	for _, t := range gw.tensors {
		b = appendString(b, t.Name)
		b = binary.LittleEndian.AppendUint32(b, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b = binary.LittleEndian.AppendUint64(b, uint64(d))
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(t.Type))
		b = binary.LittleEndian.AppendUint64(b, t.Offset)
	}
	// llama.cpp's gguf_write and gguf-py pad even when there are no tensors
	// (readers ignore the padding then).
	gw.dataOff = int64(len(b))
	if len(tensors) > 0 || padEmpty {
		gw.dataOff = alignUp(int64(len(b)), gw.align)
		b = append(b, make([]byte, gw.dataOff-int64(len(b)))...)
	}
	gw.size = gw.dataOff + off
	if err := gw.put(b); err != nil {
		return nil, err
	}
	return gw, nil
}

// Tensors returns the tensor infos as written, with their offsets (relative
// to DataOffset) and sizes. The slice must not be modified.
func (w *Writer) Tensors() []TensorInfo { return w.tensors }

// Alignment is the data alignment in bytes.
func (w *Writer) Alignment() int { return int(w.align) }

// DataOffset is the absolute file offset of the tensor data blob.
func (w *Writer) DataOffset() int64 { return w.dataOff }

// Size is the size of the complete file in bytes.
func (w *Writer) Size() int64 { return w.size }

// StartTensor checks that the next data written belongs to the tensor named
// name and starts at its first byte. Streaming writers call it before each
// tensor to catch ordering mistakes early; it is optional.
func (w *Writer) StartTensor(name string) error {
	if w.err != nil {
		return w.err
	}
	w.skipEmpty(name)
	if w.cur >= len(w.tensors) {
		return fmt.Errorf("gguf: write: tensor %q: all tensor data has been written", name)
	}
	t := &w.tensors[w.cur]
	if t.Name != name {
		return fmt.Errorf("gguf: write: tensor %q written out of order: %q comes next", name, t.Name)
	}
	if w.done != 0 {
		return fmt.Errorf("gguf: write: tensor %q: %d of %d bytes already written", name, w.done, t.Size)
	}
	return nil
}

// WriteTensor writes the whole data of the tensor named name, which must be
// the next one in declaration order, followed by its padding.
func (w *Writer) WriteTensor(name string, data []byte) error {
	if err := w.StartTensor(name); err != nil {
		return err
	}
	if t := &w.tensors[w.cur]; int64(len(data)) != t.Size {
		return fmt.Errorf("gguf: write: tensor %q: got %d bytes, want %d", name, len(data), t.Size)
	}
	_, err := w.Write(data)
	return err
}

// Write writes tensor data: the bytes of the tensors in declaration order,
// without padding. Chunks may end and start anywhere, including across
// tensors, so io.Copy from the concatenated data works. Writing more bytes
// than the tensors hold is an error.
func (w *Writer) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		w.skipEmpty("")
		if w.cur >= len(w.tensors) {
			return n, fmt.Errorf("gguf: write: %d bytes beyond the end of the tensor data", len(p))
		}
		t := &w.tensors[w.cur]
		k := int(min(int64(len(p)), t.Size-w.done))
		if err := w.put(p[:k]); err != nil {
			return n, err
		}
		n += k
		p = p[k:]
		w.done += int64(k)
		if w.done == t.Size {
			if err := w.pad(t.Size); err != nil {
				return n, err
			}
			w.cur++
			w.done = 0
		}
	}
	return n, nil
}

// Close checks that all tensor data has been written. It does not close the
// underlying writer.
func (w *Writer) Close() error {
	if w.err != nil {
		return w.err
	}
	w.skipEmpty("")
	if w.cur < len(w.tensors) {
		t := &w.tensors[w.cur]
		return fmt.Errorf("gguf: write: incomplete: tensor %q has %d of %d bytes, and %d more tensors follow", t.Name, w.done, t.Size, len(w.tensors)-w.cur-1)
	}
	if w.n != w.size {
		return fmt.Errorf("gguf: write: wrote %d bytes, expected %d", w.n, w.size)
	}
	return nil
}

// skipEmpty moves past zero-byte tensors, which need no data, stopping at
// one named stop so that WriteTensor(stop, nil) still finds it.
func (w *Writer) skipEmpty(stop string) {
	for w.done == 0 && w.cur < len(w.tensors) && w.tensors[w.cur].Size == 0 && (stop == "" || w.tensors[w.cur].Name != stop) {
		w.cur++
	}
}

var zeros [4096]byte

func (w *Writer) pad(size int64) error {
	for n := alignUp(size, w.align) - size; n > 0; {
		k := min(n, int64(len(zeros)))
		if err := w.put(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

func (w *Writer) put(p []byte) error {
	n, err := w.w.Write(p)
	w.n += int64(n)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	if err != nil {
		w.err = fmt.Errorf("gguf: write: %w", err)
	}
	return w.err
}

func alignUp(n, align int64) int64 { return (n + align - 1) / align * align }

// checkTensor applies the reader's limits to a tensor declaration and
// returns its size in bytes.
func checkTensor(name string, dims []int64, typ quant.Type) (int64, error) {
	if len(name) > maxNameLen {
		return 0, fmt.Errorf("tensor %q: name of %d bytes exceeds %d", name, len(name), maxNameLen)
	}
	if len(dims) > maxDims {
		return 0, fmt.Errorf("tensor %q: %d dimensions (max %d)", name, len(dims), maxDims)
	}
	for j, d := range dims {
		if d < 0 || d > maxDim {
			return 0, fmt.Errorf("tensor %q: dimension %d has invalid size %d", name, j, d)
		}
	}
	if !typ.Known() {
		return 0, fmt.Errorf("tensor %q: unknown ggml tensor type %d", name, uint32(typ))
	}
	size, err := typ.Bytes(dims)
	if err != nil {
		return 0, fmt.Errorf("tensor %q: %w", name, err)
	}
	return size, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s)))
	return append(b, s...)
}

// appendValue encodes v without its type tag (the caller writes it, since
// array elements carry none).
func appendValue(b []byte, v Value, depth int) ([]byte, error) {
	le := binary.LittleEndian
	bad := func() ([]byte, error) {
		return nil, fmt.Errorf("value of type %s holds a Go %T", v.Type, v.v)
	}
	switch v.Type {
	case TypeUint8:
		x, ok := v.v.(uint8)
		if !ok {
			return bad()
		}
		return append(b, x), nil
	case TypeInt8:
		x, ok := v.v.(int8)
		if !ok {
			return bad()
		}
		return append(b, byte(x)), nil
	case TypeBool:
		x, ok := v.v.(bool)
		if !ok {
			return bad()
		}
		return append(b, boolByte(x)), nil
	case TypeUint16:
		x, ok := v.v.(uint16)
		if !ok {
			return bad()
		}
		return le.AppendUint16(b, x), nil
	case TypeInt16:
		x, ok := v.v.(int16)
		if !ok {
			return bad()
		}
		return le.AppendUint16(b, uint16(x)), nil
	case TypeUint32:
		x, ok := v.v.(uint32)
		if !ok {
			return bad()
		}
		return le.AppendUint32(b, x), nil
	case TypeInt32:
		x, ok := v.v.(int32)
		if !ok {
			return bad()
		}
		return le.AppendUint32(b, uint32(x)), nil
	case TypeFloat32:
		x, ok := v.v.(float32)
		if !ok {
			return bad()
		}
		return le.AppendUint32(b, math.Float32bits(x)), nil
	case TypeUint64:
		x, ok := v.v.(uint64)
		if !ok {
			return bad()
		}
		return le.AppendUint64(b, x), nil
	case TypeInt64:
		x, ok := v.v.(int64)
		if !ok {
			return bad()
		}
		return le.AppendUint64(b, uint64(x)), nil
	case TypeFloat64:
		x, ok := v.v.(float64)
		if !ok {
			return bad()
		}
		return le.AppendUint64(b, math.Float64bits(x)), nil
	case TypeString:
		x, ok := v.v.(string)
		if !ok {
			return bad()
		}
		if len(x) > maxStringLen {
			return nil, fmt.Errorf("string of %d bytes exceeds the 1 GiB limit", len(x))
		}
		return appendString(b, x), nil
	case TypeArray:
		a, ok := v.v.(Array)
		if !ok {
			return bad()
		}
		return appendArray(b, a, depth)
	}
	return nil, fmt.Errorf("unknown value type %d", uint32(v.Type))
}

func appendArray(b []byte, a Array, depth int) ([]byte, error) {
	if depth >= maxArrayDepth {
		return nil, fmt.Errorf("arrays nested deeper than %d", maxArrayDepth)
	}
	if !a.Elem.valid() {
		return nil, fmt.Errorf("array of unknown element type %d", uint32(a.Elem))
	}
	n := a.Len()
	if a.data != nil && !a.matches() {
		return nil, fmt.Errorf("array of %s holds a Go %T", a.Elem, a.data)
	}
	if n > maxArrayLen {
		return nil, fmt.Errorf("array of %d elements exceeds the limit of %d", n, maxArrayLen)
	}
	le := binary.LittleEndian
	b = le.AppendUint32(b, uint32(a.Elem))
	b = le.AppendUint64(b, uint64(n))
	switch d := a.data.(type) {
	case []uint8:
		return append(b, d...), nil
	case []int8:
		for _, x := range d {
			b = append(b, byte(x))
		}
	case []bool:
		for _, x := range d {
			b = append(b, boolByte(x))
		}
	case []uint16:
		for _, x := range d {
			b = le.AppendUint16(b, x)
		}
	case []int16:
		for _, x := range d {
			b = le.AppendUint16(b, uint16(x))
		}
	case []uint32:
		for _, x := range d {
			b = le.AppendUint32(b, x)
		}
	case []int32:
		for _, x := range d {
			b = le.AppendUint32(b, uint32(x))
		}
	case []float32:
		for _, x := range d {
			b = le.AppendUint32(b, math.Float32bits(x))
		}
	case []uint64:
		for _, x := range d {
			b = le.AppendUint64(b, x)
		}
	case []int64:
		for _, x := range d {
			b = le.AppendUint64(b, uint64(x))
		}
	case []float64:
		for _, x := range d {
			b = le.AppendUint64(b, math.Float64bits(x))
		}
	case []string:
		for _, s := range d {
			if len(s) > maxStringLen {
				return nil, fmt.Errorf("string of %d bytes exceeds the 1 GiB limit", len(s))
			}
			b = appendString(b, s)
		}
	case []Array:
		var err error
		for i, x := range d {
			if b, err = appendArray(b, x, depth+1); err != nil {
				return nil, fmt.Errorf("element %d: %w", i, err)
			}
		}
	}
	return b, nil
}

// matches reports whether the array's Go slice type agrees with Elem.
func (a Array) matches() bool {
	var ok bool
	switch a.Elem {
	case TypeUint8:
		_, ok = a.data.([]uint8)
	case TypeInt8:
		_, ok = a.data.([]int8)
	case TypeBool:
		_, ok = a.data.([]bool)
	case TypeUint16:
		_, ok = a.data.([]uint16)
	case TypeInt16:
		_, ok = a.data.([]int16)
	case TypeUint32:
		_, ok = a.data.([]uint32)
	case TypeInt32:
		_, ok = a.data.([]int32)
	case TypeFloat32:
		_, ok = a.data.([]float32)
	case TypeUint64:
		_, ok = a.data.([]uint64)
	case TypeInt64:
		_, ok = a.data.([]int64)
	case TypeFloat64:
		_, ok = a.data.([]float64)
	case TypeString:
		_, ok = a.data.([]string)
	case TypeArray:
		_, ok = a.data.([]Array)
	}
	return ok
}

func boolByte(x bool) byte {
	if x {
		return 1
	}
	return 0
}

// WriteTo re-encodes the file to w: the same metadata (in order, with the
// same types) and tensors (in order, same bytes), with offsets laid out as
// llama.cpp expects. A file written by gguf-py or llama.cpp comes back
// byte-identical. The file must be open.
func (f *File) WriteTo(w io.Writer) (int64, error) {
	specs := make([]TensorSpec, len(f.Tensors))
	for i, t := range f.Tensors {
		specs[i] = TensorSpec{Name: t.Name, Dims: t.Dims, Type: t.Type}
	}
	// A tensor-less file that ends before the aligned data offset was
	// written without the final padding; keep it that way.
	gw, err := newWriter(w, f.KV, specs, len(f.Tensors) > 0 || f.Size >= f.DataOffset)
	if err != nil {
		return 0, err
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		data, err := f.TensorData(t)
		if err != nil {
			return gw.n, err
		}
		if err := gw.WriteTensor(t.Name, data); err != nil {
			return gw.n, err
		}
	}
	return gw.n, gw.Close()
}

// WriteFile writes f (see File.WriteTo) to path. It writes a temporary file
// in the same directory and renames it into place, so a reader never sees a
// partial file and path may be the file f was opened from (its mapping keeps
// the old contents alive until f is closed).
func WriteFile(path string, f *File) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())      // a no-op once renamed
	bw := mmapfile.NewWriter(tmp, 0) // huge-page friendly page cache
	_, err = f.WriteTo(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("gguf: writing %s: %w", path, err)
	}
	return os.Rename(tmp.Name(), path)
}
