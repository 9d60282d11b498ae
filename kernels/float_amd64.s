//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// F32, F16 and BF16 weights against f32 activations: Σ w[i]·x[i] with
// fused multiply-adds into four vector accumulators (32 or 64 elements per
// step), one accumulator for the remaining whole vectors, and (AVX2) a
// scalar or (AVX-512) a masked step for the tail. nb is the element count.

// Weight loaders: LOADn_T(off, dst) converts n weights at off(SI) to f32.
#define LOAD8_F32(off, dst) VMOVUPS off(SI), dst
#define LOAD8_F16(off, dst) VCVTPH2PS off(SI), dst
#define LOAD8_BF16(off, dst) \
	VPMOVZXWD off(SI), dst; \
	VPSLLD    $16, dst, dst

#define LOAD1_F32 VMOVSS (SI), X4
#define LOAD1_F16 \
	MOVWLZX   (SI), AX; \
	VMOVD     AX, X4; \
	VCVTPH2PS X4, X4
#define LOAD1_BF16 \
	MOVWLZX (SI), AX; \
	SHLL    $16, AX; \
	VMOVD   AX, X4

// FLOAT_ROWS_AVX2 is the body of a *RowsAVX2 float kernel for weights of
// esize bytes loaded by LOAD8 and LOAD1.
#define FLOAT_ROWS_AVX2(LOAD8, LOAD1, esize) \
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
	VXORPS X5, X5, X5; \
loop32:; \
	CMPQ        CX, $32; \
	JLT         loop8; \
	LOAD8(0, Y4); \
	LOAD8(8*esize, Y6); \
	LOAD8(16*esize, Y7); \
	LOAD8(24*esize, Y8); \
	VFMADD231PS (R11), Y4, Y0; \
	VFMADD231PS 32(R11), Y6, Y1; \
	VFMADD231PS 64(R11), Y7, Y2; \
	VFMADD231PS 96(R11), Y8, Y3; \
	ADDQ        $(32*esize), SI; \
	ADDQ        $128, R11; \
	SUBQ        $32, CX; \
	JMP         loop32; \
loop8:; \
	CMPQ        CX, $8; \
	JLT         tail; \
	LOAD8(0, Y4); \
	VFMADD231PS (R11), Y4, Y0; \
	ADDQ        $(8*esize), SI; \
	ADDQ        $32, R11; \
	SUBQ        $8, CX; \
	JMP         loop8; \
tail:; \
	TESTQ       CX, CX; \
	JZ          done; \
	LOAD1; \
	VFMADD231SS (R11), X4, X5; \
	ADDQ        $esize, SI; \
	ADDQ        $4, R11; \
	DECQ        CX; \
	JMP         tail; \
done:; \
	VADDPS Y1, Y0, Y0; \
	VADDPS Y3, Y2, Y2; \
	VADDPS Y2, Y0, Y0; \
	HSUM8(X0, Y0, X1); \
	VADDSS X5, X0, X0; \
	VMOVSS X0, (DI); \
	ADDQ   $4, DI; \
	ADDQ   wstride+16(FP), R10; \
	DECQ   rows+40(FP); \
	JNZ    row; \
	VZEROUPPER; \
	RET

// func f32RowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f32RowsAVX2(SB), NOSPLIT, $0-48
	FLOAT_ROWS_AVX2(LOAD8_F32, LOAD1_F32, 4)

// func f16RowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f16RowsAVX2(SB), NOSPLIT, $0-48
	FLOAT_ROWS_AVX2(LOAD8_F16, LOAD1_F16, 2)

// func bf16RowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·bf16RowsAVX2(SB), NOSPLIT, $0-48
	FLOAT_ROWS_AVX2(LOAD8_BF16, LOAD1_BF16, 2)

// AVX-512 loaders: 16 weights, unmasked or with zero-masking by K1.
#define LOAD16_F32(off, dst) VMOVUPS off(SI), dst
#define LOAD16_F16(off, dst) VCVTPH2PS off(SI), dst
#define LOAD16_BF16(off, dst) \
	VPMOVZXWD off(SI), dst; \
	VPSLLD    $16, dst, dst

#define LOADM_F32 VMOVUPS.Z (SI), K1, Z4
#define LOADM_F16 \
	VMOVDQU16.Z (SI), K1, Y4; \
	VCVTPH2PS   Y4, Z4
#define LOADM_BF16 \
	VMOVDQU16.Z (SI), K1, Y4; \
	VPMOVZXWD   Y4, Z4; \
	VPSLLD      $16, Z4, Z4

#define FLOAT_ROWS_AVX512(LOAD16, LOADM, esize) \
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
	JLT         loop16; \
	LOAD16(0, Z4); \
	LOAD16(16*esize, Z6); \
	LOAD16(32*esize, Z7); \
	LOAD16(48*esize, Z8); \
	VFMADD231PS (R11), Z4, Z0; \
	VFMADD231PS 64(R11), Z6, Z1; \
	VFMADD231PS 128(R11), Z7, Z2; \
	VFMADD231PS 192(R11), Z8, Z3; \
	ADDQ        $(64*esize), SI; \
	ADDQ        $256, R11; \
	SUBQ        $64, CX; \
	JMP         loop64; \
loop16:; \
	CMPQ        CX, $16; \
	JLT         tail; \
	LOAD16(0, Z4); \
	VFMADD231PS (R11), Z4, Z0; \
	ADDQ        $(16*esize), SI; \
	ADDQ        $64, R11; \
	SUBQ        $16, CX; \
	JMP         loop16; \
tail:; \
	TESTQ       CX, CX; \
	JZ          done; \
	MOVL        $1, AX; \
	SHLL        CX, AX; \
	DECL        AX; \
	KMOVW       AX, K1; \
	LOADM; \
	VMOVUPS.Z   (R11), K1, Z5; \
	VFMADD231PS Z5, Z4, Z1; \
done:; \
	VADDPS Z1, Z0, Z0; \
	VADDPS Z3, Z2, Z2; \
	VADDPS Z2, Z0, Z0; \
	HSUM16(X0, Y0, Z0, X1, Y1); \
	VMOVSS X0, (DI); \
	ADDQ   $4, DI; \
	ADDQ   wstride+16(FP), R10; \
	DECQ   rows+40(FP); \
	JNZ    row; \
	VZEROUPPER; \
	RET

// func f32RowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f32RowsAVX512(SB), NOSPLIT, $0-48
	FLOAT_ROWS_AVX512(LOAD16_F32, LOADM_F32, 4)

// func f16RowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·f16RowsAVX512(SB), NOSPLIT, $0-48
	FLOAT_ROWS_AVX512(LOAD16_F16, LOADM_F16, 2)

// func bf16RowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·bf16RowsAVX512(SB), NOSPLIT, $0-48
	FLOAT_ROWS_AVX512(LOAD16_BF16, LOADM_BF16, 2)
