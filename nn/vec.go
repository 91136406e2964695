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
