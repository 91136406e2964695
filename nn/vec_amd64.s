#include "textflag.h"

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
	VEXTRACTF64X4 $1, Z0, Y1
	VADDPD Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPD X1, X0, X0
	VHADDPD X0, X0, X0
	MOVSD X0, sa+24(FP)
	VEXTRACTF64X4 $1, Z2, Y3
	VADDPD Y3, Y2, Y2
	VEXTRACTF128 $1, Y2, X3
	VADDPD X3, X2, X2
	VHADDPD X2, X2, X2
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

// The loops of batch norm fused with leaky ReLU (slope ≥ 0): the
// activation's derivative is read off the fused output y, whose sign is
// that of the normalised value. dy' = dy where y > 0, dy·slope elsewhere.

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

// func sumsMasked16(dy, y, x *float32, n int, slope float32) (s, sx float64)
TEXT ·sumsMasked16(SB), NOSPLIT, $0-56
	MOVQ dy+0(FP), SI
	MOVQ y+8(FP), DI
	MOVQ x+16(FP), DX
	MOVQ n+24(FP), CX
	VBROADCASTSS slope+32(FP), Z12
	VXORPS Z13, Z13, Z13
	VXORPD Z8, Z8, Z8
	VXORPD Z9, Z9, Z9
	VXORPD Z10, Z10, Z10
	VXORPD Z11, Z11, Z11
	SHRQ $4, CX
	JEQ smdone

smloop:
	VMOVUPS (SI), Z0
	VCMPPS $0x11, (DI), Z13, K1
	VMULPS Z12, Z0, Z2
	VMOVAPS Z0, K1, Z2
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
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNE smloop

smdone:
	VADDPD Z9, Z8, Z8
	VADDPD Z11, Z10, Z10
	VEXTRACTF64X4 $1, Z8, Y9
	VADDPD Y9, Y8, Y8
	VEXTRACTF128 $1, Y8, X9
	VADDPD X9, X8, X8
	VHADDPD X8, X8, X8
	MOVSD X8, s+40(FP)
	VEXTRACTF64X4 $1, Z10, Y11
	VADDPD Y11, Y10, Y10
	VEXTRACTF128 $1, Y10, X11
	VADDPD X11, X10, X10
	VHADDPD X10, X10, X10
	MOVSD X10, sx+48(FP)
	VZEROUPPER
	RET

// func bnGradMasked16(d, dy, y, x *float32, n int, a, b, mean, off, slope float32)
TEXT ·bnGradMasked16(SB), NOSPLIT, $0-60
	MOVQ d+0(FP), R8
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DI
	MOVQ x+24(FP), DX
	MOVQ n+32(FP), CX
	VBROADCASTSS a+40(FP), Z4
	VBROADCASTSS b+44(FP), Z5
	VBROADCASTSS mean+48(FP), Z6
	VBROADCASTSS off+52(FP), Z7
	VBROADCASTSS slope+56(FP), Z12
	VXORPS Z13, Z13, Z13
	SHRQ $4, CX
	JEQ bgmdone

bgmloop:
	VMOVUPS (SI), Z0
	VCMPPS $0x11, (DI), Z13, K1
	VMULPS Z12, Z0, Z2
	VMOVAPS Z0, K1, Z2
	VMULPS Z4, Z2, Z0
	VMOVUPS (DX), Z1
	VSUBPS Z6, Z1, Z1
	VMULPS Z5, Z1, Z1
	VADDPS Z1, Z0, Z0
	VADDPS Z7, Z0, Z0
	VMOVUPS Z0, (R8)
	ADDQ $64, SI
	ADDQ $64, DI
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
	VMOVUPS (SI), Z0
	VCMPPS $0x11, (DI), Z13, K1
	VMULPS Z12, Z0, Z2
	VMOVAPS Z0, K1, Z2
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
