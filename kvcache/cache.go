// Package kvcache stores the keys and values of one sequence's past tokens,
// layer by layer, for the attention of later tokens. It knows nothing about
// models: it is told the number of layers, KV heads, head dimension,
// context size and element type.
//
// # Layout and memory
//
// Cells (one per token position) are grouped in pages of PageCells cells;
// every page holds all layers. Pages are allocated lazily, when the
// sequence first grows into them (Grow), and kept until Release, so a
// sequence only pays for the context it uses and steady-state decoding
// allocates nothing except one page every PageCells tokens. Call Grow with
// the full context up front to allocate everything at once. The full
// memory of a cache is
//
//	layers × context × kvHeads × headDim × 2 (K and V) × element size
//
// rounded up to whole pages (Q8_0: 34 bytes per 32 elements). For
// SmolLM3-3B with F16 that is 73,728 bytes per token (spec §7.2).
//
// Keys are stored after RoPE. F16 storage rounds to nearest even (spec
// §3.6). Within a page, keys are head-major rows and F32/F16 values are
// transposed (see tensor.KVLayer), which is what the attention reads.
//
// # Usage
//
// A model writes the K/V of new tokens at positions Len(), Len()+1, … with
// Put after Grow, then calls SetLen. Truncate(n) forgets every token from
// position n on, so a chat turn can reuse the common prefix of the previous
// prompt. A Cache is not safe for concurrent use.
package kvcache

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/smolbot/smolbot/quant"
	"github.com/smolbot/smolbot/tensor"
)

// PageCells is the number of token cells per lazily allocated page.
const PageCells = 256

// DefaultContext is the context size used when none is requested.
const DefaultContext = 8192

// Options describe a cache.
type Options struct {
	Layers  int        // transformer layers
	KVHeads int        // KV heads per layer
	HeadDim int        // elements per head
	Context int        // maximum number of tokens (cells)
	Type    quant.Type // quant.F16, quant.F32 or quant.Q8_0
}

// ParseType parses a KV element type name: "f16", "f32" or "q8_0"
// (case-insensitive).
func ParseType(s string) (quant.Type, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "f16":
		return quant.F16, nil
	case "f32":
		return quant.F32, nil
	case "q8_0":
		return quant.Q8_0, nil
	}
	return 0, fmt.Errorf("kvcache: unknown KV type %q (want f16, f32 or q8_0)", s)
}

// Cache is one sequence's K/V storage.
type Cache struct {
	opt      Options
	rowBytes int // bytes of one K row (HeadDim elements)
	kBytes   int // bytes of one layer's K in one page
	vBytes   int // bytes of one layer's V in one page
	n        int // tokens held
	pages    int // pages allocated
	layers   []tensor.KVLayer
	bytes    int64
}

// New validates o and returns an empty cache. No memory for cells is
// allocated until Grow.
func New(o Options) (*Cache, error) {
	if o.Layers <= 0 || o.KVHeads <= 0 || o.HeadDim <= 0 || o.Context <= 0 {
		return nil, fmt.Errorf("kvcache: layers %d, KV heads %d, head dim %d and context %d must be positive",
			o.Layers, o.KVHeads, o.HeadDim, o.Context)
	}
	if !tensor.KVElemSupported(o.Type) {
		return nil, fmt.Errorf("kvcache: element type %v not supported (want F16, F32 or Q8_0)", o.Type)
	}
	rb, err := o.Type.RowBytes(int64(o.HeadDim))
	if err != nil {
		return nil, fmt.Errorf("kvcache: head dimension %d with %v: %w", o.HeadDim, o.Type, err)
	}
	// Bound the full size so that byte arithmetic cannot overflow.
	perToken := 2 * int64(o.Layers) * int64(o.KVHeads) * rb
	if perToken > 1<<30 || int64(o.Context) > 1<<30/PageCells*PageCells || perToken*int64(o.Context) > 1<<50 {
		return nil, fmt.Errorf("kvcache: %d bytes per token × %d tokens is too large", perToken, o.Context)
	}
	c := &Cache{opt: o, rowBytes: int(rb)}
	c.kBytes = o.KVHeads * PageCells * c.rowBytes
	c.vBytes = c.kBytes
	c.layers = make([]tensor.KVLayer, o.Layers)
	for i := range c.layers {
		c.layers[i] = tensor.KVLayer{Type: o.Type, Heads: o.KVHeads, HeadDim: o.HeadDim, PageCells: PageCells}
	}
	return c, nil
}

// Options returns the options the cache was made with.
func (c *Cache) Options() Options { return c.opt }

// Len is the number of tokens held: positions 0 … Len()-1.
func (c *Cache) Len() int { return c.n }

// Cap is the context size: the most tokens the cache can hold.
func (c *Cache) Cap() int { return c.opt.Context }

// Allocated is the number of cells with memory behind them.
func (c *Cache) Allocated() int { return min(c.pages*PageCells, c.opt.Context) }

// Bytes is the memory allocated for cells so far.
func (c *Cache) Bytes() int64 { return c.bytes }

// BytesPerToken is the K+V memory of one token across all layers.
func (c *Cache) BytesPerToken() int64 {
	return 2 * int64(c.opt.Layers) * int64(c.opt.KVHeads) * int64(c.rowBytes)
}

// Truncate forgets the tokens at positions n and later. n ≥ Len() is a
// no-op and n < 0 empties the cache. Memory is kept for reuse.
func (c *Cache) Truncate(n int) {
	if n < c.n {
		c.n = max(n, 0)
	}
}

// Reset empties the cache, keeping its memory.
func (c *Cache) Reset() { c.n = 0 }

// Release empties the cache and frees its memory.
func (c *Cache) Release() {
	c.n = 0
	c.pages = 0
	c.bytes = 0
	for i := range c.layers {
		c.layers[i].K = nil
		c.layers[i].V = nil
	}
}

// Grow makes sure cells [0, n) have memory, allocating whole pages. It
// fails if n exceeds the context size.
func (c *Cache) Grow(n int) error {
	if n > c.opt.Context {
		return fmt.Errorf("kvcache: %d tokens exceed the context size %d", n, c.opt.Context)
	}
	for c.pages*PageCells < n {
		per := c.kBytes + c.vBytes
		// Allocate as []float32 so F32 views of the bytes are aligned.
		words := make([]float32, (per*c.opt.Layers+3)/4)
		page := f32Bytes(words)
		for i := range c.layers {
			off := i * per
			l := &c.layers[i]
			l.K = append(l.K, page[off:off+c.kBytes:off+c.kBytes])
			l.V = append(l.V, page[off+c.kBytes:off+per:off+per])
		}
		c.pages++
		c.bytes += int64(len(page))
	}
	return nil
}

// SetLen records that positions [0, n) now hold tokens. The model calls it
// after writing every layer's K/V for the new positions; n must not exceed
// Allocated().
func (c *Cache) SetLen(n int) error {
	if n < 0 || n > c.Allocated() {
		return fmt.Errorf("kvcache: length %d outside the %d allocated cells", n, c.Allocated())
	}
	c.n = n
	return nil
}

// Layer returns the read view of layer l for attention. The view is
// invalidated by Grow (which may append pages) and Release.
func (c *Cache) Layer(l int) *tensor.KVLayer { return &c.layers[l] }

// Put stores the key and value of the token at position pos in layer l:
// k and v hold KVHeads × HeadDim elements each, k after RoPE. The cell must
// be allocated (Grow). Put panics on out-of-range arguments, which are
// programmer errors.
func (c *Cache) Put(l, pos int, k, v []float32) {
	if pos < 0 || pos >= c.Allocated() {
		panic(fmt.Sprintf("kvcache: Put at position %d outside the %d allocated cells", pos, c.Allocated()))
	}
	o := &c.opt
	D := o.HeadDim
	k, v = k[:o.KVHeads*D], v[:o.KVHeads*D]
	layer := &c.layers[l]
	p, cell := pos/PageCells, pos%PageCells
	kp, vp := layer.K[p], layer.V[p]
	for h := 0; h < o.KVHeads; h++ {
		kh, vh := k[h*D:(h+1)*D], v[h*D:(h+1)*D]
		row := (h*PageCells + cell) * c.rowBytes
		switch o.Type {
		case quant.F32:
			for d, x := range kh {
				binary.LittleEndian.PutUint32(kp[row+4*d:], math.Float32bits(x))
			}
			plane := h * D * PageCells
			for d, x := range vh {
				binary.LittleEndian.PutUint32(vp[4*(plane+d*PageCells+cell):], math.Float32bits(x))
			}
		case quant.F16:
			for d, x := range kh {
				binary.LittleEndian.PutUint16(kp[row+2*d:], quant.F32ToF16(x))
			}
			plane := h * D * PageCells
			for d, x := range vh {
				binary.LittleEndian.PutUint16(vp[2*(plane+d*PageCells+cell):], quant.F32ToF16(x))
			}
		case quant.Q8_0:
			quantizeQ8_0(kp[row:row+c.rowBytes], kh)
			quantizeQ8_0(vp[row:row+c.rowBytes], vh)
		}
	}
}

// quantizeQ8_0 stores a row as Q8_0 the way ggml's CPU backend writes a
// Q8_0 cache (its activation quantizer, round half to even).
func quantizeQ8_0(dst []byte, src []float32) { quant.QuantizeQ8_0Act(src, dst) }

// f32Bytes views float32 storage as bytes (little-endian platforms).
func f32Bytes(w []float32) []byte {
	if len(w) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), 4*len(w))
}
