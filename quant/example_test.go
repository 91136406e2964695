package quant_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// Three-bit linear quantization: max|W| = 3, so the step is s = 3/3 = 1 and
// the grid is {−3, …, 3}; 2.5 is a tie and goes away from zero.
func ExampleLinear() {
	p := &nn.Param{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight,
		Shape: []int{2, 3}, Data: []float32{0.3, -1.2, 2.5, -3, 0.49, 1.7}}
	q := quant.Linear{Bits: 3}
	v, err := q.Quantize(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(q)
	fmt.Println(v)
	// Output:
	// linear 3-bit per-tensor nearest
	// [0 -1 3 -3 0 2]
}

// Per-channel scales: each row (output channel) gets s = max|row| / 3.
func ExampleLinear_perChannel() {
	p := &nn.Param{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight,
		Shape: []int{2, 3}, Data: []float32{0.3, -1.2, 3, 0.06, -0.025, 0.015}}
	v, err := quant.Linear{Bits: 3, PerChannel: true}.Quantize(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.3f\n", v)
	// Output:
	// [0.000 -1.000 3.000 0.060 -0.020 0.020]
}

// One-bit quantization: sign(w)·mean|W|.
func ExampleLinear_binary() {
	p := &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{4}, Data: []float32{0.5, -1.5, 0, 2}}
	v, err := quant.Linear{Bits: 1}.Quantize(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v)
	// Output:
	// [1 -1 1 1]
}

// Power-of-two levels for 3 bits: {0, ±s/4, ±s/2, ±s} with s = max|W| = 1.
func ExamplePowerOfTwo() {
	p := &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{5}, Data: []float32{1, 0.7, -0.3, 0.1, 0.8}}
	v, err := quant.PowerOfTwo{Bits: 3}.Quantize(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v)
	// Output:
	// [1 0.5 -0.25 0 1]
}

// Asymmetric 2-bit: range [−1, 2], step 1, zero point 1, grid {−1, 0, 1, 2}.
func ExampleAsymmetric() {
	p := &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{4}, Data: []float32{-1, -0.25, 0.4, 2}}
	v, err := quant.Asymmetric{Bits: 2}.Quantize(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(v)
	// Output:
	// [-1 0 0 2]
}

// Stochastic rounding is reproducible from a seed.
func ExampleLinear_stochastic() {
	p := &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{4}, Data: []float32{3, 0.5, 0.5, 0.5}}
	q := quant.Linear{Bits: 3, Rounding: quant.Stochastic, Rng: rand.New(rand.NewPCG(1, 2))}
	a, _ := q.Quantize(p)
	q.Rng = rand.New(rand.NewPCG(1, 2))
	b, _ := q.Quantize(p)
	fmt.Println(fmt.Sprint(a) == fmt.Sprint(b))
	// Output:
	// true
}

// Post-training quantization of chosen parameters: the last weight layer
// only, here given as a parameter list.
func ExampleApplyParams() {
	params := []*nn.Param{
		{Name: "fc1.weight", Layer: "fc1", Kind: nn.DenseWeight, Shape: []int{1, 2}, Data: []float32{0.4, -0.9}},
		{Name: "fc1.bias", Layer: "fc1", Kind: nn.Bias, Shape: []int{1}, Data: []float32{0.123}},
		{Name: "fc2.weight", Layer: "fc2", Kind: nn.DenseWeight, Shape: []int{1, 2}, Data: []float32{0.4, -0.9}},
	}
	out, err := quant.ApplyParams(params, quant.Linear{Bits: 2}, quant.LastLayers(1))
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, p := range out {
		fmt.Println(p.Name, params[i].Data, "->", p.Data)
	}
	// Output:
	// fc1.weight [0.4 -0.9] -> [0.4 -0.9]
	// fc1.bias [0.123] -> [0.123]
	// fc2.weight [0.4 -0.9] -> [0 -0.9]
}

// One quantization-aware training step with the straight-through estimator.
func ExampleSTE() {
	w := &nn.Param{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight, Shape: []int{1, 3}, Data: []float32{0.2, -0.7, 3}}
	params := []*nn.Param{w}
	var ste quant.STE // 3-bit linear on every weight
	if err := ste.Quantize(params); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("forward/backward see", w.Data)
	grad := []float32{1, 1, 1} // from the backward pass, with respect to Q(W)
	if err := ste.Restore(); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("optimizer updates", w.Data)
	for i := range w.Data {
		w.Data[i] -= 0.5 * grad[i]
	}
	fmt.Println("new weights", w.Data)
	// Output:
	// forward/backward see [0 -1 3]
	// optimizer updates [0.2 -0.7 3]
	// new weights [-0.3 -1.2 2.5]
}
