package kernels

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"unsafe"

	"github.com/smolbot/smolbot/quant"
)

// Matrix is a weight matrix: Rows rows of Cols elements of type Type,
// row-major, each row Type.RowBytes(Cols) bytes, back to back (ggml
// ne = [Cols, Rows]). Data may be a zero-copy view of a model file.
type Matrix struct {
	Type       quant.Type
	Rows, Cols int
	Data       []byte
}

// RowBytes returns the size of one row in bytes, or 0 if Type has no
// kernel or Cols is not a positive multiple of its block size.
func (m Matrix) RowBytes() int {
	if !Supports(m.Type) {
		return 0
	}
	k := &kernelTable[m.Type]
	if m.Cols <= 0 || m.Cols%k.blockElems != 0 {
		return 0
	}
	return m.Cols / k.blockElems * k.wBytes
}

// Validate checks that m can be used with MatMul: a supported type, a
// positive Cols that is a multiple of the block size, Rows ≥ 0 and enough
// Data.
func (m Matrix) Validate() error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("kernels: %w", err)
	}
	return nil
}

func (m Matrix) validate() error {
	if !Supports(m.Type) {
		return fmt.Errorf("matrix type %v has no kernel", m.Type)
	}
	rb := m.RowBytes()
	if rb == 0 {
		return fmt.Errorf("%v matrix with %d columns: not a positive multiple of the block size %d", m.Type, m.Cols, m.Type.BlockSize())
	}
	if m.Rows < 0 {
		return fmt.Errorf("matrix with %d rows", m.Rows)
	}
	if int64(len(m.Data)) < int64(m.Rows)*int64(rb) {
		return fmt.Errorf("%v matrix %d×%d needs %d bytes, has %d", m.Type, m.Rows, m.Cols, int64(m.Rows)*int64(rb), len(m.Data))
	}
	return nil
}

// Tiling parameters. A decode item is a run of rows of about
// decodeItemBytes of weights; each thread first takes the items of its own
// contiguous share of the rows, in order, so it streams through memory
// sequentially, then helps the others. A prefill tile is prefillTileBytes of
// weight rows (L2-resident) times prefillTileTokens tokens; the tile is
// swept four tokens at a time so that every weight block is decoded once per
// four activation rows, which stay in L1, and the weights come from DRAM
// once per prefillTileTokens tokens. (Measured on the 2-core Zen box:
// 256 KiB × 256-token tiles were about 15% faster than 96 KiB × 64; 16 and
// 64 KiB decode items performed the same.)
const (
	decodeItemBytes   = 64 << 10
	prefillTileBytes  = 256 << 10
	prefillTileTokens = 256
	// quantChunk is the number of elements of one activation-quantization
	// work item.
	quantChunk = 1024
)

// actSlots are the activation types a matmul may need, in slot order.
var actSlots = [...]quant.Type{quant.Q8_K, quant.Q8_0, quant.F16, quant.BF16, quant.F32}

// Block shapes of the activation slots (quant's table is a map; these are
// read per work item).
var (
	actBlockElems = [len(actSlots)]int{qk, qk0, 1, 1, 1}
	actBlockBytes = [len(actSlots)]int{q8KBytes, q8_0Bytes, 2, 2, 4}
)

func actSlot(t quant.Type) int {
	switch t {
	case quant.Q8_K:
		return 0
	case quant.Q8_0:
		return 1
	case quant.F16:
		return 2
	case quant.BF16:
		return 3
	}
	return 4
}

// matmulState is the pool-owned state of one MatMulMulti call. Its slices
// keep their capacity between calls, so steady-state calls do not allocate.
type matmulState struct {
	ws    []Matrix
	dsts  [][]float32
	ks    []*kernel
	rowsK []rowsFunc  // per matrix: the row kernel of its form
	rows4 []rows4Func // per matrix: the 4-token kernel of its form
	rows1 []rowsFunc  // per matrix: the single-token kernel (tokens ≥ n4)
	x     []float32
	n     int
	n4    int // tokens [0, n4) are a batch; the rest use single-token arithmetic
	cols  int
	pro   Prologue // nil: x is ready

	// Quantized activations per slot (nil slot: not needed this call).
	need    [len(actSlots)]bool
	scratch [len(actSlots)][]byte
	act     [len(actSlots)][]byte // the n rows of this call
	xstride [len(actSlots)]int

	// Phase 1: prologue and quantization items, one per chunk of
	// quantChunk elements of an activation row (every slot of a chunk is
	// quantized by the item that prepared it).
	qPerRow int // items per activation row
	qItems  int
	qSlots  [len(actSlots)]int // slots to quantize
	qNSlots int

	// Phase 2: output tiles of rowBlock rows × tokBlock tokens.
	rowTiles []int // per weight: row blocks
	rowBlock []int // per weight: rows per block
	tokBlock int
	tokTiles int
	prefix   []int // cumulative tile counts per weight
	items    int

	// The tiles are cut into one contiguous range per thread. A thread takes the items of its own range in order, so each
	// thread streams through memory sequentially (what the hardware
	// prefetchers want), then helps with the other ranges.
	parts []part

	_     [64]byte
	qNext atomic.Int64
	_     [56]byte
	qDone atomic.Int64
	_     [56]byte
}

// part is one thread's range of work items [next, end), padded to its own
// cache line.
type part struct {
	next atomic.Int64
	end  int64
	_    [48]byte
}

// MatMul computes dst = x·wᵀ for n activation rows: x holds n rows of
// w.Cols f32 values (row-major) and dst receives n rows of w.Rows values,
// dst[t*w.Rows+r] = dot(w row r, x row t). Like llama.cpp, each activation
// row is first quantized to w.Type.VecDotType() (once, in parallel), so the
// result carries the reference rounding (spec §3.6).
//
// It returns an error, and computes nothing, if w is invalid (Validate), n
// is negative, or x or dst is shorter than n rows. dst must not overlap x.
func (p *Pool) MatMul(dst []float32, w Matrix, x []float32, n int) error {
	ws := [1]Matrix{w}
	dsts := [1][]float32{dst}
	return p.MatMulMulti(dsts[:], ws[:], x, n)
}

// MatMulMulti computes several products that read the same activations, as
// one parallel call: dsts[i] = x·ws[i]ᵀ, each as in MatMul. All matrices must
// have the same Cols. x is quantized once per distinct VecDotType (q, k and
// v weights, or gate and up, usually share one), and the rows of all
// matrices are spread over the threads together, so the threads stay busy
// across matrices of different sizes and there is one barrier instead of
// one per matrix. The results are identical to separate MatMul calls.
//
// It returns an error, and computes nothing, if the lengths of dsts and ws
// differ, a matrix is invalid, the Cols differ, or x or a dst is too short.
// It does not retain dsts, ws or x after returning and does not allocate in
// steady state (the slices may be literals at the call site).
func (p *Pool) MatMulMulti(dsts [][]float32, ws []Matrix, x []float32, n int) error {
	return p.matMul(dsts, ws, x, n, nil)
}

func (p *Pool) matMul(dsts [][]float32, ws []Matrix, x []float32, n int, pro Prologue) error {
	if len(dsts) != len(ws) {
		return fmt.Errorf("kernels: MatMulMulti with %d outputs for %d matrices", len(dsts), len(ws))
	}
	if n < 0 {
		return fmt.Errorf("kernels: MatMul with %d rows", n)
	}
	if len(ws) == 0 {
		return nil
	}
	cols := ws[0].Cols
	for i, w := range ws {
		if err := w.validate(); err != nil {
			return fmt.Errorf("kernels: matrix %d: %w", i, err)
		}
		if w.Cols != cols {
			return fmt.Errorf("kernels: matrix %d has %d columns, matrix 0 has %d", i, w.Cols, cols)
		}
		if int64(len(dsts[i])) < int64(n)*int64(w.Rows) {
			return fmt.Errorf("kernels: output %d has %d values, need %d×%d", i, len(dsts[i]), n, w.Rows)
		}
		if overlap(dsts[i][:n*w.Rows], x[:min(len(x), n*cols)]) {
			return fmt.Errorf("kernels: output %d overlaps the input", i)
		}
	}
	if int64(len(x)) < int64(n)*int64(cols) {
		return fmt.Errorf("kernels: input has %d values, need %d×%d", len(x), n, cols)
	}
	if n == 0 {
		return nil
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("kernels: MatMul on a closed Pool")
	}
	m := &p.mm
	m.setup(dsts, ws, x, n, p.threads, p.singleFrom)
	m.pro = pro
	if pro != nil {
		m.qItems = n * m.qPerRow
	}
	p.dispatch(m)
	m.release()
	return nil
}

// A Prologue computes a matrix product's input just before it is
// quantized, inside the same parallel call (MatMulPrologue): the
// element-wise op that produces the input (SwiGLU before the FFN's down
// projection) then costs no barrier of its own and is spread over the
// threads in the quantizer's chunks.
type Prologue interface {
	// Prepare computes elements [e0, e1) of activation row t (x[t*cols+e0 :
	// t*cols+e1]). Chunks do not overlap, start at multiples of 1024 and
	// together cover every row once; Prepare may run on any thread,
	// concurrently with other chunks.
	Prepare(t, e0, e1 int)
}

// MatMulPrologue is MatMul with pro.Prepare computing x, chunk by chunk,
// before the chunk is quantized (or, for a float matrix, used). x must not
// be read or written by anything else during the call.
func (p *Pool) MatMulPrologue(dst []float32, w Matrix, x []float32, n int, pro Prologue) error {
	ws := [1]Matrix{w}
	dsts := [1][]float32{dst}
	return p.matMul(dsts[:], ws[:], x, n, pro)
}

// overlap reports whether a and b share memory.
func overlap(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+4*uintptr(len(b)) && b0 < a0+4*uintptr(len(a))
}

// setup copies the call into the pool-owned state and plans the work.
// Tokens from singleFrom on (if 0 ≤ singleFrom < n) take the single-token
// kernels; the batch form is chosen for the tokens before them alone.
func (m *matmulState) setup(dsts [][]float32, ws []Matrix, x []float32, n, threads, singleFrom int) {
	m.ws = append(m.ws[:0], ws...)
	m.dsts = append(m.dsts[:0], dsts...)
	m.ks, m.rowsK, m.rows4, m.rows1 = m.ks[:0], m.rowsK[:0], m.rows4[:0], m.rows1[:0]
	m.x, m.n, m.cols = x, n, ws[0].Cols
	m.n4 = n
	if singleFrom >= 0 && singleFrom < n {
		m.n4 = singleFrom
	}
	m.need = [len(actSlots)]bool{}
	for _, w := range ws {
		k := &kernelTable[w.Type]
		m.ks = append(m.ks, k)
		r, r4 := k.form(w.Rows, w.Cols, m.n4)
		r1, _ := k.form(w.Rows, w.Cols, 1)
		if w.Type == quant.Q4_K && q4kRepacked(w.Rows) {
			// llama.cpp's repacked Q4_Kx8 kernels (q4krep.go): gemv for
			// single tokens, gemm for the groups of four.
			r, r4, r1 = q4kRep.rows, q4kRep.rows4, q4kRep.rows
		}
		if w.Type == quant.Q4_0 && q4_0Repacked(w.Rows) {
			// The repacked Q4_0x8 kernels (q40rep.go).
			r, r4, r1 = q40Rep.rows, q40Rep.rows4, q40Rep.rows
		}
		m.rowsK = append(m.rowsK, r)
		m.rows4 = append(m.rows4, r4)
		m.rows1 = append(m.rows1, r1)
		m.need[actSlot(k.act)] = true
	}

	// Activation buffers and quantization items.
	m.qNSlots = 0
	for s, a := range actSlots {
		if !m.need[s] {
			continue
		}
		if a == quant.F32 {
			m.act[s] = f32Bytes(x[:n*m.cols])
			m.xstride[s] = 4 * m.cols
			continue
		}
		rb := m.cols / actBlockElems[s] * actBlockBytes[s]
		if cap(m.scratch[s]) < n*rb {
			m.scratch[s] = make([]byte, n*rb)
		}
		m.act[s] = m.scratch[s][:n*rb]
		m.xstride[s] = rb
		m.qSlots[m.qNSlots] = s
		m.qNSlots++
	}
	m.qPerRow = (m.cols + quantChunk - 1) / quantChunk
	m.qItems = 0
	if m.qNSlots > 0 {
		m.qItems = n * m.qPerRow
	}
	m.qNext.Store(0)
	m.qDone.Store(0)

	// Output tiles.
	if n == 1 {
		m.tokBlock = 1
	} else {
		m.tokBlock = prefillTileTokens
	}
	m.tokTiles = (n + m.tokBlock - 1) / m.tokBlock
	m.rowTiles, m.rowBlock, m.prefix = m.rowTiles[:0], m.rowBlock[:0], m.prefix[:0]
	m.items = 0
	for _, w := range ws {
		rb := w.RowBytes()
		var rows int
		if n == 1 {
			rows = decodeItemBytes / rb
			// At least 4 items per thread per matrix, for balance.
			rows = min(rows, (w.Rows+4*threads-1)/(4*threads))
			// Whole quads of rows (the nearest number): the repacked Q4_K
			// kernel takes rows four at a time and the rest one by one,
			// much more slowly (11008-column rows would otherwise leave 2
			// of every 10).
			if rows >= 4 {
				rows = (rows + 2) &^ 3
			}
		} else {
			rows = prefillTileBytes / rb
			rows = min(rows, (w.Rows*m.tokTiles+4*threads-1)/(4*threads))
		}
		rows = max(rows, 1)
		tiles := (w.Rows + rows - 1) / rows
		m.rowBlock = append(m.rowBlock, rows)
		m.rowTiles = append(m.rowTiles, tiles)
		m.items += tiles * m.tokTiles
		m.prefix = append(m.prefix, m.items)
	}
	if len(m.parts) != threads {
		m.parts = make([]part, threads)
	}
	for t := range m.parts {
		m.parts[t].next.Store(int64(t * m.items / threads))
		m.parts[t].end = int64((t + 1) * m.items / threads)
	}
}

// release drops the references to the caller's memory.
func (m *matmulState) release() {
	clear(m.ws)
	clear(m.dsts)
	clear(m.rowsK)
	clear(m.rows4)
	clear(m.rows1)
	m.x = nil
	m.pro = nil
	for s := range m.act {
		m.act[s] = nil
	}
}

func (m *matmulState) run(thread int) {
	// Phase 1: quantize the activations.
	if m.qItems > 0 {
		for {
			i := int(m.qNext.Add(1) - 1)
			if i >= m.qItems {
				break
			}
			m.quantizeItem(i)
			m.qDone.Add(1)
		}
		for spin := 0; m.qDone.Load() != int64(m.qItems); spin++ {
			if spin%yieldEvery == yieldEvery-1 {
				runtime.Gosched()
			}
		}
	}
	// Phase 2: dot products, tile by tile, own range first.
	for k := range m.parts {
		p := &m.parts[(thread+k)%len(m.parts)]
		for {
			i := p.next.Add(1) - 1
			if i >= p.end {
				break
			}
			m.tile(int(i))
		}
	}
}

// quantizeItem prepares (with the prologue) and quantizes chunk i: chunk
// i%qPerRow of activation row i/qPerRow, for every slot.
func (m *matmulState) quantizeItem(i int) {
	t, c := i/m.qPerRow, i%m.qPerRow
	e0 := c * quantChunk
	e1 := min(e0+quantChunk, m.cols)
	if m.pro != nil {
		m.pro.Prepare(t, e0, e1)
	}
	src := m.x[t*m.cols+e0 : t*m.cols+e1]
	for _, s := range m.qSlots[:m.qNSlots] {
		be, bb := actBlockElems[s], actBlockBytes[s]
		dst := m.act[s][t*m.xstride[s]+e0/be*bb : t*m.xstride[s]+e1/be*bb]
		switch actSlots[s] {
		case quant.Q8_K:
			quantizeQ8K(src, dst)
		case quant.Q8_0:
			quantizeQ8_0(src, dst)
		case quant.F16:
			convertF16(src, dst)
		case quant.BF16:
			convertBF16(src, dst)
		}
	}
}

// tile computes output tile i: one row block of one matrix for one token
// block.
func (m *matmulState) tile(i int) {
	wi := 0
	for i >= m.prefix[wi] {
		wi++
	}
	if wi > 0 {
		i -= m.prefix[wi-1]
	}
	rt, tt := i%m.rowTiles[wi], i/m.rowTiles[wi]
	w, k, dst := &m.ws[wi], m.ks[wi], m.dsts[wi]
	rows, rows4 := m.rowsK[wi], m.rows4[wi]
	rb := w.RowBytes()
	nb := m.cols / k.blockElems
	r0 := rt * m.rowBlock[wi]
	r1 := min(r0+m.rowBlock[wi], w.Rows)
	t0 := tt * m.tokBlock
	t1 := min(t0+m.tokBlock, m.n)
	s := actSlot(k.act)
	xs := m.xstride[s]
	x := m.act[s]
	wd := w.Data[r0*rb : r1*rb]
	t, tb := t0, min(t1, m.n4)
	for ; t+4 <= tb; t += 4 {
		rows4(dst[t*w.Rows+r0:], w.Rows, wd, rb, x[t*xs:], xs, nb, r1-r0)
	}
	for ; t < tb; t++ {
		rows(dst[t*w.Rows+r0:t*w.Rows+r1], wd, rb, x[t*xs:], nb)
	}
	for rows1 := m.rows1[wi]; t < t1; t++ {
		rows1(dst[t*w.Rows+r0:t*w.Rows+r1], wd, rb, x[t*xs:], nb)
	}
}
