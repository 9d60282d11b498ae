//go:build amd64 && !purego

#include "textflag.h"

// SwiGLU with ggml's vectorised SiLU on AVX-512 (ggml_vec_swiglu_f32 →
// ggml_v_silu → ggml_v_expf): per 16 lanes,
//   e   = expf(0 − x)            (range reduction, degree-5 polynomial, VSCALEFPS)
//   out = x / (1 + e) · up
// with exactly the fused multiply-adds, products and roundings of the C
// intrinsics, so each lane equals tensor's scalar emulation (vsilu) bit for
// bit.

DATA siluConst<>+0(SB)/4, $0x4b400000  // 0x1.8p23 (shift)
DATA siluConst<>+4(SB)/4, $0x3fb8aa3b  // 0x1.715476p+0 (log2 e)
DATA siluConst<>+8(SB)/4, $0x3f317200  // 0x1.62e4p-1 (ln2 hi)
DATA siluConst<>+12(SB)/4, $0x35bfbe8e // 0x1.7f7d1cp-20 (ln2 lo)
DATA siluConst<>+16(SB)/4, $0x3f7ffff6 // c1 0x1.ffffecp-1
DATA siluConst<>+20(SB)/4, $0x3efffedb // c2 0x1.fffdb6p-2
DATA siluConst<>+24(SB)/4, $0x3e2aaf33 // c3 0x1.555e66p-3
DATA siluConst<>+28(SB)/4, $0x3d2b9f17 // c4 0x1.573e2ep-5
DATA siluConst<>+32(SB)/4, $0x3c072010 // c5 0x1.0e4020p-7
DATA siluConst<>+36(SB)/4, $0x3f800000 // 1.0
DATA siluConst<>+40(SB)/4, $0x43400000 // 192.0
DATA siluConst<>+44(SB)/4, $0x7fffffff // |x| mask
DATA siluConst<>+48(SB)/4, $0x7f800000 // +Inf
GLOBL siluConst<>(SB), RODATA|NOPTR, $52

// func swigluAVX512(dst, gate, up *float32, n int)
// n is a positive multiple of 16.
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ         dst+0(FP), DI
	MOVQ         gate+8(FP), SI
	MOVQ         up+16(FP), DX
	MOVQ         n+24(FP), CX
	SHRQ         $4, CX
	VBROADCASTSS siluConst<>+0(SB), Z31
	VBROADCASTSS siluConst<>+4(SB), Z30
	VBROADCASTSS siluConst<>+8(SB), Z29
	VBROADCASTSS siluConst<>+12(SB), Z28
	VBROADCASTSS siluConst<>+16(SB), Z27
	VBROADCASTSS siluConst<>+20(SB), Z26
	VBROADCASTSS siluConst<>+24(SB), Z25
	VBROADCASTSS siluConst<>+28(SB), Z24
	VBROADCASTSS siluConst<>+32(SB), Z23
	VBROADCASTSS siluConst<>+36(SB), Z22
	VBROADCASTSS siluConst<>+40(SB), Z21
	VBROADCASTSS siluConst<>+44(SB), Z20
	VBROADCASTSS siluConst<>+48(SB), Z19
	VPXORD       Z18, Z18, Z18

loop:
	VMOVUPS (SI), Z0
	VSUBPS  Z0, Z18, Z1 // v = 0 − x

	// z = v·log2e + shift; n = z − shift
	VMOVAPS     Z31, Z2
	VFMADD231PS Z30, Z1, Z2
	VSUBPS      Z31, Z2, Z3

	// b = v − n·ln2hi − n·ln2lo (two fused steps)
	VMOVAPS      Z1, Z4
	VFNMADD231PS Z29, Z3, Z4
	VFNMADD231PS Z28, Z3, Z4

	// d = |n| > 192
	VANDPS Z20, Z3, Z5
	VCMPPS $0x1e, Z21, Z5, K1

	// u = b·b
	VMULPS Z4, Z4, Z5

	// j = ((c5·b + c4)·u + (c3·b + c2))·u + (c1·b + 1)
	VMOVAPS     Z24, Z6
	VFMADD231PS Z23, Z4, Z6
	VMOVAPS     Z26, Z7
	VFMADD231PS Z25, Z4, Z7
	VFMADD213PS Z7, Z5, Z6
	VMOVAPS     Z22, Z8
	VFMADD231PS Z27, Z4, Z8
	VFMADD213PS Z8, Z5, Z6

	// e = j·2^n
	VSCALEFPS Z3, Z6, Z6
	KORTESTW  K1, K1
	JZ        silu

	// Lanes with |n| > 192: +Inf if n > 0, else 0.
	VCMPPS       $0x1e, Z18, Z3, K2 // n > 0 (ordered)
	VMOVAPS      Z18, Z9
	VMOVAPS      Z19, K2, Z9
	VMOVAPS      Z9, K1, Z6

silu:
	VADDPS  Z22, Z6, Z6
	VDIVPS  Z6, Z0, Z6
	VMULPS  (DX), Z6, Z6
	VMOVUPS Z6, (DI)

	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNZ  loop
	VZEROUPPER
	RET

// Sign mask of the even lanes (the first element of each RoPE pair).
DATA ropeNegEven<>+0(SB)/8, $0x0000000080000000
GLOBL ropeNegEven<>(SB), RODATA|NOPTR, $8

// func ropeAVX512(x, cs *float32, n int)
//
// NORM-mode RoPE of n floats (a positive multiple of 16) at x, pairs
// (x0, x1) rotated by (c, s) from cs: x0' = fma(x0, c, −(x1·s)),
// x1' = fma(x0, s, x1·c), as GCC compiles ggml's rope. Per 16 lanes:
// A = [x0 x0 …], B = [x1 x1 …], t = B·[s c …] with the even lanes negated,
// result = fma(A, [c s …], t).
TEXT ·ropeAVX512(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), DI
	MOVQ         cs+8(FP), SI
	MOVQ         n+16(FP), CX
	SHRQ         $4, CX
	VPBROADCASTQ ropeNegEven<>(SB), Z31

loop:
	VMOVUPS     (DI), Z0
	VMOVUPS     (SI), Z1          // c s c s …
	VMOVSLDUP   Z0, Z2            // x0 x0 …
	VMOVSHDUP   Z0, Z3            // x1 x1 …
	VPERMILPS   $0xb1, Z1, Z4     // s c s c …
	VMULPS      Z4, Z3, Z3        // x1·s, x1·c
	VXORPS      Z31, Z3, Z3       // −(x1·s), x1·c
	VFMADD213PS Z3, Z1, Z2        // x0·c − x1·s, x0·s + x1·c (fused)
	VMOVUPS     Z2, (DI)
	ADDQ        $64, DI
	ADDQ        $64, SI
	DECQ        CX
	JNZ         loop
	VZEROUPPER
	RET

// Constants of expAVX512 (package tensor's Exp).
DATA expConst<>+0(SB)/8, $0x3ff71547652b82fe  // log2 e
DATA expConst<>+8(SB)/8, $0x3fe62e42fefa39ef  // ln 2
DATA expConst<>+16(SB)/8, $0x3f2a01a01a01a01a // 1/5040
DATA expConst<>+24(SB)/8, $0x3f56c16c16c16c17 // 1/720
DATA expConst<>+32(SB)/8, $0x3f81111111111111 // 1/120
DATA expConst<>+40(SB)/8, $0x3fa5555555555555 // 1/24
DATA expConst<>+48(SB)/8, $0x3fc5555555555555 // 1/6
DATA expConst<>+56(SB)/8, $0x3fe0000000000000 // 1/2
DATA expConst<>+64(SB)/8, $0x3ff0000000000000 // 1
DATA expConst<>+72(SB)/4, $0x42b17218          // largest argument (f32)
DATA expConst<>+76(SB)/4, $0xc2cff54a          // smallest argument (f32)
DATA expConst<>+80(SB)/4, $0x7f800000          // +Inf (f32)
GLOBL expConst<>(SB), RODATA|NOPTR, $84

// func expAVX512(dst, src *float32, n int)
//
// dst[i] = e^src[i] for n floats (a positive multiple of 8), with exactly
// the operations of package tensor's Exp, 8 lanes at a time in float64:
// n = round-to-even(x·log2e), r = x − n·ln2 (product rounded, then
// subtracted), the degree-7 Taylor polynomial by Horner (each product and
// sum rounded), p·2^n (exact in float64) rounded once to float32. NaNs are
// returned unchanged, arguments above 88.72283935546875 give +Inf and
// below −103.97908 give 0, as in Exp.
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	MOVQ         n+16(FP), CX
	SHRQ         $3, CX
	VBROADCASTSD expConst<>+0(SB), Z31
	VBROADCASTSD expConst<>+8(SB), Z30
	VBROADCASTSD expConst<>+16(SB), Z29
	VBROADCASTSD expConst<>+24(SB), Z28
	VBROADCASTSD expConst<>+32(SB), Z27
	VBROADCASTSD expConst<>+40(SB), Z26
	VBROADCASTSD expConst<>+48(SB), Z25
	VBROADCASTSD expConst<>+56(SB), Z24
	VBROADCASTSD expConst<>+64(SB), Z23
	VBROADCASTSS expConst<>+72(SB), Y22
	VBROADCASTSS expConst<>+76(SB), Y21
	VBROADCASTSS expConst<>+80(SB), Y20

eloop:
	VMOVUPS   (SI), Y0
	VCVTPS2PD Y0, Z1 // xd

	VMULPD      Z31, Z1, Z2 // xd·log2e
	VRNDSCALEPD $0, Z2, Z2  // n
	VMULPD      Z30, Z2, Z3 // n·ln2
	VSUBPD      Z3, Z1, Z3  // r

	VMULPD Z29, Z3, Z4
	VADDPD Z28, Z4, Z4
	VMULPD Z3, Z4, Z4
	VADDPD Z27, Z4, Z4
	VMULPD Z3, Z4, Z4
	VADDPD Z26, Z4, Z4
	VMULPD Z3, Z4, Z4
	VADDPD Z25, Z4, Z4
	VMULPD Z3, Z4, Z4
	VADDPD Z24, Z4, Z4
	VMULPD Z3, Z4, Z4
	VADDPD Z23, Z4, Z4
	VMULPD Z3, Z4, Z4
	VADDPD Z23, Z4, Z4 // p

	VSCALEFPD Z2, Z4, Z4 // p·2^n
	VCVTPD2PS Z4, Y4

	// Range limits and NaNs, as Exp's switch.
	VCMPPS  $0x1e, Y22, Y0, K1 // x > max (ordered)
	VMOVAPS Y20, K1, Y4
	VCMPPS  $0x11, Y21, Y0, K2 // x < min (ordered)
	VXORPS  Y5, Y5, Y5
	VMOVAPS Y5, K2, Y4
	VCMPPS  $3, Y0, Y0, K3     // NaN
	VMOVAPS Y0, K3, Y4

	VMOVUPS Y4, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     eloop
	VZEROUPPER
	RET
