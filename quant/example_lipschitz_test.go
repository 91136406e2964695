package quant_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/robustq/robustq/lipschitz"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// Quantize a network's weights to 3 bits and measure, layer by layer, the
// Lipschitz constant of the quantization error ΔW = Q(W) − W: the norm of
// the convolution operator for conv layers, the largest singular value for
// dense ones. (Random initial weights here; examples/mnist does the same on
// trained models.)
func ExampleApply_lipschitz() {
	net, err := nn.MNISTCNN(rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		fmt.Println(err)
		return
	}
	q3, err := quant.Apply(net, quant.Linear{Bits: 3}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	rep, err := lipschitz.Compare(context.Background(), net, q3, lipschitz.PowerIteration{Tol: 1e-4, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, l := range rep.Layers {
		fmt.Printf("%-6s ‖ΔW‖₂ = %.2f  (‖W‖₂ = %.2f)\n", l.Layer, l.Spectral, l.RefSpectral)
	}
	// Output:
	// conv1  ‖ΔW‖₂ = 0.67  (‖W‖₂ = 3.70)
	// conv2  ‖ΔW‖₂ = 0.24  (‖W‖₂ = 1.39)
	// fc1    ‖ΔW‖₂ = 0.15  (‖W‖₂ = 0.90)
	// fc2    ‖ΔW‖₂ = 0.10  (‖W‖₂ = 0.62)
}
