package lipschitz_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/lipschitz"
	"github.com/robustq/robustq/nn"
)

// The largest singular value of a dense weight, exactly.
func ExampleSpectral() {
	// W = [[3, 0], [4, 5]]: WᵀW has eigenvalues 45 and 5, so ‖W‖₂ = 3√5.
	w := &nn.Param{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight, Shape: []int{2, 2}, Data: []float32{3, 0, 4, 5}}
	s, err := lipschitz.Spectral(w)
	if err != nil {
		panic(err)
	}
	inf, _ := lipschitz.InfNorm(w)
	fmt.Printf("‖W‖₂ = %.6f (3√5 = %.6f)\n", s, 3*math.Sqrt(5))
	fmt.Printf("‖W‖∞ = %g\n", inf)
	// Output:
	// ‖W‖₂ = 6.708204 (3√5 = 6.708204)
	// ‖W‖∞ = 9
}

// The norm of a convolution depends on how it is applied: the kernel [1 1]
// on a row of 8 pixels without padding has operator norm 2cos(π/16), while
// the kernel reshaped to a 1×2 matrix has norm √2.
func ExampleConvSpectral() {
	w := &nn.Param{
		Name: "conv.weight", Layer: "conv", Kind: nn.ConvWeight,
		Shape: []int{1, 1, 1, 2}, Data: []float32{1, 1},
		Conv: &nn.ConvGeometry{InHeight: 1, InWidth: 8, Stride: 1, Padding: 0},
	}
	est, err := lipschitz.ConvSpectral(context.Background(), w, lipschitz.PowerIteration{Tol: 1e-10})
	if err != nil {
		panic(err)
	}
	reshaped, _ := lipschitz.ReshapedSpectral(w)
	fmt.Printf("operator: %.6f (2cos(π/16) = %.6f), converged %v\n", est.Value, 2*math.Cos(math.Pi/16), est.Converged)
	fmt.Printf("reshaped: %.6f (√2)\n", reshaped)
	// Output:
	// operator: 1.961571 (2cos(π/16) = 1.961571), converged true
	// reshaped: 1.414214 (√2)
}

// Per-layer norms of the change between two versions of a small network.
func ExampleCompareParams() {
	geom := nn.ConvGeometry{InHeight: 4, InWidth: 4, Stride: 1, Padding: 1}
	ref := []*nn.Param{
		// A 1→1 3x3 conv that passes its input through (centre tap 1).
		{Name: "conv.weight", Layer: "conv", Kind: nn.ConvWeight, Shape: []int{1, 1, 3, 3},
			Data: []float32{0, 0, 0, 0, 1, 0, 0, 0, 0}, Conv: &geom},
		{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight, Shape: []int{2, 2}, Data: []float32{1, 0, 0, 1}},
	}
	other := []*nn.Param{
		// ΔW = 0.5 at the centre: the operator is 0.5·I.
		{Name: "conv.weight", Layer: "conv", Kind: nn.ConvWeight, Shape: []int{1, 1, 3, 3},
			Data: []float32{0, 0, 0, 0, 1.5, 0, 0, 0, 0}, Conv: &geom},
		// ΔW = [[3, 0], [4, 5]]: ‖ΔW‖₂ = 3√5, ‖ΔW‖∞ = 9.
		{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight, Shape: []int{2, 2}, Data: []float32{4, 0, 4, 6}},
	}
	rep, err := lipschitz.CompareParams(context.Background(), ref, other, lipschitz.PowerIteration{})
	if err != nil {
		panic(err)
	}
	fmt.Print(rep.Markdown())
	// Output:
	// | weight | kind | shape | ‖ΔW‖₂ | ‖ΔW‖₂ reshaped | ‖ΔW‖∞ | ‖W‖₂ | ‖ΔW‖₂/‖W‖₂ | converged |
	// |---|---|---|--:|--:|--:|--:|--:|---|
	// | conv.weight | conv-weight | 1×1×3×3 | 0.5 | 0.5 | 0.5 | 1 | 0.5 | yes |
	// | fc.weight | dense-weight | 2×2 | 6.708 | 6.708 | 9 | 1 | 6.708 | yes |
	//
	// ΔW = W' − W. ‖·‖₂: dense exact (SVD); conv: norm of the convolution operator (input size, stride, padding), power iteration, tolerance 1e-06, at most 500 iterations, seed 0. Reshaped: largest singular value of ΔW as an out×(in·kh·kw) matrix. ‖·‖∞: largest absolute row sum of the operator.
}

// Per-layer norms of ΔW between a network and a modified copy. Here every
// weight of the last layer is raised by 0.01, so for fc2 (10×1024) ΔW is
// 0.01 times the all-ones matrix: ‖ΔW‖₂ = 0.01·√(10·1024) ≈ 1.0119 and
// ‖ΔW‖∞ = 0.01·1024 = 10.24; the other layers do not change. A quantized copy
// (package quant) is compared the same way.
func ExampleCompare() {
	net, err := nn.MNISTCNN(rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		panic(err)
	}
	other := net.Clone()
	for i := range other.Param("fc2.weight").Data {
		other.Param("fc2.weight").Data[i] += 0.01
	}
	rep, err := lipschitz.Compare(context.Background(), net, other, lipschitz.PowerIteration{Tol: 1e-4})
	if err != nil {
		panic(err)
	}
	for _, l := range rep.Layers {
		fmt.Printf("%-12s %-12s ‖ΔW‖₂ = %.4f  ‖ΔW‖∞ = %.4f\n", l.Name, l.Kind, l.Spectral, l.Inf)
	}
	// Output:
	// conv1.weight conv-weight  ‖ΔW‖₂ = 0.0000  ‖ΔW‖∞ = 0.0000
	// conv2.weight conv-weight  ‖ΔW‖₂ = 0.0000  ‖ΔW‖∞ = 0.0000
	// fc1.weight   dense-weight ‖ΔW‖₂ = 0.0000  ‖ΔW‖∞ = 0.0000
	// fc2.weight   dense-weight ‖ΔW‖₂ = 1.0119  ‖ΔW‖∞ = 10.2400
}
