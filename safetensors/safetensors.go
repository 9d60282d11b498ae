// Package safetensors reads Hugging Face .safetensors files, single or
// sharded, as zero-copy views into a read-only memory mapping.
//
// A file is an 8-byte little-endian header length N, N bytes of JSON
// describing every tensor ({"name": {"dtype", "shape", "data_offsets"}},
// plus an optional "__metadata__" string map), then the raw tensor bytes,
// little-endian and row-major. Every length, shape and offset in the header
// is checked against the file before it is trusted: a corrupt or hostile
// file yields a *FormatError, never a panic or a huge allocation.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"sort"

	"github.com/smolbot/smolbot/internal/mmapfile"
	"github.com/smolbot/smolbot/quant"
)

// MaxHeaderSize bounds the JSON header, as the reference implementation
// does (100 MB): a real header is a few hundred kilobytes at most.
const MaxHeaderSize = 100_000_000

// maxDims bounds a tensor's rank; real checkpoints use at most 5.
const maxDims = 8

// ErrFormat is the sentinel wrapped by every *FormatError.
var ErrFormat = errors.New("invalid safetensors file")

// FormatError reports a malformed file.
type FormatError struct {
	Field string // what was being read, e.g. `tensor "lm_head.weight" data_offsets`
	Msg   string
}

// Error formats the field and the problem.
func (e *FormatError) Error() string { return "safetensors: " + e.Field + ": " + e.Msg }

// Unwrap lets errors.Is(err, ErrFormat) identify format errors.
func (e *FormatError) Unwrap() error { return ErrFormat }

func formatErr(field, format string, args ...any) error {
	return &FormatError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// DType is a safetensors element type name as written in headers ("BF16").
type DType string

// The dtypes the format defines. Only F32, F16 and BF16 map to ggml types
// smolbot computes with; the others are read (so files can be listed) and
// reported by GGML.
const (
	BOOL   DType = "BOOL"
	U8     DType = "U8"
	I8     DType = "I8"
	F8E5M2 DType = "F8_E5M2"
	F8E4M3 DType = "F8_E4M3"
	I16    DType = "I16"
	U16    DType = "U16"
	F16    DType = "F16"
	BF16   DType = "BF16"
	I32    DType = "I32"
	U32    DType = "U32"
	F32    DType = "F32"
	F64    DType = "F64"
	I64    DType = "I64"
	U64    DType = "U64"
)

// Size is the number of bytes per element, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case BOOL, U8, I8, F8E5M2, F8E4M3:
		return 1
	case I16, U16, F16, BF16:
		return 2
	case I32, U32, F32:
		return 4
	case F64, I64, U64:
		return 8
	}
	return 0
}

// GGML returns the ggml tensor type with the same encoding (F32, F16 or
// BF16) and true, or false for every other dtype.
func (d DType) GGML() (quant.Type, bool) {
	switch d {
	case F32:
		return quant.F32, true
	case F16:
		return quant.F16, true
	case BF16:
		return quant.BF16, true
	}
	return 0, false
}

// Tensor describes one tensor of a file.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64 // row-major: Shape[len-1] is contiguous (the reverse of ggml's order)
	// Offset and Size locate the bytes within the file's data section, which
	// starts at File.DataOffset.
	Offset int64
	Size   int64
}

// Elements is the number of elements (1 for a scalar).
func (t *Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// File is one parsed .safetensors file. Tensor data views are valid until Close.
type File struct {
	Path       string
	Tensors    []Tensor          // in data order (by Offset)
	Metadata   map[string]string // the "__metadata__" entry, possibly nil
	DataOffset int64             // absolute offset of the data section: 8 + header length
	Size       int64             // file size in bytes

	data  []byte
	unmap func() error
	index map[string]int
}

// Open parses the file at path and maps it into memory read-only.
func Open(path string) (*File, error) {
	data, unmap, err := mmapfile.Map(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	f.Path = path
	f.unmap = unmap
	return f, nil
}

// Parse parses a whole file held in memory; tensor data alias b.
func Parse(b []byte) (*File, error) {
	f, err := parse(b)
	if err != nil {
		return nil, err
	}
	f.unmap = func() error { return nil }
	return f, nil
}

// Close releases the mapping. Data views must not be used afterwards.
func (f *File) Close() error {
	if f == nil || f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap = nil
	f.data = nil
	return err
}

// Tensor returns the tensor with the given name.
func (f *File) Tensor(name string) (*Tensor, bool) {
	i, ok := f.index[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// Data returns the tensor's bytes, a read-only view into the mapping.
func (f *File) Data(t *Tensor) ([]byte, error) {
	if f.data == nil && t.Size > 0 {
		return nil, fmt.Errorf("safetensors: tensor %q: file is closed", t.Name)
	}
	start := f.DataOffset + t.Offset
	end := start + t.Size
	if t.Offset < 0 || t.Size < 0 || end > int64(len(f.data)) || end < start {
		return nil, fmt.Errorf("safetensors: tensor %q: bytes [%d, %d) outside the file (%d bytes)", t.Name, start, end, len(f.data))
	}
	return f.data[start:end:end], nil
}

// headerEntry is one tensor's JSON description.
type headerEntry struct {
	DType       DType   `json:"dtype"`
	Shape       []int64 `json:"shape"`
	DataOffsets []int64 `json:"data_offsets"`
}

// ParseHeader parses the 8-byte length and JSON header at the start of b,
// where size is the length of the whole file (b may be just a prefix that
// holds the header). It returns the tensors sorted by offset, the metadata
// and the absolute offset of the data section. Tensor extents are checked
// against size.
func ParseHeader(b []byte, size int64) (tensors []Tensor, meta map[string]string, dataOffset int64, err error) {
	if size < 8 || len(b) < 8 {
		return nil, nil, 0, formatErr("header length", "file of %d bytes is too short", size)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > MaxHeaderSize {
		return nil, nil, 0, formatErr("header length", "%d bytes exceeds the %d-byte limit (not a safetensors file?)", n, MaxHeaderSize)
	}
	if int64(n) > size-8 {
		return nil, nil, 0, formatErr("header length", "%d bytes, but the file has only %d after the length (truncated?)", n, size-8)
	}
	if int64(n) > int64(len(b))-8 {
		return nil, nil, 0, formatErr("header length", "%d bytes, but only %d were read", n, len(b)-8)
	}
	hdr := b[8 : 8+n]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, nil, 0, formatErr("header", "does not start with '{'")
	}
	dataOffset = 8 + int64(n)
	dataSize := size - dataOffset

	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, nil, 0, formatErr("header", "bad JSON: %v", err)
	}
	// Anything but trailing whitespace (padding) after the object is corrupt.
	if rest := bytes.TrimSpace(hdr[dec.InputOffset():]); len(rest) > 0 {
		return nil, nil, 0, formatErr("header", "%d unexpected bytes after the JSON object", len(rest))
	}
	tensors = make([]Tensor, 0, len(raw))
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, nil, 0, formatErr("__metadata__", "must map strings to strings: %v", err)
			}
			continue
		}
		field := fmt.Sprintf("tensor %q", name)
		var e headerEntry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, nil, 0, formatErr(field, "bad entry: %v", err)
		}
		es := e.DType.Size()
		if es == 0 {
			return nil, nil, 0, formatErr(field+" dtype", "unknown dtype %q", e.DType)
		}
		if len(e.Shape) > maxDims {
			return nil, nil, 0, formatErr(field+" shape", "%d dimensions (max %d)", len(e.Shape), maxDims)
		}
		count := uint64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return nil, nil, 0, formatErr(field+" shape", "negative dimension %d", d)
			}
			hi, lo := bits.Mul64(count, uint64(d))
			if hi != 0 || lo > math.MaxInt64/8 {
				return nil, nil, 0, formatErr(field+" shape", "element count overflows")
			}
			count = lo
		}
		if len(e.DataOffsets) != 2 {
			return nil, nil, 0, formatErr(field+" data_offsets", "want [begin, end], got %d numbers", len(e.DataOffsets))
		}
		begin, end := e.DataOffsets[0], e.DataOffsets[1]
		if begin < 0 || end < begin || end > dataSize {
			return nil, nil, 0, formatErr(field+" data_offsets", "[%d, %d) is outside the %d-byte data section (truncated file?)", begin, end, dataSize)
		}
		if want := int64(count) * int64(es); end-begin != want {
			return nil, nil, 0, formatErr(field+" data_offsets", "[%d, %d) holds %d bytes, but %s%v needs %d", begin, end, end-begin, e.DType, e.Shape, want)
		}
		tensors = append(tensors, Tensor{Name: name, DType: e.DType, Shape: e.Shape, Offset: begin, Size: end - begin})
	}
	sort.Slice(tensors, func(i, j int) bool {
		if tensors[i].Offset != tensors[j].Offset {
			return tensors[i].Offset < tensors[j].Offset
		}
		return tensors[i].Name < tensors[j].Name
	})
	// Tensors must not share bytes: a writer never produces overlaps, and
	// accepting them would let one tensor's edits alias another's.
	for i := 1; i < len(tensors); i++ {
		p, t := &tensors[i-1], &tensors[i]
		if t.Offset < p.Offset+p.Size {
			return nil, nil, 0, formatErr(fmt.Sprintf("tensor %q data_offsets", t.Name), "overlaps tensor %q", p.Name)
		}
	}
	return tensors, meta, dataOffset, nil
}

func parse(b []byte) (*File, error) {
	tensors, meta, off, err := ParseHeader(b, int64(len(b)))
	if err != nil {
		return nil, err
	}
	f := &File{Tensors: tensors, Metadata: meta, DataOffset: off, Size: int64(len(b)), data: b, index: make(map[string]int, len(tensors))}
	for i := range f.Tensors {
		f.index[f.Tensors[i].Name] = i
	}
	return f, nil
}
