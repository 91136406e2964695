package nn

import "math"

// The elementwise loops under batch norm and leaky ReLU. Each has a Go
// version here, which every platform can run, and an AVX-512 one on amd64
// (vec_amd64.go) that takes over for the multiple-of-16 part of a slice.

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
		dst[i] = v*s + t
	}
}

// bnGradGo sets d = a·g + b·(x − mean) + off, batch norm's input gradient.
func bnGradGo(d, g, x []float32, a, b, mean, off float32) {
	d, g = d[:len(x)], g[:len(x)]
	for j, v := range x {
		d[j] = a*g[j] + b*(v-mean) + off
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

// The loops of batch norm fused with leaky ReLU, slope ≥ 0. The
// activation's derivative is read off the fused output y: with slope ≥ 0,
// y > 0 exactly where the normalised value is, so dy' = dy·f(y) is the
// gradient the unfused batch norm would receive, rounded the same way.

// scaleShiftLeakyGo sets dst = o·f(o) with o = src·s + t.
func scaleShiftLeakyGo(dst, src []float32, s, t, slope float32) {
	bits := math.Float32bits(slope)
	dst = dst[:len(src)]
	for i, v := range src {
		o := v*s + t
		dst[i] = o * reluFactor(o, bits)
	}
}

// sumsMaskedGo returns Σdy' and Σdy'·x in float64, dy' = dy·f(y).
func sumsMaskedGo(dy, y, x []float32, slope float32) (s, sx float64) {
	bits := math.Float32bits(slope)
	dy, y = dy[:len(x)], y[:len(x)]
	var s0, s1, p0, p1 float64
	i := 0
	for ; i+2 <= len(x); i += 2 {
		g0 := float64(dy[i] * reluFactor(y[i], bits))
		g1 := float64(dy[i+1] * reluFactor(y[i+1], bits))
		s0, s1 = s0+g0, s1+g1
		p0, p1 = p0+g0*float64(x[i]), p1+g1*float64(x[i+1])
	}
	for ; i < len(x); i++ {
		g := float64(dy[i] * reluFactor(y[i], bits))
		s0 += g
		p0 += g * float64(x[i])
	}
	return s0 + s1, p0 + p1
}

// bnGradMaskedGo sets d = a·dy' + b·(x − mean) + off.
func bnGradMaskedGo(d, dy, y, x []float32, a, b, mean, off, slope float32) {
	bits := math.Float32bits(slope)
	d, dy, y = d[:len(x)], dy[:len(x)], y[:len(x)]
	for j, v := range x {
		g := dy[j] * reluFactor(y[j], bits)
		d[j] = a*g + b*(v-mean) + off
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
