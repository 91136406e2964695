package nn

import (
	"errors"
	"fmt"
	"math"
	"reflect"

	"github.com/robustq/robustq/nn/internal/kernel"
)

// Errors returned by the package. Callers match them with errors.Is.
var (
	// ErrShape reports an input whose length or shape does not fit the model.
	ErrShape = kernel.ErrShape
	// ErrLabel reports a label outside 0..Classes-1.
	ErrLabel = errors.New("nn: label out of range")
	// ErrNonFinite reports a NaN or Inf in an input, a weight or a loss.
	ErrNonFinite = errors.New("nn: non-finite value")
	// ErrNilModel reports a nil model, or an interface holding a nil pointer.
	ErrNilModel = errors.New("nn: nil model")
)

// CheckModel returns an error wrapping ErrNilModel when m is nil or holds a
// nil pointer (a (*Network)(nil), say), whose methods would panic.
func CheckModel(m Classifier) error {
	if m == nil {
		return ErrNilModel
	}
	if v := reflect.ValueOf(m); v.Kind() == reflect.Pointer && v.IsNil() {
		return fmt.Errorf("%w: %T", ErrNilModel, m)
	}
	return nil
}

// Spec describes what a classifier takes and returns: examples of
// Channels×Height×Width values (NCHW, row-major) and Classes logits. Images
// are in [0,1], and attacks reject inputs outside their Bounds; a Network
// itself accepts any finite value, so that a wrapper such as Normalize can
// feed it normalised inputs.
type Spec struct {
	Channels, Height, Width int
	Classes                 int
}

// ExampleSize returns Channels*Height*Width, the number of values in one example.
func (s Spec) ExampleSize() int { return s.Channels * s.Height * s.Width }

// BatchLen returns the number of examples in x, or an error wrapping ErrShape
// when len(x) is zero or not a multiple of ExampleSize.
func (s Spec) BatchLen(x []float32) (int, error) {
	e := s.ExampleSize()
	if e <= 0 || len(x) == 0 || len(x)%e != 0 {
		return 0, fmt.Errorf("%w: input has %d values, want a positive multiple of %d (%dx%dx%d)",
			ErrShape, len(x), e, s.Channels, s.Height, s.Width)
	}
	return len(x) / e, nil
}

// Classifier maps a batch of images to logits. It is all a score-based
// (gradient-free) attack needs.
type Classifier interface {
	// Spec returns the input and output shape.
	Spec() Spec
	// Logits returns the logits of the n = len(x)/ExampleSize examples in x
	// as an n×Classes row-major slice. x is not modified. Examples are
	// independent: a model in evaluation mode gives example i the same
	// logits whatever else is in the batch.
	Logits(x []float32) ([]float32, error)
}

// Model is a Classifier that can also differentiate a loss with respect to its input.
type Model interface {
	Classifier
	// InputGrad returns, for the batch x with labels y, the per-example
	// losses loss.Eval(logits_i, y_i) and the gradient of each example's loss
	// with respect to that example's input (same layout as x). x is not modified.
	InputGrad(x []float32, y []int, loss Loss) (grad, losses []float32, err error)
}

// CheckInput validates a batch and its labels against s: the length of x,
// finite values, len(y) equal to the batch size (when y is not nil) and
// labels in range. It returns the batch size.
func (s Spec) CheckInput(x []float32, y []int) (int, error) {
	n, err := s.BatchLen(x)
	if err != nil {
		return 0, err
	}
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return 0, fmt.Errorf("%w: input value %d is %v", ErrNonFinite, i, v)
		}
	}
	if y == nil {
		return n, nil
	}
	if len(y) != n {
		return 0, fmt.Errorf("%w: %d labels for %d examples", ErrShape, len(y), n)
	}
	for i, c := range y {
		if c < 0 || c >= s.Classes {
			return 0, fmt.Errorf("%w: label %d of example %d, want 0..%d", ErrLabel, c, i, s.Classes-1)
		}
	}
	return n, nil
}
