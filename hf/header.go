package hf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/smolbot/smolbot/gguf"
	"github.com/smolbot/smolbot/quant"
)

// headerTensor is a tensor info for encodeHeader, with a caller-chosen
// offset (relative to the data section).
type headerTensor struct {
	Name   string
	Dims   []int64
	Type   quant.Type
	Offset uint64
}

// encodeHeader encodes a GGUF v3 header, metadata and tensor infos (spec
// §1.2) with the given offsets. gguf.Writer lays tensors out itself; Open
// needs offsets that point into other mappings, hence this small encoder.
// It supports the value types this package produces.
func encodeHeader(kvs []gguf.KV, tensors []headerTensor) ([]byte, error) {
	le := binary.LittleEndian
	b := []byte(gguf.Magic)
	b = le.AppendUint32(b, 3)
	b = le.AppendUint64(b, uint64(len(tensors)))
	b = le.AppendUint64(b, uint64(len(kvs)))
	str := func(b []byte, s string) []byte { return append(le.AppendUint64(b, uint64(len(s))), s...) }
	for _, p := range kvs {
		b = str(b, p.Key)
		b = le.AppendUint32(b, uint32(p.Value.Type))
		switch v := p.Value.Any().(type) {
		case string:
			b = str(b, v)
		case uint32:
			b = le.AppendUint32(b, v)
		case int32:
			b = le.AppendUint32(b, uint32(v))
		case float32:
			b = le.AppendUint32(b, math.Float32bits(v))
		case bool:
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		case gguf.Array:
			b = le.AppendUint32(b, uint32(v.Elem))
			b = le.AppendUint64(b, uint64(v.Len()))
			switch d := v.Data().(type) {
			case []string:
				for _, s := range d {
					b = str(b, s)
				}
			case []int32:
				for _, x := range d {
					b = le.AppendUint32(b, uint32(x))
				}
			default:
				return nil, fmt.Errorf("hf: metadata %q: array of %s not supported", p.Key, v.Elem)
			}
		default:
			return nil, fmt.Errorf("hf: metadata %q: type %s not supported", p.Key, p.Value.Type)
		}
	}
	for _, t := range tensors {
		b = str(b, t.Name)
		b = le.AppendUint32(b, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			b = le.AppendUint64(b, uint64(d))
		}
		b = le.AppendUint32(b, uint32(t.Type))
		b = le.AppendUint64(b, t.Offset)
	}
	return b, nil
}
