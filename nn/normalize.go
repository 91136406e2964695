package nn

import (
	"errors"
	"fmt"
	"math"
)

// ErrConfig reports an invalid configuration value, such as a negative
// standard deviation.
var ErrConfig = errors.New("nn: invalid configuration")

// Normalize adapts a model that expects normalised inputs, (x − Mean[c]) /
// Std[c] per channel c, to pixels in [0, 1]: attacks then work in pixel
// space, where their ε is defined, and the input gradient is taken through
// the normalisation. It does not implement cloning, so an Evaluator with
// several workers needs a model of the user's own that does.
type Normalize struct {
	// Model is the model that takes normalised inputs; its Spec is
	// Normalize's.
	Model Model
	// Mean and Std hold one value per channel; every Std must be positive
	// and finite.
	Mean, Std []float32
}

var _ Model = Normalize{}

// Spec returns the wrapped model's Spec (the zero Spec for a nil model).
func (n Normalize) Spec() Spec {
	if CheckModel(n.Model) != nil {
		return Spec{}
	}
	return n.Model.Spec()
}

// check validates n and x, returning the plane size.
func (n Normalize) check(x []float32) (int, error) {
	if err := CheckModel(n.Model); err != nil {
		return 0, err
	}
	s := n.Model.Spec()
	if len(n.Mean) != s.Channels || len(n.Std) != s.Channels {
		return 0, fmt.Errorf("%w: Normalize has %d means and %d standard deviations for %d channels",
			ErrConfig, len(n.Mean), len(n.Std), s.Channels)
	}
	for c, v := range n.Std {
		if !(v > 0) || math.IsInf(float64(v), 0) || math.IsNaN(float64(n.Mean[c])) || math.IsInf(float64(n.Mean[c]), 0) {
			return 0, fmt.Errorf("%w: Normalize channel %d has mean %v, standard deviation %v", ErrConfig, c, n.Mean[c], v)
		}
	}
	if _, err := s.CheckInput(x, nil); err != nil {
		return 0, err
	}
	return s.Height * s.Width, nil
}

// normalized returns (x − Mean) / Std per channel, in a new slice.
func (n Normalize) normalized(x []float32, plane int) []float32 {
	out := make([]float32, len(x))
	ch := len(n.Mean)
	for i, v := range x {
		c := (i / plane) % ch
		out[i] = (v - n.Mean[c]) / n.Std[c]
	}
	return out
}

// Logits implements Classifier.
func (n Normalize) Logits(x []float32) ([]float32, error) {
	plane, err := n.check(x)
	if err != nil {
		return nil, err
	}
	return n.Model.Logits(n.normalized(x, plane))
}

// InputGrad implements Model: the wrapped model's gradient, divided by Std
// per channel (the chain rule through the normalisation).
func (n Normalize) InputGrad(x []float32, y []int, loss Loss) (grad, losses []float32, err error) {
	plane, err := n.check(x)
	if err != nil {
		return nil, nil, err
	}
	grad, losses, err = n.Model.InputGrad(n.normalized(x, plane), y, loss)
	if err != nil {
		return nil, nil, err
	}
	if len(grad) != len(x) {
		return nil, nil, fmt.Errorf("%w: %d gradient values for %d inputs", ErrShape, len(grad), len(x))
	}
	ch := len(n.Std)
	for i := range grad {
		grad[i] /= n.Std[(i/plane)%ch]
	}
	return grad, losses, nil
}
