//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// Attention kernels (attn.go), AVX-512, bit for bit the Go forms.

// DEQ16 dequantizes the 16 int8 at off(R8) with the scale in Z1 into Z(dst):
// exact int→float conversion, then one rounded product, as float32(q)·d.
#define DEQ16(off, dst) \
	VPMOVSXBD off(R8), dst; \
	VCVTDQ2PS dst, dst; \
	VMULPS    Z1, dst, dst

// func q8_0ScoresAVX512(scores *float32, sstride int, q *float32, group int, k *byte, rowBytes, n, D int, row *float32, scale float32)
//
// Per row: dequantize into row, then per head ggml_vec_dot_f32 (chunk c of
// 16 into accumulator c%4, folded 0+2, 1+3, 0+1, hsum16) times scale. D is
// a positive multiple of 64.
TEXT ·q8_0ScoresAVX512(SB), NOSPLIT, $0-76
	MOVQ scores+0(FP), R9
	MOVQ sstride+8(FP), R13
	SHLQ $2, R13
	MOVQ k+32(FP), SI
	MOVQ n+48(FP), CX

srow:
	// Dequantize row j.
	MOVQ SI, R8
	MOVQ row+64(FP), DI
	MOVQ D+56(FP), BX
	SHRQ $5, BX

sdeq:
	VPBROADCASTW (R8), Y1
	VCVTPH2PS    Y1, Z1
	DEQ16(2, Z2)
	DEQ16(18, Z3)
	VMOVUPS      Z2, (DI)
	VMOVUPS      Z3, 64(DI)
	ADDQ         $34, R8
	ADDQ         $128, DI
	DECQ         BX
	JNZ          sdeq

	// One dot product per head.
	MOVQ q+16(FP), DX
	MOVQ R9, R10
	MOVQ group+24(FP), R11

shead:
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ   row+64(FP), DI
	MOVQ   D+56(FP), BX
	SHRQ   $6, BX

sdot:
	VMOVUPS     (DI), Z8
	VFMADD231PS (DX), Z8, Z4
	VMOVUPS     64(DI), Z9
	VFMADD231PS 64(DX), Z9, Z5
	VMOVUPS     128(DI), Z10
	VFMADD231PS 128(DX), Z10, Z6
	VMOVUPS     192(DI), Z11
	VFMADD231PS 192(DX), Z11, Z7
	ADDQ        $256, DI
	ADDQ        $256, DX
	DECQ        BX
	JNZ         sdot

	VADDPS Z6, Z4, Z4
	VADDPS Z7, Z5, Z5
	VADDPS Z5, Z4, Z4
	HSUM16(X4, Y4, Z4, X8, Y8)
	VMULSS scale+72(FP), X4, X4
	VMOVSS X4, (R10)
	ADDQ   R13, R10
	DECQ   R11
	JNZ    shead

	ADDQ rowBytes+40(FP), SI
	ADDQ $4, R9
	DECQ CX
	JNZ  srow
	VZEROUPPER
	RET

// func q8_0AccumAVX512(acc *float32, D int, w *float32, wstride, group int, v *byte, rowBytes, n int)
//
// acc[g*D+i] += w[g*wstride+j]·v_j[i]: the product rounded (VMULPS), then
// added (VADDPS), rows in order. D is a positive multiple of 32.
TEXT ·q8_0AccumAVX512(SB), NOSPLIT, $0-64
	MOVQ D+8(FP), R13
	SHLQ $2, R13
	MOVQ wstride+24(FP), R14
	SHLQ $2, R14
	MOVQ w+16(FP), R10
	MOVQ v+40(FP), SI
	MOVQ n+56(FP), CX

arow:
	MOVQ SI, R8
	MOVQ acc+0(FP), DI
	MOVQ D+8(FP), BX
	SHRQ $5, BX

ablk:
	VPBROADCASTW (R8), Y1
	VCVTPH2PS    Y1, Z1
	DEQ16(2, Z2)
	DEQ16(18, Z3)
	MOVQ         DI, R9
	MOVQ         R10, R11
	MOVQ         group+32(FP), R12

ahead:
	VBROADCASTSS (R11), Z4
	VMULPS       Z2, Z4, Z5
	VADDPS       (R9), Z5, Z5
	VMOVUPS      Z5, (R9)
	VMULPS       Z3, Z4, Z6
	VADDPS       64(R9), Z6, Z6
	VMOVUPS      Z6, 64(R9)
	ADDQ         R13, R9
	ADDQ         R14, R11
	DECQ         R12
	JNZ          ahead

	ADDQ $34, R8
	ADDQ $128, DI
	DECQ BX
	JNZ  ablk

	ADDQ rowBytes+48(FP), SI
	ADDQ $4, R10
	DECQ CX
	JNZ  arow
	VZEROUPPER
	RET

// LANEMASK sets K1 to the low n&15 lanes (n in AX; clobbers CX, AX).
#define LANEMASK \
	MOVQ  AX, CX; \
	ANDQ  $15, CX; \
	MOVL  $1, AX; \
	SHLL  CX, AX; \
	DECL  AX; \
	KMOVW AX, K1

// func fmaLanes16AVX512(acc, p, v *float32, vstride, n, rows int)
//
// Per row one 16-lane accumulator: acc = fma(p[chunk], v[chunk], acc) over
// the chunks of 16 in order, the last one masked to its n&15 lanes.
TEXT ·fmaLanes16AVX512(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ v+16(FP), R10
	MOVQ vstride+24(FP), R13
	SHLQ $2, R13
	MOVQ n+32(FP), AX
	LANEMASK
	MOVQ n+32(FP), DX
	SHRQ $4, DX
	MOVQ rows+40(FP), R12

lrow:
	VMOVUPS (DI), Z0
	MOVQ    p+8(FP), SI
	MOVQ    R10, R8
	MOVQ    DX, BX
	TESTQ   BX, BX
	JZ      ltail

lchunk:
	VMOVUPS     (R8), Z1
	VFMADD231PS (SI), Z1, Z0
	ADDQ        $64, R8
	ADDQ        $64, SI
	DECQ        BX
	JNZ         lchunk

ltail:
	VMOVUPS.Z   (R8), K1, Z1
	VMOVUPS.Z   (SI), K1, Z2
	VFMADD231PS Z2, Z1, K1, Z0
	VMOVUPS     Z0, (DI)
	ADDQ        $64, DI
	ADDQ        R13, R10
	DECQ        R12
	JNZ         lrow
	VZEROUPPER
	RET

// MFMA is a masked (K1) fused step of chunk off into accumulator dst.
#define MFMA(off, dst) \
	VMOVUPS.Z   off(R8), K1, Z4; \
	VMOVUPS.Z   off(SI), K1, Z5; \
	VFMADD231PS Z5, Z4, K1, dst

// func fmaLanes4x16AVX512(acc, p, v *float32, vstride, n, rows int)
//
// ggml_vec_dot_f32's accumulators: chunk c of 16 goes to accumulator c%4
// (Z0..Z3, 64 floats per row of acc); the last chunk is masked.
TEXT ·fmaLanes4x16AVX512(SB), NOSPLIT, $0-48
	MOVQ acc+0(FP), DI
	MOVQ v+16(FP), R10
	MOVQ vstride+24(FP), R13
	SHLQ $2, R13
	MOVQ n+32(FP), AX
	LANEMASK
	MOVQ n+32(FP), DX
	SHRQ $6, DX            // blocks of 64
	MOVQ n+32(FP), R14
	SHRQ $4, R14
	ANDQ $3, R14           // full chunks after them
	MOVQ rows+40(FP), R12

qrow:
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	MOVQ    p+8(FP), SI
	MOVQ    R10, R8
	MOVQ    DX, BX
	TESTQ   BX, BX
	JZ      qrest

qblock:
	VMOVUPS     (R8), Z4
	VFMADD231PS (SI), Z4, Z0
	VMOVUPS     64(R8), Z5
	VFMADD231PS 64(SI), Z5, Z1
	VMOVUPS     128(R8), Z6
	VFMADD231PS 128(SI), Z6, Z2
	VMOVUPS     192(R8), Z7
	VFMADD231PS 192(SI), Z7, Z3
	ADDQ        $256, R8
	ADDQ        $256, SI
	DECQ        BX
	JNZ         qblock

qrest:
	CMPQ R14, $1
	JLT  qpart0
	VMOVUPS     (R8), Z4
	VFMADD231PS (SI), Z4, Z0
	CMPQ R14, $2
	JLT  qpart1
	VMOVUPS     64(R8), Z5
	VFMADD231PS 64(SI), Z5, Z1
	CMPQ R14, $3
	JLT  qpart2
	VMOVUPS     128(R8), Z6
	VFMADD231PS 128(SI), Z6, Z2
	MFMA(192, Z3)
	JMP  qstore

qpart2:
	MFMA(128, Z2)
	JMP qstore

qpart1:
	MFMA(64, Z1)
	JMP qstore

qpart0:
	MFMA(0, Z0)

qstore:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, DI
	ADDQ    R13, R10
	DECQ    R12
	JNZ     qrow
	VZEROUPPER
	RET
