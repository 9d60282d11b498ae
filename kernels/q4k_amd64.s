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

// Q4K_INT512 leaves in Z1 the 16 integer lanes of the Q4_K block at SI
// against the Q8_K block at R11 (sub-block scales applied), and the mins
// bytes in DX (Q4K_SCALES). Clobbers Z2…Z8.
#define Q4K_INT512 \
	Q4K_SCALES; \
	VMOVQ     R9, X2; \
	VPMOVZXBW X2, X2; \
	VPERMW    Z2, Z26, Z3; \
	VPERMW    Z2, Z27, Z4; \
	VPERMW    Z2, Z28, Z5; \
	VPERMW    Z2, Z29, Z6; \
	VPXORD    Z1, Z1, Z1; \
	Q4K_DECODE512(0, Z7); \
	VPMADDUBSW 4(R11), Z7, Z7; \
	VPDPWSSD   Z3, Z7, Z1; \
	Q4K_DECODE512(1, Z8); \
	VPMADDUBSW 68(R11), Z8, Z8; \
	VPDPWSSD   Z4, Z8, Z1; \
	Q4K_DECODE512(2, Z7); \
	VPMADDUBSW 132(R11), Z7, Z7; \
	VPDPWSSD   Z5, Z7, Z1; \
	Q4K_DECODE512(3, Z8); \
	VPMADDUBSW 196(R11), Z8, Z8; \
	VPDPWSSD   Z6, Z8, Z1

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
	Q4K_INT512

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
// Four rows at a time: each row's [4 integer lanes, 4 mins terms] go
// through one shared transpose-and-add tree, and [acc ×4, accm ×4] take
// one fused step per block. The last rows%4 rows take the one-row loop.
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

// The four-row AVX-512 gemv loop is bound by the number of vector
// operations per block, so it keeps them few. The products go through
// VPDPBUSD (four u8×s8 products per dword, |sum| ≤ 4·15·128, which a word
// holds), VPACKSSDW packs two such vectors into words, and the sub-block
// scales are applied to the word pairs: per block and row 4 VPDPBUSD, 2
// VPACKSSDW and 2 scale multiplies instead of 4 VPMADDUBSW and 4 scale
// multiplies. The nibbles come from two 64-byte loads (chunks 0-1 and
// 2-3: low nibbles are sub-blocks 0, 2 / 4, 6, high nibbles 1, 3 / 5, 7),
// so the Q8_K values are regrouped to match, once per block for the four
// rows; the scales and mins of the four rows are unpacked together in
// vector registers instead of in general registers row by row. Only the
// order of the integer additions changes, so the results are the same.

// Q4K_LOAD4 loads the 16 bytes at a, b, c, d into the four 128-bit lanes
// of Z2.
#define Q4K_LOAD4(a, b, c, d) \
	VMOVDQU      a, X2; \
	VINSERTI32X4 $1, b, Z2, Z2; \
	VINSERTI32X4 $2, c, Z2, Z2; \
	VINSERTI32X4 $3, d, Z2, Z2

// Q4K_UNPACKZ2 is get_scale_min_k4 for the four rows whose 12 scale bytes
// are in the 128-bit lanes of Z2, starting at dword k: in Z(S) lane r is
// [sc0..sc7, m0..m7] of row r (bytes). shufS and shufM are the VPSHUFD
// selectors of the scale dwords for that k ($0x98, $0x50 for k = 0;
// $0xED, $0xA5 for k = 1, a block header with d and dmin first). Z2 is
// left as it was. Clobbers Z4.
#define Q4K_UNPACKZ2(shufS, shufM, S) \
	VPSHUFD    shufS, Z2, S; \
	VPSHUFD    shufM, Z2, Z4; \
	VPSRLVD    q4kRepScCnt<>(SB), S, S; \
	VPANDD     q4kRepScM1<>(SB), S, S; \
	VPSRLD     $2, Z4, Z4; \
	VPTERNLOGD $0xF8, q4kRepScM2<>(SB), Z4, S

// Q4K_REPUNPACK4 unpacks the scales and mins of the blocks at a, b, c, d
// (the addresses of their scale bytes; get_scale_min_k4, four rows at
// once): in Z(S) 128-bit lane r is [sc0..sc7, m0..m7] of row r (bytes).
// Clobbers Z2, Z4.
#define Q4K_REPUNPACK4(a, b, c, d, S) \
	Q4K_LOAD4(a, b, c, d); \
	Q4K_UNPACKZ2($0x98, $0x50, S)

// Q4K_REPMINS4 leaves in Z(dst) the mins of the unpacked lanes Z(S) against
// the Q8_K pair sums Z(P) (q4kRepMinIdx-spread: dword 4L+r = P_2L, P_2L+1):
// dword 4L+r = m_2L·P_2L + m_2L+1·P_2L+1 of row r. Clobbers Z5.
#define Q4K_REPMINS4(S, P, dst) \
	VMOVDQU64     q4kRepSMIdx<>(SB), Z5; \
	VPERMW        S, Z5, dst; \
	VEXTRACTI64X4 $1, dst, Y5; \
	VPMOVZXBW     Y5, dst; \
	VPMADDWD      P, dst, dst

// Q4K_REPY4 regroups the Q8_K values of the block at R11 to match the
// nibbles of Q4K_REPROW: Z18 = [y0..31, y64..95], Z19 = [y32..63,
// y96..127], Z20 = [y128..159, y192..223], Z21 = [y160..191, y224..255].
#define Q4K_REPY4 \
	VMOVDQU64     4(R11), Y18; \
	VINSERTI64X4  $1, 68(R11), Z18, Z18; \
	VMOVDQU64     36(R11), Y19; \
	VINSERTI64X4  $1, 100(R11), Z19, Z19; \
	VMOVDQU64     132(R11), Y20; \
	VINSERTI64X4  $1, 196(R11), Z20, Z20; \
	VMOVDQU64     164(R11), Y21; \
	VINSERTI64X4  $1, 228(R11), Z21, Z21

// Q4K_REPROW leaves in Z(sumi) the 16 integer lanes of the block at P
// against the Q8_K block at R11 (Z18…Z21 from Q4K_REPY4; Z(S) from
// Q4K_REPUNPACK4, sel = the VSHUFI32X4 selector of this row's lane). In
// every 128-bit lane L VPACKSSDW leaves four dword sums of either vector,
// of sub-blocks 2·(L/2) and 2·(L/2)+1 (+4 for chunks 2-3); the row's lane
// of S, broadcast, is spread to match by VPSHUFB (Z22, Z23 =
// q4kRepScShuf), which also widens the scales to words. Clobbers Z2…Z11.
#define Q4K_REPROW(P, S, sel, sumi) \
	VMOVDQU64 16(P), Z3; \
	VMOVDQU64 80(P), Z5; \
	VPANDD    Z3, Z31, Z2; \
	VPSRLW    $4, Z3, Z3; \
	VPANDD    Z31, Z3, Z3; \
	VPANDD    Z5, Z31, Z4; \
	VPSRLW    $4, Z5, Z5; \
	VPANDD    Z31, Z5, Z5; \
	VPXORD    Z6, Z6, Z6; \
	VPXORD    Z7, Z7, Z7; \
	VPXORD    Z8, Z8, Z8; \
	VPXORD    Z9, Z9, Z9; \
	VPDPBUSD  Z18, Z2, Z6; \
	VPDPBUSD  Z19, Z3, Z7; \
	VPDPBUSD  Z20, Z4, Z8; \
	VPDPBUSD  Z21, Z5, Z9; \
	VPACKSSDW Z7, Z6, Z6; \
	VPACKSSDW Z9, Z8, Z8; \
	VSHUFI32X4 $sel, S, S, Z10; \
	VPSHUFB   Z22, Z10, Z11; \
	VPSHUFB   Z23, Z10, Z10; \
	VPMADDWD  Z11, Z6, sumi; \
	VPDPWSSD  Z10, Z8, sumi

// Q4K_REPTREE leaves in Z(out) the integer lanes of four rows Z(a)…Z(d)
// added by an unpack-and-add tree: [a b c d] partial sums in every 128-bit
// group. Clobbers Z2, Z3, Z5.
#define Q4K_REPTREE(a, b, c, d, out) \
	VPUNPCKLDQ  b, a, Z2; \
	VPUNPCKHDQ  b, a, Z3; \
	VPADDD      Z3, Z2, Z2; \
	VPUNPCKLDQ  d, c, Z3; \
	VPUNPCKHDQ  d, c, out; \
	VPADDD      out, Z3, Z3; \
	VPUNPCKLQDQ Z3, Z2, out; \
	VPUNPCKHQDQ Z3, Z2, Z5; \
	VPADDD      Z5, out, out

// func q4kRepRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// Four rows at a time (see above), the rows in the lanes of the
// accumulators X0 (acc) and X1 (accm): the horizontal sums of the four
// rows' integer lanes share one reduction tree. The last rows%4 rows take
// the one-row loop.
TEXT ·q4kRepRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ      dst+0(FP), DI
	MOVQ      w+8(FP), R10
	VMOVDQU64 ·k0F(SB), Z31
	VMOVDQU64 q4kRepDeint<>(SB), Y30
	VMOVDQU64 q4kRepScShuf<>+0(SB), Z22
	VMOVDQU64 q4kRepScShuf<>+64(SB), Z23

quad512:
	CMPQ rows+40(FP), $4
	JLT  tail512
	MOVQ   wstride+16(FP), AX
	MOVQ   R10, SI
	LEAQ   (SI)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	LEAQ   (R14)(AX*1), R15
	ADDQ   $4096, R15
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS X0, X0, X0
	VXORPS X1, X1, X1

quadblock512:
	// Prefetch the next quad's rows, 4 KiB further on, as fast as this
	// quad's are read (576 bytes a block): reading four adjacent rows
	// block by block defeats the hardware prefetchers, and from DRAM at 2
	// threads the next quad's start was measured to be too close for
	// short rows (2048 columns; the next-but-one quad was too far for long
	// ones; for 11008-column rows offsets of 0 to 4 KiB measured within
	// 2% of each other). A stream per row instead (each row's bytes a
	// fixed number of blocks ahead, going on into the next quad's rows:
	// the same lead for every row) was measured 10-12% slower from DRAM at
	// 2 threads whatever the lead, so the prefetch stays one sequential
	// stream.
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
	Q4K_REPUNPACK4(4(SI), 4(R12), 4(R13), 4(R14), Z16)
	Q4K_REPY4
	Q4K_REPROW(SI, Z16, 0x00, Z12)
	Q4K_REPROW(R12, Z16, 0x55, Z13)
	Q4K_REPROW(R13, Z16, 0xAA, Z14)
	Q4K_REPROW(R14, Z16, 0xFF, Z15)

	// [I_r0 … I_r3], then [M_r0 … M_r3] from the pair sums P_j =
	// bsums[2j] + bsums[2j+1]: each time the four 128-bit groups added.
	Q4K_REPTREE(Z12, Z13, Z14, Z15, Z4)
	VEXTRACTI64X4 $1, Z4, Y5
	VPADDD        Y5, Y4, Y4
	VEXTRACTI128  $1, Y4, X5
	VPADDD        X5, X4, X13
	VMOVDQU       260(R11), X9
	VPHADDW       276(R11), X9, X9
	VMOVDQU64     q4kRepMinIdx<>(SB), Z3
	VPERMD        Z9, Z3, Z3
	Q4K_REPMINS4(Z16, Z3, Z2)
	VEXTRACTI64X4 $1, Z2, Y3
	VPADDD        Y3, Y2, Y2
	VEXTRACTI128  $1, Y2, X3
	VPADDD        X3, X2, X14
	VCVTDQ2PS     X13, X13
	VCVTDQ2PS     X14, X14

	// [d_r·y.d] and [dmin_r·y.d]
	MOVL         (SI), AX
	VMOVD        AX, X6
	VPINSRD      $1, (R12), X6, X6
	VPINSRD      $2, (R13), X6, X6
	VPINSRD      $3, (R14), X6, X6
	VCVTPH2PS    X6, Y6
	VBROADCASTSS (R11), Y7
	VMULPS       Y7, Y6, Y6
	VPERMPS      Y6, Y30, Y6
	VFMADD231PS  X13, X6, X0
	VEXTRACTF128 $1, Y6, X6
	VFMADD231PS  X14, X6, X1

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

tail512:
	Q4K_SETUP512

reprow512:
	CMPQ   rows+40(FP), $0
	JEQ    done512
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS X0, X0, X0

repblock512:
	Q4K_INT512

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

// ------------------------------- repacked gemv, AVX-512 with VBMI and GFNI
//
// q4kRepRowsVBMIAVX512 is the four-row loop of q4kRepRowsAVX512 with fewer
// vector operations per block, for CPUs that also have AVX512-VBMI and GFNI
// (Ice Lake, Zen 4 and later): on Zen 5, in L2, 1.2 times the old loop's
// throughput on 2048-column rows and 1.1 times on 11008-column ones. It
// computes the same integer sums I and M of every block and performs the
// same f32 steps:
//
//   - the high nibbles take one VGF2P8AFFINEQB (a per-byte shift right by
//     4) instead of a shift and a mask;
//   - the VPDPBUSD dword sums of two rows are packed together (VPACKSSDW:
//     words 0-3 of a 128-bit lane the first row's, 4-7 the second's), and
//     one VPERMB with zeroing spreads the matching scales of both rows as
//     words straight from the unpacked scales: a pair of rows takes one
//     accumulator, and the four rows' lanes fold with two VSHUFPS and an
//     add instead of the unpack-and-add tree;
//   - the mins terms and the integer sums share the last reduction (one
//     vector [I ×2 groups, M ×2 groups]), and d·y.d, dmin·y.d of the four
//     rows come from one VPERMW of the block headers: one 512-bit fused
//     step per block updates acc (lanes 0-3) and accm (lanes 8-11) of the
//     four rows.
//
// Software prefetch as in q4kRepRowsAVX512 (the same lines, 4 KiB past the
// next quad's start), but the nine lines of a block are spread over its
// instructions rather than issued together: from DRAM at 2 threads
// (SmolLM3-3B FFN shapes, 4 KiB and 2 MiB pages) this loop with the lines
// issued together was no faster than the old one (−3% to +3%), spread it
// was 5-10% faster. A stream per row (3 lines 2 or 4 KiB ahead in each of
// the four rows) was 5-20% slower than the old kernel.

// Q4K_VBROW leaves in a…d the VPDPBUSD sums of the block at P's nibbles
// (chunks 0-1 low and high, chunks 2-3 low and high) with the regrouped
// Q8_K values Z18…Z21 (Q4K_REPY4). Z30 = the VGF2P8AFFINEQB matrix of a
// right shift by 4. Clobbers Z2…Z5.
#define Q4K_VBROW(P, a, b, c, d) \
	VMOVDQU64      16(P), Z3; \
	VMOVDQU64      80(P), Z5; \
	VPANDD         Z3, Z31, Z2; \
	VGF2P8AFFINEQB $0, Z30, Z3, Z3; \
	VPANDD         Z5, Z31, Z4; \
	VGF2P8AFFINEQB $0, Z30, Z5, Z5; \
	VPXORD         a, a, a; \
	VPXORD         b, b, b; \
	VPXORD         c, c, c; \
	VPXORD         d, d, d; \
	VPDPBUSD       Z18, Z2, a; \
	VPDPBUSD       Z19, Z3, b; \
	VPDPBUSD       Z20, Z4, c; \
	VPDPBUSD       Z21, Z5, d

// Q4K_VBPAIR leaves in Z(acc) the integer lanes of a pair of rows whose
// VPDPBUSD sums are Z6…Z9 (first row) and Z10…Z13 (second row): in 128-bit
// lane L, dwords 0-1 are the first row's, 2-3 the second's. i0…i3 are the
// pair's VPERMB scale indices (q4kRepVBScIdx), K1 zeroes the high byte of
// every word. Clobbers Z6…Z13.
#define Q4K_VBPAIR(i0, i1, i2, i3, acc) \
	VPACKSSDW Z10, Z6, Z6; \
	VPACKSSDW Z11, Z7, Z7; \
	VPACKSSDW Z12, Z8, Z8; \
	VPACKSSDW Z13, Z9, Z9; \
	VPERMB.Z  Z16, i0, K1, Z10; \
	VPERMB.Z  Z16, i1, K1, Z11; \
	VPERMB.Z  Z16, i2, K1, Z12; \
	VPERMB.Z  Z16, i3, K1, Z13; \
	VPMADDWD  Z10, Z6, acc; \
	VPDPWSSD  Z11, Z7, acc; \
	VPDPWSSD  Z12, Z8, acc; \
	VPDPWSSD  Z13, Z9, acc

// func q4kRepRowsVBMIAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// rows must be a positive multiple of 4 (q4kRepRowsVBMI runs the rest).
TEXT ·q4kRepRowsVBMIAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         w+8(FP), R10
	VMOVDQU64    ·k0F(SB), Z31
	MOVQ         $0x1020408000000000, AX
	VPBROADCASTQ AX, Z30
	MOVQ         $0x5555555555555555, AX
	KMOVQ        AX, K1
	VMOVDQU64    q4kRepVBMinIdx<>(SB), Z17
	VMOVDQU64    q4kRepVBScIdx<>+0(SB), Z22
	VMOVDQU64    q4kRepVBScIdx<>+64(SB), Z23
	VMOVDQU64    q4kRepVBScIdx<>+128(SB), Z24
	VMOVDQU64    q4kRepVBScIdx<>+192(SB), Z25
	VMOVDQU64    q4kRepVBScIdx<>+256(SB), Z26
	VMOVDQU64    q4kRepVBScIdx<>+320(SB), Z27
	VMOVDQU64    q4kRepVBScIdx<>+384(SB), Z28
	VMOVDQU64    q4kRepVBScIdx<>+448(SB), Z29

quadvb:
	MOVQ   wstride+16(FP), AX
	MOVQ   R10, SI
	LEAQ   (SI)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	LEAQ   (R14)(AX*1), R15
	ADDQ   $4096, R15
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VPXORD Z0, Z0, Z0

blockvb:
	PREFETCHT0 (R15)

	// Block headers: 128-bit lane r of Z2 = [d, dmin, scales] of row r;
	// Z16 = [sc0..sc7, m0..m7] per lane (Q4K_REPUNPACK4 on the scales,
	// which start at dword 1 of the lanes here).
	Q4K_LOAD4((SI), (R12), (R13), (R14))
	Q4K_UNPACKZ2($0xED, $0xA5, Z16)

	// Z1 = [d_r·y.d ×2 groups, dmin_r·y.d ×2 groups], r = 0…3.
	VMOVDQU64   q4kRepVBDIdx<>(SB), Z5
	VPERMW      Z2, Z5, Z5
	VCVTPH2PS   Y5, Z1
	VMULPS.BCST (R11), Z1, Z1

	Q4K_REPY4
	Q4K_VBROW(SI, Z6, Z7, Z8, Z9)
	PREFETCHT0 64(R15)
	PREFETCHT0 128(R15)
	Q4K_VBROW(R12, Z10, Z11, Z12, Z13)
	PREFETCHT0 192(R15)
	PREFETCHT0 256(R15)
	Q4K_VBPAIR(Z22, Z23, Z24, Z25, Z14)
	Q4K_VBROW(R13, Z6, Z7, Z8, Z9)
	PREFETCHT0 320(R15)
	PREFETCHT0 384(R15)
	Q4K_VBROW(R14, Z10, Z11, Z12, Z13)
	PREFETCHT0 448(R15)
	PREFETCHT0 512(R15)
	Q4K_VBPAIR(Z26, Z27, Z28, Z29, Z15)
	ADDQ       $576, R15

	// Z2 = [I_r0 … I_r3] partial sums in each 128-bit group.
	VSHUFPS $0x88, Z15, Z14, Z2
	VSHUFPS $0xDD, Z15, Z14, Z3
	VPADDD  Z3, Z2, Z2

	// Z4 = [M_r0 … M_r3] partial sums in each group: dword 4L+r =
	// m_2L·P_2L + m_2L+1·P_2L+1 of row r, P_j = bsums[2j] + bsums[2j+1].
	VMOVDQU   260(R11), X9
	VPHADDW   276(R11), X9, X9
	VMOVDQU64 q4kRepMinIdx<>(SB), Z3
	VPERMD    Z9, Z3, Z3
	VPERMB.Z  Z16, Z17, K1, Z4
	VPMADDWD  Z3, Z4, Z4

	// [I ×2 groups, M ×2 groups] (the four groups of each added), then
	// acc_r = fma(f32(I_r), d_r·y.d, acc_r) and accm_r = fma(f32(M_r),
	// dmin_r·y.d, accm_r) in one step (lanes 4-7 and 12-15 repeat them).
	VSHUFI64X2  $0x44, Z4, Z2, Z5
	VSHUFI64X2  $0xEE, Z4, Z2, Z6
	VPADDD      Z6, Z5, Z5
	VSHUFI64X2  $0xB1, Z5, Z5, Z6
	VPADDD      Z6, Z5, Z5
	VCVTDQ2PS   Z5, Z5
	VFMADD231PS Z5, Z1, Z0

	ADDQ $144, SI
	ADDQ $144, R12
	ADDQ $144, R13
	ADDQ $144, R14
	ADDQ $292, R11
	DECQ BX
	JNZ  blockvb

	VEXTRACTF32X4 $2, Z0, X1
	VSUBPS        X1, X0, X0
	VMOVUPS       X0, (DI)
	ADDQ          $16, DI
	MOVQ          wstride+16(FP), AX
	LEAQ          (R10)(AX*4), R10
	SUBQ          $4, rows+40(FP)
	JNZ           quadvb
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

// q4kRepScShuf: the two VPSHUFB masks of Q4K_REPROW (chunks 0-1, then
// 2-3): in 128-bit lane L, words 0-3 take byte 2·(L/2) (+4 for chunks 2-3)
// and words 4-7 the byte after it, zero-extended.
DATA q4kRepScShuf<>+0(SB)/8, $0x8000800080008000
DATA q4kRepScShuf<>+8(SB)/8, $0x8001800180018001
DATA q4kRepScShuf<>+16(SB)/8, $0x8000800080008000
DATA q4kRepScShuf<>+24(SB)/8, $0x8001800180018001
DATA q4kRepScShuf<>+32(SB)/8, $0x8002800280028002
DATA q4kRepScShuf<>+40(SB)/8, $0x8003800380038003
DATA q4kRepScShuf<>+48(SB)/8, $0x8002800280028002
DATA q4kRepScShuf<>+56(SB)/8, $0x8003800380038003
DATA q4kRepScShuf<>+64(SB)/8, $0x8004800480048004
DATA q4kRepScShuf<>+72(SB)/8, $0x8005800580058005
DATA q4kRepScShuf<>+80(SB)/8, $0x8004800480048004
DATA q4kRepScShuf<>+88(SB)/8, $0x8005800580058005
DATA q4kRepScShuf<>+96(SB)/8, $0x8006800680068006
DATA q4kRepScShuf<>+104(SB)/8, $0x8007800780078007
DATA q4kRepScShuf<>+112(SB)/8, $0x8006800680068006
DATA q4kRepScShuf<>+120(SB)/8, $0x8007800780078007
GLOBL q4kRepScShuf<>(SB), RODATA|NOPTR, $128

// q4kRepSMIdx: VPERMW indices whose upper 16 words gather the mins of the
// four unpacked [sc0..7, m0..7] lanes of Q4K_REPUNPACK4 as byte pairs
// (word 16+4L+r = m_2L, m_2L+1 of row r); the lower 16 are not used.
DATA q4kRepSMIdx<>+0(SB)/8, $0x0003000200010000
DATA q4kRepSMIdx<>+8(SB)/8, $0x000b000a00090008
DATA q4kRepSMIdx<>+16(SB)/8, $0x0013001200110010
DATA q4kRepSMIdx<>+24(SB)/8, $0x001b001a00190018
DATA q4kRepSMIdx<>+32(SB)/8, $0x001c0014000c0004
DATA q4kRepSMIdx<>+40(SB)/8, $0x001d0015000d0005
DATA q4kRepSMIdx<>+48(SB)/8, $0x001e0016000e0006
DATA q4kRepSMIdx<>+56(SB)/8, $0x001f0017000f0007
GLOBL q4kRepSMIdx<>(SB), RODATA|NOPTR, $64

// q4kRepScCnt, q4kRepScM1, q4kRepScM2: per 128-bit lane, the VPSRLVD counts
// and the two masks of the vector get_scale_min_k4 (Q4K_REPUNPACK4).
DATA q4kRepScCnt<>+0(SB)/8, $0x0000000000000000
DATA q4kRepScCnt<>+8(SB)/8, $0x0000000400000000
DATA q4kRepScCnt<>+16(SB)/8, $0x0000000000000000
DATA q4kRepScCnt<>+24(SB)/8, $0x0000000400000000
DATA q4kRepScCnt<>+32(SB)/8, $0x0000000000000000
DATA q4kRepScCnt<>+40(SB)/8, $0x0000000400000000
DATA q4kRepScCnt<>+48(SB)/8, $0x0000000000000000
DATA q4kRepScCnt<>+56(SB)/8, $0x0000000400000000
GLOBL q4kRepScCnt<>(SB), RODATA|NOPTR, $64

DATA q4kRepScM1<>+0(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kRepScM1<>+8(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kRepScM1<>+16(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kRepScM1<>+24(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kRepScM1<>+32(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kRepScM1<>+40(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kRepScM1<>+48(SB)/8, $0x0f0f0f0f3f3f3f3f
DATA q4kRepScM1<>+56(SB)/8, $0x0f0f0f0f3f3f3f3f
GLOBL q4kRepScM1<>(SB), RODATA|NOPTR, $64

DATA q4kRepScM2<>+0(SB)/8, $0x3030303000000000
DATA q4kRepScM2<>+8(SB)/8, $0x3030303000000000
DATA q4kRepScM2<>+16(SB)/8, $0x3030303000000000
DATA q4kRepScM2<>+24(SB)/8, $0x3030303000000000
DATA q4kRepScM2<>+32(SB)/8, $0x3030303000000000
DATA q4kRepScM2<>+40(SB)/8, $0x3030303000000000
DATA q4kRepScM2<>+48(SB)/8, $0x3030303000000000
DATA q4kRepScM2<>+56(SB)/8, $0x3030303000000000
GLOBL q4kRepScM2<>(SB), RODATA|NOPTR, $64

// q4kRepVBScIdx: the VPERMB indices of Q4K_VBPAIR, 64 bytes for each pair p
// (rows 2p, 2p+1) and packed vector v (chunks 0-1 low nibbles, high
// nibbles, chunks 2-3 low, high): word w of 128-bit lane L takes scale
// byte [0 1 4 5][v] + 2·(L/2) of row 2p + w/4's lane (high bytes zeroed).
DATA q4kRepVBScIdx<>+0(SB)/8, $0x0000000000000000
DATA q4kRepVBScIdx<>+8(SB)/8, $0x0010001000100010
DATA q4kRepVBScIdx<>+16(SB)/8, $0x0000000000000000
DATA q4kRepVBScIdx<>+24(SB)/8, $0x0010001000100010
DATA q4kRepVBScIdx<>+32(SB)/8, $0x0002000200020002
DATA q4kRepVBScIdx<>+40(SB)/8, $0x0012001200120012
DATA q4kRepVBScIdx<>+48(SB)/8, $0x0002000200020002
DATA q4kRepVBScIdx<>+56(SB)/8, $0x0012001200120012
DATA q4kRepVBScIdx<>+64(SB)/8, $0x0001000100010001
DATA q4kRepVBScIdx<>+72(SB)/8, $0x0011001100110011
DATA q4kRepVBScIdx<>+80(SB)/8, $0x0001000100010001
DATA q4kRepVBScIdx<>+88(SB)/8, $0x0011001100110011
DATA q4kRepVBScIdx<>+96(SB)/8, $0x0003000300030003
DATA q4kRepVBScIdx<>+104(SB)/8, $0x0013001300130013
DATA q4kRepVBScIdx<>+112(SB)/8, $0x0003000300030003
DATA q4kRepVBScIdx<>+120(SB)/8, $0x0013001300130013
DATA q4kRepVBScIdx<>+128(SB)/8, $0x0004000400040004
DATA q4kRepVBScIdx<>+136(SB)/8, $0x0014001400140014
DATA q4kRepVBScIdx<>+144(SB)/8, $0x0004000400040004
DATA q4kRepVBScIdx<>+152(SB)/8, $0x0014001400140014
DATA q4kRepVBScIdx<>+160(SB)/8, $0x0006000600060006
DATA q4kRepVBScIdx<>+168(SB)/8, $0x0016001600160016
DATA q4kRepVBScIdx<>+176(SB)/8, $0x0006000600060006
DATA q4kRepVBScIdx<>+184(SB)/8, $0x0016001600160016
DATA q4kRepVBScIdx<>+192(SB)/8, $0x0005000500050005
DATA q4kRepVBScIdx<>+200(SB)/8, $0x0015001500150015
DATA q4kRepVBScIdx<>+208(SB)/8, $0x0005000500050005
DATA q4kRepVBScIdx<>+216(SB)/8, $0x0015001500150015
DATA q4kRepVBScIdx<>+224(SB)/8, $0x0007000700070007
DATA q4kRepVBScIdx<>+232(SB)/8, $0x0017001700170017
DATA q4kRepVBScIdx<>+240(SB)/8, $0x0007000700070007
DATA q4kRepVBScIdx<>+248(SB)/8, $0x0017001700170017
DATA q4kRepVBScIdx<>+256(SB)/8, $0x0020002000200020
DATA q4kRepVBScIdx<>+264(SB)/8, $0x0030003000300030
DATA q4kRepVBScIdx<>+272(SB)/8, $0x0020002000200020
DATA q4kRepVBScIdx<>+280(SB)/8, $0x0030003000300030
DATA q4kRepVBScIdx<>+288(SB)/8, $0x0022002200220022
DATA q4kRepVBScIdx<>+296(SB)/8, $0x0032003200320032
DATA q4kRepVBScIdx<>+304(SB)/8, $0x0022002200220022
DATA q4kRepVBScIdx<>+312(SB)/8, $0x0032003200320032
DATA q4kRepVBScIdx<>+320(SB)/8, $0x0021002100210021
DATA q4kRepVBScIdx<>+328(SB)/8, $0x0031003100310031
DATA q4kRepVBScIdx<>+336(SB)/8, $0x0021002100210021
DATA q4kRepVBScIdx<>+344(SB)/8, $0x0031003100310031
DATA q4kRepVBScIdx<>+352(SB)/8, $0x0023002300230023
DATA q4kRepVBScIdx<>+360(SB)/8, $0x0033003300330033
DATA q4kRepVBScIdx<>+368(SB)/8, $0x0023002300230023
DATA q4kRepVBScIdx<>+376(SB)/8, $0x0033003300330033
DATA q4kRepVBScIdx<>+384(SB)/8, $0x0024002400240024
DATA q4kRepVBScIdx<>+392(SB)/8, $0x0034003400340034
DATA q4kRepVBScIdx<>+400(SB)/8, $0x0024002400240024
DATA q4kRepVBScIdx<>+408(SB)/8, $0x0034003400340034
DATA q4kRepVBScIdx<>+416(SB)/8, $0x0026002600260026
DATA q4kRepVBScIdx<>+424(SB)/8, $0x0036003600360036
DATA q4kRepVBScIdx<>+432(SB)/8, $0x0026002600260026
DATA q4kRepVBScIdx<>+440(SB)/8, $0x0036003600360036
DATA q4kRepVBScIdx<>+448(SB)/8, $0x0025002500250025
DATA q4kRepVBScIdx<>+456(SB)/8, $0x0035003500350035
DATA q4kRepVBScIdx<>+464(SB)/8, $0x0025002500250025
DATA q4kRepVBScIdx<>+472(SB)/8, $0x0035003500350035
DATA q4kRepVBScIdx<>+480(SB)/8, $0x0027002700270027
DATA q4kRepVBScIdx<>+488(SB)/8, $0x0037003700370037
DATA q4kRepVBScIdx<>+496(SB)/8, $0x0027002700270027
DATA q4kRepVBScIdx<>+504(SB)/8, $0x0037003700370037
GLOBL q4kRepVBScIdx<>(SB), RODATA|NOPTR, $512

// q4kRepVBMinIdx: VPERMB indices of the mins as words: dword 4L+r =
// (m_2L, m_2L+1) of row r.
DATA q4kRepVBMinIdx<>+0(SB)/8, $0x0019001800090008
DATA q4kRepVBMinIdx<>+8(SB)/8, $0x0039003800290028
DATA q4kRepVBMinIdx<>+16(SB)/8, $0x001b001a000b000a
DATA q4kRepVBMinIdx<>+24(SB)/8, $0x003b003a002b002a
DATA q4kRepVBMinIdx<>+32(SB)/8, $0x001d001c000d000c
DATA q4kRepVBMinIdx<>+40(SB)/8, $0x003d003c002d002c
DATA q4kRepVBMinIdx<>+48(SB)/8, $0x001f001e000f000e
DATA q4kRepVBMinIdx<>+56(SB)/8, $0x003f003e002f002e
GLOBL q4kRepVBMinIdx<>(SB), RODATA|NOPTR, $64

// q4kRepVBDIdx: VPERMW indices gathering the f16 d of the four block
// headers (words 8r) into words 0-3 and 4-7, dmin (words 8r+1) into 8-15.
DATA q4kRepVBDIdx<>+0(SB)/8, $0x0018001000080000
DATA q4kRepVBDIdx<>+8(SB)/8, $0x0018001000080000
DATA q4kRepVBDIdx<>+16(SB)/8, $0x0019001100090001
DATA q4kRepVBDIdx<>+24(SB)/8, $0x0019001100090001
DATA q4kRepVBDIdx<>+32(SB)/8, $0x0000000000000000
DATA q4kRepVBDIdx<>+40(SB)/8, $0x0000000000000000
DATA q4kRepVBDIdx<>+48(SB)/8, $0x0000000000000000
DATA q4kRepVBDIdx<>+56(SB)/8, $0x0000000000000000
GLOBL q4kRepVBDIdx<>(SB), RODATA|NOPTR, $64
