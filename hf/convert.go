package hf

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/internal/mmapfile"
	"github.com/smolbot/smolbot/quant"
)

// OutType names a conversion output: a plain type for every matrix, or a
// per-tensor mixture.
type OutType struct {
	Name string // "f32", "f16", "bf16", "q8_0", "q4_k_m", ...
	// Type is the type of every matrix (≥ 2 dimensions) when Choose is nil.
	// Norms, biases and other 1-D tensors are always F32.
	Type quant.Type
	// Choose, if set, picks each matrix's type (e.g. the Q4_K_M mixture of
	// spec §4.10).
	Choose func(TensorChoice) quant.Type
	// Plan, if set, is used instead of Choose: Convert calls it once with
	// the names of all the output's tensors in file order, and calls the
	// chooser it returns for each matrix in that order. It suits stateful
	// rules such as llama-quantize's (model.Mixture), which count tensors
	// as they come, while keeping the OutType reusable.
	Plan func(names []string) func(TensorChoice) quant.Type
	// FileType is general.file_type (llama_ftype) for the output.
	FileType uint32
}

// TensorChoice describes a matrix to OutType.Choose.
type TensorChoice struct {
	Name   string  // GGUF name
	Dims   []int64 // ggml order
	Layers int     // block count
	// Tied is true when the output has no output.weight, so that
	// token_embd.weight is also the LM head (llama-quantize then treats it
	// as the output tensor).
	Tied bool
}

// PlainOutType returns the OutType for "f32", "f16", "bf16" or "q8_0".
// "auto" (or "") keeps the checkpoint's own float type, resolved by Convert.
func PlainOutType(name string) (OutType, error) {
	var t quant.Type
	switch strings.ToLower(name) {
	case "", "auto":
		return OutType{Name: "auto"}, nil
	case "f32":
		t = quant.F32
	case "f16":
		t = quant.F16
	case "bf16":
		t = quant.BF16
	case "q8_0":
		t = quant.Q8_0
	default:
		return OutType{}, fmt.Errorf("hf: unknown output type %q (want auto, f32, f16, bf16 or q8_0)", name)
	}
	ft, _ := fileType(t)
	return OutType{Name: strings.ToLower(name), Type: t, FileType: ft}, nil
}

// ConvertOptions tune Convert.
type ConvertOptions struct {
	Out OutType
	// Progress, if set, is called after each tensor with the number done
	// and the total.
	Progress func(done, total int, name string)
}

// Convert writes the HF model directory dir as the GGUF file out, as
// llama.cpp's convert_hf_to_gguf.py would (metadata, tensor names, Q/K
// permutation, F32 norms, no output.weight for tied embeddings), with the
// matrices re-encoded as opts.Out says. Matrices whose row length is not a
// multiple of the chosen type's block size fall back to F16 (llama.cpp's
// converter does the same for Q8_0). The file is written to a temporary
// name in out's directory and renamed into place when complete.
func Convert(dir, out string, opts ConvertOptions) error {
	c, err := Read(dir)
	if err != nil {
		return err
	}
	defer c.Close()
	ot := opts.Out
	if ot.Name == "" || ot.Name == "auto" {
		ot, err = autoType(c)
		if err != nil {
			return err
		}
	}

	tied := true
	for _, t := range c.Tensors {
		if t.Name == "output.weight" {
			tied = false
		}
	}
	choose := ot.Choose
	if ot.Plan != nil {
		names := make([]string, len(c.Tensors))
		for i := range c.Tensors {
			names[i] = c.Tensors[i].Name
		}
		choose = ot.Plan(names)
	}
	specs := make([]gguf.TensorSpec, len(c.Tensors))
	types := make([]quant.Type, len(c.Tensors))
	for i := range c.Tensors {
		t := &c.Tensors[i]
		if err := checkPermutable(t); err != nil {
			return err
		}
		typ := quant.F32
		if len(t.Dims) >= 2 && !strings.HasSuffix(t.Name, "_norm.weight") {
			typ = ot.Type
			if choose != nil {
				typ = choose(TensorChoice{Name: t.Name, Dims: t.Dims, Layers: c.Config.NumHiddenLayers, Tied: tied})
			}
			if _, err := typ.RowBytes(t.Cols()); err != nil {
				typ = quant.F16
			}
			if !typ.Supported() {
				return fmt.Errorf("hf: tensor %s: output type %v is not supported", t.Name, typ)
			}
		}
		types[i] = typ
		specs[i] = gguf.TensorSpec{Name: t.Name, Dims: t.Dims, Type: typ}
	}
	kvs := append([]gguf.KV(nil), c.KV...)
	// gguf-py writes the quantization version whatever the output type.
	kvs = append(kvs, gguf.KV{Key: "general.file_type", Value: gguf.MustValue(ot.FileType)},
		gguf.KV{Key: "general.quantization_version", Value: gguf.MustValue(uint32(2))})

	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp*")
	if err != nil {
		return fmt.Errorf("hf: %w", err)
	}
	defer os.Remove(tmp.Name())      // no-op after the rename
	bw := mmapfile.NewWriter(tmp, 0) // huge-page friendly page cache
	err = func() error {
		w, err := gguf.NewWriter(bw, kvs, specs)
		if err != nil {
			return err
		}
		for i := range c.Tensors {
			if err := c.writeTensor(w, &c.Tensors[i], types[i]); err != nil {
				return err
			}
			if opts.Progress != nil {
				opts.Progress(i+1, len(c.Tensors), c.Tensors[i].Name)
			}
		}
		if err := w.Close(); err != nil {
			return err
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := tmp.Chmod(0o644); err != nil {
			return err
		}
		return tmp.Sync()
	}()
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("hf: writing %s: %w", out, err)
	}
	return os.Rename(tmp.Name(), out)
}

// autoType keeps the checkpoint's float type: the type most of its
// matrices have.
func autoType(c *Checkpoint) (OutType, error) {
	counts := map[quant.Type]int{}
	for _, t := range c.Tensors {
		if len(t.Dims) >= 2 {
			counts[t.SrcType]++
		}
	}
	best, bt := -1, quant.F16
	for _, typ := range []quant.Type{quant.F32, quant.F16, quant.BF16} {
		if counts[typ] > best {
			best, bt = counts[typ], typ
		}
	}
	ft, _ := fileType(bt)
	return OutType{Name: strings.ToLower(bt.String()), Type: bt, FileType: ft}, nil
}

// writeTensor streams one tensor to w row by row, permuted and encoded.
// Rows that keep their source type are copied byte for byte.
func (c *Checkpoint) writeTensor(w *gguf.Writer, t *Tensor, typ quant.Type) error {
	if err := w.StartTensor(t.Name); err != nil {
		return err
	}
	if typ == t.SrcType && len(t.Dims) >= 2 {
		src, err := c.SourceData(t)
		if err != nil {
			return err
		}
		rb := t.Cols() * int64(typ.TypeSize())
		if rb*t.Rows() != int64(len(src)) {
			return fmt.Errorf("hf: tensor %s: size mismatch", t.Name)
		}
		for r := range t.Rows() {
			s := sourceRow(t, r)
			if _, err := w.Write(src[s*rb : (s+1)*rb]); err != nil {
				return err
			}
		}
		return nil
	}
	n, err := typ.RowBytes(t.Cols())
	if err != nil {
		return fmt.Errorf("hf: tensor %s: %w", t.Name, err)
	}
	buf := make([]byte, n)
	return c.ReadRows(t, func(row []float32) error {
		if _, err := encodeRow(typ, row, buf, 0); err != nil {
			return fmt.Errorf("hf: tensor %s: %w", t.Name, err)
		}
		_, err := w.Write(buf)
		return err
	})
}
