package model

import (
	"fmt"
	"unsafe"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/kernels"
	"github.com/smolbot/smolbot/quant"
)

// Tensors binds a model's weights by their GGUF names while checking every
// tensor's shape and type, like llama.cpp's create_tensor. It remembers the
// first error, so a tensor table can be written as a plain list of calls
// followed by one Err check. Finish also rejects tensors the model did not
// use, as llama.cpp does ("wrong number of tensors").
type Tensors struct {
	f    *gguf.File
	used map[string]bool
	err  error
}

// NewTensors starts binding the tensors of f.
func NewTensors(f *gguf.File) *Tensors {
	return &Tensors{f: f, used: make(map[string]bool, len(f.Tensors))}
}

// Err returns the first error so far.
func (t *Tensors) Err() error { return t.err }

func (t *Tensors) fail(name, format string, args ...any) {
	if t.err == nil {
		t.err = fmt.Errorf("model: tensor %q: %s", name, fmt.Sprintf(format, args...))
	}
}

// lookup finds a tensor and checks its ggml dims against want (ne order).
func (t *Tensors) lookup(name string, optional bool, want ...int) (*gguf.TensorInfo, []byte) {
	if t.err != nil {
		return nil, nil
	}
	ti, ok := t.f.Tensor(name)
	if !ok {
		if !optional {
			t.fail(name, "missing from the file")
		}
		return nil, nil
	}
	t.used[name] = true
	if !dimsMatch(ti.Dims, want) {
		t.fail(name, "has shape %v, want %v", ti.Dims, want)
		return nil, nil
	}
	data, err := t.f.TensorData(ti)
	if err != nil {
		t.fail(name, "%v", err)
		return nil, nil
	}
	return ti, data
}

// dimsMatch compares ggml dims, treating missing trailing dims as 1.
func dimsMatch(have []int64, want []int) bool {
	n := max(len(have), len(want))
	for i := 0; i < n; i++ {
		h, w := int64(1), int64(1)
		if i < len(have) {
			h = have[i]
		}
		if i < len(want) {
			w = int64(want[i])
		}
		if h != w {
			return false
		}
	}
	return true
}

// Matrix binds a 2-D weight with ggml ne = [cols, rows] (rows output
// features of cols inputs each), as a zero-copy view of the file.
func (t *Tensors) Matrix(name string, cols, rows int) kernels.Matrix {
	m, _ := t.matrix(name, false, cols, rows)
	return m
}

// OptionalMatrix is Matrix for a tensor that may be absent; ok reports
// whether it was present (and valid).
func (t *Tensors) OptionalMatrix(name string, cols, rows int) (m kernels.Matrix, ok bool) {
	return t.matrix(name, true, cols, rows)
}

func (t *Tensors) matrix(name string, optional bool, cols, rows int) (kernels.Matrix, bool) {
	ti, data := t.lookup(name, optional, cols, rows)
	if ti == nil {
		return kernels.Matrix{}, false
	}
	m := kernels.Matrix{Type: ti.Type, Rows: rows, Cols: cols, Data: data}
	if !kernels.Supports(ti.Type) {
		t.fail(name, "type %v is not supported (supported: F32, F16, BF16, Q4_0, Q8_0, Q4_K, Q5_K, Q6_K)", ti.Type)
		return kernels.Matrix{}, false
	}
	if err := m.Validate(); err != nil {
		t.fail(name, "%v", err)
		return kernels.Matrix{}, false
	}
	return m, true
}

// Vector binds a 1-D weight of n elements (a norm gain) as float32. F32
// data is a zero-copy view; F16/BF16 vectors are converted to a small copy.
func (t *Tensors) Vector(name string, n int) []float32 {
	v, _ := t.vector(name, false, n)
	return v
}

// OptionalVector is Vector for a tensor that may be absent.
func (t *Tensors) OptionalVector(name string, n int) ([]float32, bool) {
	return t.vector(name, true, n)
}

func (t *Tensors) vector(name string, optional bool, n int) ([]float32, bool) {
	ti, data := t.lookup(name, optional, n)
	if ti == nil {
		return nil, false
	}
	if ti.Type == quant.F32 && uintptr(unsafe.Pointer(unsafe.SliceData(data)))%4 == 0 {
		if n == 0 {
			return []float32{}, true
		}
		return unsafe.Slice((*float32)(unsafe.Pointer(&data[0])), n), true
	}
	switch ti.Type {
	case quant.F32, quant.F16, quant.BF16:
	default:
		t.fail(name, "type %v is not supported for a vector (want F32, F16 or BF16)", ti.Type)
		return nil, false
	}
	out := make([]float32, n)
	if err := quant.DequantizeRow(ti.Type, data, out); err != nil {
		t.fail(name, "%v", err)
		return nil, false
	}
	return out, true
}

// Finish returns the first error, or an error naming a tensor of the file
// that the model did not bind.
func (t *Tensors) Finish() error {
	if t.err != nil {
		return t.err
	}
	for _, ti := range t.f.Tensors {
		if !t.used[ti.Name] {
			return fmt.Errorf("model: unexpected tensor %q (%v %v) for architecture %q",
				ti.Name, ti.Type, ti.Dims, t.f.String("general.architecture", ""))
		}
	}
	return nil
}

// Blk formats a per-layer tensor name: Blk(3, "attn_q") = "blk.3.attn_q.weight".
func Blk(layer int, name string) string {
	return fmt.Sprintf("blk.%d.%s.weight", layer, name)
}
