package nn_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// A small network built from layers, its shape and parameter names.
func ExampleNewNetwork() {
	net, err := nn.NewNetwork("small", [3]int{1, 8, 8}, rand.New(rand.NewPCG(1, 1)),
		&nn.ConvLayer{Name: "conv", Out: 4, Kernel: 3, Padding: 1, Bias: true}, nn.ReLU(), nn.MaxPool(2, 2),
		nn.Flatten(), nn.Dense("fc", 10))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(net.Spec(), net.NumParams())
	for _, p := range net.Params() {
		fmt.Println(p.Name, p.Kind, p.Shape)
	}
	// Output:
	// {1 8 8 10} 690
	// conv.weight conv-weight [4 1 3 3]
	// conv.bias bias [4]
	// fc.weight dense-weight [10 64]
	// fc.bias bias [10]
}

// The gradient of each example's loss with respect to its input, the
// building block of every gradient attack.
func ExampleNetwork_InputGrad() {
	net, _ := nn.NewNetwork("linear", [3]int{1, 1, 2}, rand.New(rand.NewPCG(1, 1)),
		nn.Flatten(), nn.Dense("fc", 2))
	w := net.Param("fc.weight")
	copy(w.Data, []float32{1, 0, 0, 1}) // logits = x + b
	clear(net.Param("fc.bias").Data)
	grad, losses, _ := net.InputGrad([]float32{3, 1}, []int{0}, nn.CWMargin{})
	// CW margin = z1 − z0 = 1 − 3; its gradient is (−1, 1).
	fmt.Println(losses, grad)
	// Output: [-2] [-1 1]
}

// Training on a data set with Adam, then measuring accuracy.
func ExampleTrain() {
	r := rand.New(rand.NewPCG(1, 1))
	ds := &data.Dataset{Name: "toy", Channels: 1, Height: 1, Width: 2, Classes: 2}
	for range 200 {
		a, b := r.Float32(), r.Float32()
		ds.X = append(ds.X, a, b)
		ds.Y = append(ds.Y, map[bool]int{true: 1, false: 0}[b > a])
	}
	net, _ := nn.NewNetwork("toy", [3]int{1, 1, 2}, rand.New(rand.NewPCG(2, 2)), nn.Flatten(), nn.Dense("fc", 2))
	_, err := nn.Train(context.Background(), net, ds, nn.TrainConfig{
		Epochs: 30, BatchSize: 20, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(0.05), Seed: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	acc, _ := nn.Accuracy(net, ds.X, ds.Y, 0)
	fmt.Println(acc > 0.95)
	// Output: true
}

// Checkpointing training after every epoch, optimizer state included, and
// resuming: the resumed run ends with the weights of a run that was never
// interrupted.
func ExampleSaveOptimizerFile() {
	r := rand.New(rand.NewPCG(1, 1))
	ds := &data.Dataset{Name: "toy", Channels: 1, Height: 1, Width: 2, Classes: 2}
	for range 64 {
		a, b := r.Float32(), r.Float32()
		ds.X = append(ds.X, a, b)
		ds.Y = append(ds.Y, map[bool]int{true: 1, false: 0}[b > a])
	}
	newNet := func() *nn.Network {
		net, _ := nn.NewNetwork("toy", [3]int{1, 1, 2}, rand.New(rand.NewPCG(2, 2)), nn.Flatten(), nn.Dense("fc", 2))
		return net
	}
	dir, _ := os.MkdirTemp("", "checkpoints")
	defer os.RemoveAll(dir)
	netFile, optFile := filepath.Join(dir, "net.safetensors"), filepath.Join(dir, "optim.safetensors")
	config := func(start int, hooks ...nn.Hook) nn.TrainConfig {
		return nn.TrainConfig{Epochs: 4, StartEpoch: start, BatchSize: 16, Seed: 3,
			Optimizer: &nn.SGD{Momentum: 0.9}, LR: nn.OneCycleLR(0.5), Hooks: hooks}
	}
	// Save after every epoch; stop (as a crash would) after the second.
	first := newNet()
	checkpoint := nn.HookFuncs{After: func(_ context.Context, s *nn.Step) error {
		if s.Iter+1 < s.Iters {
			return nil
		}
		if err := first.SaveFile(netFile, nil); err != nil {
			return err
		}
		if err := nn.SaveOptimizerFile(optFile, s.Optimizer.(nn.StatefulOptimizer), nil); err != nil {
			return err
		}
		if s.Epoch == 1 {
			return context.Canceled
		}
		return nil
	}}
	nn.Train(context.Background(), first, ds, config(0, checkpoint))

	// Resume from the checkpoint with a fresh network and optimizer.
	resumed, opt := newNet(), &nn.SGD{Momentum: 0.9}
	if _, err := resumed.LoadFile(netFile); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := nn.LoadOptimizerFile(optFile, opt); err != nil {
		fmt.Println(err)
		return
	}
	c := config(2)
	c.Optimizer = opt
	nn.Train(context.Background(), resumed, ds, c)

	straight := newNet()
	nn.Train(context.Background(), straight, ds, config(0))
	fmt.Println(slices.Equal(resumed.Param("fc.weight").Data, straight.Param("fc.weight").Data))
	// Output: true
}
