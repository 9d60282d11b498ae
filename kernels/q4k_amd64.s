//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// Q4_K × Q8_K dot products (spec §4.4, §4.9).
//
// Per 256-element block: the eight 6-bit scales and mins are unpacked in
// general registers (Q4K_SCALES); each 32-byte chunk of quants gives 64
// unsigned 4-bit values that VPMADDUBSW multiplies with the signed Q8_K
// quants into 16-bit pair sums (|sum| ≤ 2·15·128, no saturation), and
// VPMADDWD (AVX2) or VPDPWSSD (AVX-512 VNNI) multiplies those by the
// sub-block scale and adds them into 32-bit lanes: the integer A_b, exactly.
// The mins term B_b = Σ m_j·(bsums[2j]+bsums[2j+1]) comes from the Q8_K
// bsums. Then acc += (d·y.d)·float(A lanes) and acc −= (dmin·y.d)·float(B
// lanes), and the row's result is the horizontal sum of acc.
// Both the single-token and the four-token kernels perform exactly these
// f32 operations in this order for each token, so they agree bit for bit.

// ---------------------------------------------------------------- AVX2

// Q4K_CHUNK1 adds chunk c of the block at SI against the Q8_K block at R11
// into Y1. Y14 holds the 8 scales as words in both lanes, Y15 the 0x0F mask.
#define Q4K_CHUNK1(c) \
	VMOVDQU    (16+32*c)(SI), Y2; \
	VPSRLW     $4, Y2, Y3; \
	VPAND      Y15, Y2, Y2; \
	VPAND      Y15, Y3, Y3; \
	VPMADDUBSW (4+64*c)(R11), Y2, Y2; \
	VPMADDUBSW (36+64*c)(R11), Y3, Y3; \
	VPSHUFB    ·kShufW+(64*c)(SB), Y14, Y4; \
	VPSHUFB    ·kShufW+(64*c+32)(SB), Y14, Y5; \
	VPMADDWD   Y4, Y2, Y2; \
	VPMADDWD   Y5, Y3, Y3; \
	VPADDD     Y2, Y1, Y1; \
	VPADDD     Y3, Y1, Y1

// func q4kRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q4kRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    w+8(FP), R10
	VMOVDQU ·k0F(SB), Y15

row:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Y0, Y0, Y0

block:
	Q4K_SCALES
	VMOVQ       R9, X14
	VPMOVZXBW   X14, X14
	VINSERTI128 $1, X14, Y14, Y14
	VPXOR       Y1, Y1, Y1
	Q4K_CHUNK1(0)
	Q4K_CHUNK1(1)
	Q4K_CHUNK1(2)
	Q4K_CHUNK1(3)

	// Y10 = d·y.d, Y11 = dmin·y.d
	VMOVD         (SI), X8
	VCVTPH2PS     X8, X8
	VBROADCASTSS  (R11), X9
	VMULPS        X9, X8, X8
	VBROADCASTSS  X8, Y10
	VMOVSHDUP     X8, X9
	VBROADCASTSS  X9, Y11
	VCVTDQ2PS     Y1, Y1
	VFMADD231PS   Y1, Y10, Y0

	// mins: 4 lanes of m_j·(bsums[2j]+bsums[2j+1]) pairs
	VMOVQ         DX, X14
	VPMOVZXBW     X14, X14
	VMOVDQU       260(R11), X2
	VMOVDQU       276(R11), X3
	VPHADDW       X3, X2, X2
	VPMADDWD      X14, X2, X2
	VCVTDQ2PS     X2, X2
	VFNMADD231PS  Y2, Y11, Y0

	ADDQ $144, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  block

	HSUM8(X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row
	VZEROUPPER
	RET

// Q4K_TOK4 adds one decoded half-chunk (Y8 or Y9, scale Y10 or Y11) times
// the Q8_K quants at off(P) into the token accumulator acc.
#define Q4K_TOK4(q, sc, off, P, acc) \
	VPMADDUBSW off(P), q, Y12; \
	VPMADDWD   sc, Y12, Y12; \
	VPADDD     Y12, acc, acc

#define Q4K_CHUNK4(c) \
	VMOVDQU (16+32*c)(SI), Y8; \
	VPSRLW  $4, Y8, Y9; \
	VPAND   Y15, Y8, Y8; \
	VPAND   Y15, Y9, Y9; \
	VPSHUFB ·kShufW+(64*c)(SB), Y14, Y10; \
	VPSHUFB ·kShufW+(64*c+32)(SB), Y14, Y11; \
	Q4K_TOK4(Y8, Y10, (4+64*c), R11, Y0); \
	Q4K_TOK4(Y9, Y11, (36+64*c), R11, Y0); \
	Q4K_TOK4(Y8, Y10, (4+64*c), R12, Y1); \
	Q4K_TOK4(Y9, Y11, (36+64*c), R12, Y1); \
	Q4K_TOK4(Y8, Y10, (4+64*c), R13, Y2); \
	Q4K_TOK4(Y9, Y11, (36+64*c), R13, Y2); \
	Q4K_TOK4(Y8, Y10, (4+64*c), R14, Y3); \
	Q4K_TOK4(Y9, Y11, (36+64*c), R14, Y3)

// Q4K_FIN4 folds one token's block sums into its f32 accumulator, with the
// same operations as the single-token kernel. Y10/Y11 = broadcast d/dmin
// (f32 of the f16 fields), X14 = mins as words.
#define Q4K_FIN4(P, sumi, acc) \
	VBROADCASTSS (P), Y12; \
	VMULPS       Y12, Y10, Y13; \
	VCVTDQ2PS    sumi, sumi; \
	VFMADD231PS  sumi, Y13, acc; \
	VMULPS       Y12, Y11, Y13; \
	VMOVDQU      260(P), X8; \
	VMOVDQU      276(P), X9; \
	VPHADDW      X9, X8, X8; \
	VPMADDWD     X14, X8, X8; \
	VCVTDQ2PS    X8, X8; \
	VFNMADD231PS Y8, Y13, acc

// func q4kRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)
TEXT ·q4kRows4AVX2(SB), NOSPLIT, $0-64
	MOVQ    dst+0(FP), DI
	MOVQ    w+16(FP), R10
	VMOVDQU ·k0F(SB), Y15

row4:
	MOVQ   R10, SI
	MOVQ   x+32(FP), R11
	MOVQ   xstride+40(FP), AX
	LEAQ   (R11)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	MOVQ   nb+48(FP), BX
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

block4:
	Q4K_SCALES
	VMOVQ       R9, X14
	VPMOVZXBW   X14, X14
	VINSERTI128 $1, X14, Y14, Y14
	VPXOR       Y0, Y0, Y0
	VPXOR       Y1, Y1, Y1
	VPXOR       Y2, Y2, Y2
	VPXOR       Y3, Y3, Y3
	Q4K_CHUNK4(0)
	Q4K_CHUNK4(1)
	Q4K_CHUNK4(2)
	Q4K_CHUNK4(3)

	VMOVD        (SI), X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Y10
	VMOVSHDUP    X8, X9
	VBROADCASTSS X9, Y11
	VMOVQ        DX, X14
	VPMOVZXBW    X14, X14
	Q4K_FIN4(R11, Y0, Y4)
	Q4K_FIN4(R12, Y1, Y5)
	Q4K_FIN4(R13, Y2, Y6)
	Q4K_FIN4(R14, Y3, Y7)

	ADDQ $144, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  block4

	MOVQ   dstStride+8(FP), AX
	SHLQ   $2, AX
	HSUM8(X4, Y4, X0)
	VMOVSS X4, (DI)
	HSUM8(X5, Y5, X0)
	VMOVSS X5, (DI)(AX*1)
	HSUM8(X6, Y6, X0)
	VMOVSS X6, (DI)(AX*2)
	LEAQ   (DI)(AX*2), CX
	HSUM8(X7, Y7, X0)
	VMOVSS X7, (CX)(AX*1)

	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  row4
	VZEROUPPER
	RET

// ------------------------------------------------------------- AVX-512

// func q4kRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q4kRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), R10
	Q4K_SETUP512

row512:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Z0, Z0, Z0

block512:
	Q4K_SCALES
	VMOVQ     R9, X2
	VPMOVZXBW X2, X2
	VPERMW    Z2, Z26, Z3
	VPERMW    Z2, Z27, Z4
	VPERMW    Z2, Z28, Z5
	VPERMW    Z2, Z29, Z6
	VPXORD    Z1, Z1, Z1
	Q4K_DECODE512(0, Z7)
	VPMADDUBSW 4(R11), Z7, Z7
	VPDPWSSD   Z3, Z7, Z1
	Q4K_DECODE512(1, Z8)
	VPMADDUBSW 68(R11), Z8, Z8
	VPDPWSSD   Z4, Z8, Z1
	Q4K_DECODE512(2, Z7)
	VPMADDUBSW 132(R11), Z7, Z7
	VPDPWSSD   Z5, Z7, Z1
	Q4K_DECODE512(3, Z8)
	VPMADDUBSW 196(R11), Z8, Z8
	VPDPWSSD   Z6, Z8, Z1

	VMOVD        (SI), X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS (R11), X9
	VMULPS       X9, X8, X8
	VBROADCASTSS X8, Z10
	VMOVSHDUP    X8, X9
	VBROADCASTSS X9, Z11
	VCVTDQ2PS    Z1, Z1
	VFMADD231PS  Z1, Z10, Z0

	VMOVQ        DX, X12
	VPMOVZXBW    X12, X12
	VPERMW       Y12, Y25, Y12
	VPMADDWD     260(R11), Y12, Y12
	VCVTDQ2PS    Y12, Y12
	VFNMADD231PS Z12, Z11, Z0

	ADDQ $144, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  block512

	HSUM16(X0, Y0, Z0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row512
	VZEROUPPER
	RET

#define Q4K_TOK512(off, P, q, sc, tmp, sumi) \
	VPMADDUBSW off(P), q, tmp; \
	VPDPWSSD   sc, tmp, sumi

#define Q4K_CHUNK512x4(c, off, sc) \
	Q4K_DECODE512(c, Z8); \
	Q4K_TOK512(off, R11, Z8, sc, Z16, Z0); \
	Q4K_TOK512(off, R12, Z8, sc, Z17, Z1); \
	Q4K_TOK512(off, R13, Z8, sc, Z18, Z2); \
	Q4K_TOK512(off, R14, Z8, sc, Z19, Z3)

// Q4K_FIN512 is the single-token kernel's f32 tail for one token. Z10/Z11 =
// broadcast f32(d)/f32(dmin), Y20 = the doubled mins.
#define Q4K_FIN512(P, sumi, acc) \
	VBROADCASTSS (P), Z14; \
	VMULPS       Z14, Z10, Z15; \
	VCVTDQ2PS    sumi, sumi; \
	VFMADD231PS  sumi, Z15, acc; \
	VMULPS       Z14, Z11, Z15; \
	VPMADDWD     260(P), Y20, Y21; \
	VCVTDQ2PS    Y21, Y21; \
	VFNMADD231PS Z21, Z15, acc

// func q4kRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)
TEXT ·q4kRows4AVX512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ w+16(FP), R10
	Q4K_SETUP512

row4x512:
	MOVQ   R10, SI
	MOVQ   x+32(FP), R11
	MOVQ   xstride+40(FP), AX
	LEAQ   (R11)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	MOVQ   nb+48(FP), BX
	VXORPS Z4, Z4, Z4
	VXORPS Z5, Z5, Z5
	VXORPS Z6, Z6, Z6
	VXORPS Z7, Z7, Z7

block4x512:
	Q4K_SCALES
	VMOVQ     R9, X9
	VPMOVZXBW X9, X9
	VPERMW    Z9, Z26, Z12
	VPERMW    Z9, Z27, Z13
	VPXORD    Z0, Z0, Z0
	VPXORD    Z1, Z1, Z1
	VPXORD    Z2, Z2, Z2
	VPXORD    Z3, Z3, Z3
	Q4K_CHUNK512x4(0, 4, Z12)
	Q4K_CHUNK512x4(1, 68, Z13)
	VPERMW    Z9, Z28, Z12
	VPERMW    Z9, Z29, Z13
	Q4K_CHUNK512x4(2, 132, Z12)
	Q4K_CHUNK512x4(3, 196, Z13)

	VMOVD        (SI), X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Z10
	VMOVSHDUP    X8, X9
	VBROADCASTSS X9, Z11
	VMOVQ        DX, X20
	VPMOVZXBW    X20, X20
	VPERMW       Y20, Y25, Y20
	Q4K_FIN512(R11, Z0, Z4)
	Q4K_FIN512(R12, Z1, Z5)
	Q4K_FIN512(R13, Z2, Z6)
	Q4K_FIN512(R14, Z3, Z7)

	ADDQ $144, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  block4x512

	MOVQ   dstStride+8(FP), AX
	SHLQ   $2, AX
	HSUM16(X4, Y4, Z4, X0, Y0)
	VMOVSS X4, (DI)
	HSUM16(X5, Y5, Z5, X0, Y0)
	VMOVSS X5, (DI)(AX*1)
	HSUM16(X6, Y6, Z6, X0, Y0)
	VMOVSS X6, (DI)(AX*2)
	LEAQ   (DI)(AX*2), CX
	HSUM16(X7, Y7, Z7, X0, Y0)
	VMOVSS X7, (CX)(AX*1)

	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  row4x512
	VZEROUPPER
	RET
