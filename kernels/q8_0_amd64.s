//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// Q4_0 × Q8_0 and Q8_0 × Q8_0 dot products (spec §4.2, §4.3, §4.9): AVX2
// (Q8_0 uses it at the AVX512 level too: it is fast enough to be memory-
// bound) and AVX-512 VNNI for Q4_0. Per 32-element block exact int32 sums
// are kept in 8 lanes, converted to f32 and accumulated as
// acc = fma(dx·dy, lanes, acc), then summed horizontally.
// Every int8 value is handled exactly, −128 included (the quantizers never
// produce it, but weights from files are untrusted).

// Q80_SCALE leaves f32(dx)·f32(dy) of the f16 scales at (SI) and (R11) in
// all lanes of Y5. Clobbers AX, CX, X6.
#define Q80_SCALE \
	MOVWLZX      (SI), AX; \
	MOVWLZX      (R11), CX; \
	SHLL         $16, CX; \
	ORL          CX, AX; \
	VMOVD        AX, X5; \
	VCVTPH2PS    X5, X5; \
	VMOVSHDUP    X5, X6; \
	VMULSS       X6, X5, X5; \
	VBROADCASTSS X5, Y5

// func q8_0RowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// llama.cpp's Q8_0 lanes: lane L holds the exact sum of the products of
// elements 4L…4L+3. The 16-bit pair sums of elements 0-15 and 16-31 are
// added pairwise with VPHADDD, which leaves the quads in the order
// q0 q1 q4 q5 | q2 q3 q6 q7; the accumulator keeps that order and is put
// back in lane order (VPERMQ) before the horizontal sum.
TEXT ·q8_0RowsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ w+8(FP), R10

row:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Y0, Y0, Y0

block:
	VPMOVSXBW   2(SI), Y1
	VPMOVSXBW   18(SI), Y2
	VPMOVSXBW   2(R11), Y3
	VPMOVSXBW   18(R11), Y4
	VPMADDWD    Y3, Y1, Y1
	VPMADDWD    Y4, Y2, Y2
	VPHADDD     Y2, Y1, Y1
	Q80_SCALE
	VCVTDQ2PS   Y1, Y1
	VFMADD231PS Y1, Y5, Y0
	ADDQ        $34, SI
	ADDQ        $34, R11
	DECQ        BX
	JNZ         block

	VPERMQ $0xD8, Y0, Y0
	HSUM8(X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row
	VZEROUPPER
	RET

// func q4_0RowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
TEXT ·q4_0RowsAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    w+8(FP), R10
	VMOVDQU ·k0F(SB), Y15
	VMOVDQU ·k08(SB), Y14
	VMOVDQU ·kOnesW(SB), Y13

row4_0:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Y0, Y0, Y0

block4_0:
	// u = [low nibbles, high nibbles] of qs: elements 0..15, 16..31.
	VMOVDQU     2(SI), X1
	VPSRLW      $4, X1, X2
	VINSERTI128 $1, X2, Y1, Y1
	VPAND       Y15, Y1, Y1
	VMOVDQU     2(R11), Y2
	// Σ (u−8)·y = Σ u·y − Σ 8·y, as exact 16-bit pair sums.
	VPMADDUBSW  Y2, Y1, Y1
	VPMADDUBSW  Y2, Y14, Y3
	VPSUBW      Y3, Y1, Y1
	VPMADDWD    Y13, Y1, Y1
	Q80_SCALE
	VCVTDQ2PS   Y1, Y1
	VFMADD231PS Y1, Y5, Y0
	ADDQ $18, SI
	ADDQ $34, R11
	DECQ BX
	JNZ  block4_0

	HSUM8(X0, Y0, X1)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row4_0
	VZEROUPPER
	RET

// func q4_0RowsAVX512(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// Q4_0 × Q8_0 with AVX-512 VNNI, two blocks per step: a zmm holds the 64
// unsigned nibbles u of blocks b and b+1 ([lo_b, hi_b, lo_b+1, hi_b+1] by
// 128-bit lane) and their 64 activations; S = Σ u·y − Σ 8·y with two
// VPDPBUSD (exact in 32 bits), lanes 0-7 for block b and 8-15 for block b+1,
// each scaled by its dx·dy. An odd last block goes through the low 8 lanes
// only.
TEXT ·q4_0RowsAVX512(SB), NOSPLIT, $0-48
	MOVQ         dst+0(FP), DI
	MOVQ         w+8(FP), R10
	VMOVDQU64    ·k0F(SB), Z31
	VPBROADCASTB ·k08(SB), Z30
	VMOVDQU64    q40Shift<>(SB), Z29
	VMOVDQU64    q40Perm<>(SB), Z28

row40x512:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS Z0, Z0, Z0

pair40x512:
	CMPQ BX, $2
	JLT  single40x512

	// u: [qs_b, qs_b, qs_b+1, qs_b+1] shifted by [0, 4, 0, 4], masked.
	VMOVDQU     2(SI), X1
	VINSERTI128 $1, 20(SI), Y1, Y1
	VSHUFI64X2  $0x50, Z1, Z1, Z1
	VPSRLVW     Z29, Z1, Z1
	VPANDD      Z31, Z1, Z1
	VMOVDQU     2(R11), Y2
	VINSERTI64X4 $1, 36(R11), Z2, Z2
	VPXORD      Z3, Z3, Z3
	VPXORD      Z4, Z4, Z4
	VPDPBUSD    Z2, Z1, Z3
	VPDPBUSD    Z2, Z30, Z4
	VPSUBD      Z4, Z3, Z3

	// [dx_b, dx_b+1, dy_b, dy_b+1] → [dx·dy]_b ×8, [dx·dy]_b+1 ×8
	MOVWLZX      (SI), AX
	MOVWLZX      18(SI), CX
	SHLL         $16, CX
	ORL          CX, AX
	MOVWLZX      (R11), CX
	MOVWLZX      34(R11), DX
	SHLL         $16, DX
	ORL          DX, CX
	SHLQ         $32, CX
	ORQ          CX, AX
	VMOVQ        AX, X5
	VCVTPH2PS    X5, X5
	VMOVHLPS     X5, X5, X6
	VMULPS       X6, X5, X5
	VPERMPS      Z5, Z28, Z5
	VCVTDQ2PS    Z3, Z3
	VFMADD231PS  Z3, Z5, Z0

	ADDQ $36, SI
	ADDQ $68, R11
	SUBQ $2, BX
	JMP  pair40x512

single40x512:
	TESTQ BX, BX
	JZ    done40x512
	VMOVDQU     2(SI), X1
	VPSRLW      $4, X1, X2
	VINSERTI128 $1, X2, Y1, Y1
	VPANDD      Y31, Y1, Y1
	VMOVDQU     2(R11), Y2
	VPXORD      Y3, Y3, Y3
	VPXORD      Y4, Y4, Y4
	VPDPBUSD    Y2, Y1, Y3
	VPDPBUSD    Y2, Y30, Y4
	VPSUBD      Y4, Y3, Y3
	MOVWLZX      (SI), AX
	MOVWLZX      (R11), CX
	SHLL         $16, CX
	ORL          CX, AX
	VMOVD        AX, X5
	VCVTPH2PS    X5, X5
	VMOVSHDUP    X5, X6
	VMULSS       X6, X5, X5
	VBROADCASTSS X5, Y5
	VCVTDQ2PS    Y3, Y3
	VFMADD231PS  Z3, Z5, Z0 // upper lanes of Z3, Z5 are 0: Z0's stay

done40x512:
	HSUM16(X0, Y0, Z0, X1, Y1)
	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   wstride+16(FP), R10
	DECQ   rows+40(FP)
	JNZ    row40x512
	VZEROUPPER
	RET

// q40Shift: VPSRLVW counts 0, 4, 0, 4 per 128-bit lane.
DATA q40Shift<>+0(SB)/8, $0
DATA q40Shift<>+8(SB)/8, $0
DATA q40Shift<>+16(SB)/8, $0x0004000400040004
DATA q40Shift<>+24(SB)/8, $0x0004000400040004
DATA q40Shift<>+32(SB)/8, $0
DATA q40Shift<>+40(SB)/8, $0
DATA q40Shift<>+48(SB)/8, $0x0004000400040004
DATA q40Shift<>+56(SB)/8, $0x0004000400040004
GLOBL q40Shift<>(SB), RODATA|NOPTR, $64

// q40Perm: VPERMPS indices [0]*8 ++ [1]*8.
DATA q40Perm<>+0(SB)/8, $0
DATA q40Perm<>+8(SB)/8, $0
DATA q40Perm<>+16(SB)/8, $0
DATA q40Perm<>+24(SB)/8, $0
DATA q40Perm<>+32(SB)/8, $0x0000000100000001
DATA q40Perm<>+40(SB)/8, $0x0000000100000001
DATA q40Perm<>+48(SB)/8, $0x0000000100000001
DATA q40Perm<>+56(SB)/8, $0x0000000100000001
GLOBL q40Perm<>(SB), RODATA|NOPTR, $64
