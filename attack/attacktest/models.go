package attacktest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/nn"
)

// Linear is the linear classifier logits = W·x + B on inputs of shape
// Shape. Logits and gradients are accumulated in float64 and rounded to
// float32 once. It is safe for concurrent use.
type Linear struct {
	// Shape is the input and output shape.
	Shape nn.Spec
	// W is the Classes×ExampleSize weight matrix, row-major.
	W []float32
	// B is the bias, one value per class.
	B []float32
}

// Scaled multiplies the logits of M by Factor. Its InputGrad differentiates
// the loss of the scaled logits exactly (the chain rule through the scale is
// applied to the loss, so any nn.Model can be wrapped).
type Scaled struct {
	M      nn.Model
	Factor float32
}

// LogitsOnly exposes only the nn.Classifier methods of M, hiding any input
// gradient: gradient attacks must fail on it, score-based ones must work.
type LogitsOnly struct {
	M nn.Classifier
}

var (
	_ nn.Model      = (*Linear)(nil)
	_ attack.Cloner = (*Linear)(nil)
	_ nn.Model      = Scaled{}
	_ attack.Cloner = Scaled{}
	_ nn.Classifier = LogitsOnly{}
)

// NewLinear returns a Linear model of the given shape with weights drawn
// from N(0, 1/ExampleSize) and biases from N(0, 0.01). It panics if the
// shape has a non-positive dimension.
func NewLinear(shape nn.Spec, rng *rand.Rand) *Linear {
	d, k := shape.ExampleSize(), shape.Classes
	if shape.Channels <= 0 || shape.Height <= 0 || shape.Width <= 0 || k <= 0 {
		panic(fmt.Sprintf("attacktest: NewLinear with shape %+v", shape))
	}
	l := &Linear{Shape: shape, W: make([]float32, k*d), B: make([]float32, k)}
	s := 1 / math.Sqrt(float64(d))
	for i := range l.W {
		l.W[i] = float32(s * rng.NormFloat64())
	}
	for i := range l.B {
		l.B[i] = float32(0.1 * rng.NormFloat64())
	}
	return l
}

// Spec returns Shape.
func (l *Linear) Spec() nn.Spec { return l.Shape }

func (l *Linear) check() error {
	d, k := l.Shape.ExampleSize(), l.Shape.Classes
	if len(l.W) != k*d || len(l.B) != k {
		return fmt.Errorf("attacktest: %w: Linear has %d weights and %d biases, want %d and %d",
			nn.ErrShape, len(l.W), len(l.B), k*d, k)
	}
	return nil
}

// Logits implements nn.Classifier.
func (l *Linear) Logits(x []float32) ([]float32, error) {
	if err := l.check(); err != nil {
		return nil, err
	}
	n, err := l.Shape.CheckInput(x, nil)
	if err != nil {
		return nil, err
	}
	return l.logits(x, n), nil
}

func (l *Linear) logits(x []float32, n int) []float32 {
	d, k := l.Shape.ExampleSize(), l.Shape.Classes
	z := make([]float32, n*k)
	for i := 0; i < n; i++ {
		xi := x[i*d : (i+1)*d]
		for c := 0; c < k; c++ {
			s := float64(l.B[c])
			for j, w := range l.W[c*d : (c+1)*d] {
				s += float64(w) * float64(xi[j])
			}
			z[i*k+c] = float32(s)
		}
	}
	return z
}

// InputGrad implements nn.Model: the gradient is W^T·∂loss/∂z.
func (l *Linear) InputGrad(x []float32, y []int, loss nn.Loss) (grad, losses []float32, err error) {
	if err := l.check(); err != nil {
		return nil, nil, err
	}
	if y == nil {
		return nil, nil, fmt.Errorf("attacktest: %w: nil labels", nn.ErrShape)
	}
	n, err := l.Shape.CheckInput(x, y)
	if err != nil {
		return nil, nil, err
	}
	d, k := l.Shape.ExampleSize(), l.Shape.Classes
	z := l.logits(x, n)
	losses = make([]float32, n)
	dz := make([]float32, n*k)
	loss.Eval(z, k, y, losses, dz)
	grad = make([]float32, n*d)
	acc := make([]float64, d)
	for i := 0; i < n; i++ {
		clear(acc)
		for c := 0; c < k; c++ {
			g := float64(dz[i*k+c])
			if g == 0 {
				continue
			}
			for j, w := range l.W[c*d : (c+1)*d] {
				acc[j] += g * float64(w)
			}
		}
		for j, v := range acc {
			grad[i*d+j] = float32(v)
		}
	}
	return grad, losses, nil
}

// CloneModel returns a deep copy.
func (l *Linear) CloneModel() nn.Model {
	return &Linear{Shape: l.Shape, W: append([]float32(nil), l.W...), B: append([]float32(nil), l.B...)}
}

// Spec returns M's Spec.
func (s Scaled) Spec() nn.Spec { return s.M.Spec() }

// Logits returns Factor times M's logits, rounded to float32.
func (s Scaled) Logits(x []float32) ([]float32, error) {
	z, err := s.M.Logits(x)
	if err != nil {
		return nil, err
	}
	out := make([]float32, len(z))
	for i, v := range z {
		out[i] = s.Factor * v
	}
	return out, nil
}

// InputGrad implements nn.Model.
func (s Scaled) InputGrad(x []float32, y []int, loss nn.Loss) (grad, losses []float32, err error) {
	return s.M.InputGrad(x, y, scaledLoss{loss, s.Factor})
}

// CloneModel returns a Scaled of a clone of M when M is an attack.Cloner,
// and of M itself otherwise.
func (s Scaled) CloneModel() nn.Model {
	if c, ok := s.M.(attack.Cloner); ok {
		return Scaled{c.CloneModel(), s.Factor}
	}
	return s
}

// scaledLoss evaluates a loss on logits multiplied by f.
type scaledLoss struct {
	l nn.Loss
	f float32
}

func (s scaledLoss) Name() string { return s.l.Name() }

func (s scaledLoss) Eval(logits []float32, k int, y []int, losses, grad []float32) {
	z := make([]float32, len(logits))
	for i, v := range logits {
		z[i] = s.f * v
	}
	s.l.Eval(z, k, y, losses, grad)
	for i := range grad {
		grad[i] *= s.f
	}
}

// Spec returns M's Spec.
func (l LogitsOnly) Spec() nn.Spec { return l.M.Spec() }

// Logits returns M's logits.
func (l LogitsOnly) Logits(x []float32) ([]float32, error) { return l.M.Logits(x) }

// Batch returns n random examples of m's shape with values uniform in
// [0, 1], a quarter of them exactly 0 or 1 (the bounds, where projection
// bugs show), labelled with m's own predictions so that clean accuracy is 1.
func Batch(m nn.Classifier, n int, rng *rand.Rand) (x []float32, y []int, err error) {
	s := m.Spec()
	x = make([]float32, n*s.ExampleSize())
	for i := range x {
		switch u := rng.Float64(); {
		case u < 0.125:
			x[i] = 0
		case u < 0.25:
			x[i] = 1
		default:
			x[i] = rng.Float32()
		}
	}
	z, err := m.Logits(x)
	if err != nil {
		return nil, nil, err
	}
	y = make([]int, n)
	k := s.Classes
	for i := range y {
		best := 0
		for c, v := range z[i*k : (i+1)*k] {
			if v > z[i*k+best] {
				best = c
			}
		}
		y[i] = best
	}
	return x, y, nil
}
