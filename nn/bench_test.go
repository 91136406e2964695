package nn

import (
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// benchNet builds a network and a random batch of 128 (the batch size of
// the PyTorch comparison in BENCHMARKS.md) with fixed seeds.
func benchNet(b *testing.B, name string) (*Network, []float32, []int) {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 1))
	var net *Network
	var err error
	switch name {
	case "mnist-cnn":
		net, err = MNISTCNN(r)
	case "resnet32-w1":
		net, err = WideResNet32(1, r)
	}
	if err != nil {
		b.Fatal(err)
	}
	const batch = 128
	x := randSlice(r, batch*net.Spec().ExampleSize(), 0, 1)
	y := make([]int, batch)
	for i := range y {
		y[i] = r.IntN(10)
	}
	return net, x, y
}

var benchSink float32

// BenchmarkTrainStep is one forward, backward and SGD-momentum step at batch
// 128, as bench/torch_ref.py's train/* cases.
func BenchmarkTrainStep(b *testing.B) {
	for _, name := range []string{"mnist-cnn", "resnet32-w1"} {
		b.Run(name, func(b *testing.B) {
			net, x, y := benchNet(b, name)
			opt := &SGD{Momentum: 0.9}
			// The first call builds and allocates the graph; PyTorch's
			// reference also warms up before it times.
			if _, err := net.Gradients(x, y, CrossEntropy{}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				out, err := net.Gradients(x, y, CrossEntropy{})
				if err != nil {
					b.Fatal(err)
				}
				if err := opt.Step(out.Params, out.Grads, 0.01); err != nil {
					b.Fatal(err)
				}
				benchSink = out.Losses[0]
			}
			b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// BenchmarkInputGrad is the gradient of the cross-entropy with respect to
// the input at batch 128 in evaluation mode (one FGSM step), as
// bench/torch_ref.py's igrad/* cases.
func BenchmarkInputGrad(b *testing.B) {
	for _, name := range []string{"mnist-cnn", "resnet32-w1"} {
		b.Run(name, func(b *testing.B) {
			net, x, y := benchNet(b, name)
			if _, _, err := net.InputGrad(x, y, CrossEntropy{}); err != nil { // builds the graph
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				g, _, err := net.InputGrad(x, y, CrossEntropy{})
				if err != nil {
					b.Fatal(err)
				}
				benchSink = g[0]
			}
			b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "img/s")
		})
	}
}

// BenchmarkInfer is a forward pass in evaluation mode at batch 128.
func BenchmarkInfer(b *testing.B) {
	net, x, _ := benchNet(b, "mnist-cnn")
	if _, err := net.Logits(x); err != nil { // builds the graph
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		z, err := net.Logits(x)
		if err != nil {
			b.Fatal(err)
		}
		benchSink = z[0]
	}
	b.ReportMetric(float64(128*b.N)/b.Elapsed().Seconds(), "img/s")
}

// BenchmarkIm2col lays out one image for ResNet-32 w1's 3×3 convolutions
// with padding 1: the three stride-1 shapes (<channels>x<size>) and the
// stride-2 one that halves 32×32 (s2). Names end in /vec, or /go with the
// AVX-512 loops off (vecAVX512 false), where they run.
func BenchmarkIm2col(b *testing.B) {
	defer func(v bool) { vecAVX512 = v }(vecAVX512)
	for _, g := range []struct {
		name         string
		c, h, stride int
	}{{"16x32", 16, 32, 1}, {"32x16", 32, 16, 1}, {"64x8", 64, 8, 1}, {"16x32s2", 16, 32, 2}} {
		k, err := newConvKernel(tensor.Shape{1, g.c, g.h, g.h}, tensor.Shape{g.c, g.c, 3, 3}, g.stride, 1, false)
		if err != nil {
			b.Fatal(err)
		}
		x := make([]float32, g.c*g.h*g.h)
		for i := range x {
			x[i] = float32(i%7) - 3
		}
		col := make([]float32, k.colLen())
		for _, vec := range []bool{true, false} {
			name := "go"
			if vec {
				if !vecAVX512 {
					continue
				}
				name = "vec"
			}
			b.Run(g.name+"/"+name, func(b *testing.B) {
				defer func(v bool) { vecAVX512 = v }(vecAVX512)
				vecAVX512 = vec
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
// measurements behind convKernel.implicit and implicitForward. Names are
// <layer>/<pass>/<path>; layers are ResNet-32 w1's three 3×3 shapes and
// MNIST's second convolution.
func BenchmarkConvPaths(b *testing.B) {
	defer func(p convPath) { stride1Path = p }(stride1Path)
	for _, g := range []struct {
		name          string
		c, h, o, size int
	}{{"16x32x32", 16, 32, 16, 3}, {"32x16x16", 32, 16, 32, 3}, {"64x8x8", 64, 8, 64, 3}, {"mnist-conv2", 32, 14, 64, 5}} {
		for _, p := range []struct {
			name string
			path convPath
		}{{"im2col", convIm2col}, {"implicit", convImplicit}, {"implicit-dots", convImplicitDots}, {"implicit-taps", convImplicitTaps}} {
			stride1Path = p.path
			k, err := newConvKernel(tensor.Shape{128, g.c, g.h, g.h}, tensor.Shape{g.o, g.c, g.size, g.size}, 1, g.size/2, false)
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
			out, dx, dw := make([]float32, k.outShape().TotalSize()), make([]float32, len(x)), make([]float32, len(w))
			run := func(pass string, f func() error) {
				b.Run(g.name+"/"+pass+"/"+p.name, func(b *testing.B) {
					for b.Loop() {
						if err := f(); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
			run("fwd", func() error { return k.forward(out, in) })
			run("dx", func() error { return k.backward(0, dx, in, nil, out) })
			run("dw", func() error { return k.backward(1, dw, in, nil, out) })
		}
	}
}
