package defense_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// toy returns n examples of two classes on 1×1×4 inputs: class 1 has every
// value near 0.7, class 0 near 0.3 (clipped to [0, 1]).
func toy(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	ds := &data.Dataset{Name: "toy", Channels: 1, Height: 1, Width: 4, Classes: 2}
	for i := range n {
		y := i % 2
		for range 4 {
			ds.X = append(ds.X, float32(min(max(0.3+0.4*float64(y)+0.1*r.NormFloat64(), 0), 1)))
		}
		ds.Y = append(ds.Y, y)
	}
	return ds
}

func toyNet() *nn.Network {
	net, _ := nn.NewNetwork("toy", [3]int{1, 1, 4}, rand.New(rand.NewPCG(1, 1)),
		nn.Flatten(), nn.Dense("fc1", 8), nn.ReLU(), nn.Dense("fc2", 2))
	return net
}

// μ-law compression of one weight tensor. By default F applies to the
// weights themselves, which must lie in [−1, 1]; MuMaxAbs scales by max|w|
// first, so the largest weight keeps its value.
func ExampleMuLaw() {
	p := &nn.Param{Name: "fc.weight", Kind: nn.DenseWeight, Shape: []int{1, 4}, Data: []float32{-1, -0.25, 0.01, 0.5}}
	v, err := defense.MuLaw{}.Map(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	// F(0.25) = ln(1 + 255/4)/ln 256 = ln 64.75/ln 256 = 0.7521.
	fmt.Printf("direct: %.4f\n", v)
	big := &nn.Param{Name: "fc.weight", Kind: nn.DenseWeight, Shape: []int{1, 4}, Data: []float32{-2, -0.5, 0.02, 1}}
	if _, err := (defense.MuLaw{}).Map(big); err != nil {
		fmt.Println("direct on weights up to 2: error")
	}
	// −0.5 is a quarter of max|w| = 2: 2·F(0.25).
	v, _ = defense.MuLaw{Scale: defense.MuMaxAbs}.Map(big)
	fmt.Printf("max|w|-scaled: %.4f\n", v)
	// Output:
	// direct: [-1.0000 -0.7521 0.2285 0.8757]
	// direct on weights up to 2: error
	// max|w|-scaled: [-2.0000 -1.5042 0.4570 1.7514]
}

// The paper's "+mu (Q)": map the last layer with μ-law, then quantize to
// 3 bits. The original network is untouched.
func ExampleApplyMapping() {
	net := toyNet()
	mapped, err := defense.ApplyMapping(net, defense.MuLaw{}, quant.LastLayers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	q, err := quant.Apply(mapped, quant.Linear{Bits: 3}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range net.Params() {
		fmt.Println(p.Name, "mapped:", fmt.Sprint(mapped.Param(p.Name).Data) != fmt.Sprint(p.Data),
			"quantized:", fmt.Sprint(q.Param(p.Name).Data) != fmt.Sprint(mapped.Param(p.Name).Data))
	}
	// Output:
	// fc1.weight mapped: false quantized: true
	// fc1.bias mapped: false quantized: false
	// fc2.weight mapped: true quantized: true
	// fc2.bias mapped: false quantized: false
}

// The distance to the decision boundary of a linear model: the hyperplane
// z0 = z1 is x0 + x1 = 1 here, at distance |x0 + x1 − 1|/√2 from x.
func ExampleBoundaryDistances() {
	net, _ := nn.NewNetwork("linear", [3]int{1, 1, 2}, rand.New(rand.NewPCG(1, 1)), nn.Flatten(), nn.Dense("fc", 2))
	copy(net.Param("fc.weight").Data, []float32{0, 0, 1, 1}) // z0 = 0.5, z1 = x0 + x1 − 0.5
	copy(net.Param("fc.bias").Data, []float32{0.5, -0.5})
	x := []float32{0.2, 0.3, 0.7, 0.6}
	d, err := defense.BoundaryDistances(context.Background(), net, x, []int{0, 1}, defense.DistanceConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f (closed form %.4f, %.4f)\n", d, 0.5/1.41421356, 0.3/1.41421356)
	// Output: [0.3536 0.2121] (closed form 0.3536, 0.2121)
}

// Classes with narrow margins get more of the generated examples.
func ExampleClassShares() {
	s, _ := defense.ClassShares([]float64{0.1, 0.2, 0.4})
	fmt.Printf("%.4f\n", s)
	// Output: [0.5714 0.2857 0.1429]
}

// Madry et al.'s adversarial training, here with a small budget for a toy
// problem, then the accuracy under PGD.
func ExampleAdversarial() {
	ds := toy(200, 1)
	net := toyNet()
	tr := defense.Adversarial{
		Config:   nn.TrainConfig{Epochs: 10, BatchSize: 20, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(0.02), Seed: 1},
		Examples: defense.AdvExamples{Eps: 0.1, Step: 0.04, Steps: 5},
	}
	res, err := tr.Train(context.Background(), net, ds)
	if err != nil {
		fmt.Println(err)
		return
	}
	adv, _ := attack.PGD{Eps: 0.1, Steps: 10}.Perturb(context.Background(), net, ds.X, ds.Y)
	acc, _ := nn.Accuracy(net, adv, ds.Y, 0)
	fmt.Println(res.Steps, "steps; PGD accuracy above 0.9:", acc > 0.9)
	// Output: 100 steps; PGD accuracy above 0.9: true
}

// Quantization-aware training with the hook added by hand, then the
// quantized network for deployment.
func ExampleQAT() {
	ds := toy(200, 2)
	net := toyNet()
	q := &defense.QAT{Quantizer: quant.Linear{Bits: 2}}
	_, err := nn.Train(context.Background(), net, ds, nn.TrainConfig{
		Epochs: 5, BatchSize: 20, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(0.02), Hooks: []nn.Hook{q}})
	if err != nil {
		_ = q.Restore() // a failed step may have left Q(W) in the network
		fmt.Println(err)
		return
	}
	qn, _ := quant.Apply(net, q.Quantizer, nil)
	levels := map[float32]bool{}
	for _, v := range qn.Param("fc1.weight").Data {
		levels[v] = true
	}
	acc, _ := nn.Accuracy(qn, ds.X, ds.Y, 0)
	fmt.Println("2-bit levels:", len(levels), "accuracy above 0.9:", acc > 0.9)
	// Output: 2-bit levels: 3 accuracy above 0.9: true
}

// Feedback learning fine-tunes a trained model on examples generated
// between the data and the decision boundary, reporting the per-class
// distances each round.
func ExampleFeedbackLearning() {
	ds := toy(200, 3)
	net := toyNet()
	_, _ = defense.Standard{Config: nn.TrainConfig{Epochs: 5, BatchSize: 20, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(0.02)}}.
		Train(context.Background(), net, ds)
	fl := defense.FeedbackLearning{
		Rounds: 2, Sample: 100, Generate: 50,
		Config: nn.TrainConfig{BatchSize: 20},
		OnRound: func(r defense.Round) error {
			fmt.Printf("round %d final %v: %d classes measured, %d generated\n",
				r.Round, r.Final, len(r.Classes), r.Generated)
			return nil
		},
	}
	if _, err := fl.Train(context.Background(), net, ds); err != nil {
		fmt.Println(err)
	}
	// Output:
	// round 0 final false: 2 classes measured, 50 generated
	// round 1 final false: 2 classes measured, 50 generated
	// round 2 final true: 2 classes measured, 0 generated
}

// The Lipschitz regulariser of defensive quantization: zero for a matrix
// with orthonormal columns, positive otherwise.
func ExampleLipschitz_Penalty() {
	w := &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{3, 2}, Data: []float32{1, 0, 0, 1, 0, 0}}
	r, _ := defense.Lipschitz{Beta: 1}.Penalty([]*nn.Param{w})
	w2 := &nn.Param{Name: "w2", Kind: nn.DenseWeight, Shape: []int{3, 2}, Data: []float32{2, 0, 0, 1, 0, 0}}
	r2, _ := defense.Lipschitz{Beta: 1}.Penalty([]*nn.Param{w2})
	fmt.Println(r, r2) // ‖diag(4,1) − I‖²/2 = 9/2
	// Output: 0 4.5
}
