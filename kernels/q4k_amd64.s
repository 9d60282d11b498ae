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

// ------------------------------------------- repacked forms (q4krep.go)
//
// llama.cpp's ggml_gemv_q4_K_8x8_q8_K and ggml_gemm_q4_K_8x8_q8_K, output
// by output. The integer sums are the kernels above; only the f32 part
// differs: the gemv form converts the block's whole integer sum I and mins
// term M once per block (acc = fma(f32(I), d·y.d, acc), accm = fma(f32(M),
// dmin·y.d, accm)), the gemm form once per 64-element chunk, chunks in
// order; the result is acc − accm.

// Q4K_REPTAIL folds the block's integer lanes X1 (4 lanes) and the chunk
// mins terms X2 ([M0..M3]) into [I, I, M, M] and adds them into X0 =
// [acc, 0, accm, 0] with X8 = [d·y.d, dmin·y.d, 0, 0] (spread to
// [d·y.d, 0, dmin·y.d, 0]). Clobbers X3, X4.
#define Q4K_REPTAIL \
	VPUNPCKLQDQ X2, X1, X3; \
	VPUNPCKHQDQ X2, X1, X4; \
	VPADDD      X4, X3, X3; \
	VPSHUFD     $0xB1, X3, X4; \
	VPADDD      X4, X3, X3; \
	VCVTDQ2PS   X3, X3; \
	VPMOVZXDQ   X8, X8; \
	VFMADD231PS X3, X8, X0

// Q4K_REPMINS leaves [M0..M3] of the Q8_K block at P in X(dst): X14 holds
// the mins as words. Clobbers X(tmp).
#define Q4K_REPMINS(P, dst, tmp) \
	VMOVDQU  260(P), dst; \
	VMOVDQU  276(P), tmp; \
	VPHADDW  tmp, dst, dst; \
	VPMADDWD X14, dst, dst

// Q4K_REPDY leaves [d·y.d, dmin·y.d, 0, 0] of the blocks at SI and R11 in X8.
#define Q4K_REPDY \
	VMOVD        (SI), X8; \
	VCVTPH2PS    X8, X8; \
	VBROADCASTSS (R11), X9; \
	VMULPS       X9, X8, X8

// Q4K_SCALESP is Q4K_SCALES for the block at P.
#define Q4K_SCALESP(P) \
	MOVL 4(P), AX; \
	MOVL 8(P), CX; \
	MOVL 12(P), DX; \
	MOVL AX, R8; \
	SHRL $6, R8; \
	ANDL $0x03030303, R8; \
	SHLL $4, R8; \
	MOVL DX, R9; \
	ANDL $0x0f0f0f0f, R9; \
	ORL  R8, R9; \
	MOVL CX, R8; \
	SHRL $6, R8; \
	ANDL $0x03030303, R8; \
	SHLL $4, R8; \
	SHRL $4, DX; \
	ANDL $0x0f0f0f0f, DX; \
	ORL  R8, DX; \
	ANDL $0x3f3f3f3f, AX; \
	ANDL $0x3f3f3f3f, CX; \
	SHLQ $32, R9; \
	ORQ  AX, R9; \
	SHLQ $32, DX; \
	ORQ  CX, DX

// Q4K_CHUNK1P is Q4K_CHUNK1 for the block at P.
#define Q4K_CHUNK1P(P, c) \
	VMOVDQU    (16+32*c)(P), Y2; \
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

// Q4K_GEMV4ROW2 leaves in Y(out) the block at P's integer lanes folded to 4
// (low half) and its chunk mins terms [M0..M3] (high half), against the
// Q8_K block at R11 (X12 = its bsums pair sums, shared by the rows).
#define Q4K_GEMV4ROW2(P, out, xout) \
	Q4K_SCALESP(P); \
	VMOVQ        R9, X14; \
	VPMOVZXBW    X14, X14; \
	VINSERTI128  $1, X14, Y14, Y14; \
	VPXOR        Y1, Y1, Y1; \
	Q4K_CHUNK1P(P, 0); \
	Q4K_CHUNK1P(P, 1); \
	Q4K_CHUNK1P(P, 2); \
	Q4K_CHUNK1P(P, 3); \
	VEXTRACTI128 $1, Y1, X3; \
	VPADDD       X3, X1, xout; \
	VMOVQ        DX, X14; \
	VPMOVZXBW    X14, X14; \
	VPMADDWD     X12, X14, X14; \
	VINSERTI128  $1, X14, out, out

// func q4kRepRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// Four rows at a time as in q4kRepRowsAVX512: each row's [4 integer lanes,
// 4 mins terms] go through one shared transpose-and-add tree, and
// [acc ×4, accm ×4] take one fused step per block. The last rows%4 rows
// take the one-row loop.
TEXT ·q4kRepRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    w+8(FP), R10
	VMOVDQU ·k0F(SB), Y15

quad2:
	CMPQ rows+40(FP), $4
	JLT  reprow
	MOVQ   wstride+16(FP), AX
	MOVQ   R10, SI
	LEAQ   (SI)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Y0, Y0, Y0

quadblock2:
	// Prefetch the next quad's rows as fast as this quad's are read (576
	// bytes a block, from R10 + 4·wstride + 4·(SI − R10)).
	MOVQ       SI, AX
	SUBQ       R10, AX
	LEAQ       (R10)(AX*4), AX
	MOVQ       wstride+16(FP), CX
	LEAQ       (AX)(CX*4), AX
	PREFETCHT0 (AX)
	PREFETCHT0 64(AX)
	PREFETCHT0 128(AX)
	PREFETCHT0 192(AX)
	PREFETCHT0 256(AX)
	PREFETCHT0 320(AX)
	PREFETCHT0 384(AX)
	PREFETCHT0 448(AX)
	PREFETCHT0 512(AX)

	VMOVDQU 260(R11), X12
	VPHADDW 276(R11), X12, X12
	Q4K_GEMV4ROW2(SI, Y6, X6)
	Q4K_GEMV4ROW2(R12, Y7, X7)
	Q4K_GEMV4ROW2(R13, Y8, X8)
	Q4K_GEMV4ROW2(R14, Y9, X9)

	// [I_r0 … I_r3 | M_r0 … M_r3]
	VPUNPCKLDQ  Y7, Y6, Y10
	VPUNPCKHDQ  Y7, Y6, Y11
	VPADDD      Y11, Y10, Y10
	VPUNPCKLDQ  Y9, Y8, Y11
	VPUNPCKHDQ  Y9, Y8, Y13
	VPADDD      Y13, Y11, Y11
	VPUNPCKLQDQ Y11, Y10, Y13
	VPUNPCKHQDQ Y11, Y10, Y10
	VPADDD      Y10, Y13, Y13
	VCVTDQ2PS   Y13, Y13

	// [d_r·y.d | dmin_r·y.d]
	MOVL         (SI), AX
	VMOVD        AX, X10
	VPINSRD      $1, (R12), X10, X10
	VPINSRD      $2, (R13), X10, X10
	VPINSRD      $3, (R14), X10, X10
	VCVTPH2PS    X10, Y10
	VBROADCASTSS (R11), Y11
	VMULPS       Y11, Y10, Y10
	VMOVDQU      q4kRepDeint<>(SB), Y11
	VPERMPS      Y10, Y11, Y10
	VFMADD231PS  Y13, Y10, Y0

	ADDQ $144, SI
	ADDQ $144, R12
	ADDQ $144, R13
	ADDQ $144, R14
	ADDQ $292, R11
	DECQ BX
	JNZ  quadblock2

	VEXTRACTF128 $1, Y0, X1
	VSUBPS       X1, X0, X0
	VMOVUPS      X0, (DI)
	ADDQ         $16, DI
	MOVQ         wstride+16(FP), AX
	LEAQ         (R10)(AX*4), R10
	SUBQ         $4, rows+40(FP)
	JMP          quad2

reprow:
	CMPQ   rows+40(FP), $0
	JEQ    repdone
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS X0, X0, X0

repblock:
	Q4K_SCALES
	VMOVQ       R9, X14
	VPMOVZXBW   X14, X14
	VINSERTI128 $1, X14, Y14, Y14
	VPXOR       Y1, Y1, Y1
	Q4K_CHUNK1(0)
	Q4K_CHUNK1(1)
	Q4K_CHUNK1(2)
	Q4K_CHUNK1(3)
	VEXTRACTI128 $1, Y1, X3
	VPADDD       X3, X1, X1
	VMOVQ        DX, X14
	VPMOVZXBW    X14, X14
	Q4K_REPMINS(R11, X2, X3)
	Q4K_REPDY
	Q4K_REPTAIL

	ADDQ $144, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  repblock

	VMOVHLPS X0, X0, X1
	VSUBSS   X1, X0, X0
	VMOVSS   X0, (DI)
	ADDQ     $4, DI
	ADDQ     wstride+16(FP), R10
	DECQ     rows+40(FP)
	JMP      reprow

repdone:
	VZEROUPPER
	RET

// Q4K_REPRED4 leaves the sums of the 8 lanes of Y0, Y1, Y2, Y3 (tokens 0…3)
// in the 4 lanes of X12. Clobbers Y13.
#define Q4K_REPRED4 \
	VPHADDD      Y1, Y0, Y12; \
	VPHADDD      Y3, Y2, Y13; \
	VPHADDD      Y13, Y12, Y12; \
	VEXTRACTI128 $1, Y12, X13; \
	VPADDD       X13, X12, X12

// Q4K_REPTOK4 sets acc to one token's integer lanes of the decoded chunk
// halves Y8/Y9 (scales Y10/Y11) against the Q8_K quants at off(P).
#define Q4K_REPTOK4(off, P, acc) \
	VPMADDUBSW off(P), Y8, Y12; \
	VPMADDWD   Y10, Y12, Y12; \
	VPMADDUBSW (off+32)(P), Y9, acc; \
	VPMADDWD   Y11, acc, acc; \
	VPADDD     Y12, acc, acc

// Q4K_REPCHUNK4 adds chunk c of the block at SI, for the four tokens, into
// X4 = acc (lanes: tokens) with X6 = d·y.d per token.
#define Q4K_REPCHUNK4(c) \
	VMOVDQU     (16+32*c)(SI), Y8; \
	VPSRLW      $4, Y8, Y9; \
	VPAND       Y15, Y8, Y8; \
	VPAND       Y15, Y9, Y9; \
	VPSHUFB     ·kShufW+(64*c)(SB), Y14, Y10; \
	VPSHUFB     ·kShufW+(64*c+32)(SB), Y14, Y11; \
	Q4K_REPTOK4((4+64*c), R11, Y0); \
	Q4K_REPTOK4((4+64*c), R12, Y1); \
	Q4K_REPTOK4((4+64*c), R13, Y2); \
	Q4K_REPTOK4((4+64*c), R14, Y3); \
	Q4K_REPRED4; \
	VCVTDQ2PS   X12, X12; \
	VFMADD231PS X12, X6, X4

// The four-token kernels read per-block token data prepared by their Go
// wrapper (q4kRepAux, 80 bytes a block at aux): y.d of the four tokens
// (4 f32), then for each chunk c the bsums pair sums of its two
// sub-blocks for each token, (P_2c, P_2c+1)_t as words. VPMADDWD with the
// row's mins (m_2c, m_2c+1) repeated gives the chunk mins terms of the
// four tokens at once.

// Q4K_REPDY4 leaves d·y.d in X6 and dmin·y.d in X7, lanes: tokens (aux at
// AX). Clobbers X8, X9.
#define Q4K_REPDY4 \
	VMOVD        (SI), X8; \
	VCVTPH2PS    X8, X8; \
	VMOVSHDUP    X8, X9; \
	VBROADCASTSS X9, X9; \
	VBROADCASTSS X8, X8; \
	VMULPS       (AX), X9, X7; \
	VMULPS       (AX), X8, X6

// Q4K_REPSTORE4 stores X4 − X5 (lanes: tokens) at DI + t·AX, AX the
// output stride in bytes.
#define Q4K_REPSTORE4 \
	VSUBPS     X5, X4, X4; \
	VMOVSS     X4, (DI); \
	VEXTRACTPS $1, X4, (DI)(AX*1); \
	VEXTRACTPS $2, X4, (DI)(AX*2); \
	LEAQ       (DI)(AX*2), CX; \
	VEXTRACTPS $3, X4, (CX)(AX*1)

// func q4kRepRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int, aux *byte)
TEXT ·q4kRepRows4AVX2(SB), NOSPLIT, $0-72
	MOVQ    dst+0(FP), DI
	MOVQ    w+16(FP), R10
	VMOVDQU ·k0F(SB), Y15

reprow4:
	MOVQ   R10, SI
	MOVQ   x+32(FP), R11
	MOVQ   xstride+40(FP), AX
	LEAQ   (R11)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	MOVQ   nb+48(FP), BX
	VXORPS X4, X4, X4
	VXORPS X5, X5, X5

repblock4:
	Q4K_SCALES

	// AX = this block's aux data: aux + (nb − BX)·80.
	MOVQ   nb+48(FP), AX
	SUBQ   BX, AX
	IMUL3Q $80, AX, AX
	ADDQ   aux+64(FP), AX

	VMOVQ       R9, X14
	VPMOVZXBW   X14, X14
	VINSERTI128 $1, X14, Y14, Y14
	Q4K_REPDY4
	Q4K_REPCHUNK4(0)
	Q4K_REPCHUNK4(1)
	Q4K_REPCHUNK4(2)
	Q4K_REPCHUNK4(3)

	// mins: [M_0(t), M_1(t)] and [M_2(t), M_3(t)], chunk by chunk.
	VMOVQ       DX, X14
	VPMOVZXBW   X14, X14
	VMOVDQU     q4kRepMinIdx<>(SB), Y8
	VPERMD      Y14, Y8, Y9
	VMOVDQU     q4kRepMinIdx<>+32(SB), Y8
	VPERMD      Y14, Y8, Y10
	VPMADDWD    16(AX), Y9, Y9
	VPMADDWD    48(AX), Y10, Y10
	VCVTDQ2PS   Y9, Y9
	VCVTDQ2PS   Y10, Y10
	VFMADD231PS X9, X7, X5
	VEXTRACTF128 $1, Y9, X9
	VFMADD231PS X9, X7, X5
	VFMADD231PS X10, X7, X5
	VEXTRACTF128 $1, Y10, X10
	VFMADD231PS X10, X7, X5

	ADDQ $144, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  repblock4

	MOVQ dstStride+8(FP), AX
	SHLQ $2, AX
	Q4K_REPSTORE4
	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  reprow4
	VZEROUPPER
	RET

// Q4K_DECODEP512 is Q4K_DECODE512 for the block at P.
#define Q4K_DECODEP512(P, c, dst) \
	VBROADCASTI64X4 (16+32*c)(P), dst; \
	VPSRLVW         Z30, dst, dst; \
	VPANDD          Z31, dst, dst

// Q4K_GEMV4ROW leaves in Z(sumi) the 16 integer lanes of the block at P
// against the Q8_K block at R11, and in X(mins) its chunk mins terms
// [M0..M3] (X9 = the Q8_K bsums pair sums, shared by the rows).
#define Q4K_GEMV4ROW(P, sumi, mins) \
	Q4K_SCALESP(P); \
	VMOVQ      R9, X2; \
	VPMOVZXBW  X2, X2; \
	VPERMW     Z2, Z26, Z3; \
	VPERMW     Z2, Z27, Z4; \
	VPERMW     Z2, Z28, Z5; \
	VPERMW     Z2, Z29, Z6; \
	Q4K_DECODEP512(P, 0, Z7); \
	VPMADDUBSW 4(R11), Z7, Z7; \
	VPMADDWD   Z3, Z7, sumi; \
	Q4K_DECODEP512(P, 1, Z8); \
	VPMADDUBSW 68(R11), Z8, Z8; \
	VPDPWSSD   Z4, Z8, sumi; \
	Q4K_DECODEP512(P, 2, Z7); \
	VPMADDUBSW 132(R11), Z7, Z7; \
	VPDPWSSD   Z5, Z7, sumi; \
	Q4K_DECODEP512(P, 3, Z8); \
	VPMADDUBSW 196(R11), Z8, Z8; \
	VPDPWSSD   Z6, Z8, sumi; \
	VMOVQ      DX, X10; \
	VPMOVZXBW  X10, X10; \
	VPMADDWD   X9, X10, mins

// Q4K_SUM4x4 leaves in X(out) the sums of the 4 lanes of each of X(a)…X(d):
// [Σa, Σb, Σc, Σd]. Clobbers X11, X12.
#define Q4K_SUM4x4(a, b, c, d, out) \
	VPUNPCKLDQ  b, a, X11; \
	VPUNPCKHDQ  b, a, X12; \
	VPADDD      X12, X11, X11; \
	VPUNPCKLDQ  d, c, X12; \
	VPUNPCKHDQ  d, c, out; \
	VPADDD      out, X12, X12; \
	VPUNPCKLQDQ X12, X11, out; \
	VPUNPCKHQDQ X12, X11, X12; \
	VPADDD      X12, out, out

// func q4kRepRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// Four rows at a time, the rows in the lanes of the accumulators X0 (acc)
// and X1 (accm): the horizontal sums of the four rows' integer lanes share
// one reduction tree. The last rows%4 rows take the one-row loop.
TEXT ·q4kRepRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ      dst+0(FP), DI
	MOVQ      w+8(FP), R10
	Q4K_SETUP512
	VMOVDQU64 q4kRepDeint<>(SB), Y24

quad512:
	CMPQ rows+40(FP), $4
	JLT  reprow512
	MOVQ   wstride+16(FP), AX
	MOVQ   R10, SI
	LEAQ   (SI)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	LEAQ   (R14)(AX*1), R15
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1

quadblock512:
	// Prefetch the next quad's rows as fast as this quad's are read (576
	// bytes a block): reading four adjacent rows block by block defeats
	// the hardware prefetchers.
	PREFETCHT0 (R15)
	PREFETCHT0 64(R15)
	PREFETCHT0 128(R15)
	PREFETCHT0 192(R15)
	PREFETCHT0 256(R15)
	PREFETCHT0 320(R15)
	PREFETCHT0 384(R15)
	PREFETCHT0 448(R15)
	PREFETCHT0 512(R15)
	ADDQ       $576, R15
	VMOVDQU 260(R11), X9
	VPHADDW 276(R11), X9, X9
	Q4K_GEMV4ROW(SI, Z16, X20)
	Q4K_GEMV4ROW(R12, Z17, X21)
	Q4K_GEMV4ROW(R13, Z18, X22)
	Q4K_GEMV4ROW(R14, Z19, X23)

	// [I_r0 … I_r3]: an unpack-and-add tree leaves [r0 r1 r2 r3] partial
	// sums in every 128-bit group, then the groups are added.
	VPUNPCKLDQ    Z17, Z16, Z11
	VPUNPCKHDQ    Z17, Z16, Z12
	VPADDD        Z12, Z11, Z11
	VPUNPCKLDQ    Z19, Z18, Z12
	VPUNPCKHDQ    Z19, Z18, Z13
	VPADDD        Z13, Z12, Z12
	VPUNPCKLQDQ   Z12, Z11, Z13
	VPUNPCKHQDQ   Z12, Z11, Z14
	VPADDD        Z14, Z13, Z13
	VEXTRACTI64X4 $1, Z13, Y14
	VPADDD        Y14, Y13, Y13
	VEXTRACTI128  $1, Y13, X14
	VPADDD        X14, X13, X13
	Q4K_SUM4x4(X20, X21, X22, X23, X14)
	VCVTDQ2PS X13, X13
	VCVTDQ2PS X14, X14

	// [d_r·y.d] and [dmin_r·y.d]
	MOVL         (SI), AX
	VMOVD        AX, X15
	VPINSRD      $1, (R12), X15, X15
	VPINSRD      $2, (R13), X15, X15
	VPINSRD      $3, (R14), X15, X15
	VCVTPH2PS    X15, Y15
	VBROADCASTSS (R11), Y12
	VMULPS       Y12, Y15, Y15
	VPERMPS      Y15, Y24, Y15
	VFMADD231PS  X13, X15, X0
	VEXTRACTF128 $1, Y15, X15
	VFMADD231PS  X14, X15, X1

	ADDQ $144, SI
	ADDQ $144, R12
	ADDQ $144, R13
	ADDQ $144, R14
	ADDQ $292, R11
	DECQ BX
	JNZ  quadblock512

	VSUBPS  X1, X0, X0
	VMOVUPS X0, (DI)
	ADDQ    $16, DI
	MOVQ    wstride+16(FP), AX
	LEAQ    (R10)(AX*4), R10
	SUBQ    $4, rows+40(FP)
	JMP     quad512

reprow512:
	CMPQ   rows+40(FP), $0
	JEQ    done512
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS X0, X0, X0

repblock512:
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

	VEXTRACTI64X4 $1, Z1, Y3
	VPADDD        Y3, Y1, Y1
	VEXTRACTI128  $1, Y1, X3
	VPADDD        X3, X1, X1
	VMOVQ         DX, X14
	VPMOVZXBW     X14, X14
	Q4K_REPMINS(R11, X2, X3)
	Q4K_REPDY
	Q4K_REPTAIL

	ADDQ $144, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  repblock512

	VMOVHLPS X0, X0, X1
	VSUBSS   X1, X0, X0
	VMOVSS   X0, (DI)
	ADDQ     $4, DI
	ADDQ     wstride+16(FP), R10
	DECQ     rows+40(FP)
	JMP      reprow512

done512:
	VZEROUPPER
	RET

// Q4K_REPCHUNK512x4 leaves in Z(out) the integer sums of chunk c for the
// four tokens, [t0 t1 t2 t3] partial sums in each 128-bit group. The
// VPMADDUBSW pair sums of the four tokens (|v| ≤ 2·15·128) are merged by
// unpacking and adding 16-bit words (at most 8 of them per word: no
// overflow) until every 128-bit group holds [t0 t1 t2 t3] as word pairs;
// VPMADDWD applies the sub-block scale (the same for a whole 256-bit half).
#define Q4K_REPCHUNK512x4(c, off, sc, out) \
	Q4K_DECODE512(c, Z8); \
	VPMADDUBSW    off(R11), Z8, Z0; \
	VPMADDUBSW    off(R12), Z8, Z1; \
	VPMADDUBSW    off(R13), Z8, Z2; \
	VPMADDUBSW    off(R14), Z8, Z3; \
	VPUNPCKLDQ    Z1, Z0, Z16; \
	VPUNPCKHDQ    Z1, Z0, Z17; \
	VPADDW        Z17, Z16, Z16; \
	VPUNPCKLDQ    Z3, Z2, Z17; \
	VPUNPCKHDQ    Z3, Z2, Z18; \
	VPADDW        Z18, Z17, Z17; \
	VPUNPCKLQDQ   Z17, Z16, Z18; \
	VPUNPCKHQDQ   Z17, Z16, Z19; \
	VPADDW        Z19, Z18, Z18; \
	VPMADDWD      sc, Z18, out

// Q4K_REPPAIR512 adds the chunk sums of two consecutive chunks (Z12, Z13,
// as left by Q4K_REPCHUNK512x4) into X4 in chunk order: their four groups
// are added (both chunks at once) and each chunk total goes through its
// fused step with X6 = d·y.d per token.
#define Q4K_REPPAIR512 \
	VSHUFI64X2    $0x44, Z13, Z12, Z16; \
	VSHUFI64X2    $0xEE, Z13, Z12, Z17; \
	VPADDD        Z17, Z16, Z16; \
	VSHUFI64X2    $0xB1, Z16, Z16, Z17; \
	VPADDD        Z17, Z16, Z16; \
	VCVTDQ2PS     Z16, Z16; \
	VFMADD231PS   X16, X6, X4; \
	VEXTRACTF32X4 $2, Z16, X17; \
	VFMADD231PS   X17, X6, X4

// func q4kRepRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int, aux *byte)
TEXT ·q4kRepRows4AVX512(SB), NOSPLIT, $0-72
	MOVQ      dst+0(FP), DI
	MOVQ      w+16(FP), R10
	Q4K_SETUP512
	VMOVDQU64 q4kRepMinIdx<>(SB), Z24

reprow4x512:
	MOVQ   R10, SI
	MOVQ   x+32(FP), R11
	MOVQ   xstride+40(FP), AX
	LEAQ   (R11)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	MOVQ   nb+48(FP), BX
	VXORPS X4, X4, X4
	VXORPS X5, X5, X5

repblock4x512:
	Q4K_SCALES

	// AX = this block's aux data: aux + (nb − BX)·80.
	MOVQ   nb+48(FP), AX
	SUBQ   BX, AX
	IMUL3Q $80, AX, AX
	ADDQ   aux+64(FP), AX

	VMOVQ     R9, X9
	VPMOVZXBW X9, X9
	VPERMW    Z9, Z26, Z20
	VPERMW    Z9, Z27, Z21
	VPERMW    Z9, Z28, Z22
	VPERMW    Z9, Z29, Z23
	Q4K_REPDY4
	Q4K_REPCHUNK512x4(0, 4, Z20, Z12)
	Q4K_REPCHUNK512x4(1, 68, Z21, Z13)
	Q4K_REPPAIR512
	Q4K_REPCHUNK512x4(2, 132, Z22, Z12)
	Q4K_REPCHUNK512x4(3, 196, Z23, Z13)
	Q4K_REPPAIR512

	// mins: [M_c(t)] for c = 0…3 in the four 128-bit groups of Z9.
	VMOVQ         DX, X9
	VPMOVZXBW     X9, X9
	VPERMD        Z9, Z24, Z9
	VPMADDWD      16(AX), Z9, Z9
	VCVTDQ2PS     Z9, Z9
	VFMADD231PS   X9, X7, X5
	VEXTRACTF32X4 $1, Z9, X10
	VFMADD231PS   X10, X7, X5
	VEXTRACTF32X4 $2, Z9, X10
	VFMADD231PS   X10, X7, X5
	VEXTRACTF32X4 $3, Z9, X10
	VFMADD231PS   X10, X7, X5

	ADDQ $144, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  repblock4x512

	MOVQ dstStride+8(FP), AX
	SHLQ $2, AX
	Q4K_REPSTORE4
	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  reprow4x512
	VZEROUPPER
	RET

// q4kRepMinIdx: VPERMD indices [0]*4 ++ [1]*4 ++ [2]*4 ++ [3]*4.
DATA q4kRepMinIdx<>+0(SB)/8, $0
DATA q4kRepMinIdx<>+8(SB)/8, $0
DATA q4kRepMinIdx<>+16(SB)/8, $0x0000000100000001
DATA q4kRepMinIdx<>+24(SB)/8, $0x0000000100000001
DATA q4kRepMinIdx<>+32(SB)/8, $0x0000000200000002
DATA q4kRepMinIdx<>+40(SB)/8, $0x0000000200000002
DATA q4kRepMinIdx<>+48(SB)/8, $0x0000000300000003
DATA q4kRepMinIdx<>+56(SB)/8, $0x0000000300000003
GLOBL q4kRepMinIdx<>(SB), RODATA|NOPTR, $64

// q4kRepDeint: VPERMPS indices 0, 2, 4, 6, 1, 3, 5, 7 ([d, dmin] pairs of
// four rows to [d ×4, dmin ×4]).
DATA q4kRepDeint<>+0(SB)/8, $0x0000000200000000
DATA q4kRepDeint<>+8(SB)/8, $0x0000000600000004
DATA q4kRepDeint<>+16(SB)/8, $0x0000000300000001
DATA q4kRepDeint<>+24(SB)/8, $0x0000000700000005
GLOBL q4kRepDeint<>(SB), RODATA|NOPTR, $32
