package kernel

import "testing"

// BenchmarkIm2col lays out one image for ResNet-32 w1's 3×3 convolutions
// with padding 1: the three stride-1 shapes (<channels>x<size>) and the
// stride-2 one that halves 32×32 (s2). Names end in /vec, or /go with the
// AVX-512 loops off (Options.Loops), where they run.
func BenchmarkIm2col(b *testing.B) {
	for _, g := range []struct {
		name         string
		c, h, stride int
	}{{"16x32", 16, 32, 1}, {"32x16", 32, 16, 1}, {"64x8", 64, 8, 1}, {"16x32s2", 16, 32, 2}} {
		x := make([]float32, g.c*g.h*g.h)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		for _, avx := range []bool{true, false} {
			name, loops := "go", LoopsGo
			if avx {
				if !hasAVX512 {
					continue
				}
				name, loops = "vec", LoopsAuto
			}
			k, err := NewConv([]int{1, g.c, g.h, g.h}, []int{g.c, g.c, 3, 3}, ConvConfig{Stride: g.stride, Pad: 1}, Options{Loops: loops})
			if err != nil {
				b.Fatal(err)
			}
			col := make([]float32, k.colLen())
			b.Run(g.name+"/"+name, func(b *testing.B) {
				for b.Loop() {
					k.im2col(x, col)
				}
				b.ReportMetric(float64(len(col)*4*b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

// BenchmarkConvPaths times one convolution layer at batch 128, forward
// (fwd), input gradient (dx) and filter gradient (dw), with stride-1
// convolutions forced through im2col and through the implicit GEMM: the
// measurements behind Conv.implicit and implicitForward. Names are
// <layer>/<pass>/<path>; layers are ResNet-32 w1's three 3×3 shapes and
// MNIST's second convolution.
func BenchmarkConvPaths(b *testing.B) {
	for _, g := range []struct {
		name          string
		c, h, o, size int
	}{{"16x32x32", 16, 32, 16, 3}, {"32x16x16", 32, 16, 32, 3}, {"64x8x8", 64, 8, 64, 3}, {"mnist-conv2", 32, 14, 64, 5}} {
		for _, p := range []struct {
			name string
			path ConvPath
		}{{"im2col", ConvIm2col}, {"implicit", ConvImplicit}, {"implicit-dots", ConvImplicitDots}, {"implicit-taps", ConvImplicitTaps}} {
			k, err := NewConv([]int{128, g.c, g.h, g.h}, []int{g.o, g.c, g.size, g.size}, ConvConfig{Stride: 1, Pad: g.size / 2}, Options{ConvPath: p.path})
			if err != nil {
				b.Fatal(err)
			}
			x := make([]float32, 128*g.c*g.h*g.h)
			w := make([]float32, g.o*g.c*g.size*g.size)
			for i := range x {
				x[i] = float32(i%7) - 3
			}
			for i := range w {
				w[i] = float32(i%5) - 2
			}
			in := [][]float32{x, w}
			out, dx, dw := make([]float32, volume(k.OutShape())), make([]float32, len(x)), make([]float32, len(w))
			run := func(pass string, f func() error) {
				b.Run(g.name+"/"+pass+"/"+p.name, func(b *testing.B) {
					for b.Loop() {
						if err := f(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			run("fwd", func() error { return k.Forward(out, in) })
			run("dx", func() error { return k.Backward(0, dx, in, nil, out) })
			run("dw", func() error { return k.Backward(1, dw, in, nil, out) })
		}
	}
}
