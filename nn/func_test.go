package nn

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
)

// scaleShift is a user layer: y = a⊙x + b per feature, with parameters a
// (started at 1) and b, and its gradients by hand.
func scaleShift(name string, features int) *Func {
	return &Func{
		Name: name,
		Params: []FuncParam{
			{Role: "scale", Kind: DenseWeight, Shape: []int{features}, Init: func(d []float32, r *rand.Rand) {
				for i := range d {
					d[i] = 1 + 0.1*float32(r.NormFloat64())
				}
			}},
			{Role: "shift", Kind: Bias, Shape: []int{features}},
		},
		Out: func(in []int) ([]int, error) { return in, nil },
		Forward: func(out, x []float32, n int, p [][]float32) error {
			f := len(p[0])
			for i, v := range x {
				out[i] = p[0][i%f]*v + p[1][i%f]
			}
			return nil
		},
		Backward: func(dx []float32, dp [][]float32, x, _, dOut []float32, n int, p [][]float32) error {
			f := len(p[0])
			for i, g := range dOut {
				dx[i] = p[0][i%f] * g
				dp[0][i%f] += x[i] * g
				dp[1][i%f] += g
			}
			return nil
		},
	}
}

// A Func layer's gradients reach the input and its parameters (finite
// differences, the tolerances of gradcheck_test.go), and its parameters
// save and load with the network's.
func TestFuncLayer(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	build := func() (*Network, error) {
		return NewNetwork("with-func", [3]int{1, 3, 4}, rand.New(rand.NewPCG(6, 6)),
			Flatten(), Dense("fc1", 7), scaleShift("ss", 7), LeakyReLU(0.1), Dense("fc2", 4))
	}
	net, err := build()
	if err != nil {
		t.Fatal(err)
	}
	if p := net.Param("ss.scale"); p == nil || p.Data[0] == 0 {
		t.Fatal("the Func's parameter was not created and initialised")
	}
	x := randSlice(r, 5*12, 0, 1)
	y := []int{0, 3, 1, 2, 3}
	checkInputGrad(t, net, x, y, CrossEntropy{}, r)
	checkParamGrads(t, net, x, y, CrossEntropy{}, r)

	var buf bytes.Buffer
	if err := net.Save(&buf, nil); err != nil {
		t.Fatal(err)
	}
	other, _ := build()
	other.Param("ss.scale").Data[0] = 42
	if _, err := other.Load(&buf); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(other.Param("ss.scale").Data, net.Param("ss.scale").Data) {
		t.Error("the Func's parameter did not travel through Save and Load")
	}
	za, _ := net.Logits(x)
	zb, _ := other.Logits(x)
	if !slices.Equal(za, zb) {
		t.Error("the loaded network computes other logits")
	}
}
