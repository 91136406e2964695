//go:build !noasm

package kernel

import "golang.org/x/sys/cpu"

// hasAVX512 is whether the loops of vec_amd64.s run here: AVX512F, and
// AVX512DQ for zeroing zmm registers with VXORPS (every AVX-512 CPU since
// Skylake-SP and Zen 4 has both; Knights Landing lacks DQ). Set once, at
// start-up (GODEBUG's cpu.avx512f=off clears it); Options.Loops chooses
// other loops for one kernel.
var hasAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512DQ

// hasAVX2 is whether the loops of vec_avx2_amd64.s run here: AVX2 (and
// FMA, for their float64 sums). They take over where AVX-512 is absent.
var hasAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// body is the part of a slice of n values that v's assembly loops take, a
// multiple of their vector (16 values with AVX-512, 8 with AVX2); 0 for
// the Go loops, which then take the whole slice.
func (v vec) body(n int) int {
	switch {
	case v.avx512:
		return n &^ 15
	case v.avx2:
		return n &^ 7
	}
	return 0
}

//go:noescape
func sums16(a, b *float32, n int) (sa, sab float64)

//go:noescape
func scaleShift16(dst, src *float32, n int, s, t float32)

//go:noescape
func bnGrad16(d, dy, x *float32, n int, a, b, mean, off float32)

//go:noescape
func leaky16(dst, dy, x *float32, n int, slope float32)

// sums returns Σa and Σa·b (len(b) ≥ len(a)) in float64.
func (v vec) sums(a, b []float32) (sa, sab float64) {
	n := v.body(len(a))
	if n == 0 {
		return sumsGo(a, b)
	}
	b = b[:len(a)]
	if v.avx512 {
		sa, sab = sums16(&a[0], &b[0], n)
	} else {
		sa, sab = sums8(&a[0], &b[0], n)
	}
	ta, tab := sumsGo(a[n:], b[n:])
	return sa + ta, sab + tab
}

// scaleShift sets dst = src·s + t.
func (v vec) scaleShift(dst, src []float32, s, t float32) {
	n := v.body(len(src))
	if n == 0 {
		scaleShiftGo(dst, src, s, t)
		return
	}
	dst = dst[:len(src)]
	if v.avx512 {
		scaleShift16(&dst[0], &src[0], n, s, t)
	} else {
		scaleShift8(&dst[0], &src[0], n, s, t)
	}
	scaleShiftGo(dst[n:], src[n:], s, t)
}

// bnGrad sets d = a·g + b·(x − mean) + off.
func (v vec) bnGrad(d, g, x []float32, a, b, mean, off float32) {
	n := v.body(len(x))
	if n == 0 {
		bnGradGo(d, g, x, a, b, mean, off)
		return
	}
	d, g = d[:len(x)], g[:len(x)]
	if v.avx512 {
		bnGrad16(&d[0], &g[0], &x[0], n, a, b, mean, off)
	} else {
		bnGrad8(&d[0], &g[0], &x[0], n, a, b, mean, off)
	}
	bnGradGo(d[n:], g[n:], x[n:], a, b, mean, off)
}

// leaky sets dst = g·f(x), f as in leakyGo.
func (v vec) leaky(dst, g, x []float32, slope float32) {
	n := v.body(len(x))
	if n == 0 {
		leakyGo(dst, g, x, slope)
		return
	}
	dst, g = dst[:len(x)], g[:len(x)]
	if v.avx512 {
		leaky16(&dst[0], &g[0], &x[0], n, slope)
	} else {
		leaky8(&dst[0], &g[0], &x[0], n, slope)
	}
	leakyGo(dst[n:], g[n:], x[n:], slope)
}

//go:noescape
func scaleShiftLeaky16(dst, src *float32, n int, s, t, slope float32)

//go:noescape
func sumsMasked16(dy, x *float32, n int, s, t, slope float32) (sdy, sdyx float64)

//go:noescape
func bnGradMasked16(d, dy, x *float32, n int, a, b, mean, off, s, t, slope float32)

//go:noescape
func scaleMasked16(d, dy, y *float32, n int, s, slope float32)

// scaleShiftLeaky sets dst = leaky(src·s + t).
func (v vec) scaleShiftLeaky(dst, src []float32, s, t, slope float32) {
	n := v.body(len(src))
	if n == 0 {
		scaleShiftLeakyGo(dst, src, s, t, slope)
		return
	}
	dst = dst[:len(src)]
	if v.avx512 {
		scaleShiftLeaky16(&dst[0], &src[0], n, s, t, slope)
	} else {
		scaleShiftLeaky8(&dst[0], &src[0], n, s, t, slope)
	}
	scaleShiftLeakyGo(dst[n:], src[n:], s, t, slope)
}

// sumsMasked returns Σdy' and Σdy'·x, dy' as in sumsMaskedGo.
func (v vec) sumsMasked(dy, x []float32, s, t, slope float32) (sdy, sdyx float64) {
	n := v.body(len(x))
	if n == 0 {
		return sumsMaskedGo(dy, x, s, t, slope)
	}
	dy = dy[:len(x)]
	if v.avx512 {
		sdy, sdyx = sumsMasked16(&dy[0], &x[0], n, s, t, slope)
	} else {
		sdy, sdyx = sumsMasked8(&dy[0], &x[0], n, s, t, slope)
	}
	ts, tsx := sumsMaskedGo(dy[n:], x[n:], s, t, slope)
	return sdy + ts, sdyx + tsx
}

// bnGradMasked is bnGrad of dy', dy' as in bnGradMaskedGo.
func (v vec) bnGradMasked(d, dy, x []float32, a, b, mean, off, s, t, slope float32) {
	n := v.body(len(x))
	if n == 0 {
		bnGradMaskedGo(d, dy, x, a, b, mean, off, s, t, slope)
		return
	}
	d, dy = d[:len(x)], dy[:len(x)]
	if v.avx512 {
		bnGradMasked16(&d[0], &dy[0], &x[0], n, a, b, mean, off, s, t, slope)
	} else {
		bnGradMasked8(&d[0], &dy[0], &x[0], n, a, b, mean, off, s, t, slope)
	}
	bnGradMaskedGo(d[n:], dy[n:], x[n:], a, b, mean, off, s, t, slope)
}

// scaleMasked sets d = s·dy'.
func (v vec) scaleMasked(d, dy, y []float32, s, slope float32) {
	n := v.body(len(dy))
	if n == 0 {
		scaleMaskedGo(d, dy, y, s, slope)
		return
	}
	d, y = d[:len(dy)], y[:len(dy)]
	if v.avx512 {
		scaleMasked16(&d[0], &dy[0], &y[0], n, s, slope)
	} else {
		scaleMasked8(&d[0], &dy[0], &y[0], n, s, slope)
	}
	scaleMaskedGo(d[n:], dy[n:], y[n:], s, slope)
}

//go:noescape
func maxPool2Row(o *float32, am *int32, r0 *float32, w, n int, i0 int32)

// maxPool2Rows fills one output row of a 2×2, stride-2 max pool, as
// maxPool2RowGo does. With AVX2 the multiple-of-8 part runs in assembly,
// the rest in Go.
func (v vec) maxPool2Rows(o []float32, am []int32, x []float32, r0, w int) {
	if v.avx2 {
		n := len(o) &^ 7
		if n > 0 {
			_ = x[r0+w+2*n-1] // the last value read, in range
			am = am[:len(o)]
			maxPool2Row8(&o[0], &am[0], &x[r0], w, n, int32(r0))
		}
		maxPool2RowGo(o[n:], am[n:], x, r0+2*n, w)
		return
	}
	if !v.avx512 || len(o) == 0 {
		maxPool2RowGo(o, am, x, r0, w)
		return
	}
	_ = x[r0+w+2*len(o)-1] // the last value read, in range
	am = am[:len(o)]
	maxPool2Row(&o[0], &am[0], &x[r0], w, len(o), int32(r0))
}

//go:noescape
func im2colPlane16(dst, src *float32, n, nv int, offs *int, masks *uint16, rows int)

// im2colChannel fills the KH·KW rows of im2col's matrix for one channel
// plane src with the layout p, and reports whether it did (AVX-512 or
// AVX2): by masked loads where p has offsets only (width-keeping
// convolutions), by gathers where it has indices.
func (v vec) im2colChannel(dst, src []float32, p *im2colMasks) bool {
	if !v.avx512 && !v.avx2 {
		return false
	}
	rows := len(p.masks) / p.nv
	_ = dst[rows*p.n-1]
	_ = src[p.planeLen-1]
	switch {
	case v.avx2 && p.idx == nil:
		im2colPlane8(&dst[0], &src[0], p.n, p.nv, &p.offs[0], &p.masks[0], rows)
	case v.avx2:
		im2colGather8(&dst[0], &src[0], p.n, p.nv, &p.idx[0], &p.masks[0], rows)
	case p.idx == nil:
		im2colPlane16(&dst[0], &src[0], p.n, p.nv, &p.offs[0], &p.masks[0], rows)
	default:
		im2colGather16(&dst[0], &src[0], p.n, &p.idx[0], &p.masks[0], rows)
	}
	return true
}

//go:noescape
func im2colGather16(dst, src *float32, n int, idx *int32, masks *uint16, rows int)

//go:noescape
func copyRows16(dst, src *float32, rows, w, ld int)

// copyRows copies rows rows of w values from src, where they are
// consecutive, into dst, where they start ld apart: dst[r·ld + i] =
// src[r·w + i]. With AVX-512 or AVX2 it runs as vectors and one masked
// vector per row: a copy call per row of 32 values cost more than the copy.
func (v vec) copyRows(dst, src []float32, rows, w, ld int) {
	if rows <= 0 || w <= 0 {
		return
	}
	_ = src[rows*w-1]
	_ = dst[(rows-1)*ld+w-1]
	switch {
	case v.avx512:
		copyRows16(&dst[0], &src[0], rows, w, ld)
	case v.avx2:
		copyRows8(&dst[0], &src[0], rows, w, ld)
	default:
		copyRowsGo(dst, src, rows, w, ld)
	}
}

//go:noescape
func add16(dst, a, b *float32, n int)

// add sets dst = a + b (len(dst), len(b) ≥ len(a)); dst may be a or b.
func (v vec) add(dst, a, b []float32) {
	n := v.body(len(a))
	if n == 0 {
		addGo(dst, a, b)
		return
	}
	dst, b = dst[:len(a)], b[:len(a)]
	if v.avx512 {
		add16(&dst[0], &a[0], &b[0], n)
	} else {
		add8(&dst[0], &a[0], &b[0], n)
	}
	addGo(dst[n:], a[n:], b[n:])
}

// transpose16 writes the transpose of the 16×16 block at src (rows lds
// apart) with rows 0-7 from dst and rows 8-15 from dst8, ldd apart: row
// p, value c = src[c·lds + p].
//
//go:noescape
func transpose16(dst, dst8 *float32, ldd int, src *float32, lds int)

// The AVX2 loops (vec_avx2_amd64.s): the loops above for n a multiple of 8.

//go:noescape
func sums8(a, b *float32, n int) (sa, sab float64)

//go:noescape
func scaleShift8(dst, src *float32, n int, s, t float32)

//go:noescape
func bnGrad8(d, dy, x *float32, n int, a, b, mean, off float32)

//go:noescape
func leaky8(dst, dy, x *float32, n int, slope float32)

//go:noescape
func scaleShiftLeaky8(dst, src *float32, n int, s, t, slope float32)

//go:noescape
func sumsMasked8(dy, x *float32, n int, s, t, slope float32) (sdy, sdyx float64)

//go:noescape
func bnGradMasked8(d, dy, x *float32, n int, a, b, mean, off, s, t, slope float32)

//go:noescape
func scaleMasked8(d, dy, y *float32, n int, s, slope float32)

//go:noescape
func add8(dst, a, b *float32, n int)

//go:noescape
func copyRows8(dst, src *float32, rows, w, ld int)

// transpose8 writes the transpose of the 8×8 block at src (rows lds apart)
// to dst, rows ldd apart: row p, value c = src[c·lds + p].
//
//go:noescape
func transpose8(dst *float32, ldd int, src *float32, lds int)

//go:noescape
func maxPool2Row8(o *float32, am *int32, r0 *float32, w, n int, i0 int32)

//go:noescape
func im2colPlane8(dst, src *float32, n, nv int, offs *int, masks *uint16, rows int)

//go:noescape
func im2colGather8(dst, src *float32, n, nv int, idx *int32, masks *uint16, rows int)
