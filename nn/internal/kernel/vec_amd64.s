//go:build !noasm

#include "textflag.h"

// MASKED_DY loads 16 values dy from SI and sets Z2 = dy where y (16 values
// at DI) > 0, dy·slope elsewhere, NaN included; Z12 holds the slope, Z13
// zero. It leaves dy in Z0.
#define MASKED_DY \
	VMOVUPS (SI), Z0; VCMPPS $0x11, (DI), Z13, K1; VMULPS Z12, Z0, Z2; VMOVAPS Z0, K1, Z2

// MASKED_DY_Z loads 16 values dy from SI and x from DX (kept in Z1) and
// sets Z2 = dy where z = x·s + t > 0, dy·slope elsewhere, NaN included; Z14
// holds s, Z15 t, Z12 the slope, Z13 zero. It leaves dy in Z0, z in Z3.
#define MASKED_DY_Z \
	VMOVUPS (SI), Z0; VMOVUPS (DX), Z1; VMULPS Z14, Z1, Z3; VADDPS Z15, Z3, Z3; VCMPPS $0x11, Z3, Z13, K1; VMULPS Z12, Z0, Z2; VMOVAPS Z0, K1, Z2

// HSUM_PD(z, y, x, yt, xt) adds the 8 doubles of z into the low lane of x
// (z's low half); yt and xt are scratch.
#define HSUM_PD(z, y, x, yt, xt) \
	VEXTRACTF64X4 $1, z, yt; VADDPD yt, y, y; VEXTRACTF128 $1, y, xt; VADDPD xt, x, x; VHADDPD x, x, x

// The AVX-512 loops of vec_amd64.go. Each handles n elements, a multiple
// of 16; the callers do the rest in Go. The elementwise ones round exactly
// as the Go loops of vec.go do (no fused multiply-adds).

// func sums16(a, b *float32, n int) (sa, sab float64)
TEXT ·sums16(SB), NOSPLIT, $0-40
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPD Z0, Z0, Z0
	VXORPD Z1, Z1, Z1
	VXORPD Z2, Z2, Z2
	VXORPD Z3, Z3, Z3
	SHRQ $4, CX
	JEQ sumsdone

sumsloop:
	VCVTPS2PD (SI), Z4
	VCVTPS2PD 32(SI), Z5
	VCVTPS2PD (DI), Z6
	VCVTPS2PD 32(DI), Z7
	VADDPD Z4, Z0, Z0
	VADDPD Z5, Z1, Z1
	VFMADD231PD Z6, Z4, Z2
	VFMADD231PD Z7, Z5, Z3
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE sumsloop

sumsdone:
	VADDPD Z1, Z0, Z0
	VADDPD Z3, Z2, Z2
	HSUM_PD(Z0, Y0, X0, Y1, X1)
	MOVSD X0, sa+24(FP)
	HSUM_PD(Z2, Y2, X2, Y3, X3)
	MOVSD X2, sab+32(FP)
	VZEROUPPER
	RET

// func scaleShift16(dst, src *float32, n int, s, t float32)
TEXT ·scaleShift16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Z1
	VBROADCASTSS t+28(FP), Z2
	SHRQ $4, CX
	JEQ ssdone

ssloop:
	VMULPS (SI), Z1, Z0
	VADDPS Z2, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE ssloop

ssdone:
	VZEROUPPER
	RET

// func bnGrad16(d, dy, x *float32, n int, a, b, mean, off float32)
TEXT ·bnGrad16(SB), NOSPLIT, $0-48
	MOVQ d+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS a+32(FP), Z4
	VBROADCASTSS b+36(FP), Z5
	VBROADCASTSS mean+40(FP), Z6
	VBROADCASTSS off+44(FP), Z7
	SHRQ $4, CX
	JEQ bndone

bnloop:
	VMULPS (SI), Z4, Z0
	VMOVUPS (DX), Z1
	VSUBPS Z6, Z1, Z1
	VMULPS Z5, Z1, Z1
	VADDPS Z1, Z0, Z0
	VADDPS Z7, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNE bnloop

bndone:
	VZEROUPPER
	RET

// func leaky16(dst, dy, x *float32, n int, slope float32)
//
// dst = dy where x > 0, dy·slope elsewhere (NaN included).
TEXT ·leaky16(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS slope+32(FP), Z4
	VXORPS Z5, Z5, Z5
	SHRQ $4, CX
	JEQ lkdone

lkloop:
	VMOVUPS (SI), Z0
	VMOVUPS (DX), Z1
	VCMPPS $0x1e, Z5, Z1, K1
	VMULPS Z4, Z0, Z2
	VMOVAPS Z0, K1, Z2
	VMOVUPS Z2, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNE lkloop

lkdone:
	VZEROUPPER
	RET

// The loops of batch norm fused with leaky ReLU (slope ≥ 0) over the
// normalised value z = x·s + t (VMULPS, then VADDPS: rounded as vec.go's
// loops round it). dy' = dy where z > 0, dy·slope elsewhere (NaN included):
// the backward loops recompute z instead of reading the output.

// func scaleShiftLeaky16(dst, src *float32, n int, s, t, slope float32)
TEXT ·scaleShiftLeaky16(SB), NOSPLIT, $0-36
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Z4
	VBROADCASTSS t+28(FP), Z5
	VBROADCASTSS slope+32(FP), Z6
	VXORPS Z7, Z7, Z7
	SHRQ $4, CX
	JEQ sslkdone

sslkloop:
	VMULPS (SI), Z4, Z0
	VADDPS Z5, Z0, Z0
	VCMPPS $0x1e, Z7, Z0, K1
	VMULPS Z6, Z0, Z2
	VMOVAPS Z0, K1, Z2
	VMOVUPS Z2, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNE sslkloop

sslkdone:
	VZEROUPPER
	RET

// func sumsMasked16(dy, x *float32, n int, s, t, slope float32) (sdy, sdyx float64)
TEXT ·sumsMasked16(SB), NOSPLIT, $0-56
	MOVQ dy+0(FP), SI
	MOVQ x+8(FP), DX
	MOVQ n+16(FP), CX
	VBROADCASTSS s+24(FP), Z14
	VBROADCASTSS t+28(FP), Z15
	VBROADCASTSS slope+32(FP), Z12
	VXORPS Z13, Z13, Z13
	VXORPD Z8, Z8, Z8
	VXORPD Z9, Z9, Z9
	VXORPD Z10, Z10, Z10
	VXORPD Z11, Z11, Z11
	SHRQ $4, CX
	JEQ smdone

smloop:
	MASKED_DY_Z
	VCVTPS2PD Y2, Z4
	VEXTRACTF64X4 $1, Z2, Y3
	VCVTPS2PD Y3, Z5
	VCVTPS2PD (DX), Z6
	VCVTPS2PD 32(DX), Z7
	VADDPD Z4, Z8, Z8
	VADDPD Z5, Z9, Z9
	VFMADD231PD Z6, Z4, Z10
	VFMADD231PD Z7, Z5, Z11
	ADDQ $64, SI
	ADDQ $64, DX
	DECQ CX
	JNE smloop

smdone:
	VADDPD Z9, Z8, Z8
	VADDPD Z11, Z10, Z10
	HSUM_PD(Z8, Y8, X8, Y9, X9)
	MOVSD X8, sdy+40(FP)
	HSUM_PD(Z10, Y10, X10, Y11, X11)
	MOVSD X10, sdyx+48(FP)
	VZEROUPPER
	RET

// func bnGradMasked16(d, dy, x *float32, n int, a, b, mean, off, s, t, slope float32)
TEXT ·bnGradMasked16(SB), NOSPLIT, $0-60
	MOVQ d+0(FP), R8
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS a+32(FP), Z4
	VBROADCASTSS b+36(FP), Z5
	VBROADCASTSS mean+40(FP), Z6
	VBROADCASTSS off+44(FP), Z7
	VBROADCASTSS s+48(FP), Z14
	VBROADCASTSS t+52(FP), Z15
	VBROADCASTSS slope+56(FP), Z12
	VXORPS Z13, Z13, Z13
	SHRQ $4, CX
	JEQ bgmdone

bgmloop:
	MASKED_DY_Z
	VMULPS Z4, Z2, Z0
	VSUBPS Z6, Z1, Z1
	VMULPS Z5, Z1, Z1
	VADDPS Z1, Z0, Z0
	VADDPS Z7, Z0, Z0
	VMOVUPS Z0, (R8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ CX
	JNE bgmloop

bgmdone:
	VZEROUPPER
	RET

// func scaleMasked16(d, dy, y *float32, n int, s, slope float32)
TEXT ·scaleMasked16(SB), NOSPLIT, $0-40
	MOVQ d+0(FP), R8
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ n+24(FP), CX
	VBROADCASTSS s+32(FP), Z4
	VBROADCASTSS slope+36(FP), Z12
	VXORPS Z13, Z13, Z13
	SHRQ $4, CX
	JEQ scmdone

scmloop:
	MASKED_DY
	VMULPS Z4, Z2, Z0
	VMOVUPS Z0, (R8)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, R8
	DECQ CX
	JNE scmloop

scmdone:
	VZEROUPPER
	RET

// func maxPool2Row(o *float32, am *int32, r0 *float32, w, n int, i0 int32)
//
// One output row of a 2×2, stride-2 max pool: for ox < n, o[ox] is the
// largest of r0[2ox], r0[2ox+1], r1[2ox], r1[2ox+1] (r1 = r0 + w), the
// first of them on ties and NaN kept as the scalar loop does (each later
// value replaces the best only if it is greater), and am[ox] its index,
// i0 + 2ox + (0, 1, w or w+1). Sixteen outputs at a time, the last group
// masked, so nothing past r0[2n] or r1[2n] is read.
TEXT ·maxPool2Row(SB), NOSPLIT, $0-44
	MOVQ o+0(FP), DI
	MOVQ am+8(FP), R8
	MOVQ r0+16(FP), SI
	MOVQ w+24(FP), R9
	MOVQ n+32(FP), CX
	MOVL i0+40(FP), AX
	VPBROADCASTD AX, Z27
	VMOVDQU32 poolEven<>(SB), Z30
	VMOVDQU32 poolOdd<>(SB), Z31
	VPADDD Z30, Z27, Z27
	MOVL $1, AX
	VPBROADCASTD AX, Z28
	MOVL R9, AX
	VPBROADCASTD AX, Z26
	INCL AX
	VPBROADCASTD AX, Z25
	MOVL $32, AX
	VPBROADCASTD AX, Z24
	LEAQ (SI)(R9*4), DX
mploop:
	TESTQ CX, CX
	JLE mpdone
	MOVQ CX, BX
	CMPQ BX, $16
	JLE mpmask
	MOVQ $16, BX
mpmask:
	MOVL $1, AX
	SHLXL BX, AX, AX
	DECL AX
	KMOVW AX, K2
	LEAQ (BX)(BX*1), R10
	MOVQ R10, R11
	CMPQ R11, $16
	JLE mpk3
	MOVQ $16, R11
mpk3:
	MOVL $1, AX
	SHLXL R11, AX, AX
	DECL AX
	KMOVW AX, K3
	SUBQ R11, R10
	MOVL $1, AX
	SHLXL R10, AX, AX
	DECL AX
	KMOVW AX, K4
	VMOVUPS.Z (SI), K3, Z0
	VMOVUPS.Z 64(SI), K4, Z1
	VMOVUPS.Z (DX), K3, Z2
	VMOVUPS.Z 64(DX), K4, Z3
	VMOVAPS Z0, Z4
	VPERMT2PS Z1, Z30, Z4
	VMOVAPS Z0, Z5
	VPERMT2PS Z1, Z31, Z5
	VMOVAPS Z2, Z6
	VPERMT2PS Z3, Z30, Z6
	VMOVAPS Z2, Z7
	VPERMT2PS Z3, Z31, Z7
	VMOVDQA32 Z27, Z9
	VCMPPS $0x1e, Z4, Z5, K1
	VMOVAPS Z5, K1, Z4
	VPADDD Z28, Z27, K1, Z9
	VCMPPS $0x1e, Z4, Z6, K1
	VMOVAPS Z6, K1, Z4
	VPADDD Z26, Z27, K1, Z9
	VCMPPS $0x1e, Z4, Z7, K1
	VMOVAPS Z7, K1, Z4
	VPADDD Z25, Z27, K1, Z9
	VMOVUPS Z4, K2, (DI)
	VMOVDQU32 Z9, K2, (R8)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $64, DI
	ADDQ $64, R8
	VPADDD Z24, Z27, Z27
	SUBQ $16, CX
	JMP mploop
mpdone:
	VZEROUPPER
	RET

DATA poolEven<>+0(SB)/4, $0
DATA poolEven<>+4(SB)/4, $2
DATA poolEven<>+8(SB)/4, $4
DATA poolEven<>+12(SB)/4, $6
DATA poolEven<>+16(SB)/4, $8
DATA poolEven<>+20(SB)/4, $10
DATA poolEven<>+24(SB)/4, $12
DATA poolEven<>+28(SB)/4, $14
DATA poolEven<>+32(SB)/4, $16
DATA poolEven<>+36(SB)/4, $18
DATA poolEven<>+40(SB)/4, $20
DATA poolEven<>+44(SB)/4, $22
DATA poolEven<>+48(SB)/4, $24
DATA poolEven<>+52(SB)/4, $26
DATA poolEven<>+56(SB)/4, $28
DATA poolEven<>+60(SB)/4, $30
GLOBL poolEven<>(SB), RODATA|NOPTR, $64
DATA poolOdd<>+0(SB)/4, $1
DATA poolOdd<>+4(SB)/4, $3
DATA poolOdd<>+8(SB)/4, $5
DATA poolOdd<>+12(SB)/4, $7
DATA poolOdd<>+16(SB)/4, $9
DATA poolOdd<>+20(SB)/4, $11
DATA poolOdd<>+24(SB)/4, $13
DATA poolOdd<>+28(SB)/4, $15
DATA poolOdd<>+32(SB)/4, $17
DATA poolOdd<>+36(SB)/4, $19
DATA poolOdd<>+40(SB)/4, $21
DATA poolOdd<>+44(SB)/4, $23
DATA poolOdd<>+48(SB)/4, $25
DATA poolOdd<>+52(SB)/4, $27
DATA poolOdd<>+56(SB)/4, $29
DATA poolOdd<>+60(SB)/4, $31
GLOBL poolOdd<>(SB), RODATA|NOPTR, $64

// func im2colPlane16(dst, src *float32, n, nv int, offs *int, masks *uint16, rows int)
//
// The rows of im2col's matrix for one channel: for r < rows and q < n,
// dst[r·n + q] = src[offs[r] + q] where bit q mod 16 of masks[r·nv + q/16]
// is set, 0 elsewhere (nv = ⌈n/16⌉ masks per row). Each vector is one
// masked load and one store, the last of each row under a mask of its
// n mod 16 lanes. Masked-off lanes are not read (AVX-512 suppresses their
// faults): addresses outside src are never touched.
TEXT ·im2colPlane16(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ n+16(FP), DX
	MOVQ offs+32(FP), R9
	MOVQ masks+40(FP), R8
	MOVQ rows+48(FP), R10
	// K2: the last vector's store mask, (1 << (n mod 16)) − 1
	MOVQ DX, AX
	ANDQ $15, AX
	MOVL $1, BX
	SHLXL AX, BX, BX
	DECL BX
	KMOVW BX, K2

iprow:
	TESTQ R10, R10
	JEQ ipdone
	MOVQ src+8(FP), SI
	MOVQ (R9), AX
	LEAQ (SI)(AX*4), SI
	MOVQ DX, CX
	SHRQ $4, CX
	JEQ iptail

iploop:
	KMOVW (R8), K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $2, R8
	DECQ CX
	JNE iploop

iptail:
	MOVQ DX, AX
	ANDQ $15, AX
	JEQ ipnext
	KMOVW (R8), K1
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS Z0, K2, (DI)
	LEAQ (DI)(AX*4), DI
	ADDQ $2, R8

ipnext:
	ADDQ $8, R9
	DECQ R10
	JMP iprow

ipdone:
	VZEROUPPER
	RET

// func im2colGather16(dst, src *float32, n int, idx *int32, masks *uint16, rows int)
//
// The rows of im2col's matrix for one channel, any stride: for r < rows
// and q < n, dst[r·n + q] = src[idx[r·nv·16 + q]] where bit q mod 16 of
// masks[r·nv + q/16] is set, 0 elsewhere (nv = ⌈n/16⌉; idx holds nv·16
// entries per row). Each vector is one masked gather and one store, the
// last of each row under a mask of its n mod 16 lanes; masked-off lanes
// are not read.
TEXT ·im2colGather16(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), DX
	MOVQ idx+24(FP), R9
	MOVQ masks+32(FP), R8
	MOVQ rows+40(FP), R10
	MOVQ DX, AX
	ANDQ $15, AX
	MOVL $1, BX
	SHLXL AX, BX, BX
	DECL BX
	KMOVW BX, K2

igrow:
	TESTQ R10, R10
	JEQ igdone
	MOVQ DX, CX
	SHRQ $4, CX
	JEQ igtail

igloop:
	KMOVW (R8), K1
	VMOVDQU32 (R9), Z1
	VXORPS Z0, Z0, Z0
	VGATHERDPS (SI)(Z1*4), K1, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, DI
	ADDQ $64, R9
	ADDQ $2, R8
	DECQ CX
	JNE igloop

igtail:
	MOVQ DX, AX
	ANDQ $15, AX
	JEQ ignext
	KMOVW (R8), K1
	VMOVDQU32 (R9), Z1
	VXORPS Z0, Z0, Z0
	VGATHERDPS (SI)(Z1*4), K1, Z0
	VMOVUPS Z0, K2, (DI)
	LEAQ (DI)(AX*4), DI
	ADDQ $64, R9
	ADDQ $2, R8

ignext:
	DECQ R10
	JMP igrow

igdone:
	VZEROUPPER
	RET

// func copyRows16(dst, src *float32, rows, w, ld int)
//
// Copies rows rows of w values, src's consecutive and dst's ld apart:
// dst[r·ld + i] = src[r·w + i]. Whole vectors, then the row's last w mod
// 16 values under a mask (nothing else in dst is written).
TEXT ·copyRows16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R9
	MOVQ w+24(FP), DX
	MOVQ ld+32(FP), R10
	SHLQ $2, R10
	MOVQ DX, AX
	ANDQ $15, AX
	MOVL $1, BX
	SHLXL AX, BX, BX
	DECL BX
	KMOVW BX, K1

crrow:
	TESTQ R9, R9
	JEQ crdone
	MOVQ DI, R8
	MOVQ DX, CX
	SHRQ $4, CX
	JEQ crtail

crloop:
	VMOVUPS (SI), Z0
	VMOVUPS Z0, (R8)
	ADDQ $64, SI
	ADDQ $64, R8
	DECQ CX
	JNE crloop

crtail:
	TESTQ AX, AX
	JEQ crnext
	VMOVUPS.Z (SI), K1, Z0
	VMOVUPS Z0, K1, (R8)
	LEAQ (SI)(AX*4), SI

crnext:
	ADDQ R10, DI
	DECQ R9
	JMP crrow

crdone:
	VZEROUPPER
	RET

// func add16(dst, a, b *float32, n int)
TEXT ·add16(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JEQ adddone

addloop:
	VMOVUPS (SI), Z0
	VADDPS (DX), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	DECQ CX
	JNE addloop

adddone:
	VZEROUPPER
	RET

// func transpose16(dst, dst8 *float32, ldd int, src *float32, lds int)
//
// Row p < 8 of the result to dst + p·ldd, row p ≥ 8 to dst8 + (p−8)·ldd:
// result row p, value c = src[c·lds + p], for p, c < 16. Unpacks of
// pairs, of pairs of pairs, then two rounds of 128-bit lane shuffles.
TEXT ·transpose16(SB), NOSPLIT, $0-40
	MOVQ src+24(FP), SI
	MOVQ lds+32(FP), BX
	SHLQ $2, BX
	VMOVUPS (SI), Z0
	ADDQ BX, SI
	VMOVUPS (SI), Z1
	ADDQ BX, SI
	VMOVUPS (SI), Z2
	ADDQ BX, SI
	VMOVUPS (SI), Z3
	ADDQ BX, SI
	VMOVUPS (SI), Z4
	ADDQ BX, SI
	VMOVUPS (SI), Z5
	ADDQ BX, SI
	VMOVUPS (SI), Z6
	ADDQ BX, SI
	VMOVUPS (SI), Z7
	ADDQ BX, SI
	VMOVUPS (SI), Z8
	ADDQ BX, SI
	VMOVUPS (SI), Z9
	ADDQ BX, SI
	VMOVUPS (SI), Z10
	ADDQ BX, SI
	VMOVUPS (SI), Z11
	ADDQ BX, SI
	VMOVUPS (SI), Z12
	ADDQ BX, SI
	VMOVUPS (SI), Z13
	ADDQ BX, SI
	VMOVUPS (SI), Z14
	ADDQ BX, SI
	VMOVUPS (SI), Z15
	VUNPCKLPS Z1, Z0, Z16
	VUNPCKHPS Z1, Z0, Z17
	VUNPCKLPS Z3, Z2, Z18
	VUNPCKHPS Z3, Z2, Z19
	VUNPCKLPS Z5, Z4, Z20
	VUNPCKHPS Z5, Z4, Z21
	VUNPCKLPS Z7, Z6, Z22
	VUNPCKHPS Z7, Z6, Z23
	VUNPCKLPS Z9, Z8, Z24
	VUNPCKHPS Z9, Z8, Z25
	VUNPCKLPS Z11, Z10, Z26
	VUNPCKHPS Z11, Z10, Z27
	VUNPCKLPS Z13, Z12, Z28
	VUNPCKHPS Z13, Z12, Z29
	VUNPCKLPS Z15, Z14, Z30
	VUNPCKHPS Z15, Z14, Z31
	VUNPCKLPD Z18, Z16, Z0
	VUNPCKHPD Z18, Z16, Z1
	VUNPCKLPD Z19, Z17, Z2
	VUNPCKHPD Z19, Z17, Z3
	VUNPCKLPD Z22, Z20, Z4
	VUNPCKHPD Z22, Z20, Z5
	VUNPCKLPD Z23, Z21, Z6
	VUNPCKHPD Z23, Z21, Z7
	VUNPCKLPD Z26, Z24, Z8
	VUNPCKHPD Z26, Z24, Z9
	VUNPCKLPD Z27, Z25, Z10
	VUNPCKHPD Z27, Z25, Z11
	VUNPCKLPD Z30, Z28, Z12
	VUNPCKHPD Z30, Z28, Z13
	VUNPCKLPD Z31, Z29, Z14
	VUNPCKHPD Z31, Z29, Z15
	VSHUFF32X4 $0x88, Z4, Z0, Z16
	VSHUFF32X4 $0xdd, Z4, Z0, Z17
	VSHUFF32X4 $0x88, Z12, Z8, Z18
	VSHUFF32X4 $0xdd, Z12, Z8, Z19
	VSHUFF32X4 $0x88, Z5, Z1, Z20
	VSHUFF32X4 $0xdd, Z5, Z1, Z21
	VSHUFF32X4 $0x88, Z13, Z9, Z22
	VSHUFF32X4 $0xdd, Z13, Z9, Z23
	VSHUFF32X4 $0x88, Z6, Z2, Z24
	VSHUFF32X4 $0xdd, Z6, Z2, Z25
	VSHUFF32X4 $0x88, Z14, Z10, Z26
	VSHUFF32X4 $0xdd, Z14, Z10, Z27
	VSHUFF32X4 $0x88, Z7, Z3, Z28
	VSHUFF32X4 $0xdd, Z7, Z3, Z29
	VSHUFF32X4 $0x88, Z15, Z11, Z30
	VSHUFF32X4 $0xdd, Z15, Z11, Z31
	VSHUFF32X4 $0x88, Z18, Z16, Z0
	VSHUFF32X4 $0xdd, Z18, Z16, Z8
	VSHUFF32X4 $0x88, Z19, Z17, Z4
	VSHUFF32X4 $0xdd, Z19, Z17, Z12
	VSHUFF32X4 $0x88, Z22, Z20, Z1
	VSHUFF32X4 $0xdd, Z22, Z20, Z9
	VSHUFF32X4 $0x88, Z23, Z21, Z5
	VSHUFF32X4 $0xdd, Z23, Z21, Z13
	VSHUFF32X4 $0x88, Z26, Z24, Z2
	VSHUFF32X4 $0xdd, Z26, Z24, Z10
	VSHUFF32X4 $0x88, Z27, Z25, Z6
	VSHUFF32X4 $0xdd, Z27, Z25, Z14
	VSHUFF32X4 $0x88, Z30, Z28, Z3
	VSHUFF32X4 $0xdd, Z30, Z28, Z11
	VSHUFF32X4 $0x88, Z31, Z29, Z7
	VSHUFF32X4 $0xdd, Z31, Z29, Z15
	MOVQ ldd+16(FP), BX
	SHLQ $2, BX
	MOVQ dst+0(FP), DI
	VMOVUPS Z0, (DI)
	ADDQ BX, DI
	VMOVUPS Z1, (DI)
	ADDQ BX, DI
	VMOVUPS Z2, (DI)
	ADDQ BX, DI
	VMOVUPS Z3, (DI)
	ADDQ BX, DI
	VMOVUPS Z4, (DI)
	ADDQ BX, DI
	VMOVUPS Z5, (DI)
	ADDQ BX, DI
	VMOVUPS Z6, (DI)
	ADDQ BX, DI
	VMOVUPS Z7, (DI)
	MOVQ dst8+8(FP), DI
	VMOVUPS Z8, (DI)
	ADDQ BX, DI
	VMOVUPS Z9, (DI)
	ADDQ BX, DI
	VMOVUPS Z10, (DI)
	ADDQ BX, DI
	VMOVUPS Z11, (DI)
	ADDQ BX, DI
	VMOVUPS Z12, (DI)
	ADDQ BX, DI
	VMOVUPS Z13, (DI)
	ADDQ BX, DI
	VMOVUPS Z14, (DI)
	ADDQ BX, DI
	VMOVUPS Z15, (DI)
	VZEROUPPER
	RET
