//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// The float kernels (see dot_generic.go for the arithmetic they reproduce
// bit for bit):
//   - vector form (ggml_vec_dot_*): four 16-lane FMA accumulators over
//     steps of 64 elements, folded 0+2, 1+3, 0+1, summed with HSUM16, then
//     the remaining elements one at a time (f32 for F32 and the mixed
//     F16/BF16×F32 kernels, f64 for F16×F16); BF16×BF16 has its own
//     two-accumulator form;
//   - GEMM form (llamafile tinyBLAS): one 16-lane FMA accumulator per
//     output, four rows at a time, then HSUM16.
// nb is the element count. AVX2 kernels keep a 16-lane accumulator in two
// ymm registers (lanes 0-7 and 8-15), which gives the same sums.

// Weight and activation loaders: LOADn(off, base, dst) converts n values at
// off(base) to f32; LOAD1(base, dst) one value into the low lane of an xmm.
#define LOAD16_F32(off, base, dst) VMOVUPS off(base), dst
#define LOAD16_F16(off, base, dst) VCVTPH2PS off(base), dst
#define LOAD16_BF16(off, base, dst) \
	VPMOVZXWD off(base), dst; \
	VPSLLD    $16, dst, dst
#define LOAD8_F32(off, base, dst) VMOVUPS off(base), dst
#define LOAD8_F16(off, base, dst) VCVTPH2PS off(base), dst
#define LOAD8_BF16(off, base, dst) \
	VPMOVZXWD off(base), dst; \
	VPSLLD    $16, dst, dst

#define LOAD1_F32(base, dst) VMOVSS (base), dst
#define LOAD1_F16(base, dst) \
	MOVWLZX   (base), AX; \
	VMOVD     AX, dst; \
	VCVTPH2PS dst, dst
#define LOAD1_BF16(base, dst) \
	MOVWLZX (base), AX; \
	SHLL    $16, AX; \
	VMOVD   AX, dst

// Tail steps of the vector form: TAIL32 adds w·x in f32 (product rounded,
// then sum rounded: ggml's scalar leftovers), TAIL64 in f64.
#define TAIL32_INIT
#define TAIL32_STEP \
	VMULSS X5, X4, X4; \
	VADDSS X4, X0, X0
#define TAIL32_END
#define TAIL64_INIT VCVTSS2SD X0, X0, X0
#define TAIL64_STEP \
	VMULSS    X5, X4, X4; \
	VCVTSS2SD X4, X4, X4; \
	VADDSD    X4, X0, X0
#define TAIL64_END VCVTSD2SS X0, X0, X0

// VEC512 is the body of an AVX-512 vector-form kernel: LW/LX load 16
// weights/activations of WE/XE bytes each; WONE/XONE load one.
#define VEC512(LW, LX, WONE, XONE, WE, XE, TINIT, TSTEP, TEND) \
	MOVQ dst+0(FP), DI; \
	MOVQ w+8(FP), R10; \
row:; \
	MOVQ   R10, SI; \
	MOVQ   x+24(FP), R11; \
	MOVQ   nb+32(FP), CX; \
	VXORPS Z0, Z0, Z0; \
	VXORPS Z1, Z1, Z1; \
	VXORPS Z2, Z2, Z2; \
	VXORPS Z3, Z3, Z3; \
loop64:; \
	CMPQ        CX, $64; \
	JLT         fold; \
	LW(0, SI, Z4); \
	LX(0, R11, Z8); \
	VFMADD231PS Z8, Z4, Z0; \
	LW(16*WE, SI, Z5); \
	LX(16*XE, R11, Z9); \
	VFMADD231PS Z9, Z5, Z1; \
	LW(32*WE, SI, Z6); \
	LX(32*XE, R11, Z10); \
	VFMADD231PS Z10, Z6, Z2; \
	LW(48*WE, SI, Z7); \
	LX(48*XE, R11, Z11); \
	VFMADD231PS Z11, Z7, Z3; \
	ADDQ        $(64*WE), SI; \
	ADDQ        $(64*XE), R11; \
	SUBQ        $64, CX; \
	JMP         loop64; \
fold:; \
	VADDPS Z2, Z0, Z0; \
	VADDPS Z3, Z1, Z1; \
	VADDPS Z1, Z0, Z0; \
	HSUM16(X0, Y0, Z0, X1, Y1); \
	TINIT; \
tail:; \
	TESTQ CX, CX; \
	JZ    done; \
	WONE(SI, X4); \
	XONE(R11, X5); \
	TSTEP; \
	ADDQ  $WE, SI; \
	ADDQ  $XE, R11; \
	DECQ  CX; \
	JMP   tail; \
done:; \
	TEND; \
	VMOVSS X0, (DI); \
	ADDQ   $4, DI; \
	ADDQ   wstride+16(FP), R10; \
	DECQ   rows+40(FP); \
	JNZ    row; \
	VZEROUPPER; \
	RET

// VEC256 is VEC512 for AVX2: the four 16-lane accumulators are Y0/Y1,
// Y2/Y3, Y4/Y5, Y6/Y7 (lanes 0-7 / 8-15).
#define VEC256(LW, LX, WONE, XONE, WE, XE, TINIT, TSTEP, TEND) \
	MOVQ dst+0(FP), DI; \
	MOVQ w+8(FP), R10; \
row:; \
	MOVQ   R10, SI; \
	MOVQ   x+24(FP), R11; \
	MOVQ   nb+32(FP), CX; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3; \
	VXORPS Y4, Y4, Y4; \
	VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; \
	VXORPS Y7, Y7, Y7; \
loop64:; \
	CMPQ        CX, $64; \
	JLT         fold; \
	LW(0, SI, Y8); \
	LX(0, R11, Y9); \
	VFMADD231PS Y9, Y8, Y0; \
	LW(8*WE, SI, Y10); \
	LX(8*XE, R11, Y11); \
	VFMADD231PS Y11, Y10, Y1; \
	LW(16*WE, SI, Y8); \
	LX(16*XE, R11, Y9); \
	VFMADD231PS Y9, Y8, Y2; \
	LW(24*WE, SI, Y10); \
	LX(24*XE, R11, Y11); \
	VFMADD231PS Y11, Y10, Y3; \
	LW(32*WE, SI, Y8); \
	LX(32*XE, R11, Y9); \
	VFMADD231PS Y9, Y8, Y4; \
	LW(40*WE, SI, Y10); \
	LX(40*XE, R11, Y11); \
	VFMADD231PS Y11, Y10, Y5; \
	LW(48*WE, SI, Y8); \
	LX(48*XE, R11, Y9); \
	VFMADD231PS Y9, Y8, Y6; \
	LW(56*WE, SI, Y10); \
	LX(56*XE, R11, Y11); \
	VFMADD231PS Y11, Y10, Y7; \
	ADDQ        $(64*WE), SI; \
	ADDQ        $(64*XE), R11; \
	SUBQ        $64, CX; \
	JMP         loop64; \
fold:; \
	VADDPS Y4, Y0, Y0; \
	VADDPS Y5, Y1, Y1; \
	VADDPS Y6, Y2, Y2; \
	VADDPS Y7, Y3, Y3; \
	VADDPS Y2, Y0, Y0; \
	VADDPS Y3, Y1, Y1; \
	VADDPS Y1, Y0, Y0; \
	HSUM8(X0, Y0, X1); \
	TINIT; \
tail:; \
	TESTQ CX, CX; \
	JZ    done; \
	WONE(SI, X4); \
	XONE(R11, X5); \
	TSTEP; \
	ADDQ  $WE, SI; \
	ADDQ  $XE, R11; \
	DECQ  CX; \
	JMP   tail; \
done:; \
	TEND; \
	VMOVSS X0, (DI); \
	ADDQ   $4, DI; \
	ADDQ   wstride+16(FP), R10; \
	DECQ   rows+40(FP); \
	JNZ    row; \
	VZEROUPPER; \
	RET

// func f32VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f32VecRowsAVX512(SB), NOSPLIT, $0-48
	VEC512(LOAD16_F32, LOAD16_F32, LOAD1_F32, LOAD1_F32, 4, 4, TAIL32_INIT, TAIL32_STEP, TAIL32_END)

// func f16VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f16VecRowsAVX512(SB), NOSPLIT, $0-48
	VEC512(LOAD16_F16, LOAD16_F16, LOAD1_F16, LOAD1_F16, 2, 2, TAIL64_INIT, TAIL64_STEP, TAIL64_END)

// func f16f32VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f16f32VecRowsAVX512(SB), NOSPLIT, $0-48
	VEC512(LOAD16_F16, LOAD16_F32, LOAD1_F16, LOAD1_F32, 2, 4, TAIL32_INIT, TAIL32_STEP, TAIL32_END)

// func bf16f32VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·bf16f32VecRowsAVX512(SB), NOSPLIT, $0-48
	VEC512(LOAD16_BF16, LOAD16_F32, LOAD1_BF16, LOAD1_F32, 2, 4, TAIL32_INIT, TAIL32_STEP, TAIL32_END)

// func f32VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f32VecRowsAVX2(SB), NOSPLIT, $0-48
	VEC256(LOAD8_F32, LOAD8_F32, LOAD1_F32, LOAD1_F32, 4, 4, TAIL32_INIT, TAIL32_STEP, TAIL32_END)

// func f16VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f16VecRowsAVX2(SB), NOSPLIT, $0-48
	VEC256(LOAD8_F16, LOAD8_F16, LOAD1_F16, LOAD1_F16, 2, 2, TAIL64_INIT, TAIL64_STEP, TAIL64_END)

// func f16f32VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f16f32VecRowsAVX2(SB), NOSPLIT, $0-48
	VEC256(LOAD8_F16, LOAD8_F32, LOAD1_F16, LOAD1_F32, 2, 4, TAIL32_INIT, TAIL32_STEP, TAIL32_END)

// func bf16f32VecRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·bf16f32VecRowsAVX2(SB), NOSPLIT, $0-48
	VEC256(LOAD8_BF16, LOAD8_F32, LOAD1_BF16, LOAD1_F32, 2, 4, TAIL32_INIT, TAIL32_STEP, TAIL32_END)

// GEMM512 is the body of an AVX-512 GEMM-form kernel (nb a multiple of
// 16): four rows at a time share each activation load, then single rows.
#define GEMM512(LW, LX, WE, XE) \
	MOVQ dst+0(FP), DI; \
	MOVQ w+8(FP), R10; \
	MOVQ wstride+16(FP), R13; \
rows4:; \
	CMPQ   rows+40(FP), $4; \
	JLT    rows1; \
	MOVQ   R10, SI; \
	LEAQ   (SI)(R13*1), R12; \
	LEAQ   (R12)(R13*1), R14; \
	LEAQ   (R14)(R13*1), R15; \
	MOVQ   x+24(FP), R11; \
	MOVQ   nb+32(FP), CX; \
	VXORPS Z0, Z0, Z0; \
	VXORPS Z1, Z1, Z1; \
	VXORPS Z2, Z2, Z2; \
	VXORPS Z3, Z3, Z3; \
loop4:; \
	TESTQ       CX, CX; \
	JZ          done4; \
	LX(0, R11, Z8); \
	LW(0, SI, Z4); \
	VFMADD231PS Z8, Z4, Z0; \
	LW(0, R12, Z5); \
	VFMADD231PS Z8, Z5, Z1; \
	LW(0, R14, Z6); \
	VFMADD231PS Z8, Z6, Z2; \
	LW(0, R15, Z7); \
	VFMADD231PS Z8, Z7, Z3; \
	ADDQ        $(16*WE), SI; \
	ADDQ        $(16*WE), R12; \
	ADDQ        $(16*WE), R14; \
	ADDQ        $(16*WE), R15; \
	ADDQ        $(16*XE), R11; \
	SUBQ        $16, CX; \
	JMP         loop4; \
done4:; \
	HSUM16(X0, Y0, Z0, X8, Y8); \
	HSUM16(X1, Y1, Z1, X9, Y9); \
	HSUM16(X2, Y2, Z2, X10, Y10); \
	HSUM16(X3, Y3, Z3, X11, Y11); \
	VMOVSS X0, (DI); \
	VMOVSS X1, 4(DI); \
	VMOVSS X2, 8(DI); \
	VMOVSS X3, 12(DI); \
	ADDQ   $16, DI; \
	LEAQ   (R10)(R13*4), R10; \
	SUBQ   $4, rows+40(FP); \
	JMP    rows4; \
rows1:; \
	CMPQ   rows+40(FP), $0; \
	JEQ    end; \
	MOVQ   R10, SI; \
	MOVQ   x+24(FP), R11; \
	MOVQ   nb+32(FP), CX; \
	VXORPS Z0, Z0, Z0; \
loop1:; \
	TESTQ       CX, CX; \
	JZ          done1; \
	LX(0, R11, Z8); \
	LW(0, SI, Z4); \
	VFMADD231PS Z8, Z4, Z0; \
	ADDQ        $(16*WE), SI; \
	ADDQ        $(16*XE), R11; \
	SUBQ        $16, CX; \
	JMP         loop1; \
done1:; \
	HSUM16(X0, Y0, Z0, X8, Y8); \
	VMOVSS X0, (DI); \
	ADDQ   $4, DI; \
	ADDQ   R13, R10; \
	DECQ   rows+40(FP); \
	JMP    rows1; \
end:; \
	VZEROUPPER; \
	RET

// func f32GemmRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f32GemmRowsAVX512(SB), NOSPLIT, $0-48
	GEMM512(LOAD16_F32, LOAD16_F32, 4, 4)

// func f16GemmRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f16GemmRowsAVX512(SB), NOSPLIT, $0-48
	GEMM512(LOAD16_F16, LOAD16_F16, 2, 2)

// DPBF16_512(off, acc) adds one 32-element step (at off(SI), off(R11)) of VDPBF16PS to the
// 16 lanes of acc: the odd elements' products first, then the even ones'
// (each product is exact in f32). Z31 holds 0xFFFF0000 in every dword.
// Clobbers Z12-Z15.
#define DPBF16_512(off, acc) \
	VMOVDQU32   off(SI), Z12; \
	VMOVDQU32   off(R11), Z13; \
	VPANDD      Z31, Z12, Z14; \
	VPANDD      Z31, Z13, Z15; \
	VFMADD231PS Z15, Z14, acc; \
	VPSLLD      $16, Z12, Z14; \
	VPSLLD      $16, Z13, Z15; \
	VFMADD231PS Z15, Z14, acc

// func bf16VecRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// ggml_vec_dot_bf16 (AVX512-BF16): c1 (Z0) and c2 (Z1) take the first and
// second 32 elements of each step of 64; hsum(c1) + hsum(c2) in f64, then
// the remaining products in f64.
TEXT ·bf16VecRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         w+8(FP), R10
	VPBROADCASTD ·kHi16(SB), Z31

row:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

loop64:
	CMPQ CX, $64
	JLT  sum
	DPBF16_512(0, Z0)
	DPBF16_512(64, Z1)
	ADDQ $128, SI
	ADDQ $128, R11
	SUBQ $64, CX
	JMP  loop64

sum:
	HSUM16(X0, Y0, Z0, X2, Y2)
	HSUM16(X1, Y1, Z1, X2, Y2)
	VCVTSS2SD X0, X0, X0
	VCVTSS2SD X1, X1, X1
	VADDSD    X1, X0, X0

tail:
	TESTQ CX, CX
	JZ    done
	LOAD1_BF16(SI, X4)
	LOAD1_BF16(R11, X5)
	TAIL64_STEP
	ADDQ  $2, SI
	ADDQ  $2, R11
	DECQ  CX
	JMP   tail

done:
	VCVTSD2SS X0, X0, X0
	VMOVSS    X0, (DI)
	ADDQ      $4, DI
	ADDQ      wstride+16(FP), R10
	DECQ      rows+40(FP)
	JNZ       row
	VZEROUPPER
	RET

// func bf16GemmRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// tinyBLAS<32> with VDPBF16PS (nb a multiple of 32), one row at a time.
TEXT ·bf16GemmRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         w+8(FP), R10
	VPBROADCASTD ·kHi16(SB), Z31

row:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), CX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1

loop:
	// Two independent 32-element steps per iteration would change the
	// order; keep one accumulator.
	TESTQ CX, CX
	JZ    done
	DPBF16_512(0, Z0)
	ADDQ  $64, SI
	ADDQ  $64, R11
	SUBQ  $32, CX
	JMP   loop

done:
	HSUM16(X0, Y0, Z0, X2, Y2)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row
	VZEROUPPER
	RET

// func f16f32TailAVX512(dst *float32, w *byte, wstride int, x *byte, n, rows int)
//
// The scalar tail of f16f32VecRowsAVX512 for 16 rows at a time:
// dst[r] += f16(w[r*wstride+2j])·x[j] for j = 0, 1, …, n−1 in that order,
// each product rounded and then added, as TAIL32_STEP does for one row.
// A 16×16 tile of products (row r, column j) is formed row-wise, transposed
// so that lane r of register j holds row r's product j, and the columns are
// added in order: every lane repeats the single-row kernel's operations.
// rows is a positive multiple of 16 and n ≥ 1. Loads are masked to the n
// columns, so nothing past a row's last element is read.
TEXT ·f16f32TailAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), R10
	MOVQ wstride+16(FP), R13

tblock:
	MOVQ R10, SI
	MOVQ x+24(FP), R11
	MOVQ n+32(FP), R9

tchunk:
	MOVQ  R9, CX
	CMPQ  CX, $16
	JLE   tmask
	MOVQ  $16, CX

tmask:
	MOVQ  CX, BX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

	VMOVUPS.Z (R11), K1, Z0
	MOVQ      SI, R12
	VMOVDQU16.Z (R12), K1, Y1
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y2
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y3
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y4
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y5
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y6
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y7
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y8
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y9
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y10
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y11
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y12
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y13
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y14
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y15
	ADDQ        R13, R12
	VMOVDQU16.Z (R12), K1, Y16
	VCVTPH2PS Y1, Z1
	VMULPS    Z0, Z1, Z1
	VCVTPH2PS Y2, Z2
	VMULPS    Z0, Z2, Z2
	VCVTPH2PS Y3, Z3
	VMULPS    Z0, Z3, Z3
	VCVTPH2PS Y4, Z4
	VMULPS    Z0, Z4, Z4
	VCVTPH2PS Y5, Z5
	VMULPS    Z0, Z5, Z5
	VCVTPH2PS Y6, Z6
	VMULPS    Z0, Z6, Z6
	VCVTPH2PS Y7, Z7
	VMULPS    Z0, Z7, Z7
	VCVTPH2PS Y8, Z8
	VMULPS    Z0, Z8, Z8
	VCVTPH2PS Y9, Z9
	VMULPS    Z0, Z9, Z9
	VCVTPH2PS Y10, Z10
	VMULPS    Z0, Z10, Z10
	VCVTPH2PS Y11, Z11
	VMULPS    Z0, Z11, Z11
	VCVTPH2PS Y12, Z12
	VMULPS    Z0, Z12, Z12
	VCVTPH2PS Y13, Z13
	VMULPS    Z0, Z13, Z13
	VCVTPH2PS Y14, Z14
	VMULPS    Z0, Z14, Z14
	VCVTPH2PS Y15, Z15
	VMULPS    Z0, Z15, Z15
	VCVTPH2PS Y16, Z16
	VMULPS    Z0, Z16, Z16

	VUNPCKLPS Z2, Z1, Z0
	VUNPCKHPS Z2, Z1, Z17
	VUNPCKLPS Z4, Z3, Z18
	VUNPCKHPS Z4, Z3, Z19
	VUNPCKLPS Z6, Z5, Z20
	VUNPCKHPS Z6, Z5, Z21
	VUNPCKLPS Z8, Z7, Z22
	VUNPCKHPS Z8, Z7, Z23
	VUNPCKLPS Z10, Z9, Z24
	VUNPCKHPS Z10, Z9, Z25
	VUNPCKLPS Z12, Z11, Z26
	VUNPCKHPS Z12, Z11, Z27
	VUNPCKLPS Z14, Z13, Z28
	VUNPCKHPS Z14, Z13, Z29
	VUNPCKLPS Z16, Z15, Z30
	VUNPCKHPS Z16, Z15, Z31
	VUNPCKLPD Z18, Z0, Z1
	VUNPCKHPD Z18, Z0, Z3
	VUNPCKLPD Z19, Z17, Z2
	VUNPCKHPD Z19, Z17, Z4
	VUNPCKLPD Z22, Z20, Z5
	VUNPCKHPD Z22, Z20, Z7
	VUNPCKLPD Z23, Z21, Z6
	VUNPCKHPD Z23, Z21, Z8
	VUNPCKLPD Z26, Z24, Z9
	VUNPCKHPD Z26, Z24, Z11
	VUNPCKLPD Z27, Z25, Z10
	VUNPCKHPD Z27, Z25, Z12
	VUNPCKLPD Z30, Z28, Z13
	VUNPCKHPD Z30, Z28, Z15
	VUNPCKLPD Z31, Z29, Z14
	VUNPCKHPD Z31, Z29, Z16
	VSHUFF32X4 $0x88, Z5, Z1, Z0
	VSHUFF32X4 $0xdd, Z5, Z1, Z20
	VSHUFF32X4 $0x88, Z6, Z2, Z17
	VSHUFF32X4 $0xdd, Z6, Z2, Z21
	VSHUFF32X4 $0x88, Z7, Z3, Z18
	VSHUFF32X4 $0xdd, Z7, Z3, Z22
	VSHUFF32X4 $0x88, Z8, Z4, Z19
	VSHUFF32X4 $0xdd, Z8, Z4, Z23
	VSHUFF32X4 $0x88, Z13, Z9, Z24
	VSHUFF32X4 $0xdd, Z13, Z9, Z28
	VSHUFF32X4 $0x88, Z14, Z10, Z25
	VSHUFF32X4 $0xdd, Z14, Z10, Z29
	VSHUFF32X4 $0x88, Z15, Z11, Z26
	VSHUFF32X4 $0xdd, Z15, Z11, Z30
	VSHUFF32X4 $0x88, Z16, Z12, Z27
	VSHUFF32X4 $0xdd, Z16, Z12, Z31
	VSHUFF32X4 $0x88, Z24, Z0, Z1
	VSHUFF32X4 $0xdd, Z24, Z0, Z9
	VSHUFF32X4 $0x88, Z25, Z17, Z2
	VSHUFF32X4 $0xdd, Z25, Z17, Z10
	VSHUFF32X4 $0x88, Z26, Z18, Z3
	VSHUFF32X4 $0xdd, Z26, Z18, Z11
	VSHUFF32X4 $0x88, Z27, Z19, Z4
	VSHUFF32X4 $0xdd, Z27, Z19, Z12
	VSHUFF32X4 $0x88, Z28, Z20, Z5
	VSHUFF32X4 $0xdd, Z28, Z20, Z13
	VSHUFF32X4 $0x88, Z29, Z21, Z6
	VSHUFF32X4 $0xdd, Z29, Z21, Z14
	VSHUFF32X4 $0x88, Z30, Z22, Z7
	VSHUFF32X4 $0xdd, Z30, Z22, Z15
	VSHUFF32X4 $0x88, Z31, Z23, Z8
	VSHUFF32X4 $0xdd, Z31, Z23, Z16

	VMOVUPS (DI), Z17
	VADDPS Z1, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z3, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z2, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z4, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z5, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z7, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z6, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z8, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z9, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z11, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z10, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z12, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z13, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z15, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z14, Z17, Z17
	DECQ   BX
	JZ     tstore
	VADDPS Z16, Z17, Z17

tstore:
	VMOVUPS Z17, (DI)
	SUBQ    $16, R9
	JLE     tnext
	ADDQ    $32, SI
	ADDQ    $64, R11
	JMP     tchunk

tnext:
	ADDQ $64, DI
	MOVQ R13, AX
	SHLQ $4, AX
	ADDQ AX, R10
	SUBQ $16, rows+40(FP)
	JNZ  tblock
	VZEROUPPER
	RET
