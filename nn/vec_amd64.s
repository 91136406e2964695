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
