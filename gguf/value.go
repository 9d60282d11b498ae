package gguf

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// ValueType is the type tag of a GGUF metadata value (gguf_type).
type ValueType uint32

// The GGUF metadata value types (spec §1.3).
const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64"}

// String returns a short name of the type ("u32", "string", ...).
func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// size is the encoded size of a scalar of this type, 0 for string/array.
func (t ValueType) size() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

func (t ValueType) valid() bool { return t <= TypeFloat64 }

// Value is one metadata value. Scalars hold the Go type matching their GGUF
// type (uint8, int8, uint16, int16, uint32, int32, float32, bool, string,
// uint64, int64, float64); arrays hold an Array.
type Value struct {
	Type ValueType
	v    any
}

// Array is a GGUF array value. Elements are stored in a typed slice
// ([]uint8, []int8, ..., []string, []bool, or []Array for nested arrays).
type Array struct {
	Elem ValueType
	data any
}

// Len is the number of elements.
func (a Array) Len() int {
	switch d := a.data.(type) {
	case []uint8:
		return len(d)
	case []int8:
		return len(d)
	case []uint16:
		return len(d)
	case []int16:
		return len(d)
	case []uint32:
		return len(d)
	case []int32:
		return len(d)
	case []float32:
		return len(d)
	case []bool:
		return len(d)
	case []string:
		return len(d)
	case []uint64:
		return len(d)
	case []int64:
		return len(d)
	case []float64:
		return len(d)
	case []Array:
		return len(d)
	}
	return 0
}

// Data returns the typed slice holding the elements. Callers must not modify it.
func (a Array) Data() any { return a.data }

// At returns element i as a Value.
func (a Array) At(i int) Value {
	switch d := a.data.(type) {
	case []uint8:
		return Value{a.Elem, d[i]}
	case []int8:
		return Value{a.Elem, d[i]}
	case []uint16:
		return Value{a.Elem, d[i]}
	case []int16:
		return Value{a.Elem, d[i]}
	case []uint32:
		return Value{a.Elem, d[i]}
	case []int32:
		return Value{a.Elem, d[i]}
	case []float32:
		return Value{a.Elem, d[i]}
	case []bool:
		return Value{a.Elem, d[i]}
	case []string:
		return Value{a.Elem, d[i]}
	case []uint64:
		return Value{a.Elem, d[i]}
	case []int64:
		return Value{a.Elem, d[i]}
	case []float64:
		return Value{a.Elem, d[i]}
	case []Array:
		return Value{TypeArray, d[i]}
	}
	panic("gguf: Array.At on empty array")
}

// NewValue builds a Value from a Go value of one of the supported types
// (the scalar types listed on Value, string, or a slice of them, which becomes
// an array; []Array becomes a nested array). It is meant for writers.
func NewValue(v any) (Value, error) {
	switch x := v.(type) {
	case uint8:
		return Value{TypeUint8, x}, nil
	case int8:
		return Value{TypeInt8, x}, nil
	case uint16:
		return Value{TypeUint16, x}, nil
	case int16:
		return Value{TypeInt16, x}, nil
	case uint32:
		return Value{TypeUint32, x}, nil
	case int32:
		return Value{TypeInt32, x}, nil
	case float32:
		return Value{TypeFloat32, x}, nil
	case bool:
		return Value{TypeBool, x}, nil
	case string:
		return Value{TypeString, x}, nil
	case uint64:
		return Value{TypeUint64, x}, nil
	case int64:
		return Value{TypeInt64, x}, nil
	case float64:
		return Value{TypeFloat64, x}, nil
	case Array:
		return Value{TypeArray, x}, nil
	case []uint8:
		return Value{TypeArray, Array{TypeUint8, x}}, nil
	case []int8:
		return Value{TypeArray, Array{TypeInt8, x}}, nil
	case []uint16:
		return Value{TypeArray, Array{TypeUint16, x}}, nil
	case []int16:
		return Value{TypeArray, Array{TypeInt16, x}}, nil
	case []uint32:
		return Value{TypeArray, Array{TypeUint32, x}}, nil
	case []int32:
		return Value{TypeArray, Array{TypeInt32, x}}, nil
	case []float32:
		return Value{TypeArray, Array{TypeFloat32, x}}, nil
	case []bool:
		return Value{TypeArray, Array{TypeBool, x}}, nil
	case []string:
		return Value{TypeArray, Array{TypeString, x}}, nil
	case []uint64:
		return Value{TypeArray, Array{TypeUint64, x}}, nil
	case []int64:
		return Value{TypeArray, Array{TypeInt64, x}}, nil
	case []float64:
		return Value{TypeArray, Array{TypeFloat64, x}}, nil
	case []Array:
		return Value{TypeArray, Array{TypeArray, x}}, nil
	}
	return Value{}, fmt.Errorf("gguf: unsupported value type %T", v)
}

// MustValue is NewValue for values known to be valid at compile time; it
// panics on a programmer error.
func MustValue(v any) Value {
	val, err := NewValue(v)
	if err != nil {
		panic(err)
	}
	return val
}

// Any returns the underlying Go value (an Array for arrays).
func (v Value) Any() any { return v.v }

// Array returns the array and true if the value is an array.
func (v Value) Array() (Array, bool) {
	a, ok := v.v.(Array)
	return a, ok
}

// AsString returns the string and true if the value is a string.
func (v Value) AsString() (string, bool) {
	s, ok := v.v.(string)
	return s, ok
}

// AsBool returns the value as a bool (true for a bool; integers are not converted).
func (v Value) AsBool() (bool, bool) {
	b, ok := v.v.(bool)
	return b, ok
}

// AsInt returns an integer value of any width as int64. Unsigned 64-bit
// values above MaxInt64 are rejected.
func (v Value) AsInt() (int64, bool) {
	switch x := v.v.(type) {
	case uint8:
		return int64(x), true
	case int8:
		return int64(x), true
	case uint16:
		return int64(x), true
	case int16:
		return int64(x), true
	case uint32:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

// AsFloat returns a float value (f32 or f64; integers are converted too).
func (v Value) AsFloat() (float64, bool) {
	switch x := v.v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := v.AsInt(); ok {
		return float64(i), true
	}
	return 0, false
}

// String formats the value for humans; long arrays are summarized.
func (v Value) String() string {
	if a, ok := v.Array(); ok {
		n := a.Len()
		s := fmt.Sprintf("[%s × %d]", a.Elem, n)
		show := min(n, 8)
		if show > 0 {
			s += " ["
			for i := range show {
				if i > 0 {
					s += ", "
				}
				s += a.At(i).String()
			}
			if n > show {
				s += ", …"
			}
			s += "]"
		}
		return s
	}
	if str, ok := v.v.(string); ok {
		if len(str) > 120 {
			// Cut on a rune boundary so the preview stays valid UTF-8.
			cut := 120
			for cut > 0 && !utf8.RuneStart(str[cut]) {
				cut--
			}
			return fmt.Sprintf("%q… (%d bytes)", str[:cut], len(str))
		}
		return fmt.Sprintf("%q", str)
	}
	return fmt.Sprint(v.v)
}
