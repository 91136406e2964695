//go:build !noasm

// AVX2+FMA GEMM kernels for CPUs without AVX-512; kernels_amd64.go states
// their contracts. They have the AVX-512 kernels' structure with tiles that
// fit 16 ymm registers: 12 accumulators of 8 values each. The k loops are
// unrolled by hand: four steps per iteration, then one at a time.

#include "textflag.h"

// STEP6(off) is one step of the 6×16 tile: each of the six values of A at
// off(SI) broadcast (Y14, Y15 in turn) and multiplied by B's two vectors
// Y12, Y13 into that row's accumulators (row r in Y2r, Y2r+1).
#define STEP6(off) \
	VBROADCASTSS off+0(SI), Y14; VFMADD231PS Y12, Y14, Y0; VFMADD231PS Y13, Y14, Y1; \
	VBROADCASTSS off+4(SI), Y15; VFMADD231PS Y12, Y15, Y2; VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS off+8(SI), Y14; VFMADD231PS Y12, Y14, Y4; VFMADD231PS Y13, Y14, Y5; \
	VBROADCASTSS off+12(SI), Y15; VFMADD231PS Y12, Y15, Y6; VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS off+16(SI), Y14; VFMADD231PS Y12, Y14, Y8; VFMADD231PS Y13, Y14, Y9; \
	VBROADCASTSS off+20(SI), Y15; VFMADD231PS Y12, Y15, Y10; VFMADD231PS Y13, Y15, Y11

// LOADB6 loads the 16 values of B at DI into Y12, Y13 and steps DI to the
// next row (R8 bytes on).
#define LOADB6 \
	VMOVUPS (DI), Y12; VMOVUPS 32(DI), Y13; ADDQ R8, DI

// LOADB6ROWS loads the row of B whose offset is at R8 (base R11) into Y12,
// Y13 and steps R8 to the next offset.
#define LOADB6ROWS \
	MOVQ (R8), DI; LEAQ (R11)(DI*4), DI; ADDQ $8, R8; VMOVUPS (DI), Y12; VMOVUPS 32(DI), Y13

// ADD_TILE6 adds the 6×16 tile of C at DX (row stride R9 bytes) to the
// accumulators; STORE_TILE6 stores them there.
#define ADD_TILE6 \
	MOVQ DX, R10; \
	VADDPS (R10), Y0, Y0; VADDPS 32(R10), Y1, Y1; ADDQ R9, R10; \
	VADDPS (R10), Y2, Y2; VADDPS 32(R10), Y3, Y3; ADDQ R9, R10; \
	VADDPS (R10), Y4, Y4; VADDPS 32(R10), Y5, Y5; ADDQ R9, R10; \
	VADDPS (R10), Y6, Y6; VADDPS 32(R10), Y7, Y7; ADDQ R9, R10; \
	VADDPS (R10), Y8, Y8; VADDPS 32(R10), Y9, Y9; ADDQ R9, R10; \
	VADDPS (R10), Y10, Y10; VADDPS 32(R10), Y11, Y11

#define STORE_TILE6 \
	VMOVUPS Y0, (DX); VMOVUPS Y1, 32(DX); ADDQ R9, DX; \
	VMOVUPS Y2, (DX); VMOVUPS Y3, 32(DX); ADDQ R9, DX; \
	VMOVUPS Y4, (DX); VMOVUPS Y5, 32(DX); ADDQ R9, DX; \
	VMOVUPS Y6, (DX); VMOVUPS Y7, 32(DX); ADDQ R9, DX; \
	VMOVUPS Y8, (DX); VMOVUPS Y9, 32(DX); ADDQ R9, DX; \
	VMOVUPS Y10, (DX); VMOVUPS Y11, 32(DX)

// ZERO_TILE6 zeroes the 12 accumulators Y0-Y11.
#define ZERO_TILE6 \
	VXORPS Y0, Y0, Y0; VXORPS Y1, Y1, Y1; VXORPS Y2, Y2, Y2; VXORPS Y3, Y3, Y3; VXORPS Y4, Y4, Y4; VXORPS Y5, Y5, Y5; \
	VXORPS Y6, Y6, Y6; VXORPS Y7, Y7, Y7; VXORPS Y8, Y8, Y8; VXORPS Y9, Y9, Y9; VXORPS Y10, Y10, Y10; VXORPS Y11, Y11, Y11

// func kern6x16(kc int, a, b *float32, ldb int, c *float32, ldc int, load bool)
//
// Registers: Y0-Y11 the 6×16 tile, Y12-Y13 a row of B, Y14-Y15 broadcast
// values of A; SI walks A (6 values a step), DI walks B (stride R8 bytes),
// CX and BX count.
TEXT ·kern6x16(SB), NOSPLIT, $0-49
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R9
	ZERO_TILE6
	MOVQ CX, BX
	SHRQ $2, BX
	JEQ k6x16tail
k6x16loop:
	LOADB6
	STEP6(0)
	LOADB6
	STEP6(24)
	LOADB6
	STEP6(48)
	LOADB6
	STEP6(72)
	ADDQ $96, SI
	DECQ BX
	JNE k6x16loop
k6x16tail:
	ANDQ $3, CX
	JEQ k6x16done
k6x16tailloop:
	LOADB6
	STEP6(0)
	ADDQ $24, SI
	DECQ CX
	JNE k6x16tailloop
k6x16done:
	MOVBLZX load+48(FP), AX
	TESTQ AX, AX
	JEQ k6x16store
	ADD_TILE6
k6x16store:
	STORE_TILE6
	VZEROUPPER
	RET

// func kern6x16rows(kc int, a, b *float32, rows *int, c *float32, ldc int, load bool)
//
// As kern6x16, with row p of B at b + 4·rows[p] bytes (DI from R11 and the
// offsets at R8).
TEXT ·kern6x16rows(SB), NOSPLIT, $0-49
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), R11
	MOVQ rows+24(FP), R8
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R9
	SHLQ $2, R9
	ZERO_TILE6
	MOVQ CX, BX
	SHRQ $2, BX
	JEQ k6x16rowstail
k6x16rowsloop:
	LOADB6ROWS
	STEP6(0)
	LOADB6ROWS
	STEP6(24)
	LOADB6ROWS
	STEP6(48)
	LOADB6ROWS
	STEP6(72)
	ADDQ $96, SI
	DECQ BX
	JNE k6x16rowsloop
k6x16rowstail:
	ANDQ $3, CX
	JEQ k6x16rowsdone
k6x16rowstailloop:
	LOADB6ROWS
	STEP6(0)
	ADDQ $24, SI
	DECQ CX
	JNE k6x16rowstailloop
k6x16rowsdone:
	MOVBLZX load+48(FP), AX
	TESTQ AX, AX
	JEQ k6x16rowsstore
	ADD_TILE6
k6x16rowsstore:
	STORE_TILE6
	VZEROUPPER
	RET

// func kdot3x4(k int, a, b *[4]*float32, alpha float32, c *float32, ldc int, load bool)
//
// Registers: Y0-Y11 the 12 dot products (C[i][j] in Y4i+j), Y12-Y14 rows of
// A, Y15 a row of B, AX the byte offset into every row. The last k mod 8
// values are loaded under a mask (VMASKMOVPS: masked-off lanes read as 0
// and are not touched), from dotMask<> at BX, reloaded into Y15 before each
// row of B, which it then receives.
TEXT ·kdot3x4(SB), NOSPLIT, $0-49
	MOVQ a+8(FP), AX
	MOVQ 0(AX), R8
	MOVQ 8(AX), R9
	MOVQ 16(AX), R10
	MOVQ b+16(FP), AX
	MOVQ 0(AX), R12
	MOVQ 8(AX), R13
	MOVQ 16(AX), SI
	MOVQ 24(AX), DI
	MOVQ k+0(FP), CX
	ZERO_TILE6
	XORQ AX, AX
	MOVQ CX, BX
	SHRQ $3, BX
	JEQ d3tail
d3loop:
	VMOVUPS (AX)(R8*1), Y12
	VMOVUPS (AX)(R9*1), Y13
	VMOVUPS (AX)(R10*1), Y14
	VMOVUPS (AX)(R12*1), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (AX)(R13*1), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (AX)(SI*1), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (AX)(DI*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ $32, AX
	DECQ BX
	JNE d3loop
d3tail:
	ANDQ $7, CX
	JEQ d3reduce
	// Y15 = the first k mod 8 lanes set: dotMask<> + 4·(8 − k mod 8).
	MOVQ $8, DX
	SUBQ CX, DX
	LEAQ dotMask<>(SB), BX
	LEAQ (BX)(DX*4), BX
	VMOVUPS (BX), Y15
	VMASKMOVPS (AX)(R8*1), Y15, Y12
	VMASKMOVPS (AX)(R9*1), Y15, Y13
	VMASKMOVPS (AX)(R10*1), Y15, Y14
	VMASKMOVPS (AX)(R12*1), Y15, Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS (BX), Y15
	VMASKMOVPS (AX)(R13*1), Y15, Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS (BX), Y15
	VMASKMOVPS (AX)(SI*1), Y15, Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS (BX), Y15
	VMASKMOVPS (AX)(DI*1), Y15, Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
d3reduce:
	VBROADCASTSS alpha+24(FP), X15
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), BX
	SHLQ $2, BX
	MOVBLZX load+48(FP), CX
	VHADDPS Y1, Y0, Y0
	VHADDPS Y3, Y2, Y2
	VHADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VMULPS X15, X0, X0
	TESTQ CX, CX
	JEQ d3nold0
	VADDPS (DX), X0, X0
d3nold0:
	VMOVUPS X0, (DX)
	ADDQ BX, DX
	VHADDPS Y5, Y4, Y4
	VHADDPS Y7, Y6, Y6
	VHADDPS Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X5
	VADDPS X5, X4, X4
	VMULPS X15, X4, X4
	TESTQ CX, CX
	JEQ d3nold1
	VADDPS (DX), X4, X4
d3nold1:
	VMOVUPS X4, (DX)
	ADDQ BX, DX
	VHADDPS Y9, Y8, Y8
	VHADDPS Y11, Y10, Y10
	VHADDPS Y10, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPS X9, X8, X8
	VMULPS X15, X8, X8
	TESTQ CX, CX
	JEQ d3nold2
	VADDPS (DX), X8, X8
d3nold2:
	VMOVUPS X8, (DX)
	VZEROUPPER
	RET

// dotMask<> is eight lanes set then eight clear: the 8 lanes from byte
// 4·(8 − r) have the first r set.
DATA dotMask<>+0(SB)/8, $0xffffffffffffffff
DATA dotMask<>+8(SB)/8, $0xffffffffffffffff
DATA dotMask<>+16(SB)/8, $0xffffffffffffffff
DATA dotMask<>+24(SB)/8, $0xffffffffffffffff
DATA dotMask<>+32(SB)/8, $0
DATA dotMask<>+40(SB)/8, $0
DATA dotMask<>+48(SB)/8, $0
DATA dotMask<>+56(SB)/8, $0
GLOBL dotMask<>(SB), RODATA|NOPTR, $64

// ASTEP6(off) is one step of the 6×16 tile with the rows of A read in
// place: row r's value at off(Rr)(AX*1) (rows in R8-R13) broadcast and
// multiplied by B's vectors Y12, Y13 into Y2r, Y2r+1.
#define ASTEP6(off) \
	VBROADCASTSS off(R8)(AX*1), Y14; VFMADD231PS Y12, Y14, Y0; VFMADD231PS Y13, Y14, Y1; \
	VBROADCASTSS off(R9)(AX*1), Y15; VFMADD231PS Y12, Y15, Y2; VFMADD231PS Y13, Y15, Y3; \
	VBROADCASTSS off(R10)(AX*1), Y14; VFMADD231PS Y12, Y14, Y4; VFMADD231PS Y13, Y14, Y5; \
	VBROADCASTSS off(R11)(AX*1), Y15; VFMADD231PS Y12, Y15, Y6; VFMADD231PS Y13, Y15, Y7; \
	VBROADCASTSS off(R12)(AX*1), Y14; VFMADD231PS Y12, Y14, Y8; VFMADD231PS Y13, Y14, Y9; \
	VBROADCASTSS off(R13)(AX*1), Y15; VFMADD231PS Y12, Y15, Y10; VFMADD231PS Y13, Y15, Y11

// LOADB6S loads the 16 values of B at DI into Y12, Y13 and steps DI to the
// next row (BX bytes on).
#define LOADB6S \
	VMOVUPS (DI), Y12; VMOVUPS 32(DI), Y13; ADDQ BX, DI

// func kern6x16arows(a *float32, rows *[8]int, kc int, b *float32, ldb int, c *float32, ldc int, load bool)
//
// Registers: Y0-Y11 the 6×16 tile, Y12-Y13 a row of B, Y14-Y15 broadcast
// values of A; R8-R13 the rows of A (a + 4·rows[r]), AX the byte offset
// along them; DI walks B (stride BX bytes), CX counts.
TEXT ·kern6x16arows(SB), NOSPLIT, $0-57
	MOVQ a+0(FP), CX
	MOVQ rows+8(FP), AX
	MOVQ 0(AX), R8
	LEAQ (CX)(R8*4), R8
	MOVQ 8(AX), R9
	LEAQ (CX)(R9*4), R9
	MOVQ 16(AX), R10
	LEAQ (CX)(R10*4), R10
	MOVQ 24(AX), R11
	LEAQ (CX)(R11*4), R11
	MOVQ 32(AX), R12
	LEAQ (CX)(R12*4), R12
	MOVQ 40(AX), R13
	LEAQ (CX)(R13*4), R13
	XORQ AX, AX
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), BX
	SHLQ $2, BX
	ZERO_TILE6
	MOVQ kc+16(FP), CX
	SHRQ $2, CX
	JEQ a6tail
a6loop:
	LOADB6S
	ASTEP6(0)
	LOADB6S
	ASTEP6(4)
	LOADB6S
	ASTEP6(8)
	LOADB6S
	ASTEP6(12)
	ADDQ $16, AX
	DECQ CX
	JNE a6loop
a6tail:
	MOVQ kc+16(FP), CX
	ANDQ $3, CX
	JEQ a6done
a6tailloop:
	LOADB6S
	ASTEP6(0)
	ADDQ $4, AX
	DECQ CX
	JNE a6tailloop
a6done:
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R9
	SHLQ $2, R9
	MOVBLZX load+56(FP), AX
	TESTQ AX, AX
	JEQ a6store
	ADD_TILE6
a6store:
	STORE_TILE6
	VZEROUPPER
	RET

// SLIDE_RUN(base, off, b0, b1, b2, r0) is one step of one run of three
// rows: A's value at off(base)(AX*1) broadcast into Y15 and multiplied by
// b0 (B's newest row) into row r0, b1 (the one before) into row r0+1 and b2
// (the one before that) into row r0+2.
#define SLIDE_RUN(base, off, b0, b1, b2, r0, r1, r2) \
	VBROADCASTSS off(base)(AX*1), Y15; VFMADD231PS b0, Y15, r0; VFMADD231PS b1, Y15, r1; VFMADD231PS b2, Y15, r2

// SLIDE_STEP(off, b0, b1, b2) is one step of the four runs.
#define SLIDE_STEP(off, b0, b1, b2) \
	SLIDE_RUN(R8, off, b0, b1, b2, Y0, Y1, Y2); \
	SLIDE_RUN(R9, off, b0, b1, b2, Y3, Y4, Y5); \
	SLIDE_RUN(R10, off, b0, b1, b2, Y6, Y7, Y8); \
	SLIDE_RUN(R11, off, b0, b1, b2, Y9, Y10, Y11)

// func kern12x8slide(a *float32, bases *[6]int, steps int, b *float32, c *float32, load bool)
//
// Registers: Y0-Y11 the 12×8 tile (row 3g+j in Y(3g+j)), Y12-Y14 the last
// three rows of B (8 values each, rows 64 bytes apart), Y15 a broadcast
// value of A; R8-R11 the four bases of A, AX the byte offset along them;
// DI walks B, CX counts steps of three. C's rows are 64 bytes apart.
TEXT ·kern12x8slide(SB), NOSPLIT, $0-41
	MOVQ a+0(FP), CX
	MOVQ bases+8(FP), AX
	MOVQ 0(AX), R8
	LEAQ (CX)(R8*4), R8
	MOVQ 8(AX), R9
	LEAQ (CX)(R9*4), R9
	MOVQ 16(AX), R10
	LEAQ (CX)(R10*4), R10
	MOVQ 24(AX), R11
	LEAQ (CX)(R11*4), R11
	XORQ AX, AX
	MOVQ b+24(FP), DI
	ZERO_TILE6
	VXORPS Y13, Y13, Y13
	VXORPS Y14, Y14, Y14
	MOVQ steps+16(FP), CX
s12loop:
	VMOVUPS (DI), Y12
	ADDQ $64, DI
	SLIDE_STEP(0, Y12, Y14, Y13)
	VMOVUPS (DI), Y13
	ADDQ $64, DI
	SLIDE_STEP(4, Y13, Y12, Y14)
	VMOVUPS (DI), Y14
	ADDQ $64, DI
	SLIDE_STEP(8, Y14, Y13, Y12)
	ADDQ $12, AX
	DECQ CX
	JNE s12loop
	MOVQ c+32(FP), DX
	MOVBLZX load+40(FP), AX
	TESTQ AX, AX
	JEQ s12store
	VADDPS 0(DX), Y0, Y0
	VADDPS 64(DX), Y1, Y1
	VADDPS 128(DX), Y2, Y2
	VADDPS 192(DX), Y3, Y3
	VADDPS 256(DX), Y4, Y4
	VADDPS 320(DX), Y5, Y5
	VADDPS 384(DX), Y6, Y6
	VADDPS 448(DX), Y7, Y7
	VADDPS 512(DX), Y8, Y8
	VADDPS 576(DX), Y9, Y9
	VADDPS 640(DX), Y10, Y10
	VADDPS 704(DX), Y11, Y11
s12store:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 64(DX)
	VMOVUPS Y2, 128(DX)
	VMOVUPS Y3, 192(DX)
	VMOVUPS Y4, 256(DX)
	VMOVUPS Y5, 320(DX)
	VMOVUPS Y6, 384(DX)
	VMOVUPS Y7, 448(DX)
	VMOVUPS Y8, 512(DX)
	VMOVUPS Y9, 576(DX)
	VMOVUPS Y10, 640(DX)
	VMOVUPS Y11, 704(DX)
	VZEROUPPER
	RET
