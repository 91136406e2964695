package nn

import (
	"fmt"
	"math/rand/v2"
)

// MNISTCNN returns the Madry et al. MNIST network, the paper's "four-layer
// CNN": conv5×5×32 (padding 2) – ReLU – max-pool 2 – conv5×5×64 (padding 2) –
// ReLU – max-pool 2 – FC 1024 – ReLU – FC 10, on 1×28×28 inputs (3.27M
// parameters). Layer names are conv1, conv2, fc1, fc2.
func MNISTCNN(rng *rand.Rand) (*Network, error) {
	return NewNetwork("mnist-cnn", [3]int{1, 28, 28}, rng,
		&ConvLayer{Name: "conv1", Out: 32, Kernel: 5, Padding: 2, Bias: true}, ReLU(), MaxPool(2, 2),
		&ConvLayer{Name: "conv2", Out: 64, Kernel: 5, Padding: 2, Bias: true}, ReLU(), MaxPool(2, 2),
		Flatten(), Dense("fc1", 1024), ReLU(), Dense("fc2", 10))
}

// SubstituteCNN returns a small MNIST network of another shape than
// MNISTCNN, the substitute for black-box (transfer) attacks: the CleverHans
// basic CNN conv8×8×64/2 (padding 3) – ReLU – conv6×6×128/2 – ReLU –
// conv5×5×128 – ReLU – FC 10. Layer names are conv1, conv2, conv3, fc.
func SubstituteCNN(rng *rand.Rand) (*Network, error) {
	return NewNetwork("substitute-cnn", [3]int{1, 28, 28}, rng,
		&ConvLayer{Name: "conv1", Out: 64, Kernel: 8, Stride: 2, Padding: 3, Bias: true}, ReLU(),
		&ConvLayer{Name: "conv2", Out: 128, Kernel: 6, Stride: 2, Bias: true}, ReLU(),
		&ConvLayer{Name: "conv3", Out: 128, Kernel: 5, Bias: true}, ReLU(),
		Flatten(), Dense("fc", 10))
}

// WideResNet32 returns the Madry et al. CIFAR-10 wide ResNet-32 with width
// factor w: a 3×3 stem of 16 channels, 3 stages of 5 pre-activation residual
// units with 16w, 32w, 64w channels (stride 2 at the start of stages 2 and 3,
// 1×1 projection shortcuts where the shape changes), leaky ReLU 0.1, batch
// norm, global average pooling and FC 10, on 3×32×32 inputs. w = 10 is the
// paper's model (about 46M parameters). Parameter names follow
// the PyTorch module of the BENCHMARKS.md comparison (stem, units.i.*, bn, fc).
func WideResNet32(w int, rng *rand.Rand) (*Network, error) {
	if w < 1 {
		return nil, fmt.Errorf("nn: WideResNet32 width %d, want ≥ 1", w)
	}
	layers := []Layer{&ConvLayer{Name: "stem", Out: 16, Kernel: 3, Padding: 1}}
	u := 0
	for stage, c := range []int{16 * w, 32 * w, 64 * w} {
		for i := range 5 {
			stride := 1
			if stage > 0 && i == 0 {
				stride = 2
			}
			layers = append(layers, &ResidualUnit{Name: fmt.Sprintf("units.%d", u), Out: c, Stride: stride, Slope: 0.1})
			u++
		}
	}
	layers = append(layers, BatchNorm("bn"), LeakyReLU(0.1), GlobalAvgPool(), Dense("fc", 10))
	return NewNetwork(fmt.Sprintf("wide-resnet32-w%d", w), [3]int{3, 32, 32}, rng, layers...)
}
