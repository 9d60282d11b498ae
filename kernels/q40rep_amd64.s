//go:build amd64 && !purego

#include "textflag.h"
#include "macros_amd64.h"

// The repacked Q4_0 form (q40rep.go): per row, one f32 accumulator and one
// fused step per 32-element block, acc = fma(f32(S_b), dw·dy, acc). The
// integer S_b is computed as in q4_0RowsAVX2 (Σ u·y − Σ 8·y, exact) and
// summed to one value per block before the conversion. The AVX-512 level
// uses this kernel too (VNNI would only replace one instruction per row
// and block). The chain of dependent FMAs (one per 32 elements) makes this
// form slower than vec_dot's eight lanes: about 1.3× at decode.

// Q40_SCALE1 leaves f32(dw)·f32(dy) of the f16 scales at (SI) and (R11) in
// the low lane of X5. Clobbers AX, CX, X6.
#define Q40_SCALE1 \
	MOVWLZX   (SI), AX; \
	MOVWLZX   (R11), CX; \
	SHLL      $16, CX; \
	ORL       CX, AX; \
	VMOVD     AX, X5; \
	VCVTPH2PS X5, X5; \
	VMOVSHDUP X5, X6; \
	VMULSS    X6, X5, X5

// Q40_SUM8 leaves the sum of the 8 int32 lanes of Y1 in the low lane of X1,
// converted to f32. Clobbers X2.
#define Q40_SUM8 \
	VEXTRACTI128 $1, Y1, X2; \
	VPADDD       X2, X1, X1; \
	VPHADDD      X1, X1, X1; \
	VPHADDD      X1, X1, X1; \
	VCVTDQ2PS    X1, X1

// Q40_ROWINT leaves in Y(r) the 8 int32 lanes of S_b for the weight block
// at P against the Q8_0 block whose quants are in Y7 (Y8 = the VPMADDUBSW
// pair sums of 8·y, shared by the rows): the 16 quant bytes in both halves,
// shifted by 0 and 4 (Y12), masked, give [low nibbles, high nibbles].
#define Q40_ROWINT(P, r, xr) \
	VBROADCASTI128 2(P), r; \
	VPSRLVD        Y12, r, r; \
	VPAND          Y15, r, r; \
	VPMADDUBSW     Y7, r, r; \
	VPSUBW         Y8, r, r; \
	VPMADDWD       Y13, r, r

// func q4_0RepRowsAVX2(dst *float32, w *byte, wstride int, x *byte, nb, rows int)
//
// Four rows at a time, the rows in the lanes of one accumulator X0: each
// row's chain of fused steps is as long as in the one-row loop, but four of
// them run side by side (the one-row loop waits for the FMA latency at
// every block). The four rows are r, r+Q, r+2Q, r+3Q (Q = rows/4) so that
// each of the four streams reads consecutive rows, which the hardware
// prefetchers follow (four adjacent rows read block by block are 3-4×
// slower from DRAM). The last rows%4 rows take the one-row loop.
TEXT ·q4_0RepRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ    dst+0(FP), DI
	MOVQ    w+8(FP), R10
	MOVQ    wstride+16(FP), R13
	VMOVDQU ·k0F(SB), Y15
	VMOVDQU ·k08(SB), Y14
	VMOVDQU ·kOnesW(SB), Y13
	VMOVDQU q40rShiftD<>(SB), Y12

	// R15 counts the rows/4 quads; R8 = the next quad's rows, prefetched
	// as fast as this quad's are read (72 bytes a block).
	MOVQ  rows+40(FP), R15
	SHRQ  $2, R15
	JZ    row

quad:
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS X0, X0, X0
	LEAQ   (SI)(R13*1), R9
	LEAQ   (R9)(R13*1), R12
	LEAQ   (R12)(R13*1), R14
	LEAQ   (R14)(R13*1), R8

quadblock:
	PREFETCHT0 (R8)
	PREFETCHT0 64(R8)
	ADDQ       $72, R8
	VMOVDQU    2(R11), Y7
	VPMADDUBSW Y7, Y14, Y8
	Q40_ROWINT(SI, Y1, X1)
	Q40_ROWINT(R9, Y2, X2)
	Q40_ROWINT(R12, Y3, X3)
	Q40_ROWINT(R14, Y4, X4)
	VPHADDD      Y2, Y1, Y5
	VPHADDD      Y4, Y3, Y6
	VPHADDD      Y6, Y5, Y5
	VEXTRACTI128 $1, Y5, X6
	VPADDD       X6, X5, X5
	VCVTDQ2PS    X5, X5

	// [dw_r0 … dw_r3]·dy, gathered in general registers (the vector
	// ports are the busy ones).
	MOVWLZX      (SI), AX
	MOVWLZX      (R9), CX
	SHLL         $16, CX
	ORL          CX, AX
	MOVWLZX      (R12), CX
	MOVWLZX      (R14), DX
	SHLL         $16, DX
	ORL          DX, CX
	SHLQ         $32, CX
	ORQ          CX, AX
	VMOVQ        AX, X6
	VCVTPH2PS    X6, X6
	VPBROADCASTW (R11), X9
	VCVTPH2PS    X9, X9
	VMULPS       X9, X6, X6
	VFMADD231PS  X5, X6, X0

	ADDQ $18, SI
	ADDQ $18, R9
	ADDQ $18, R12
	ADDQ $18, R14
	ADDQ $34, R11
	DECQ BX
	JNZ  quadblock

	VMOVUPS X0, (DI)
	ADDQ    $16, DI
	LEAQ    (R10)(R13*4), R10
	DECQ    R15
	JNZ     quad
	ANDQ    $3, rows+40(FP)

row:
	CMPQ rows+40(FP), $0
	JEQ  done
	MOVQ   R10, SI
	MOVQ   x+24(FP), R11
	MOVQ   nb+32(FP), BX
	VXORPS X0, X0, X0

block:
	VMOVDQU     2(SI), X1
	VPSRLW      $4, X1, X2
	VINSERTI128 $1, X2, Y1, Y1
	VPAND       Y15, Y1, Y1
	VMOVDQU     2(R11), Y2
	VPMADDUBSW  Y2, Y1, Y1
	VPMADDUBSW  Y2, Y14, Y3
	VPSUBW      Y3, Y1, Y1
	VPMADDWD    Y13, Y1, Y1
	Q40_SUM8
	Q40_SCALE1
	VFMADD231SS X1, X5, X0
	ADDQ        $18, SI
	ADDQ        $34, R11
	DECQ        BX
	JNZ         block

	VMOVSS X0, (DI)
	ADDQ   $4, DI
	ADDQ   R13, R10
	DECQ   rows+40(FP)
	JMP    row

done:
	VZEROUPPER
	RET

// q40rShiftD: VPSRLVD counts 0 (low 128 bits) and 4 (high 128 bits).
DATA q40rShiftD<>+0(SB)/8, $0
DATA q40rShiftD<>+8(SB)/8, $0
DATA q40rShiftD<>+16(SB)/8, $0x0000000400000004
DATA q40rShiftD<>+24(SB)/8, $0x0000000400000004
GLOBL q40rShiftD<>(SB), RODATA|NOPTR, $32
