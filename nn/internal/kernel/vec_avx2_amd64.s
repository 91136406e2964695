//go:build !noasm

#include "textflag.h"

// The AVX2 loops of vec_amd64.go, for CPUs without AVX-512: the loops of
// vec_amd64.s eight values at a time, with comparisons into vector masks
// and VBLENDVPS where those use mask registers. Each handles n elements, a
// multiple of 8; the callers do the rest in Go. The elementwise ones round
// exactly as the Go loops of vec.go do (no fused multiply-adds).

// MASKED_DY8 loads 8 values dy from SI and sets Y2 = dy where y (8 values
// at DI) > 0, dy·slope elsewhere, NaN included; Y12 holds the slope, Y13
// zero. It leaves dy in Y0 and uses Y3.
#define MASKED_DY8 \
	VMOVUPS (SI), Y0; VCMPPS $0x11, (DI), Y13, Y3; VMULPS Y12, Y0, Y2; VBLENDVPS Y3, Y0, Y2, Y2

// MASKED_DY_Z8 loads 8 values dy from SI and x from DX (kept in Y1) and
// sets Y2 = dy where z = x·s + t > 0, dy·slope elsewhere, NaN included;
// Y14 holds s, Y15 t, Y12 the slope, Y13 zero. It leaves dy in Y0, z in
// Y3 and uses Y4.
#define MASKED_DY_Z8 \
	VMOVUPS (SI), Y0; VMOVUPS (DX), Y1; VMULPS Y14, Y1, Y3; VADDPS Y15, Y3, Y3; VCMPPS $0x11, Y3, Y13, Y4; VMULPS Y12, Y0, Y2; VBLENDVPS Y4, Y0, Y2, Y2

// HSUM_PD4(y, x, xt) adds the 4 doubles of y into the low lane of x (y's
// low half); xt is scratch.
#define HSUM_PD4(y, x, xt) \
	VEXTRACTF128 $1, y, xt; VADDPD xt, x, x; VHADDPD x, x, x

// func sums8(a, b *float32, n int) (sa, sab float64)
TEXT ·sums8(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPD Y0, Y0, Y0
	VXORPD Y1, Y1, Y1
	VXORPD Y2, Y2, Y2
	VXORPD Y3, Y3, Y3
	SHRQ $3, CX
	JEQ s8done

s8loop:
	VCVTPS2PD (SI), Y4
	VCVTPS2PD 16(SI), Y5
	VCVTPS2PD (DI), Y6
	VCVTPS2PD 16(DI), Y7
	VADDPD Y4, Y0, Y0
	VADDPD Y5, Y1, Y1
	VFMADD231PD Y6, Y4, Y2
	VFMADD231PD Y7, Y5, Y3
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE s8loop

s8done:
	VADDPD Y1, Y0, Y0
	VADDPD Y3, Y2, Y2
	HSUM_PD4(Y0, X0, X1)
	MOVSD X0, sa+24(FP)
	HSUM_PD4(Y2, X2, X3)
	MOVSD X2, sab+32(FP)
	VZEROUPPER
	RET

// func scaleShift8(dst, src *float32, n int, s, t float32)
TEXT ·scaleShift8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y1
	VBROADCASTSS t+28(FP), Y2
	SHRQ $3, CX
	JEQ ss8done

ss8loop:
	VMULPS (SI), Y1, Y0
	VADDPS Y2, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE ss8loop

ss8done:
	VZEROUPPER
	RET

// func bnGrad8(d, dy, x *float32, n int, a, b, mean, off float32)
TEXT ·bnGrad8(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS a+32(FP), Y4
	VBROADCASTSS b+36(FP), Y5
	VBROADCASTSS mean+40(FP), Y6
	VBROADCASTSS off+44(FP), Y7
	SHRQ $3, CX
	JEQ bn8done

bn8loop:
	VMULPS (SI), Y4, Y0
	VMOVUPS (DX), Y1
	VSUBPS Y6, Y1, Y1
	VMULPS Y5, Y1, Y1
	VADDPS Y1, Y0, Y0
	VADDPS Y7, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE bn8loop

bn8done:
	VZEROUPPER
	RET

// func leaky8(dst, dy, x *float32, n int, slope float32)
//
// dst = dy where x > 0, dy·slope elsewhere (NaN included).
TEXT ·leaky8(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS slope+32(FP), Y4
	VXORPS Y5, Y5, Y5
	SHRQ $3, CX
	JEQ lk8done

lk8loop:
	VMOVUPS (SI), Y0
	VCMPPS $0x11, (DX), Y5, Y1
	VMULPS Y4, Y0, Y2
	VBLENDVPS Y1, Y0, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE lk8loop

lk8done:
	VZEROUPPER
	RET

// The loops of batch norm fused with leaky ReLU (slope ≥ 0), as in
// vec_amd64.s: z = x·s + t by VMULPS, then VADDPS.

// func scaleShiftLeaky8(dst, src *float32, n int, s, t, slope float32)
TEXT ·scaleShiftLeaky8(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y4
	VBROADCASTSS t+28(FP), Y5
	VBROADCASTSS slope+32(FP), Y6
	VXORPS Y7, Y7, Y7
	SHRQ $3, CX
	JEQ sslk8done

sslk8loop:
	VMULPS (SI), Y4, Y0
	VADDPS Y5, Y0, Y0
	VCMPPS $0x1e, Y7, Y0, Y1
	VMULPS Y6, Y0, Y2
	VBLENDVPS Y1, Y0, Y2, Y2
	VMOVUPS Y2, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNE sslk8loop

sslk8done:
	VZEROUPPER
	RET

// func sumsMasked8(dy, x *float32, n int, s, t, slope float32) (sdy, sdyx float64)
TEXT ·sumsMasked8(SB), NOSPLIT, $0-56
	MOVQ dy+0(FP), SI
	MOVQ x+8(FP), DX
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Y14
	VBROADCASTSS t+28(FP), Y15
	VBROADCASTSS slope+32(FP), Y12
	VXORPS Y13, Y13, Y13
	VXORPD Y8, Y8, Y8
	VXORPD Y9, Y9, Y9
	VXORPD Y10, Y10, Y10
	VXORPD Y11, Y11, Y11
	SHRQ $3, CX
	JEQ sm8done

sm8loop:
	MASKED_DY_Z8
	VCVTPS2PD X2, Y4
	VEXTRACTF128 $1, Y2, X3
	VCVTPS2PD X3, Y5
	VCVTPS2PD (DX), Y6
	VCVTPS2PD 16(DX), Y7
	VADDPD Y4, Y8, Y8
	VADDPD Y5, Y9, Y9
	VFMADD231PD Y6, Y4, Y10
	VFMADD231PD Y7, Y5, Y11
	ADDQ $32, SI
	ADDQ $32, DX
	DECQ CX
	JNE sm8loop

sm8done:
	VADDPD Y9, Y8, Y8
	VADDPD Y11, Y10, Y10
	HSUM_PD4(Y8, X8, X9)
	MOVSD X8, sdy+40(FP)
	HSUM_PD4(Y10, X10, X11)
	MOVSD X10, sdyx+48(FP)
	VZEROUPPER
	RET

// func bnGradMasked8(d, dy, x *float32, n int, a, b, mean, off, s, t, slope float32)
TEXT ·bnGradMasked8(SB), NOSPLIT, $0-60
	MOVQ d+0(FP), R8
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS a+32(FP), Y8
	VBROADCASTSS b+36(FP), Y5
	VBROADCASTSS mean+40(FP), Y6
	VBROADCASTSS off+44(FP), Y7
	VBROADCASTSS s+48(FP), Y14
	VBROADCASTSS t+52(FP), Y15
	VBROADCASTSS slope+56(FP), Y12
	VXORPS Y13, Y13, Y13
	SHRQ $3, CX
	JEQ bgm8done

bgm8loop:
	MASKED_DY_Z8
	VMULPS Y8, Y2, Y0
	VSUBPS Y6, Y1, Y1
	VMULPS Y5, Y1, Y1
	VADDPS Y1, Y0, Y0
	VADDPS Y7, Y0, Y0
	VMOVUPS Y0, (R8)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, R8
	DECQ CX
	JNE bgm8loop

bgm8done:
	VZEROUPPER
	RET

// func scaleMasked8(d, dy, y *float32, n int, s, slope float32)
TEXT ·scaleMasked8(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), R8
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Y4
	VBROADCASTSS slope+36(FP), Y12
	VXORPS Y13, Y13, Y13
	SHRQ $3, CX
	JEQ scm8done

scm8loop:
	MASKED_DY8
	VMULPS Y4, Y2, Y0
	VMOVUPS Y0, (R8)
	ADDQ $32, SI
	ADDQ $32, DI
	ADDQ $32, R8
	DECQ CX
	JNE scm8loop

scm8done:
	VZEROUPPER
	RET

// func add8(dst, a, b *float32, n int)
TEXT ·add8(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $3, CX
	JEQ add8done

add8loop:
	VMOVUPS (SI), Y0
	VADDPS (DX), Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ $32, SI
	ADDQ $32, DX
	ADDQ $32, DI
	DECQ CX
	JNE add8loop

add8done:
	VZEROUPPER
	RET

// func copyRows8(dst, src *float32, rows, w, ld int)
//
// Copies rows rows of w values, src's consecutive and dst's ld apart:
// dst[r·ld + i] = src[r·w + i]. Whole vectors, then the row's last w mod 8
// values under the mask Y1 (VMASKMOVPS: masked-off lanes are neither read
// nor written).
TEXT ·copyRows8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R9
	MOVQ w+24(FP), DX
	MOVQ ld+32(FP), R10
	SHLQ $2, R10
	// Y1: the first w mod 8 lanes set, from rowMask<> + 4·(8 − w mod 8).
	MOVQ DX, AX
	ANDQ $7, AX
	MOVQ $8, BX
	SUBQ AX, BX
	LEAQ rowMask<>(SB), R11
	VMOVUPS (R11)(BX*4), Y1

cr8row:
	TESTQ R9, R9
	JEQ cr8done
	MOVQ DI, R8
	MOVQ DX, CX
	SHRQ $3, CX
	JEQ cr8tail

cr8loop:
	VMOVUPS (SI), Y0
	VMOVUPS Y0, (R8)
	ADDQ $32, SI
	ADDQ $32, R8
	DECQ CX
	JNE cr8loop

cr8tail:
	TESTQ AX, AX
	JEQ cr8next
	VMASKMOVPS (SI), Y1, Y0
	VMASKMOVPS Y0, Y1, (R8)
	LEAQ (SI)(AX*4), SI

cr8next:
	ADDQ R10, DI
	DECQ R9
	JMP cr8row

cr8done:
	VZEROUPPER
	RET

// rowMask<> is eight lanes set then eight clear: the 8 lanes from byte
// 4·(8 − r) have the first r set.
DATA rowMask<>+0(SB)/8, $0xffffffffffffffff
DATA rowMask<>+8(SB)/8, $0xffffffffffffffff
DATA rowMask<>+16(SB)/8, $0xffffffffffffffff
DATA rowMask<>+24(SB)/8, $0xffffffffffffffff
DATA rowMask<>+32(SB)/8, $0
DATA rowMask<>+40(SB)/8, $0
DATA rowMask<>+48(SB)/8, $0
DATA rowMask<>+56(SB)/8, $0
GLOBL rowMask<>(SB), RODATA|NOPTR, $64

// func transpose8(dst *float32, ldd int, src *float32, lds int)
//
// Row p of the result to dst + p·ldd: result row p, value c = src[c·lds +
// p], for p, c < 8. Unpacks of pairs (Y8-Y15), shuffles of pairs of pairs
// (Y0-Y7: columns j and j+4 of four rows in the two 128-bit lanes), then
// 128-bit lane permutes (Y8-Y15, the result's rows).
TEXT ·transpose8(SB), NOSPLIT, $0-32
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), BX
	SHLQ $2, BX
	VMOVUPS (SI), Y0
	ADDQ BX, SI
	VMOVUPS (SI), Y1
	ADDQ BX, SI
	VMOVUPS (SI), Y2
	ADDQ BX, SI
	VMOVUPS (SI), Y3
	ADDQ BX, SI
	VMOVUPS (SI), Y4
	ADDQ BX, SI
	VMOVUPS (SI), Y5
	ADDQ BX, SI
	VMOVUPS (SI), Y6
	ADDQ BX, SI
	VMOVUPS (SI), Y7
	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS $0x44, Y10, Y8, Y0
	VSHUFPS $0xee, Y10, Y8, Y1
	VSHUFPS $0x44, Y11, Y9, Y2
	VSHUFPS $0xee, Y11, Y9, Y3
	VSHUFPS $0x44, Y14, Y12, Y4
	VSHUFPS $0xee, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xee, Y15, Y13, Y7
	VPERM2F128 $0x20, Y4, Y0, Y8
	VPERM2F128 $0x31, Y4, Y0, Y12
	VPERM2F128 $0x20, Y5, Y1, Y9
	VPERM2F128 $0x31, Y5, Y1, Y13
	VPERM2F128 $0x20, Y6, Y2, Y10
	VPERM2F128 $0x31, Y6, Y2, Y14
	VPERM2F128 $0x20, Y7, Y3, Y11
	VPERM2F128 $0x31, Y7, Y3, Y15
	MOVQ ldd+8(FP), BX
	SHLQ $2, BX
	MOVQ dst+0(FP), DI
	VMOVUPS Y8, (DI)
	ADDQ BX, DI
	VMOVUPS Y9, (DI)
	ADDQ BX, DI
	VMOVUPS Y10, (DI)
	ADDQ BX, DI
	VMOVUPS Y11, (DI)
	ADDQ BX, DI
	VMOVUPS Y12, (DI)
	ADDQ BX, DI
	VMOVUPS Y13, (DI)
	ADDQ BX, DI
	VMOVUPS Y14, (DI)
	ADDQ BX, DI
	VMOVUPS Y15, (DI)
	VZEROUPPER
	RET

// EXPAND8(b, y) sets the 8 lanes of y to all ones where the matching bit
// of the byte in b (a 32-bit register) is set, zero elsewhere; Y15 holds
// the lanes' bits, 1 to 128.
#define EXPAND8(b, y) \
	VMOVD b, X0; VPBROADCASTD X0, y; VPAND Y15, y, y; VPCMPEQD Y15, y, y

// func im2colPlane8(dst, src *float32, n, nv int, offs *int, masks *uint16, rows int)
//
// im2colPlane16 with AVX2: eight values at a time, each vector's lanes
// from one byte of the row's masks (VMASKMOVPS: masked-off lanes read as 0
// and are not touched, so addresses outside src are never read), the last
// n mod 8 values stored under the mask Y13.
TEXT ·im2colPlane8(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ n+16(FP), DX
	MOVQ nv+24(FP), R11
	SHLQ $1, R11
	MOVQ offs+32(FP), R9
	MOVQ masks+40(FP), R8
	MOVQ rows+48(FP), R10
	VMOVDQU laneBits<>(SB), Y15
	// Y13: the first n mod 8 lanes set, from rowMask<> + 4·(8 − n mod 8).
	MOVQ DX, AX
	ANDQ $7, AX
	MOVQ $8, BX
	SUBQ AX, BX
	LEAQ rowMask<>(SB), CX
	VMOVUPS (CX)(BX*4), Y13

ip8row:
	TESTQ R10, R10
	JEQ ip8done
	MOVQ src+8(FP), SI
	MOVQ (R9), AX
	LEAQ (SI)(AX*4), SI
	MOVQ R8, BX
	MOVQ DX, CX
	SHRQ $3, CX
	JEQ ip8tail

ip8loop:
	MOVBLZX (BX), AX
	EXPAND8(AX, Y2)
	VMASKMOVPS (SI), Y2, Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, SI
	ADDQ $32, DI
	INCQ BX
	DECQ CX
	JNE ip8loop

ip8tail:
	MOVQ DX, CX
	ANDQ $7, CX
	JEQ ip8next
	MOVBLZX (BX), AX
	EXPAND8(AX, Y2)
	VMASKMOVPS (SI), Y2, Y1
	VMASKMOVPS Y1, Y13, (DI)
	LEAQ (DI)(CX*4), DI

ip8next:
	ADDQ R11, R8
	ADDQ $8, R9
	DECQ R10
	JMP ip8row

ip8done:
	VZEROUPPER
	RET

// func im2colGather8(dst, src *float32, n, nv int, idx *int32, masks *uint16, rows int)
//
// im2colGather16 with AVX2: eight values at a time by VGATHERDPS under the
// lanes of one byte of the row's masks (masked-off lanes are not read and
// stay 0), the last n mod 8 values stored under the mask Y13; each row's
// nv·16 indices and nv masks are 64·nv and 2·nv bytes on from the last.
TEXT ·im2colGather8(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ nv+24(FP), R11
	SHLQ $1, R11
	MOVQ idx+32(FP), R9
	MOVQ masks+40(FP), R8
	MOVQ rows+48(FP), R10
	VMOVDQU laneBits<>(SB), Y15
	MOVQ DX, AX
	ANDQ $7, AX
	MOVQ $8, BX
	SUBQ AX, BX
	LEAQ rowMask<>(SB), CX
	VMOVUPS (CX)(BX*4), Y13

ig8row:
	TESTQ R10, R10
	JEQ ig8done
	MOVQ R8, BX
	MOVQ R9, R12
	MOVQ DX, CX
	SHRQ $3, CX
	JEQ ig8tail

ig8loop:
	MOVBLZX (BX), AX
	EXPAND8(AX, Y2)
	VMOVDQU (R12), Y3
	VXORPS Y1, Y1, Y1
	VGATHERDPS Y2, (SI)(Y3*4), Y1
	VMOVUPS Y1, (DI)
	ADDQ $32, DI
	ADDQ $32, R12
	INCQ BX
	DECQ CX
	JNE ig8loop

ig8tail:
	MOVQ DX, CX
	ANDQ $7, CX
	JEQ ig8next
	MOVBLZX (BX), AX
	EXPAND8(AX, Y2)
	VMOVDQU (R12), Y3
	VXORPS Y1, Y1, Y1
	VGATHERDPS Y2, (SI)(Y3*4), Y1
	VMASKMOVPS Y1, Y13, (DI)
	LEAQ (DI)(CX*4), DI

ig8next:
	ADDQ R11, R8
	MOVQ R11, AX
	SHLQ $5, AX
	ADDQ AX, R9
	DECQ R10
	JMP ig8row

ig8done:
	VZEROUPPER
	RET

// laneBits<> is 1, 2, 4, ..., 128: lane l's bit of a mask byte.
DATA laneBits<>+0(SB)/4, $1
DATA laneBits<>+4(SB)/4, $2
DATA laneBits<>+8(SB)/4, $4
DATA laneBits<>+12(SB)/4, $8
DATA laneBits<>+16(SB)/4, $16
DATA laneBits<>+20(SB)/4, $32
DATA laneBits<>+24(SB)/4, $64
DATA laneBits<>+28(SB)/4, $128
GLOBL laneBits<>(SB), RODATA|NOPTR, $32

// func maxPool2Row8(o *float32, am *int32, r0 *float32, w, n int, i0 int32)
//
// maxPool2Row with AVX2 for n a multiple of 8: eight outputs at a time
// from 16 values of each input row, split into even (Y4, Y6) and odd (Y5,
// Y15) columns by VSHUFPS and put in order by VPERMPD; then each later
// candidate replaces the best (Y4) and its index (Y7) where it is greater
// (VCMPPS, VBLENDVPS), so that ties and NaN go as in the scalar loop.
// Y10 holds the indices i0 + 2ox of the even values of row r0, Y11 1, Y12
// w, Y13 w+1, Y14 16.
TEXT ·maxPool2Row8(SB), NOSPLIT, $0-44
	MOVQ o+0(FP), DI
	MOVQ am+8(FP), R8
	MOVQ r0+16(FP), SI
	MOVQ w+24(FP), R9
	MOVQ n+32(FP), CX
	MOVL i0+40(FP), AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y10
	VPADDD poolEven8<>(SB), Y10, Y10
	MOVL $1, AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y11
	MOVL R9, AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y12
	INCL AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y13
	MOVL $16, AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y14
	LEAQ (SI)(R9*4), DX
	SHRQ $3, CX
	JEQ mp8done

mp8loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS (DX), Y2
	VMOVUPS 32(DX), Y3
	VSHUFPS $0x88, Y1, Y0, Y4
	VPERMPD $0xd8, Y4, Y4
	VSHUFPS $0xdd, Y1, Y0, Y5
	VPERMPD $0xd8, Y5, Y5
	VSHUFPS $0x88, Y3, Y2, Y6
	VPERMPD $0xd8, Y6, Y6
	VSHUFPS $0xdd, Y3, Y2, Y15
	VPERMPD $0xd8, Y15, Y15
	VMOVDQU Y10, Y7
	VCMPPS $0x1e, Y4, Y5, Y8
	VBLENDVPS Y8, Y5, Y4, Y4
	VPADDD Y11, Y10, Y9
	VBLENDVPS Y8, Y9, Y7, Y7
	VCMPPS $0x1e, Y4, Y6, Y8
	VBLENDVPS Y8, Y6, Y4, Y4
	VPADDD Y12, Y10, Y9
	VBLENDVPS Y8, Y9, Y7, Y7
	VCMPPS $0x1e, Y4, Y15, Y8
	VBLENDVPS Y8, Y15, Y4, Y4
	VPADDD Y13, Y10, Y9
	VBLENDVPS Y8, Y9, Y7, Y7
	VMOVUPS Y4, (DI)
	VMOVDQU Y7, (R8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $32, DI
	ADDQ $32, R8
	VPADDD Y14, Y10, Y10
	DECQ CX
	JNE mp8loop

mp8done:
	VZEROUPPER
	RET

DATA poolEven8<>+0(SB)/4, $0
DATA poolEven8<>+4(SB)/4, $2
DATA poolEven8<>+8(SB)/4, $4
DATA poolEven8<>+12(SB)/4, $6
DATA poolEven8<>+16(SB)/4, $8
DATA poolEven8<>+20(SB)/4, $10
DATA poolEven8<>+24(SB)/4, $12
DATA poolEven8<>+28(SB)/4, $14
GLOBL poolEven8<>(SB), RODATA|NOPTR, $32
