// Package kernels computes the dot products and matrix products of
// smolbot's inference.
//
// Dot and the typed DotXxx functions take one weight row and one activation
// row already converted to the weight type's VecDotType
// (quant.Type.VecDotType: Q8_K for Q4_K/Q5_K/Q6_K, Q8_0 for Q4_0/Q8_0, the
// weight's own type for F32/F16/BF16). A Pool runs whole matrix products on persistent worker
// goroutines: MatMul quantizes f32 activations once per call, exactly as
// llama.cpp does (spec §3.6), and spreads rows (decode) or row×token tiles
// (prefill) over the threads; MatMulMulti does the same for several
// matrices that read the same input (q/k/v, gate/up) with one quantization
// and one barrier; Run and RunTask are a general parallel for.
//
// Every kernel has a pure-Go version (the *Generic functions: always
// compiled, the test oracle and the purego path) and, on amd64, AVX2+FMA and
// AVX-512 (VNNI) versions in assembly. The best version for the CPU
// (internal/cpu.Best, capped by SMOLBOT_CPU) is chosen at init into
// package-level function values, and chosen again when a test calls
// cpu.Force.
//
// Integer partial sums are exact in every version (spec §4.9). Every
// kernel reproduces the f32 operations of llama.cpp's x86 CPU backend bit
// for bit, and every level gives the same bits as the generic kernel: the
// float types and Q8_0 as ggml_vec_dot_* for single tokens and llamafile's
// tinyBLAS for batches (dot_generic.go), Q5_K and Q6_K as ggml's AVX2
// vec_dot, and Q4_0 and Q4_K matrices with rows%8 == 0 as the repacked
// Q4_0x8/Q4_Kx8 gemv (single tokens) and gemm (groups of four) kernels
// (q40rep.go, q4krep.go); smaller Q4_0/Q4_K matrices use vec_dot's order.
package kernels

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/smolbot/smolbot/internal/cpu"
	"github.com/smolbot/smolbot/quant"
)

// rowsFunc computes len(dst) dot products of consecutive weight rows against
// one activation row: dst[r] = dot(w[r*wstride:], x) over nb blocks. It
// panics if a slice is too short.
type rowsFunc func(dst []float32, w []byte, wstride int, x []byte, nb int)

// rows4Func computes rows×4 dot products, weight rows against four
// activation rows: dst[t*dstStride+r] = dot(w[r*wstride:], x[t*xstride:])
// for t < 4 and r < rows. Each weight block is loaded once for the four
// activations, which is what makes prefill compute-bound.
type rows4Func func(dst []float32, dstStride int, w []byte, wstride int, x []byte, xstride int, nb, rows int)

// kernel is the dispatch entry of one weight type.
type kernel struct {
	act        quant.Type // activation type (VecDotType)
	blockElems int        // elements per weight block (1 for float types)
	wBytes     int        // bytes per weight block
	xBytes     int        // bytes per activation block
	dot        func(w, x []byte, nb int) float32
	rows       rowsFunc
	rows4      rows4Func

	// The GEMM form of the float types (llamafile's tinyBLAS, see
	// dot_generic.go), for matrices with a multiple of 4 rows and of gemmK
	// columns; gemmK == 0 means the type has a single form.
	gemmK     int
	gemmDot   func(w, x []byte, nb int) float32
	gemmRows  rowsFunc
	gemmRows4 rows4Func
}

// form returns the row kernels llama.cpp's CPU backend uses for a rows×cols
// matrix of this type multiplied by n activation rows: tinyBLAS when
// llamafile_sgemm takes the product (a batch of n ≥ 2 rows, and a float
// type with rows%4 == 0 and cols%gemmK == 0), the vector dot otherwise.
//
// Like llama.cpp, the result of a float matrix for one token therefore
// depends on whether the token is alone (decode) or in a batch (prompt):
// the two orders differ in the last bits.
func (k *kernel) form(rows, cols, n int) (rowsFunc, rows4Func) {
	if k.gemmK > 0 && n >= 2 && rows%4 == 0 && cols%k.gemmK == 0 {
		return k.gemmRows, k.gemmRows4
	}
	return k.rows, k.rows4
}

// maxType bounds the quant.Type values kept in the dispatch table.
const maxType = quant.BF16 + 1

var (
	// kernelTable is indexed by weight type; rows == nil means unsupported.
	kernelTable [maxType]kernel
	// level is the cpu.Level the table was built for.
	level cpu.Level
)

func init() {
	cpu.OnChange(selectKernels)
}

// selectKernels fills kernelTable for level l: generic entries first, then
// whatever the architecture file overrides.
func selectKernels(l cpu.Level) {
	t := &kernelTable
	set := func(wt, act quant.Type, be, wb, xb int, dot func(w, x []byte, nb int) float32) *kernel {
		t[wt] = kernel{act: act, blockElems: be, wBytes: wb, xBytes: xb,
			dot: dot, rows: genericRows(dot), rows4: genericRows4(dot)}
		return &t[wt]
	}
	gemm := func(k *kernel, kn int, dot func(w, x []byte, nb int) float32) {
		k.gemmK, k.gemmDot = kn, dot
		k.gemmRows, k.gemmRows4 = genericRows(dot), genericRows4(dot)
	}
	set(quant.Q4_K, quant.Q8_K, qk, q4KBytes, q8KBytes, dotQ4KQ8KGeneric)
	set(quant.Q5_K, quant.Q8_K, qk, q5KBytes, q8KBytes, dotQ5KQ8KGeneric)
	set(quant.Q6_K, quant.Q8_K, qk, q6KBytes, q8KBytes, dotQ6KQ8KGeneric)
	set(quant.Q4_0, quant.Q8_0, qk0, q4_0Bytes, q8_0Bytes, dotQ4_0Q8_0Generic)
	set(quant.Q8_0, quant.Q8_0, qk0, q8_0Bytes, q8_0Bytes, dotQ8_0Q8_0Generic)
	gemm(set(quant.F32, quant.F32, 1, 4, 4, dotF32Generic), 16, dotF32GemmGeneric)
	gemm(set(quant.F16, quant.F16, 1, 2, 2, dotF16Generic), 16, dotF16GemmGeneric)
	gemm(set(quant.BF16, quant.BF16, 1, 2, 2, dotBF16Generic), 32, dotBF16GemmGeneric)
	dotF16F32, dotBF16F32 = dotF16F32Generic, dotBF16F32Generic
	dotF16F32Rows = dotF16F32RowsGeneric
	q8Scores, q8Accum, fmaLanes16, fmaLanes4x16 = nil, nil, nil, nil
	archKernels(l, t)
	level = l
}

// The mixed-precision dots of DotF16F32 and DotBF16F32 (f16/bf16 rows, for
// example a KV cache, against f32 activations): not matmul kernels, so they
// live outside the table.
var dotF16F32, dotBF16F32 func(w, x []byte, n int) float32

// dotF16F32Rows is DotF16F32Rows after its checks (n ≥ 1, len(dst) ≥ 1).
var dotF16F32Rows func(dst []float32, w []byte, wstride int, x []byte, n int)

// dotF16F32RowsGeneric is dotF16F32Rows one row at a time.
func dotF16F32RowsGeneric(dst []float32, w []byte, wstride int, x []byte, n int) {
	for r := range dst {
		dst[r] = dotF16F32(w[r*wstride:], x, n)
	}
}

func genericRows(dot func(w, x []byte, nb int) float32) rowsFunc {
	return func(dst []float32, w []byte, wstride int, x []byte, nb int) {
		for r := range dst {
			dst[r] = dot(w[r*wstride:], x, nb)
		}
	}
}

func genericRows4(dot func(w, x []byte, nb int) float32) rows4Func {
	return func(dst []float32, dstStride int, w []byte, wstride int, x []byte, xstride int, nb, rows int) {
		for r := 0; r < rows; r++ {
			wr := w[r*wstride:]
			for t := 0; t < 4; t++ {
				dst[t*dstStride+r] = dot(wr, x[t*xstride:], nb)
			}
		}
	}
}

// Level returns the CPU level the kernels currently run at.
func Level() cpu.Level { return level }

// lookup returns the kernel of weight type wt, or an error.
func lookup(wt quant.Type) (*kernel, error) {
	if wt >= maxType || kernelTable[wt].rows == nil {
		return nil, fmt.Errorf("kernels: no dot kernel for weight type %v", wt)
	}
	return &kernelTable[wt], nil
}

// Dot returns the dot product of one weight row w of type wt and one
// activation row x of type wt.VecDotType() (Q8_K for Q4_K/Q5_K/Q6_K, Q8_0 for
// Q4_0/Q8_0, the weight's own type for F32/F16/BF16), both n elements long,
// computed as llama.cpp's vector dot (ggml_vec_dot_*) computes it.
//
// Preconditions (violations are programmer errors and panic): wt has a dot
// kernel (Supports), n is a non-negative multiple of wt's block size, and w
// and x hold at least the bytes of n elements of their types.
func Dot(wt quant.Type, w, x []byte, n int) float32 {
	k, err := lookup(wt)
	if err != nil {
		panic(err)
	}
	nb := k.blocks(n)
	checkLen("weight", len(w), nb*k.wBytes)
	checkLen("activation", len(x), nb*k.xBytes)
	if nb == 0 {
		return 0
	}
	return k.dot(w, x, nb)
}

// Supports reports whether Dot and MatMul accept weights of type wt.
func Supports(wt quant.Type) bool {
	_, err := lookup(wt)
	return err == nil
}

func (k *kernel) blocks(n int) int {
	if n < 0 || n%k.blockElems != 0 {
		panic(fmt.Sprintf("kernels: length %d is not a multiple of the block size %d", n, k.blockElems))
	}
	return n / k.blockElems
}

func checkLen(what string, have, need int) {
	if have < need {
		panic(fmt.Sprintf("kernels: %s row has %d bytes, need %d", what, have, need))
	}
}

// typedDot is the shared body of the typed entry points.
func typedDot(wt quant.Type, w, x []byte, n int) float32 {
	k := &kernelTable[wt]
	nb := k.blocks(n)
	checkLen("weight", len(w), nb*k.wBytes)
	checkLen("activation", len(x), nb*k.xBytes)
	if nb == 0 {
		return 0
	}
	return k.dot(w, x, nb)
}

// DotQ4KQ8K is Dot(quant.Q4_K, w, x, n): w holds n/256 Q4_K blocks and x
// n/256 Q8_K blocks. n must be a multiple of 256.
func DotQ4KQ8K(w, x []byte, n int) float32 { return typedDot(quant.Q4_K, w, x, n) }

// DotQ5KQ8K is Dot(quant.Q5_K, w, x, n).
func DotQ5KQ8K(w, x []byte, n int) float32 { return typedDot(quant.Q5_K, w, x, n) }

// DotQ6KQ8K is Dot(quant.Q6_K, w, x, n).
func DotQ6KQ8K(w, x []byte, n int) float32 { return typedDot(quant.Q6_K, w, x, n) }

// DotQ4_0Q8_0 is Dot(quant.Q4_0, w, x, n): n a multiple of 32.
func DotQ4_0Q8_0(w, x []byte, n int) float32 { return typedDot(quant.Q4_0, w, x, n) }

// DotQ8_0Q8_0 is Dot(quant.Q8_0, w, x, n): n a multiple of 32.
func DotQ8_0Q8_0(w, x []byte, n int) float32 { return typedDot(quant.Q8_0, w, x, n) }

// DotF32 returns Σ w[i]·x[i] over the first n elements of w and x.
func DotF32(w, x []float32, n int) float32 {
	return typedDot(quant.F32, f32Bytes(w), f32Bytes(x), n)
}

// DotF16F32 returns Σ f16(w[i])·x[i] over n elements: w holds n
// little-endian IEEE half floats (2n bytes), e.g. a row of an F16 KV cache.
// The sum has ggml_vec_dot_f32's lane structure.
func DotF16F32(w []byte, x []float32, n int) float32 {
	return mixedDot(dotF16F32, w, x, n)
}

// DotF16F32Rows sets dst[r] = DotF16F32(w[r*wstride:], x, n) for every
// r < len(dst), bit for bit: the dot products of many f16 rows (the keys of
// a KV cache page, or its transposed values) with one f32 vector, in one
// call instead of one per row.
func DotF16F32Rows(dst []float32, w []byte, wstride int, x []float32, n int) {
	if len(dst) == 0 {
		return
	}
	if n < 0 || wstride < 0 {
		panic(fmt.Sprintf("kernels: %d rows of length %d, stride %d", len(dst), n, wstride))
	}
	checkLen("weight", len(w), (len(dst)-1)*wstride+2*n)
	checkLen("activation", 4*len(x), 4*n)
	if n == 0 {
		clear(dst)
		return
	}
	dotF16F32Rows(dst, w, wstride, f32Bytes(x), n)
}

// DotBF16F32 returns Σ bf16(w[i])·x[i] over n elements: w holds n
// little-endian bfloat16 values (2n bytes).
func DotBF16F32(w []byte, x []float32, n int) float32 {
	return mixedDot(dotBF16F32, w, x, n)
}

func mixedDot(dot func(w, x []byte, n int) float32, w []byte, x []float32, n int) float32 {
	if n < 0 {
		panic(fmt.Sprintf("kernels: negative length %d", n))
	}
	checkLen("weight", len(w), 2*n)
	checkLen("activation", 4*len(x), 4*n)
	if n == 0 {
		return 0
	}
	return dot(w, f32Bytes(x), n)
}

// f32Bytes views a float32 slice as its little-endian bytes (amd64 and every
// other platform Go supports for this project are little-endian).
func f32Bytes(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(&x[0])), 4*len(x))
}

// Activation quantizers used by MatMul (spec §4.7, §4.8 x86 variant).
var (
	quantizeQ8K  = quant.QuantizeQ8K
	quantizeQ8_0 = quant.QuantizeQ8_0Act
)

// convertF16 rounds activations to f16 (ties to even), as
// ggml_cpu_fp32_to_fp16 does before an F16 matmul.
func convertF16(src []float32, dst []byte) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], quant.F32ToF16(v))
	}
}

// convertBF16 rounds activations to bf16 (ties to even), as
// ggml_cpu_fp32_to_bf16 does before a BF16 matmul. (VCVTNE2PS2BF16 also
// flushes subnormal inputs to zero; activations below 1.2e-38 do not
// occur.)
func convertBF16(src []float32, dst []byte) {
	dst = dst[:2*len(src)]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], quant.F32ToBF16(v))
	}
}
