package hf

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/quant"
)

// Model is an HF model directory opened as a GGUF file.
type Model struct {
	// File has the metadata, tensor names and layout that llama.cpp's
	// converter would write, so the GGUF model code runs it unchanged.
	// Matrices that need no change are zero-copy views of the mmapped
	// safetensors; see Copied for the rest. Valid until Close.
	File *gguf.File
	Dir  string
	// Copied counts the bytes that had to be materialised in memory: the
	// Q/K projections (row permutation, spec §3.4), norms and biases
	// (converted to F32 as GGUF stores them), and any tensor whose offset is
	// not a multiple of its element size.
	Copied int64
	// Warnings are non-fatal doubts (e.g. an unrecognised pre-tokenizer).
	Warnings []string

	r        *region
	ownsFile bool // File came from gguf.Open (OpenPath): Close closes it
}

// Close releases the mappings; File must not be used afterwards.
func (m *Model) Close() error {
	if m == nil {
		return nil
	}
	var err error
	switch {
	case m.ownsFile && m.File != nil:
		err = m.File.Close()
	case m.r != nil:
		err = m.r.release()
	}
	m.r, m.File = nil, nil
	return err
}

// OpenPath opens a model named on the command line: a Hugging Face model
// directory (Open) or a GGUF file (gguf.Open). Either way the model code
// loads Model.File, and Close releases it.
func OpenPath(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		if !IsModelDir(path) {
			return nil, fmt.Errorf("hf: %s is a directory but not a Hugging Face model (it needs %s and *.safetensors weights)", path, ConfigFile)
		}
		return Open(path)
	}
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	return &Model{File: f, ownsFile: true}, nil
}

// OpenVocabPath is OpenPath for callers that need only the tokenizer and
// metadata: for a Hugging Face directory, File is a tensor-less GGUF built
// in memory from config.json and the tokenizer files, without mapping or
// copying any weights. A GGUF file is opened as OpenPath does.
func OpenVocabPath(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return OpenPath(path)
	}
	cfg, err := ReadConfig(path)
	if err != nil {
		return nil, err
	}
	voc, err := ReadVocab(path, cfg)
	if err != nil {
		return nil, err
	}
	kvs := append(voc.KV(), gguf.KV{Key: "general.alignment", Value: gguf.MustValue(uint32(32))})
	hdr, err := encodeHeader(kvs, nil)
	if err != nil {
		return nil, err
	}
	f, err := gguf.Parse(hdr)
	if err != nil {
		return nil, fmt.Errorf("hf: internal error: the vocabulary GGUF does not parse: %w", err)
	}
	return &Model{File: f, Dir: path, Warnings: voc.Warnings}, nil
}

// placed is a tensor with its position in the region.
type placed struct {
	t     *Tensor
	abs   int64 // absolute offset in the region
	copy  bool  // materialised in the anonymous part
	shard int   // index into the checkpoint's files, when !copy
}

// Open opens the HF model directory dir (config.json, *.safetensors,
// tokenizer.json, tokenizer_config.json) as a GGUF file without converting
// it: weights keep their F32/F16/BF16 type and stay in the page cache.
//
// The returned File is parsed from one contiguous region of memory: a GGUF
// header built in memory, followed by the transformed tensors, followed by
// each safetensors file mapped whole. Its general.alignment is the largest
// power of two (at most 32) that all tensor offsets share; every tensor is
// at least aligned to its element size.
func Open(dir string) (*Model, error) {
	c, err := Read(dir)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	for i := range c.Tensors {
		if err := checkPermutable(&c.Tensors[i]); err != nil {
			return nil, err
		}
	}

	files := c.set.Files
	shardOf := map[string]int{}
	for i, f := range files {
		for _, t := range f.Tensors {
			shardOf[t.Name] = i
		}
	}
	page := int64(os.Getpagesize())
	ps := make([]placed, len(c.Tensors))
	var anon int64 // bytes of the anonymous tensor area
	var copied int64
	counts := map[quant.Type]int{}
	for i := range c.Tensors {
		t := &c.Tensors[i]
		if len(t.Dims) >= 2 {
			counts[t.Type]++
		}
		st, f, _ := c.set.Tensor(t.Source)
		fileOff := f.DataOffset + st.Offset
		es := int64(t.Type.TypeSize())
		if t.Type == t.SrcType && t.PermuteHeads == 0 && fileOff%es == 0 {
			ps[i] = placed{t: t, abs: fileOff, shard: shardOf[t.Source]}
			continue
		}
		size, err := t.Type.Bytes(t.Dims)
		if err != nil {
			return nil, fmt.Errorf("hf: tensor %s: %w", t.Name, err)
		}
		anon = alignUp(anon, 32)
		ps[i] = placed{t: t, abs: anon, copy: true}
		anon += size
		copied += size
	}
	ft := uint32(0)
	best := -1
	for _, typ := range []quant.Type{quant.F32, quant.F16, quant.BF16} {
		if counts[typ] > best {
			best = counts[typ]
			ft, _ = fileType(typ)
		}
	}
	kvs := append(append([]gguf.KV(nil), c.KV...),
		gguf.KV{Key: "general.file_type", Value: gguf.MustValue(ft)},
		gguf.KV{Key: "general.alignment", Value: gguf.MustValue(uint32(32))})

	infos := make([]headerTensor, len(ps))
	for i, p := range ps {
		infos[i] = headerTensor{Name: p.t.Name, Dims: p.t.Dims, Type: p.t.Type}
	}
	hdr, err := encodeHeader(kvs, infos)
	if err != nil {
		return nil, err
	}
	h := int64(len(hdr))

	// Lay out: header | anonymous tensors | file 0 | file 1 | ...
	anonStart := alignUp(h, 32)
	fileStart := make([]int64, len(files))
	end := alignUp(anonStart+anon, page)
	for i, f := range files {
		fileStart[i] = end
		end = alignUp(end+f.Size, page)
	}
	if end > math.MaxInt/2 {
		return nil, fmt.Errorf("hf: checkpoint of %d bytes is too large for this platform", end)
	}
	for i := range ps {
		if ps[i].copy {
			ps[i].abs += anonStart
		} else {
			ps[i].abs += fileStart[ps[i].shard]
		}
	}
	align := int64(32)
	for ; align > 1; align /= 2 {
		d := alignUp(h, align)
		ok := true
		for _, p := range ps {
			if (p.abs-d)%align != 0 {
				ok = false
				break
			}
		}
		if ok {
			break
		}
	}
	data := alignUp(h, align)
	kvs[len(kvs)-1].Value = gguf.MustValue(uint32(align))
	for i, p := range ps {
		infos[i].Offset = uint64(p.abs - data)
	}
	if hdr, err = encodeHeader(kvs, infos); err != nil {
		return nil, err
	}
	if int64(len(hdr)) != h {
		return nil, fmt.Errorf("hf: internal error: header size changed")
	}

	r, err := reserve(int(end), int(anonStart+anon))
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			r.release()
		}
	}()
	copy(r.b, hdr)
	for _, p := range ps {
		if !p.copy {
			continue
		}
		size, _ := p.t.Type.Bytes(p.t.Dims)
		if err := c.materialise(p.t, r.b[p.abs:p.abs+size]); err != nil {
			return nil, err
		}
	}
	if err := r.seal(int(anonStart + anon)); err != nil {
		return nil, fmt.Errorf("hf: %w", err)
	}
	for i, f := range files {
		fd, err := os.Open(f.Path)
		if err != nil {
			return nil, fmt.Errorf("hf: %w", err)
		}
		err = r.mapFile(int(fileStart[i]), fd, int(f.Size))
		fd.Close()
		if err != nil {
			return nil, err
		}
	}
	gf, err := gguf.Parse(r.b)
	if err != nil {
		return nil, fmt.Errorf("hf: internal error: the in-memory GGUF does not parse: %w", err)
	}
	ok = true
	return &Model{File: gf, Dir: dir, Copied: copied, Warnings: c.Warnings, r: r}, nil
}

// materialise writes t, as GGUF holds it, into dst: permuted rows in the
// source type, or rows converted to F32.
func (c *Checkpoint) materialise(t *Tensor, dst []byte) error {
	if t.Type == t.SrcType && len(t.Dims) >= 2 {
		src, err := c.SourceData(t)
		if err != nil {
			return err
		}
		rb := t.Cols() * int64(t.SrcType.TypeSize())
		if int64(len(src)) != rb*t.Rows() || len(dst) != len(src) {
			return fmt.Errorf("hf: tensor %s: size mismatch", t.Name)
		}
		for r := range t.Rows() {
			s := sourceRow(t, r)
			copy(dst[r*rb:(r+1)*rb], src[s*rb:(s+1)*rb])
		}
		return nil
	}
	off := 0
	return c.ReadRows(t, func(row []float32) error {
		var err error
		off, err = encodeRow(t.Type, row, dst, off)
		return err
	})
}

// encodeRow encodes row as type typ into dst[off:] and returns the new offset.
func encodeRow(typ quant.Type, row []float32, dst []byte, off int) (int, error) {
	n, err := typ.RowBytes(int64(len(row)))
	if err != nil {
		return off, err
	}
	if off+int(n) > len(dst) {
		return off, fmt.Errorf("hf: row overflows its tensor")
	}
	out := dst[off : off+int(n)]
	if typ == quant.F32 {
		for i, x := range row {
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
	} else if err := quant.QuantizeRow(typ, row, out); err != nil {
		return off, err
	}
	return off + int(n), nil
}

func alignUp(n, a int64) int64 { return (n + a - 1) / a * a }
