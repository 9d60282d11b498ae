//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// Q6_K × Q8_K dot products (spec §4.6, §4.9).
//
// The 6-bit quants are decoded as unsigned q ∈ [0, 63] (low nibble from ql,
// two high bits from qh), multiplied with the signed Q8_K quants by
// VPMADDUBSW (|pair| ≤ 2·63·128 < 2^15) and by the signed sub-block scale
// by VPMADDWD or VPDPWSSD into 32-bit lanes. The offset is removed exactly
// with the bsums: A_b = Σ_k s_k·Σ q·y − 32·Σ_k s_k·bsums[k]. Then
// acc += (d·y.d)·float(A lanes), and the result is the horizontal sum.
// The single- and four-token kernels perform the same f32 operations.
//
// The f32 arithmetic is ggml's AVX2 vec_dot_q6_K_q8_K's, bit for bit: eight
// int32 lanes per block (lane L = the elements e with (e mod 32)/4 = L,
// minus the offset of 16-groups 2L and 2L+1), one FMA per lane and block,
// hsum_float_8. The AVX-512 kernels accumulate 16 integer lanes ((e mod
// 64)/4) and fold them into those 8 (lanes L and L+8) before the float
// step: integer sums are exact, so only the float step has to match.

// ---------------------------------------------------------------- AVX2

// Q6K_Q1..Q6K_Q4 decode 32 quants of half h into Y(dst) from ql0 (Y2 or
// Y8), ql1 (Y3 or Y9) and qh (Y4 or Y10). Y15 = 0x0F, mask30 = 0x30 bytes
// (register or memory), tmp is clobbered.
#define Q6K_Q1(ql0, qh, mask30, tmp, dst) \
	VPSLLW $4, qh, dst; \
	VPAND  mask30, dst, dst; \
	VPAND  Y15, ql0, tmp; \
	VPOR   tmp, dst, dst

#define Q6K_Q2(ql1, qh, mask30, tmp, dst) \
	VPSLLW $2, qh, dst; \
	VPAND  mask30, dst, dst; \
	VPAND  Y15, ql1, tmp; \
	VPOR   tmp, dst, dst

#define Q6K_Q3(ql0, qh, mask30, tmp, dst) \
	VPAND  mask30, qh, dst; \
	VPSRLW $4, ql0, tmp; \
	VPAND  Y15, tmp, tmp; \
	VPOR   tmp, dst, dst

#define Q6K_Q4(ql1, qh, mask30, tmp, dst) \
	VPSRLW $2, qh, dst; \
	VPAND  mask30, dst, dst; \
	VPSRLW $4, ql1, tmp; \
	VPAND  Y15, tmp, tmp; \
	VPOR   tmp, dst, dst

// Q6K_SCALE16 puts the int8 scales of sub-blocks 2i and 2i+1 (from X13 or
// X14) as words into Y(dst): 8 × s[2i] then 8 × s[2i+1].
#define Q6K_SCALE16(i, scales, dst, xdst) \
	VPSHUFB   ·kQ6KShuf+(16*(i))(SB), scales, xdst; \
	VPMOVSXBW xdst, dst

// Q6K_ACC1 multiplies decoded quants Y5 with the Q8_K quants at off(R11)
// and scales Y6 into Y1.
#define Q6K_ACC1(off) \
	VPMADDUBSW off(R11), Y5, Y5; \
	VPMADDWD   Y6, Y5, Y5; \
	VPADDD     Y5, Y1, Y1

#define Q6K_HALF1(h) \
	VMOVDQU (64*h)(SI), Y2; \
	VMOVDQU (64*h+32)(SI), Y3; \
	VMOVDQU (128+32*h)(SI), Y4; \
	Q6K_Q1(Y2, Y4, Y14, Y6, Y5); \
	Q6K_SCALE16(4*h, X13, Y6, X6); \
	Q6K_ACC1(4+128*h); \
	Q6K_Q2(Y3, Y4, Y14, Y6, Y5); \
	Q6K_SCALE16(4*h+1, X13, Y6, X6); \
	Q6K_ACC1(36+128*h); \
	Q6K_Q3(Y2, Y4, Y14, Y6, Y5); \
	Q6K_SCALE16(4*h+2, X13, Y6, X6); \
	Q6K_ACC1(68+128*h); \
	Q6K_Q4(Y3, Y4, Y14, Y6, Y5); \
	Q6K_SCALE16(4*h+3, X13, Y6, X6); \
	Q6K_ACC1(100+128*h)

// func q6kRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q6kRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    w+8(FP), R10
	VMOVDQU ·k0F(SB), Y15
	VMOVDQU ·k30(SB), Y14

row:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Y0, Y0, Y0

block:
	VMOVDQU 192(SI), X13
	VPXOR   Y1, Y1, Y1
	Q6K_HALF1(0)
	Q6K_HALF1(1)

	VPMOVSXBW X13, Y2
	VPMADDWD  260(R11), Y2, Y2
	VPSLLD    $5, Y2, Y2
	VPSUBD    Y2, Y1, Y1

	MOVWLZX      208(SI), AX
	VMOVD        AX, X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Y10
	VBROADCASTSS (R11), Y9
	VMULPS       Y9, Y10, Y10
	VCVTDQ2PS    Y1, Y1
	VFMADD231PS  Y1, Y10, Y0

	ADDQ $210, SI
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

// Q6K_ACC4 multiplies decoded quants Y11 and scales Y12 with the quants of
// the four tokens at off(R11..R14) into Y0..Y3.
#define Q6K_ACC4(off) \
	VPMADDUBSW off(R11), Y11, Y13; \
	VPMADDWD   Y12, Y13, Y13; \
	VPADDD     Y13, Y0, Y0; \
	VPMADDUBSW off(R12), Y11, Y13; \
	VPMADDWD   Y12, Y13, Y13; \
	VPADDD     Y13, Y1, Y1; \
	VPMADDUBSW off(R13), Y11, Y13; \
	VPMADDWD   Y12, Y13, Y13; \
	VPADDD     Y13, Y2, Y2; \
	VPMADDUBSW off(R14), Y11, Y13; \
	VPMADDWD   Y12, Y13, Y13; \
	VPADDD     Y13, Y3, Y3

#define Q6K_HALF4(h) \
	VMOVDQU (64*h)(SI), Y8; \
	VMOVDQU (64*h+32)(SI), Y9; \
	VMOVDQU (128+32*h)(SI), Y10; \
	Q6K_Q1(Y8, Y10, ·k30(SB), Y13, Y11); \
	Q6K_SCALE16(4*h, X14, Y12, X12); \
	Q6K_ACC4(4+128*h); \
	Q6K_Q2(Y9, Y10, ·k30(SB), Y13, Y11); \
	Q6K_SCALE16(4*h+1, X14, Y12, X12); \
	Q6K_ACC4(36+128*h); \
	Q6K_Q3(Y8, Y10, ·k30(SB), Y13, Y11); \
	Q6K_SCALE16(4*h+2, X14, Y12, X12); \
	Q6K_ACC4(68+128*h); \
	Q6K_Q4(Y9, Y10, ·k30(SB), Y13, Y11); \
	Q6K_SCALE16(4*h+3, X14, Y12, X12); \
	Q6K_ACC4(100+128*h)

// Q6K_FIN4 is the single-token kernel's tail for one token: Y12 = scales
// as words, Y8 = broadcast f32(d).
#define Q6K_FIN4(P, sumi, acc) \
	VPMADDWD     260(P), Y12, Y13; \
	VPSLLD       $5, Y13, Y13; \
	VPSUBD       Y13, sumi, sumi; \
	VBROADCASTSS (P), Y9; \
	VMULPS       Y9, Y8, Y9; \
	VCVTDQ2PS    sumi, sumi; \
	VFMADD231PS  sumi, Y9, acc

// func q6kRows4AVX2(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)
TEXT ·q6kRows4AVX2(SB), NOSPLIT, $0-64
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
	VMOVDQU 192(SI), X14
	VPXOR   Y0, Y0, Y0
	VPXOR   Y1, Y1, Y1
	VPXOR   Y2, Y2, Y2
	VPXOR   Y3, Y3, Y3
	Q6K_HALF4(0)
	Q6K_HALF4(1)

	VPMOVSXBW    X14, Y12
	MOVWLZX      208(SI), AX
	VMOVD        AX, X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Y8
	Q6K_FIN4(R11, Y0, Y4)
	Q6K_FIN4(R12, Y1, Y5)
	Q6K_FIN4(R13, Y2, Y6)
	Q6K_FIN4(R14, Y3, Y7)

	ADDQ $210, SI
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

// Q6K_SETUP512: Z31 = 0x0F, Z30 = 0x30, Z29/Z28 = the qh shift counts,
// Z24..Z27 = the group scale permutations.
#define Q6K_SETUP512 \
	VMOVDQU64 ·k0F(SB), Z31; \
	VMOVDQU64 ·k30(SB), Z30; \
	VMOVDQU64 ·kShl42W(SB), Z29; \
	VMOVDQU64 ·kShr02W(SB), Z28; \
	VMOVDQU64 ·kQ6KIdx+0(SB), Z24; \
	VMOVDQU64 ·kQ6KIdx+64(SB), Z25; \
	VMOVDQU64 ·kQ6KIdx+128(SB), Z26; \
	VMOVDQU64 ·kQ6KIdx+192(SB), Z27

// Q6K_SCALES512 expands the 16 int8 scales of the block at SI into Y2
// (words) and the four group scale vectors Z3..Z6.
#define Q6K_SCALES512 \
	VPMOVSXBW 192(SI), Y2; \
	VPERMW    Z2, Z24, Z3; \
	VPERMW    Z2, Z25, Z4; \
	VPERMW    Z2, Z26, Z5; \
	VPERMW    Z2, Z27, Z6

// Q6K_LOAD512 loads half h: Z7 = ql (64 bytes), Z8 = [qh, qh].
#define Q6K_LOAD512(h) \
	VMOVDQU64       (64*h)(SI), Z7; \
	VBROADCASTI64X4 (128+32*h)(SI), Z8

// Q6K_LO512 decodes elements 0..63 of the loaded half into dst (quants 1
// and 2); Q6K_HI512 elements 64..127 (quants 3 and 4).
#define Q6K_LO512(dst) \
	VPSLLVW    Z29, Z8, dst; \
	VPANDD     Z30, dst, dst; \
	VPTERNLOGD $0xF8, Z31, Z7, dst

#define Q6K_HI512(dst, tmp) \
	VPSRLVW    Z28, Z8, dst; \
	VPANDD     Z30, dst, dst; \
	VPSRLW     $4, Z7, tmp; \
	VPTERNLOGD $0xF8, Z31, tmp, dst

// Q6K_DOTS512 adds into Z1 the scaled integer products of the block at SI
// with the Q8_K values at R11: each half loaded, its quants decoded by LO
// (elements 0..63) and HI (64..127) — Q6K_LO512/Q6K_HI512 or the GFNI
// Q6K_GFLO/Q6K_GFHI — multiplied with the values and the group scales
// Z3..Z6. Clobbers Z7..Z11.
#define Q6K_DOTS512(LO, HI) \
	Q6K_LOAD512(0); \
	LO(Z9); \
	VPMADDUBSW 4(R11), Z9, Z9; \
	VPDPWSSD   Z3, Z9, Z1; \
	HI(Z10, Z11); \
	VPMADDUBSW 68(R11), Z10, Z10; \
	VPDPWSSD   Z4, Z10, Z1; \
	Q6K_LOAD512(1); \
	LO(Z9); \
	VPMADDUBSW 132(R11), Z9, Z9; \
	VPDPWSSD   Z5, Z9, Z1; \
	HI(Z10, Z11); \
	VPMADDUBSW 196(R11), Z10, Z10; \
	VPDPWSSD   Z6, Z10, Z1

// Q6K_DYFMA512 is the block's f32 step: Y0 += f32(Y1) · d·y.d (d
// broadcast and multiplied by y.d: the same product as broadcasting d and
// y.d). Clobbers X8, Y13.
#define Q6K_DYFMA512 \
	VPBROADCASTW 208(SI), X8; \
	VCVTPH2PS    X8, Y13; \
	VMULPS.BCST  (R11), Y13, Y13; \
	VCVTDQ2PS    Y1, Y1; \
	VFMADD231PS  Y1, Y13, Y0

// func q6kRowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q6kRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), R10
	Q6K_SETUP512

row512:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Z0, Z0, Z0

block512:
	// Prefetch 6 KiB ahead (past the end of the row: the matrix's next
	// rows), 256 bytes a block: from DRAM at 2 threads the hardware
	// prefetchers alone were measured to fall behind. 6 KiB was measured
	// ahead of 4 KiB (one thread 8-10% faster; two threads 3-7% faster when
	// memory gave 50-60 GB/s, the same at 40) and no slower than 8 KiB.
	PREFETCHT0 6144(SI)
	PREFETCHT0 6208(SI)
	PREFETCHT0 6272(SI)
	PREFETCHT0 6336(SI)
	Q6K_SCALES512
	VPXORD Z1, Z1, Z1
	Q6K_DOTS512(Q6K_LO512, Q6K_HI512)

	VEXTRACTI64X4 $1, Z1, Y12
	VPADDD        Y12, Y1, Y1
	VPMADDWD      260(R11), Y2, Y12
	VPSLLD        $5, Y12, Y12
	VPSUBD        Y12, Y1, Y1

	Q6K_DYFMA512

	ADDQ $210, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  block512

	HSUM8(X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row512
	VZEROUPPER
	RET

#define Q6K_TOK512(off, q, sc) \
	VPMADDUBSW off(R11), q, Z16; \
	VPDPWSSD   sc, Z16, Z20; \
	VPMADDUBSW off(R12), q, Z17; \
	VPDPWSSD   sc, Z17, Z21; \
	VPMADDUBSW off(R13), q, Z18; \
	VPDPWSSD   sc, Z18, Z22; \
	VPMADDUBSW off(R14), q, Z19; \
	VPDPWSSD   sc, Z19, Z23

// Q6K_FIN512 folds the 16 integer lanes of Z(sumi) into the 8 of
// Y(ysumi), removes the offset and adds the block into Y(acc).
#define Q6K_FIN512(P, sumi, ysumi, acc) \
	VEXTRACTI64X4 $1, sumi, Y12; \
	VPADDD        Y12, ysumi, ysumi; \
	VPMADDWD      260(P), Y2, Y12; \
	VPSLLD        $5, Y12, Y12; \
	VPSUBD        Y12, ysumi, ysumi; \
	VBROADCASTSS  (P), Y14; \
	VMULPS        Y14, Y13, Y14; \
	VCVTDQ2PS     ysumi, ysumi; \
	VFMADD231PS   ysumi, Y14, acc

// func q6kRows4AVX512(dst *float32, dstStride int, w *byte, wstride int, x *byte, xstride int, nb, rows int)
TEXT ·q6kRows4AVX512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ w+16(FP), R10
	Q6K_SETUP512

row4x512:
	MOVQ   R10, SI
	MOVQ   x+32(FP), R11
	MOVQ   xstride+40(FP), AX
	LEAQ   (R11)(AX*1), R12
	LEAQ   (R12)(AX*1), R13
	LEAQ   (R13)(AX*1), R14
	MOVQ   nb+48(FP), BX
	VXORPS Z0, Z0, Z0
	VXORPS Z1, Z1, Z1
	VXORPS Z9, Z9, Z9
	VXORPS Z15, Z15, Z15

block4x512:
	Q6K_SCALES512
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	Q6K_LOAD512(0)
	Q6K_LO512(Z10)
	Q6K_TOK512(4, Z10, Z3)
	Q6K_HI512(Z10, Z11)
	Q6K_TOK512(68, Z10, Z4)
	Q6K_LOAD512(1)
	Q6K_LO512(Z10)
	Q6K_TOK512(132, Z10, Z5)
	Q6K_HI512(Z10, Z11)
	Q6K_TOK512(196, Z10, Z6)

	MOVWLZX      208(SI), AX
	VMOVD        AX, X8
	VCVTPH2PS    X8, X8
	VBROADCASTSS X8, Y13
	Q6K_FIN512(R11, Z20, Y20, Y0)
	Q6K_FIN512(R12, Z21, Y21, Y1)
	Q6K_FIN512(R13, Z22, Y22, Y9)
	Q6K_FIN512(R14, Z23, Y23, Y15)

	ADDQ $210, SI
	ADDQ $292, R11
	ADDQ $292, R12
	ADDQ $292, R13
	ADDQ $292, R14
	DECQ BX
	JNZ  block4x512

	MOVQ   dstStride+8(FP), AX
	SHLQ   $2, AX
	HSUM8(X0, Y0, X12)
	VMOVSS X0, (DI)
	HSUM8(X1, Y1, X12)
	VMOVSS X1, (DI)(AX*1)
	HSUM8(X9, Y9, X12)
	VMOVSS X9, (DI)(AX*2)
	LEAQ   (DI)(AX*2), CX
	HSUM8(X15, Y15, X12)
	VMOVSS X15, (CX)(AX*1)

	ADDQ $4, DI
	ADDQ wstride+24(FP), R10
	DECQ rows+56(FP)
	JNZ  row4x512
	VZEROUPPER
	RET

// ------------------------------------------------- AVX-512 with GFNI
//
// q6kRowsGFNIAVX512 is q6kRowsAVX512 with fewer vector operations per
// block, for CPUs that also have GFNI. The integer lanes and the f32 steps
// are the same:
//
//   - one VGF2P8AFFINEQB (a per-byte bit permutation) moves the two high
//     bits of every quant from qh into bits 4-5 and clears the others,
//     instead of a shift and a mask;
//   - the offset term −32·Σ s_k·bsums[k] initializes the integer lanes
//     (VPMADDWD of the bsums with the scales times −32, |s·32| ≤ 4096)
//     instead of being subtracted after the fold.

// Q6K_GFLO decodes elements 0..63 of the loaded half into dst (quants 1
// and 2), Q6K_GFHI elements 64..127 (quants 3 and 4). Z29/Z28 = the
// VGF2P8AFFINEQB matrices (q6kGFMat), Z31 = 0x0F.
#define Q6K_GFLO(dst) \
	VGF2P8AFFINEQB $0, Z29, Z8, dst; \
	VPTERNLOGD     $0xF8, Z31, Z7, dst

#define Q6K_GFHI(dst, tmp) \
	VGF2P8AFFINEQB $0, Z28, Z8, dst; \
	VPSRLW         $4, Z7, tmp; \
	VPTERNLOGD     $0xF8, Z31, tmp, dst

// func q6kRowsGFNIAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q6kRowsGFNIAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         w+8(FP), R10
	VMOVDQU64    ·k0F(SB), Z31
	VMOVDQU64    q6kGFMat<>+0(SB), Z29
	VMOVDQU64    q6kGFMat<>+64(SB), Z28
	VMOVDQU64    ·kQ6KIdx+0(SB), Z24
	VMOVDQU64    ·kQ6KIdx+64(SB), Z25
	VMOVDQU64    ·kQ6KIdx+128(SB), Z26
	VMOVDQU64    ·kQ6KIdx+192(SB), Z27
	MOVL         $-32, AX
	VPBROADCASTW AX, Y30

rowgf:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Z0, Z0, Z0

blockgf:
	// The prefetch of q6kRowsAVX512.
	PREFETCHT0 6144(SI)
	PREFETCHT0 6208(SI)
	PREFETCHT0 6272(SI)
	PREFETCHT0 6336(SI)
	Q6K_SCALES512
	VPMULLW    Y30, Y2, Y12
	VPMADDWD   260(R11), Y12, Y1
	Q6K_DOTS512(Q6K_GFLO, Q6K_GFHI)

	VEXTRACTI64X4 $1, Z1, Y12
	VPADDD        Y12, Y1, Y1

	Q6K_DYFMA512

	ADDQ $210, SI
	ADDQ $292, R11
	DECQ BX
	JNZ  blockgf

	HSUM8(X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    rowgf
	VZEROUPPER
	RET

// q6kGFMat: the VGF2P8AFFINEQB matrices of Q6K_GFLO (qh bits 0-1 to bits
// 4-5 for elements 0..31, bits 2-3 for 32..63) and Q6K_GFHI (bits 4-5,
// 6-7), every other bit cleared. Byte 7−i of a matrix selects the source
// bits of result bit i.
DATA q6kGFMat<>+0(SB)/8, $0x0000000001020000
DATA q6kGFMat<>+8(SB)/8, $0x0000000001020000
DATA q6kGFMat<>+16(SB)/8, $0x0000000001020000
DATA q6kGFMat<>+24(SB)/8, $0x0000000001020000
DATA q6kGFMat<>+32(SB)/8, $0x0000000004080000
DATA q6kGFMat<>+40(SB)/8, $0x0000000004080000
DATA q6kGFMat<>+48(SB)/8, $0x0000000004080000
DATA q6kGFMat<>+56(SB)/8, $0x0000000004080000
DATA q6kGFMat<>+64(SB)/8, $0x0000000010200000
DATA q6kGFMat<>+72(SB)/8, $0x0000000010200000
DATA q6kGFMat<>+80(SB)/8, $0x0000000010200000
DATA q6kGFMat<>+88(SB)/8, $0x0000000010200000
DATA q6kGFMat<>+96(SB)/8, $0x0000000040800000
DATA q6kGFMat<>+104(SB)/8, $0x0000000040800000
DATA q6kGFMat<>+112(SB)/8, $0x0000000040800000
DATA q6kGFMat<>+120(SB)/8, $0x0000000040800000
GLOBL q6kGFMat<>(SB), RODATA|NOPTR, $128
