//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// Q5_K × Q8_K dot products (spec §4.5, §4.9): the Q4_K kernels with a
// fifth bit from qh added to each quant (q ∈ [0, 31], |VPMADDUBSW pair| ≤
// 2·31·128 < 2^15). Chunk c takes bit 2c of qh[l] for its low half and bit
// 2c+1 for its high half; the word shifts below move that bit to bit 4
// (bits that cross a byte boundary land outside the 0x10 mask).
//
// The f32 part is ggml's AVX2 vec_dot_q5_K_q8_K: the eight int32 lanes of
// each block (lane L: the elements e with (e mod 32)/4 = L; the AVX-512
// kernels fold their 16 lanes into these 8 before converting) go into
// acc = fma(d·y.d, f32(lanes), acc); the block's mins term, summed to one
// integer, into summs = fma(−dmin·y.d, f32(mins), summs); the result is
// hsum_float_8(acc) + summs.

// ---------------------------------------------------------------- AVX2

// Q5K_HBIT ors bit b of the qh bytes (Y13), moved to bit 4 by shift/amount,
// into quants q.
#define Q5K_HBIT(shift, amount, mask10, tmp, q) \
	shift  $amount, Y13, tmp; \
	VPAND  mask10, tmp, tmp; \
	VPOR   tmp, q, q

#define Q5K_CHUNK1(c, shlo, amlo, shhi, amhi) \
	VMOVDQU    (48+32*c)(SI), Y2; \
	VPSRLW     $4, Y2, Y3; \
	VPAND      Y15, Y2, Y2; \
	VPAND      Y15, Y3, Y3; \
	Q5K_HBIT(shlo, amlo, Y12, Y4, Y2); \
	Q5K_HBIT(shhi, amhi, Y12, Y5, Y3); \
	VPMADDUBSW (4+64*c)(R11), Y2, Y2; \
	VPMADDUBSW (36+64*c)(R11), Y3, Y3; \
	VPSHUFB    ·kShufW+(64*c)(SB), Y14, Y4; \
	VPSHUFB    ·kShufW+(64*c+32)(SB), Y14, Y5; \
	VPMADDWD   Y4, Y2, Y2; \
	VPMADDWD   Y5, Y3, Y3; \
	VPADDD     Y2, Y1, Y1; \
	VPADDD     Y3, Y1, Y1

// func q5kRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q5kRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    w+8(FP), R10
	VMOVDQU ·k0F(SB), Y15
	VMOVDQU ·k10(SB), Y12

row:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Y0, Y0, Y0
	VXORPS X6, X6, X6

block:
	Q4K_SCALES
	VMOVQ       R9, X14
	VPMOVZXBW   X14, X14
	VINSERTI128 $1, X14, Y14, Y14
	VMOVDQU     16(SI), Y13
	VPXOR       Y1, Y1, Y1
	Q5K_CHUNK1(0, VPSLLW, 4, VPSLLW, 3)
	Q5K_CHUNK1(1, VPSLLW, 2, VPSLLW, 1)
	Q5K_CHUNK1(2, VPSLLW, 0, VPSRLW, 1)
	Q5K_CHUNK1(3, VPSRLW, 2, VPSRLW, 3)

	VMOVD         (SI), X8
	VCVTPH2PS     X8, X8
	VBROADCASTSS  (R11), X9
	VMULPS        X9, X8, X8
	VBROADCASTSS  X8, Y10
	VMOVSHDUP     X8, X11
	VCVTDQ2PS     Y1, Y1
	VFMADD231PS   Y1, Y10, Y0

	VMOVQ         DX, X4
	VPMOVZXBW     X4, X4
	VMOVDQU       260(R11), X2
	VMOVDQU       276(R11), X3
	VPHADDW       X3, X2, X2
	VPMADDWD      X4, X2, X2
	VPHADDD       X2, X2, X2
	VPHADDD       X2, X2, X2
	VCVTDQ2PS     X2, X2
	VFNMADD231SS  X2, X11, X6

	ADDQ $176, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  block

	HSUM8(X0, Y0, X1)
	VADDSS X6, X0, X0
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row
	VZEROUPPER
	RET

#define Q5K_TOK4(q, sc, off, P, acc) \
	VPMADDUBSW off(P), q, Y12; \
	VPMADDWD   sc, Y12, Y12; \
	VPADDD     Y12, acc, acc

#define Q5K_CHUNK4(c, shlo, amlo, shhi, amhi) \
	VMOVDQU (48+32*c)(SI), Y8; \
	VPSRLW  $4, Y8, Y9; \
	VPAND   ·k0F(SB), Y8, Y8; \
	VPAND   ·k0F(SB), Y9, Y9; \
	Q5K_HBIT(shlo, amlo, ·k10(SB), Y12, Y8); \
	Q5K_HBIT(shhi, amhi, ·k10(SB), Y12, Y9); \
	VPSHUFB ·kShufW+(64*c)(SB), Y14, Y10; \
	VPSHUFB ·kShufW+(64*c+32)(SB), Y14, Y11; \
	Q5K_TOK4(Y8, Y10, (4+64*c), R11, Y0); \
	Q5K_TOK4(Y9, Y11, (36+64*c), R11, Y0); \
	Q5K_TOK4(Y8, Y10, (4+64*c), R12, Y1); \
	Q5K_TOK4(Y9, Y11, (36+64*c), R12, Y1); \
	Q5K_TOK4(Y8, Y10, (4+64*c), R13, Y2); \
	Q5K_TOK4(Y9, Y11, (36+64*c), R13, Y2); \
	Q5K_TOK4(Y8, Y10, (4+64*c), R14, Y3); \
	Q5K_TOK4(Y9, Y11, (36+64*c), R14, Y3)

// Q5K_FIN4 adds one token's lanes into its accumulator and leaves the
// token's four mins products in X(sumi). Y10 = broadcast f32(d), X14 =
// the mins as words.
#define Q5K_FIN4(P, sumi, xsumi, acc) \
	VBROADCASTSS (P), Y12; \
	VMULPS       Y12, Y10, Y13; \
	VCVTDQ2PS    sumi, sumi; \
	VFMADD231PS  sumi, Y13, acc; \
	VMOVDQU      260(P), X8; \
	VMOVDQU      276(P), X9; \
	VPHADDW      X9, X8, X8; \
	VPMADDWD     X14, X8, xsumi

// Q5K_SUMMS4 sums the mins products of the four tokens (X0…X3) and adds
// them into X15 = summs (lanes: tokens): summs −= (dmin·y.d)·f32(mins),
// fused. X11 = broadcast f32(dmin).
#define Q5K_SUMMS4 \
	VPHADDD      X1, X0, X8; \
	VPHADDD      X3, X2, X9; \
	VPHADDD      X9, X8, X8; \
	VCVTDQ2PS    X8, X8; \
	VMOVSS       (R11), X9; \
	VINSERTPS    $0x10, (R12), X9, X9; \
	VINSERTPS    $0x20, (R13), X9, X9; \
	VINSERTPS    $0x30, (R14), X9, X9; \
	VMULPS       X9, X11, X9; \
	VFNMADD231PS X8, X9, X15

// Q5K_STORE4 stores hsum(acc_t) + summs_t for the four tokens (Y4…Y7,
// X15) at DI + t·AX.
#define Q5K_STORE4 \
	HSUM8(X4, Y4, X0); \
	VADDSS     X15, X4, X4; \
	VMOVSS     X4, (DI); \
	HSUM8(X5, Y5, X0); \
	VMOVSHDUP  X15, X1; \
	VADDSS     X1, X5, X5; \
	VMOVSS     X5, (DI)(AX*1); \
	HSUM8(X6, Y6, X0); \
	VMOVHLPS   X15, X15, X1; \
	VADDSS     X1, X6, X6; \
	VMOVSS     X6, (DI)(AX*2); \
	LEAQ       (DI)(AX*2), CX; \
	HSUM8(X7, Y7, X0); \
	VPSHUFD    $3, X15, X1; \
	VADDSS     X1, X7, X7; \
	VMOVSS     X7, (CX)(AX*1)

// func q5kRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)
TEXT ·q5kRows4AVX2(SB), NOSPLIT, $0-64
	MOVQ    dst+0(FP), DI
	MOVQ    w+16(FP), R10

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
	VXORPS X15, X15, X15

block4:
	Q4K_SCALES
	VMOVQ       R9, X14
	VPMOVZXBW   X14, X14
	VINSERTI128 $1, X14, Y14, Y14
	VMOVDQU     16(SI), Y13
	VPXOR       Y0, Y0, Y0
	VPXOR       Y1, Y1, Y1
	VPXOR       Y2, Y2, Y2
	VPXOR       Y3, Y3, Y3
	Q5K_CHUNK4(0, VPSLLW, 4, VPSLLW, 3)
	Q5K_CHUNK4(1, VPSLLW, 2, VPSLLW, 1)
	Q5K_CHUNK4(2, VPSLLW, 0, VPSRLW, 1)
	Q5K_CHUNK4(3, VPSRLW, 2, VPSRLW, 3)

	VMOVD        (SI), X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Y10
	VMOVSHDUP    X8, X9
	VBROADCASTSS X9, Y11
	VMOVQ        DX, X14
	VPMOVZXBW    X14, X14
	Q5K_FIN4(R11, Y0, X0, Y4)
	Q5K_FIN4(R12, Y1, X1, Y5)
	Q5K_FIN4(R13, Y2, X2, Y6)
	Q5K_FIN4(R14, Y3, X3, Y7)
	Q5K_SUMMS4

	ADDQ $176, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  block4

	MOVQ dstStride+8(FP), AX
	SHLQ $2, AX
	Q5K_STORE4

	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  row4
	VZEROUPPER
	RET

// ------------------------------------------------------------- AVX-512

// Q5K_DECODE512 decodes chunk c of the block at SI into Z(dst): the 4-bit
// quants as in Q4_K, plus bit 4 from [qh, qh] (Z13) moved by shift with
// the counts of ·kQ5KShift vector c.
#define Q5K_DECODE512(c, shift, dst, tmp) \
	VBROADCASTI64X4 (48+32*c)(SI), dst; \
	VPSRLVW         Z30, dst, dst; \
	VPANDD          Z31, dst, dst; \
	shift           ·kQ5KShift+(64*c)(SB), Z13, tmp; \
	VPTERNLOGD      $0xEA, dst, Z24, tmp

// func q5kRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q5kRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ      dst+0(FP), DI
	MOVQ      w+8(FP), R10
	Q4K_SETUP512
	VMOVDQU64 ·k10(SB), Z24

row512:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Y0, Y0, Y0
	VXORPS X14, X14, X14

block512:
	Q4K_SCALES
	VMOVQ           R9, X2
	VPMOVZXBW       X2, X2
	VPERMW          Z2, Z26, Z3
	VPERMW          Z2, Z27, Z4
	VPERMW          Z2, Z28, Z5
	VPERMW          Z2, Z29, Z6
	VBROADCASTI64X4 16(SI), Z13
	VPXORD          Z1, Z1, Z1
	Q5K_DECODE512(0, VPSLLVW, Z7, Z9)
	VPMADDUBSW 4(R11), Z9, Z9
	VPDPWSSD   Z3, Z9, Z1
	Q5K_DECODE512(1, VPSLLVW, Z8, Z10)
	VPMADDUBSW 68(R11), Z10, Z10
	VPDPWSSD   Z4, Z10, Z1
	Q5K_DECODE512(2, VPSRLVW, Z7, Z9)
	VPMADDUBSW 132(R11), Z9, Z9
	VPDPWSSD   Z5, Z9, Z1
	Q5K_DECODE512(3, VPSRLVW, Z8, Z10)
	VPMADDUBSW 196(R11), Z10, Z10
	VPDPWSSD   Z6, Z10, Z1

	VMOVD        (SI), X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS (R11), X9
	VMULPS       X9, X8, X8
	VBROADCASTSS  X8, Y10
	VMOVSHDUP     X8, X11
	VEXTRACTI64X4 $1, Z1, Y2
	VPADDD        Y2, Y1, Y1
	VCVTDQ2PS     Y1, Y1
	VFMADD231PS   Y1, Y10, Y0

	VMOVQ         DX, X12
	VPMOVZXBW     X12, X12
	VMOVDQU       260(R11), X2
	VPHADDW       276(R11), X2, X2
	VPMADDWD      X12, X2, X2
	VPHADDD       X2, X2, X2
	VPHADDD       X2, X2, X2
	VCVTDQ2PS     X2, X2
	VFNMADD231SS  X2, X11, X14

	ADDQ $176, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  block512

	HSUM8(X0, Y0, X1)
	VADDSS X14, X0, X0
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row512
	VZEROUPPER
	RET

#define Q5K_TOK512(off, q, sc) \
	VPMADDUBSW off(R11), q, Z16; \
	VPDPWSSD   sc, Z16, Z0; \
	VPMADDUBSW off(R12), q, Z17; \
	VPDPWSSD   sc, Z17, Z1; \
	VPMADDUBSW off(R13), q, Z18; \
	VPDPWSSD   sc, Z18, Z2; \
	VPMADDUBSW off(R14), q, Z19; \
	VPDPWSSD   sc, Z19, Z3

// Q5K_FIN512 folds one token's 16 lanes into ggml's 8 (lanes L and L+8
// hold the same (e mod 32)/4) and adds them into the token's accumulator;
// it leaves the token's mins products m_j·bsums[2j], m_j·bsums[2j+1]
// summed in pairs (8 dwords, Y20 = the doubled mins) in Y(mins) and puts
// y.d into lane t of X14. Z10 = broadcast f32(d).
#define Q5K_FIN512(P, t, zsumi, sumi, acc, mins) \
	VEXTRACTI64X4 $1, zsumi, Y16; \
	VPADDD        Y16, sumi, sumi; \
	VBROADCASTSS  (P), Y13; \
	VMULPS        Y13, Y10, Y18; \
	VCVTDQ2PS     sumi, sumi; \
	VFMADD231PS   sumi, Y18, acc; \
	VBLENDPS      $(1<<t), X13, X14, X14; \
	VPMADDWD      260(P), Y20, mins

// Q5K_SUMMS512 sums the 8 mins products of each token (Y0…Y3) and adds
// them into X15 = summs (lanes: tokens): summs −= (dmin·y.d)·f32(mins),
// fused. X11 = broadcast f32(dmin), X14 = y.d per token.
#define Q5K_SUMMS512 \
	VPUNPCKLDQ   Y1, Y0, Y16; \
	VPUNPCKHDQ   Y1, Y0, Y17; \
	VPADDD       Y17, Y16, Y16; \
	VPUNPCKLDQ   Y3, Y2, Y17; \
	VPUNPCKHDQ   Y3, Y2, Y18; \
	VPADDD       Y18, Y17, Y17; \
	VPUNPCKLQDQ  Y17, Y16, Y18; \
	VPUNPCKHQDQ  Y17, Y16, Y19; \
	VPADDD       Y19, Y18, Y18; \
	VEXTRACTI32X4 $1, Y18, X19; \
	VPADDD       X19, X18, X18; \
	VCVTDQ2PS    X18, X18; \
	VMULPS       X14, X11, X19; \
	VFNMADD231PS X18, X19, X15

// func q5kRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)
TEXT ·q5kRows4AVX512(SB), NOSPLIT, $0-64
	MOVQ      dst+0(FP), DI
	MOVQ      w+16(FP), R10
	Q4K_SETUP512
	VMOVDQU64 ·k10(SB), Z24

row4x512:
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
	VXORPS X15, X15, X15

block4x512:
	Q4K_SCALES
	VMOVQ           R9, X9
	VPMOVZXBW       X9, X9
	VPERMW          Z9, Z26, Z12
	VPERMW          Z9, Z27, Z22
	VPERMW          Z9, Z28, Z23
	VPERMW          Z9, Z29, Z9
	VBROADCASTI64X4 16(SI), Z13
	VPXORD          Z0, Z0, Z0
	VPXORD          Z1, Z1, Z1
	VPXORD          Z2, Z2, Z2
	VPXORD          Z3, Z3, Z3
	Q5K_DECODE512(0, VPSLLVW, Z10, Z8)
	Q5K_TOK512(4, Z8, Z12)
	Q5K_DECODE512(1, VPSLLVW, Z10, Z8)
	Q5K_TOK512(68, Z8, Z22)
	Q5K_DECODE512(2, VPSRLVW, Z10, Z8)
	Q5K_TOK512(132, Z8, Z23)
	Q5K_DECODE512(3, VPSRLVW, Z10, Z8)
	Q5K_TOK512(196, Z8, Z9)

	VMOVD        (SI), X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Y10
	VMOVSHDUP    X8, X9
	VBROADCASTSS X9, X11
	VMOVQ        DX, X20
	VPMOVZXBW    X20, X20
	VPERMW       Y20, Y25, Y20
	Q5K_FIN512(R11, 0, Z0, Y0, Y4, Y0)
	Q5K_FIN512(R12, 1, Z1, Y1, Y5, Y1)
	Q5K_FIN512(R13, 2, Z2, Y2, Y6, Y2)
	Q5K_FIN512(R14, 3, Z3, Y3, Y7, Y3)
	Q5K_SUMMS512

	ADDQ $176, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  block4x512

	MOVQ dstStride+8(FP), AX
	SHLQ $2, AX
	Q5K_STORE4

	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  row4x512
	VZEROUPPER
	RET

// Q5K_FINA512 folds one token's 16 lanes into ggml's 8 and adds them into
// the token's accumulator (Z10 = broadcast f32(d)).
#define Q5K_FINA512(P, zsumi, sumi, acc) \
	VEXTRACTI64X4 $1, zsumi, Y16; \
	VPADDD        Y16, sumi, sumi; \
	VBROADCASTSS  (P), Y13; \
	VMULPS        Y13, Y10, Y18; \
	VCVTDQ2PS     sumi, sumi; \
	VFMADD231PS   sumi, Y18, acc

// func q5kRows4AuxAVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int, aux *byte)
//
// q5kRows4AVX512 with the per-block token data of q4kRepAux (80 bytes a
// block at aux: y.d of the four tokens, then the bsums pair sums
// (P_2c, P_2c+1) of each token, chunk by chunk): VPMADDWD with the mins
// pairs (m_2c, m_2c+1) repeated gives the four tokens' mins terms per
// 128-bit group, so the horizontal sums of the four tokens are four adds.
TEXT ·q5kRows4AuxAVX512(SB), NOSPLIT, $0-72
	MOVQ      dst+0(FP), DI
	MOVQ      w+16(FP), R10
	Q4K_SETUP512
	VMOVDQU64 ·k10(SB), Z24
	VMOVDQU64 q5kMinIdx<>(SB), Z25

row4ax512:
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
	VXORPS X15, X15, X15

block4ax512:
	Q4K_SCALES
	VMOVQ           R9, X9
	VPMOVZXBW       X9, X9
	VPERMW          Z9, Z26, Z12
	VPERMW          Z9, Z27, Z22
	VPERMW          Z9, Z28, Z23
	VPERMW          Z9, Z29, Z9
	VBROADCASTI64X4 16(SI), Z13
	VPXORD          Z0, Z0, Z0
	VPXORD          Z1, Z1, Z1
	VPXORD          Z2, Z2, Z2
	VPXORD          Z3, Z3, Z3
	Q5K_DECODE512(0, VPSLLVW, Z10, Z8)
	Q5K_TOK512(4, Z8, Z12)
	Q5K_DECODE512(1, VPSLLVW, Z10, Z8)
	Q5K_TOK512(68, Z8, Z22)
	Q5K_DECODE512(2, VPSRLVW, Z10, Z8)
	Q5K_TOK512(132, Z8, Z23)
	Q5K_DECODE512(3, VPSRLVW, Z10, Z8)
	Q5K_TOK512(196, Z8, Z9)

	VMOVD        (SI), X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Y10
	VMOVSHDUP    X8, X9
	VBROADCASTSS X9, X11
	Q5K_FINA512(R11, Z0, Y0, Y4)
	Q5K_FINA512(R12, Z1, Y1, Y5)
	Q5K_FINA512(R13, Z2, Y2, Y6)
	Q5K_FINA512(R14, Z3, Y3, Y7)

	// summs −= (dmin·y.d)·f32(mins), per token; AX = this block's aux
	// data, aux + (nb − BX)·80.
	MOVQ          nb+48(FP), AX
	SUBQ          BX, AX
	IMUL3Q        $80, AX, AX
	ADDQ          aux+64(FP), AX
	VMOVQ         DX, X20
	VPMOVZXBW     X20, X20
	VPERMD        Z20, Z25, Z20
	VPMADDWD      16(AX), Z20, Z20
	VEXTRACTI64X4 $1, Z20, Y21
	VPADDD        Y21, Y20, Y20
	VEXTRACTI32X4 $1, Y20, X21
	VPADDD        X21, X20, X20
	VCVTDQ2PS     X20, X20
	VMULPS        (AX), X11, X21
	VFNMADD231PS  X20, X21, X15

	ADDQ $176, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  block4ax512

	MOVQ dstStride+8(FP), AX
	SHLQ $2, AX
	Q5K_STORE4

	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  row4ax512
	VZEROUPPER
	RET

// q5kMinIdx: VPERMD indices [0]*4 ++ [1]*4 ++ [2]*4 ++ [3]*4 (the mins
// pairs, each repeated over a 128-bit group).
DATA q5kMinIdx<>+0(SB)/8, $0
DATA q5kMinIdx<>+8(SB)/8, $0
DATA q5kMinIdx<>+16(SB)/8, $0x0000000100000001
DATA q5kMinIdx<>+24(SB)/8, $0x0000000100000001
DATA q5kMinIdx<>+32(SB)/8, $0x0000000200000002
DATA q5kMinIdx<>+40(SB)/8, $0x0000000200000002
DATA q5kMinIdx<>+48(SB)/8, $0x0000000300000003
DATA q5kMinIdx<>+56(SB)/8, $0x0000000300000003
GLOBL q5kMinIdx<>(SB), RODATA|NOPTR, $64
