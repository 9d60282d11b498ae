//go:build amd64 && !purego

#include "textflag.h"

// Activation → Q8_K with AVX-512 (spec §4.7, quantize_row_q8_K_ref), bit
// for bit like quant.QuantizeQ8K for every input:
//   amax = max|x| (NaNs are skipped, as the reference's strict '>' does);
//   max  = the first x with |x| = amax;
//   amax = 0: the block is all zeros;
//   else iscale = −127/max, q = int8(min(127, nearest_int(iscale·x))),
//   d = 1/iscale, bsums[k] = Σ q[16k..16k+15].
// nearest_int is emulated as the reference does it (add 1.5·2^23, keep the
// mantissa bits, subtract 2^22), not with VCVTPS2DQ, so that the results
// agree even when iscale overflows (amax tiny) or x is infinite. The bsums are
// computed from the stored bytes: q+128 is unsigned, VPSADBW sums it in
// groups of 8, VPMADDWD adds the pairs, and 16·128 is subtracted.

DATA q8kConst<>+0(SB)/4, $0x7fffffff  // |x| mask
DATA q8kConst<>+4(SB)/4, $127
DATA q8kConst<>+8(SB)/4, $0xc2fe0000  // −127.0
DATA q8kConst<>+12(SB)/4, $0x3f800000 // 1.0
DATA q8kConst<>+16(SB)/4, $2048       // 16·128
DATA q8kConst<>+20(SB)/4, $0x80808080
DATA q8kConst<>+24(SB)/4, $0x00010001
DATA q8kConst<>+28(SB)/4, $0x4b400000 // 12582912.0
DATA q8kConst<>+32(SB)/4, $0x007fffff
DATA q8kConst<>+36(SB)/4, $0x00400000
GLOBL q8kConst<>(SB), RODATA|NOPTR, $40

// func quantizeQ8KAVX512(dst *byte, src *float32, nb int)
TEXT ·quantizeQ8KAVX512(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         nb+16(FP), BX
	VPBROADCASTD q8kConst<>+0(SB), Z31
	VPBROADCASTD q8kConst<>+4(SB), Z30
	VPBROADCASTD q8kConst<>+20(SB), Z29
	VPXORD       Z28, Z28, Z28
	VPBROADCASTD q8kConst<>+24(SB), Z27
	VPBROADCASTD q8kConst<>+16(SB), Z26
	VPBROADCASTD q8kConst<>+28(SB), Z25
	VPBROADCASTD q8kConst<>+32(SB), Z24
	VPBROADCASTD q8kConst<>+36(SB), Z23

block:
	// amax over 16 vectors in 4 accumulators that start at 0; the
	// accumulator is VMAXPS's second (Intel) source, so a NaN element
	// leaves it unchanged and no NaN ever enters.
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VANDPS (SI), Z31, Z4
	VMAXPS Z0, Z4, Z0
	VANDPS 64(SI), Z31, Z4
	VMAXPS Z1, Z4, Z1
	VANDPS 128(SI), Z31, Z4
	VMAXPS Z2, Z4, Z2
	VANDPS 192(SI), Z31, Z4
	VMAXPS Z3, Z4, Z3
	VANDPS 256(SI), Z31, Z4
	VMAXPS Z0, Z4, Z0
	VANDPS 320(SI), Z31, Z4
	VMAXPS Z1, Z4, Z1
	VANDPS 384(SI), Z31, Z4
	VMAXPS Z2, Z4, Z2
	VANDPS 448(SI), Z31, Z4
	VMAXPS Z3, Z4, Z3
	VANDPS 512(SI), Z31, Z4
	VMAXPS Z0, Z4, Z0
	VANDPS 576(SI), Z31, Z4
	VMAXPS Z1, Z4, Z1
	VANDPS 640(SI), Z31, Z4
	VMAXPS Z2, Z4, Z2
	VANDPS 704(SI), Z31, Z4
	VMAXPS Z3, Z4, Z3
	VANDPS 768(SI), Z31, Z4
	VMAXPS Z0, Z4, Z0
	VANDPS 832(SI), Z31, Z4
	VMAXPS Z1, Z4, Z1
	VANDPS 896(SI), Z31, Z4
	VMAXPS Z2, Z4, Z2
	VANDPS 960(SI), Z31, Z4
	VMAXPS Z3, Z4, Z3
	VMAXPS Z1, Z0, Z0
	VMAXPS Z3, Z2, Z2
	VMAXPS Z2, Z0, Z0
	VEXTRACTF64X4 $1, Z0, Y1
	VMAXPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VMAXPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VMAXPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VMAXSS        X1, X0, X0
	VXORPS        X1, X1, X1
	VUCOMISS      X1, X0
	JEQ           zero

	// The first element whose |x| equals amax.
	VBROADCASTSS X0, Z0
	XORQ         CX, CX

find:
	VANDPS   (SI)(CX*1), Z31, Z1
	VCMPPS   $0, Z0, Z1, K1
	KORTESTW K1, K1
	JNZ      found
	ADDQ     $64, CX
	JMP      find

found:
	KMOVW  K1, AX
	TZCNTL AX, AX
	ADDQ   SI, CX
	VMOVSS (CX)(AX*4), X2
	VMOVSS q8kConst<>+8(SB), X3
	VDIVSS X2, X3, X3
	VMOVSS q8kConst<>+12(SB), X4
	VDIVSS X3, X4, X4
	VMOVSS X4, (DI)
	VBROADCASTSS X3, Z3

#define Q8K_Q(v) \
	VMULPS  (64*v)(SI), Z3, Z5; \
	VADDPS  Z25, Z5, Z5; \
	VPANDD  Z24, Z5, Z5; \
	VPSUBD  Z23, Z5, Z5; \
	VPMINSD Z30, Z5, Z5; \
	VPMOVDB Z5, (4+16*v)(DI)

	Q8K_Q(0)
	Q8K_Q(1)
	Q8K_Q(2)
	Q8K_Q(3)
	Q8K_Q(4)
	Q8K_Q(5)
	Q8K_Q(6)
	Q8K_Q(7)
	Q8K_Q(8)
	Q8K_Q(9)
	Q8K_Q(10)
	Q8K_Q(11)
	Q8K_Q(12)
	Q8K_Q(13)
	Q8K_Q(14)
	Q8K_Q(15)

#define Q8K_SAD(g, dst) \
	VMOVDQU8 (4+64*g)(DI), Z6; \
	VPXORD   Z29, Z6, Z6; \
	VPSADBW  Z28, Z6, Z6; \
	VPMOVQW  Z6, dst

	Q8K_SAD(0, X7)
	Q8K_SAD(1, X8)
	Q8K_SAD(2, X9)
	Q8K_SAD(3, X10)
	VINSERTI128   $1, X8, Y7, Y7
	VINSERTI128   $1, X10, Y9, Y9
	VINSERTI64X4  $1, Y9, Z7, Z7
	VPMADDWD      Z27, Z7, Z7
	VPSUBD        Z26, Z7, Z7
	VPMOVDW       Z7, 260(DI)

next:
	ADDQ $1024, SI
	ADDQ $292, DI
	DECQ BX
	JNZ  block
	VZEROUPPER
	RET

zero:
	VMOVDQU64 Z28, (DI)
	VMOVDQU64 Z28, 64(DI)
	VMOVDQU64 Z28, 128(DI)
	VMOVDQU64 Z28, 192(DI)
	VMOVDQU64 Y28, 256(DI)
	MOVL      $0, 288(DI)
	JMP       next

// func quantizeQ8KAVX2(dst *byte, src *float32, nb int)
//
// The same computation with AVX2. The int32 → int8 truncation gathers the
// low bytes with VPSHUFB and VPERMD; the bsums are pair sums (VPMADDUBSW
// with ones), quad sums (VPMADDWD), then two rounds of VPHADDD, which leave
// the 16 sums in the order g0 g2 … g14 | g1 g3 … g15 that the final word
// unpacks undo.
TEXT ·quantizeQ8KAVX2(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         nb+16(FP), BX
	VPBROADCASTD q8kConst<>+0(SB), Y15
	VPBROADCASTD q8kConst<>+4(SB), Y14
	VPBROADCASTD q8kConst<>+28(SB), Y13
	VPBROADCASTD q8kConst<>+32(SB), Y12
	VPBROADCASTD q8kConst<>+36(SB), Y11
	VMOVDQU      ·kLowBytePerm(SB), Y10

blockAVX2:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ   CX, CX

amaxAVX2:
	VANDPS (SI)(CX*1), Y15, Y4
	VMAXPS Y0, Y4, Y0
	VANDPS 32(SI)(CX*1), Y15, Y4
	VMAXPS Y1, Y4, Y1
	VANDPS 64(SI)(CX*1), Y15, Y4
	VMAXPS Y2, Y4, Y2
	VANDPS 96(SI)(CX*1), Y15, Y4
	VMAXPS Y3, Y4, Y3
	ADDQ   $128, CX
	CMPQ   CX, $1024
	JLT    amaxAVX2
	VMAXPS       Y1, Y0, Y0
	VMAXPS       Y3, Y2, Y2
	VMAXPS       Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VMAXSS       X1, X0, X0
	VXORPS       X1, X1, X1
	VUCOMISS     X1, X0
	JEQ          zeroAVX2

	VBROADCASTSS X0, Y0
	XORQ         CX, CX

findAVX2:
	VANDPS    (SI)(CX*1), Y15, Y1
	VCMPPS    $0, Y0, Y1, Y1
	VMOVMSKPS Y1, AX
	TESTL     AX, AX
	JNZ       foundAVX2
	ADDQ      $32, CX
	JMP       findAVX2

foundAVX2:
	TZCNTL       AX, AX
	ADDQ         SI, CX
	VMOVSS       (CX)(AX*4), X2
	VMOVSS       q8kConst<>+8(SB), X3
	VDIVSS       X2, X3, X3
	VMOVSS       q8kConst<>+12(SB), X4
	VDIVSS       X3, X4, X4
	VMOVSS       X4, (DI)
	VBROADCASTSS X3, Y3

// Q8K_Q8 leaves the 8 int32 quants of elements 8v..8v+7 in dst.
#define Q8K_Q8(v, dst) \
	VMULPS  (32*(v))(SI), Y3, dst; \
	VADDPS  Y13, dst, dst; \
	VPAND   Y12, dst, dst; \
	VPSUBD  Y11, dst, dst; \
	VPMINSD Y14, dst, dst

// Q8K_PACK32 stores the 32 quants of elements 32p..32p+31.
#define Q8K_PACK32(p) \
	Q8K_Q8(4*p, Y4); \
	Q8K_Q8(4*p+1, Y5); \
	Q8K_Q8(4*p+2, Y6); \
	Q8K_Q8(4*p+3, Y7); \
	VPSHUFB ·kLowByteShuf+0(SB), Y4, Y4; \
	VPSHUFB ·kLowByteShuf+32(SB), Y5, Y5; \
	VPSHUFB ·kLowByteShuf+64(SB), Y6, Y6; \
	VPSHUFB ·kLowByteShuf+96(SB), Y7, Y7; \
	VPOR    Y5, Y4, Y4; \
	VPOR    Y7, Y6, Y6; \
	VPOR    Y6, Y4, Y4; \
	VPERMD  Y4, Y10, Y4; \
	VMOVDQU Y4, (4+32*p)(DI)

	Q8K_PACK32(0)
	Q8K_PACK32(1)
	Q8K_PACK32(2)
	Q8K_PACK32(3)
	Q8K_PACK32(4)
	Q8K_PACK32(5)
	Q8K_PACK32(6)
	Q8K_PACK32(7)

// Q8K_QUADS leaves in dst the 8 sums of 4 quants of bytes 32p..32p+31.
#define Q8K_QUADS(p, dst) \
	VMOVDQU    ·k01(SB), dst; \
	VPMADDUBSW (4+32*p)(DI), dst, dst; \
	VPMADDWD   ·kOnesW(SB), dst, dst

	Q8K_QUADS(0, Y0)
	Q8K_QUADS(1, Y1)
	Q8K_QUADS(2, Y2)
	Q8K_QUADS(3, Y4)
	VPHADDD Y1, Y0, Y0
	VPHADDD Y4, Y2, Y2
	VPHADDD Y2, Y0, Y0
	Q8K_QUADS(4, Y1)
	Q8K_QUADS(5, Y2)
	Q8K_QUADS(6, Y4)
	Q8K_QUADS(7, Y5)
	VPHADDD Y2, Y1, Y1
	VPHADDD Y5, Y4, Y4
	VPHADDD Y4, Y1, Y1
	VPACKSSDW    Y1, Y0, Y0
	VEXTRACTI128 $1, Y0, X1
	VPUNPCKLWD   X1, X0, X2
	VPUNPCKHWD   X1, X0, X4
	VMOVDQU      X2, 260(DI)
	VMOVDQU      X4, 276(DI)

nextAVX2:
	ADDQ $1024, SI
	ADDQ $292, DI
	DECQ BX
	JNZ  blockAVX2
	VZEROUPPER
	RET

zeroAVX2:
	VPXOR   Y0, Y0, Y0
	MOVQ    $0, CX

zeroLoopAVX2:
	VMOVDQU Y0, (DI)(CX*1)
	ADDQ    $32, CX
	CMPQ    CX, $288
	JLT     zeroLoopAVX2
	MOVL    $0, 288(DI)
	JMP     nextAVX2

DATA q80Const<>+0(SB)/4, $0x42fe0000 // 127.0
GLOBL q80Const<>(SB), RODATA|NOPTR, $4

// func quantizeQ8_0AVX2(dst *byte, src *float32, nb int)
//
// Activation → Q8_0 like llama.cpp's x86 quantize_row_q8_0 and bit for bit
// like quant.QuantizeQ8_0Act (spec §4.8): per 32 values amax = max|x| (NaNs
// skipped, as in the Q8_K quantizers), d = f16(amax/127) with round-to-nearest-even (VCVTPS2PH),
// id = 127/amax (0 if amax = 0), q = x·id rounded half to even and
// saturated to int8. Clamping at 127.0 first (keeping NaN) makes +∞ give
// 127 and NaN give −128 (via VCVTPS2DQ's integer indefinite), as in the
// reference.
TEXT ·quantizeQ8_0AVX2(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         nb+16(FP), BX
	VPBROADCASTD q8kConst<>+0(SB), Y15
	VBROADCASTSS q80Const<>+0(SB), Y14
	VMOVDQU      ·kLowBytePerm(SB), Y13

block80:
	VXORPS       Y0, Y0, Y0
	VXORPS       Y1, Y1, Y1
	VANDPS       (SI), Y15, Y2
	VMAXPS       Y0, Y2, Y0
	VANDPS       32(SI), Y15, Y2
	VMAXPS       Y1, Y2, Y1
	VANDPS       64(SI), Y15, Y2
	VMAXPS       Y0, Y2, Y0
	VANDPS       96(SI), Y15, Y2
	VMAXPS       Y1, Y2, Y1
	VMAXPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VMOVHLPS     X0, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSHDUP    X0, X1
	VMAXSS       X1, X0, X0

	// d = f16(amax/127)
	VDIVSS    X14, X0, X1
	VCVTPS2PH $0, X1, X1
	VMOVD     X1, AX
	MOVW      AX, (DI)

	// id = amax ≠ 0 ? 127/amax : 0
	VXORPS       X2, X2, X2
	VUCOMISS     X2, X0
	JEQ          zeroid80
	VDIVSS       X0, X14, X2

zeroid80:
	VBROADCASTSS X2, Y2

#define Q80_Q(off, dst) \
	VMULPS    off(SI), Y2, dst; \
	VMINPS    dst, Y14, dst; \
	VCVTPS2DQ dst, dst

	Q80_Q(0, Y4)
	Q80_Q(32, Y5)
	Q80_Q(64, Y6)
	Q80_Q(96, Y7)
	VPACKSSDW Y5, Y4, Y4
	VPACKSSDW Y7, Y6, Y6
	VPACKSSWB Y6, Y4, Y4
	VPERMD    Y4, Y13, Y4
	VMOVDQU   Y4, 2(DI)

	ADDQ $128, SI
	ADDQ $34, DI
	DECQ BX
	JNZ  block80
	VZEROUPPER
	RET
