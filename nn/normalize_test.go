package nn

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestNormalize(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	inner, err := NewNetwork("tiny", [3]int{3, 4, 4}, r, &ConvLayer{Name: "c", Out: 2, Kernel: 3, Padding: 1, Bias: true}, LeakyReLU(0.1), Flatten(), Dense("fc", 3))
	if err != nil {
		t.Fatal(err)
	}
	norm := Normalize{Model: inner, Mean: []float32{0.49, 0.48, 0.45}, Std: []float32{0.25, 0.24, 0.26}}
	x := randSlice(r, 2*3*16, 0, 1)
	y := []int{0, 2}
	// Logits are the inner model's on the normalised input.
	want := make([]float32, len(x))
	for i, v := range x {
		c := (i / 16) % 3
		want[i] = (v - norm.Mean[c]) / norm.Std[c]
	}
	zw, _ := inner.Logits(want)
	z, err := norm.Logits(x)
	if err != nil || !slices.Equal(z, zw) {
		t.Fatalf("logits %v, %v; want %v", z, err, zw)
	}
	// The input gradient is in pixel space (finite differences on x).
	checkInputGrad(t, norm, x, y, CrossEntropy{}, r)

	for name, bad := range map[string]Normalize{
		"two channels": {Model: inner, Mean: []float32{0, 0}, Std: []float32{1, 1}},
		"zero std":     {Model: inner, Mean: []float32{0, 0, 0}, Std: []float32{1, 0, 1}},
	} {
		if _, err := bad.Logits(x); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: error %v, want ErrConfig", name, err)
		}
	}
	if _, err := (Normalize{Mean: norm.Mean, Std: norm.Std}).Logits(x); !errors.Is(err, ErrNilModel) {
		t.Errorf("nil model: error %v, want ErrNilModel", err)
	}
}
