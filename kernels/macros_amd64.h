// Macros shared by the amd64 kernels.

// Q4K_SCALESP unpacks the scales and mins of the block at P (spec §4.4,
// get_scale_min_k4) into R9 (sc0..sc7, one per byte) and DX (m0..m7).
// Clobbers AX, CX, R8.
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

// Q4K_SCALES is Q4K_SCALESP for the block at SI.
#define Q4K_SCALES Q4K_SCALESP(SI)

// HSUM8 leaves the sum of the 8 lanes of Y(acc) in the low lane of X(acc).
#define HSUM8(acc, yacc, tmp) \
	VEXTRACTF128 $1, yacc, tmp; \
	VADDPS       tmp, acc, acc; \
	VMOVHLPS     acc, acc, tmp; \
	VADDPS       tmp, acc, acc; \
	VMOVSHDUP    acc, tmp; \
	VADDSS       tmp, acc, acc

// HSUM16 leaves the sum of the 16 lanes of Z(acc) in the low lane of X(acc).
#define HSUM16(xacc, yacc, zacc, xtmp, ytmp) \
	VEXTRACTF64X4 $1, zacc, ytmp; \
	VADDPS        ytmp, yacc, yacc; \
	HSUM8(xacc, yacc, xtmp)

// Q4K_SETUP512 loads the constants: Z31 = 0x0F bytes, Z30 = word shift
// counts [0]*16 ++ [4]*16, Z26..Z29 = the chunk scale permutations, Y25 =
// the pair-doubling permutation.
#define Q4K_SETUP512 \
	VMOVDQU64 ·k0F(SB), Z31; \
	VMOVDQU64 ·kShift04W(SB), Z30; \
	VMOVDQU64 ·kQ4KIdx+0(SB), Z26; \
	VMOVDQU64 ·kQ4KIdx+64(SB), Z27; \
	VMOVDQU64 ·kQ4KIdx+128(SB), Z28; \
	VMOVDQU64 ·kQ4KIdx+192(SB), Z29; \
	VMOVDQU64 ·kPairIdx(SB), Y25

// Q4K_DECODE512 decodes chunk c of the block at SI into 64 values in
// Z(dst): [qs, qs] shifted by 0 (low half) and 4 (high half), masked.
#define Q4K_DECODE512(c, dst) \
	VBROADCASTI64X4 (16+32*c)(SI), dst; \
	VPSRLVW         Z30, dst, dst; \
	VPANDD          Z31, dst, dst

