package kernel

import "math"

// The elementwise loops under batch norm and leaky ReLU. Each has a Go
// version here, which every platform can run, and AVX-512 and AVX2 ones on
// amd64 (vec_amd64.go) that take over for the multiple-of-16 (AVX2: 8) part
// of a slice.
// The Go loops round every product to float32 explicitly (float32(a*b)):
// the compiler may otherwise fuse a*b + c into one multiply-add (it does
// with GOAMD64=v3), and the versions would no longer agree bit for bit.

// vec runs the elementwise loops: their AVX-512 versions where avx512 is
// set, their AVX2 versions where avx2 is (the CPU has them and the kernel's
// Options allow them; at most one is set), their Go versions otherwise.
// Each kernel holds one, chosen when it is built.
type vec struct{ avx512, avx2 bool }

// sumsGo returns Σa and Σa·b in float64 with four accumulators each.
func sumsGo(a, b []float32) (sa, sab float64) {
	b = b[:len(a)]
	var a0, a1, a2, a3, p0, p1, p2, p3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		x0, x1, x2, x3 := float64(a[i]), float64(a[i+1]), float64(a[i+2]), float64(a[i+3])
		a0, a1, a2, a3 = a0+x0, a1+x1, a2+x2, a3+x3
		p0, p1 = p0+x0*float64(b[i]), p1+x1*float64(b[i+1])
		p2, p3 = p2+x2*float64(b[i+2]), p3+x3*float64(b[i+3])
	}
	for ; i < len(a); i++ {
		a0 += float64(a[i])
		p0 += float64(a[i]) * float64(b[i])
	}
	return (a0 + a1) + (a2 + a3), (p0 + p1) + (p2 + p3)
}

// scaleShiftGo sets dst = src·s + t.
func scaleShiftGo(dst, src []float32, s, t float32) {
	dst = dst[:len(src)]
	for i, v := range src {
		dst[i] = float32(v*s) + t
	}
}

// bnGradGo sets d = a·g + b·(x − mean) + off, batch norm's input gradient.
func bnGradGo(d, g, x []float32, a, b, mean, off float32) {
	d, g = d[:len(x)], g[:len(x)]
	for j, v := range x {
		d[j] = float32(a*g[j]) + float32(b*(v-mean)) + off
	}
}

// leakyGo sets dst = g·f(x) with f(x) = 1 where x > 0 and slope elsewhere
// (NaN included): leaky ReLU's output for g = x, its gradient for g = dy.
func leakyGo(dst, g, x []float32, slope float32) {
	bits := math.Float32bits(slope)
	dst, g = dst[:len(x)], g[:len(x)]
	for i, v := range x {
		dst[i] = g[i] * reluFactor(v, bits)
	}
}

// The loops of batch norm fused with leaky ReLU, slope ≥ 0, where the
// normalised value is z = x·s + t (s, t the channel's scale and shift). The
// backward loops recompute z from x rather than read the output y: one
// stream less through memory, and the same derivative (with slope ≥ 0, y > 0
// exactly where z > 0, NaN included). z is rounded after the product and
// again after the sum, never fused, so the forward and backward passes and
// the AVX-512 loops all compute the same z.

// scaleShiftLeakyGo sets dst = o·f(o) with o = src·s + t.
func scaleShiftLeakyGo(dst, src []float32, s, t, slope float32) {
	bits := math.Float32bits(slope)
	dst = dst[:len(src)]
	for i, v := range src {
		o := float32(v*s) + t
		dst[i] = o * reluFactor(o, bits)
	}
}

// sumsMaskedGo returns Σdy' and Σdy'·x in float64, dy' = dy·f(x·s + t).
func sumsMaskedGo(dy, x []float32, s, t, slope float32) (sdy, sdyx float64) {
	bits := math.Float32bits(slope)
	dy = dy[:len(x)]
	var s0, s1, p0, p1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		g0 := float64(dy[i] * reluFactor(float32(x[i]*s)+t, bits))
		g1 := float64(dy[i+1] * reluFactor(float32(x[i+1]*s)+t, bits))
		s0, s1 = s0+g0, s1+g1
		p0, p1 = p0+g0*float64(x[i]), p1+g1*float64(x[i+1])
	}
	for ; i < len(x); i++ {
		g := float64(dy[i] * reluFactor(float32(x[i]*s)+t, bits))
		s0 += g
		p0 += g * float64(x[i])
	}
	return s0 + s1, p0 + p1
}

// bnGradMaskedGo sets d = a·dy' + b·(x − mean) + off, dy' = dy·f(x·s + t).
func bnGradMaskedGo(d, dy, x []float32, a, b, mean, off, s, t, slope float32) {
	bits := math.Float32bits(slope)
	d, dy = d[:len(x)], dy[:len(x)]
	for j, v := range x {
		g := dy[j] * reluFactor(float32(v*s)+t, bits)
		d[j] = float32(a*g) + float32(b*(v-mean)) + off
	}
}

// scaleMaskedGo sets d = s·dy'.
func scaleMaskedGo(d, dy, y []float32, s, slope float32) {
	bits := math.Float32bits(slope)
	d, y = d[:len(dy)], y[:len(dy)]
	for j, v := range dy {
		d[j] = s * (v * reluFactor(y[j], bits))
	}
}

// maxPool2RowGo fills one output row o of a 2×2, stride-2 max pool whose
// two input rows start at x[r0] and x[r0+w]: each output is the first
// largest of its four inputs (a later one replaces the best only if it is
// greater, so NaN first stays), am its flat index in x.
func maxPool2RowGo(o []float32, am []int32, x []float32, r0, w int) {
	r1 := r0 + w
	am = am[:len(o)]
	for ox := range o {
		i := r0 + 2*ox
		best, bi := x[i], i
		if v := x[i+1]; v > best {
			best, bi = v, i+1
		}
		j := r1 + 2*ox
		if v := x[j]; v > best {
			best, bi = v, j
		}
		if v := x[j+1]; v > best {
			best, bi = v, j+1
		}
		o[ox], am[ox] = best, int32(bi)
	}
}

// copyRowsGo copies rows rows of w values from src, where they are
// consecutive, into dst, where they start ld apart.
func copyRowsGo(dst, src []float32, rows, w, ld int) {
	for r := range rows {
		copy(dst[r*ld:][:w], src[r*w:][:w])
	}
}

// addGo sets dst = a + b.
func addGo(dst, a, b []float32) {
	dst, b = dst[:len(a)], b[:len(a)]
	for i, v := range a {
		dst[i] = v + b[i]
	}
}

// transpose16Go is transpose16's definition, on slices from the block's
// first values.
func transpose16Go(dst, dst8 []float32, ldd int, src []float32, lds int) {
	for p := range 16 {
		row := dst[p*ldd:]
		if p >= 8 {
			row = dst8[(p-8)*ldd:]
		}
		for c := range 16 {
			row[c] = src[c*lds+p]
		}
	}
}
