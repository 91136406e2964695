package nn

import (
	"math/rand/v2"
	"testing"
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
