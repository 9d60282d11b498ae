package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
)

// WriteTensor is one tensor for Write.
type WriteTensor struct {
	Name  string
	DType DType
	Shape []int64 // row-major
	Data  []byte  // little-endian, len = elements × dtype size
}

// Write writes a .safetensors file holding tensors in the given order, with
// optional metadata. The header is padded with spaces to a multiple of 8
// bytes, as the reference writer does, so that 8-byte aligned data stays
// aligned.
func Write(w io.Writer, tensors []WriteTensor, metadata map[string]string) error {
	hdr := map[string]any{}
	if len(metadata) > 0 {
		hdr["__metadata__"] = metadata
	}
	var off int64
	for _, t := range tensors {
		if t.Name == "__metadata__" {
			return fmt.Errorf("safetensors: write: reserved tensor name %q", t.Name)
		}
		if _, dup := hdr[t.Name]; dup {
			return fmt.Errorf("safetensors: write: duplicate tensor %q", t.Name)
		}
		n := int64(t.DType.Size())
		if n == 0 {
			return fmt.Errorf("safetensors: write: tensor %q: unknown dtype %q", t.Name, t.DType)
		}
		for _, d := range t.Shape {
			if d < 0 {
				return fmt.Errorf("safetensors: write: tensor %q: negative dimension", t.Name)
			}
			n *= d
		}
		if int64(len(t.Data)) != n {
			return fmt.Errorf("safetensors: write: tensor %q: %d bytes of data, shape needs %d", t.Name, len(t.Data), n)
		}
		shape := t.Shape
		if shape == nil {
			shape = []int64{}
		}
		hdr[t.Name] = headerEntry{DType: t.DType, Shape: shape, DataOffsets: []int64{off, off + n}}
		off += n
	}
	js, err := json.Marshal(hdr)
	if err != nil {
		return fmt.Errorf("safetensors: write: %w", err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(len(js)))
	if _, err := w.Write(lenBuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(js); err != nil {
		return err
	}
	for _, t := range tensors {
		if _, err := w.Write(t.Data); err != nil {
			return err
		}
	}
	return nil
}
