package attack

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Errors returned by the package. Callers match them with errors.Is. Errors
// about the batch itself (its length, NaN or Inf values, labels out of range)
// wrap nn.ErrShape, nn.ErrNonFinite and nn.ErrLabel.
var (
	// ErrEps reports a radius that is negative, NaN or infinite.
	ErrEps = errors.New("attack: invalid epsilon")
	// ErrParam reports an invalid hyperparameter or argument (negative step
	// count, nil model, invalid bounds, bad target classes).
	ErrParam = errors.New("attack: invalid parameter")
	// ErrBounds reports an input value outside the attack's Bounds.
	ErrBounds = errors.New("attack: input outside bounds")
	// ErrNoGradient reports a gradient attack given a model that is only an
	// nn.Classifier, without InputGrad.
	ErrNoGradient = errors.New("attack: model has no input gradient (needs nn.Model)")
	// ErrModel reports a model that returned logits or gradients of the wrong length.
	ErrModel = errors.New("attack: model returned malformed output")
	// ErrThreat reports an attack whose output left the threat model it
	// declares (found by the Evaluator, which checks every output).
	ErrThreat = errors.New("attack: output outside the declared threat model")
)

// Attack crafts adversarial examples for a batch.
//
// Attacks in this package are plain configuration values: they hold no state
// between calls, so one value may be used from several goroutines at once
// (each with its own model), and a call with the same model, batch and seed
// always returns the same examples.
type Attack interface {
	// Perturb returns adversarial examples for the batch x (n examples in
	// the layout of m.Spec(), labels y) inside the attack's threat model:
	// every returned example lies in Threat().Bounds and within Threat().Eps
	// of its clean example in Threat().Norm. x, y and the model's parameters
	// are not modified; the result is a new slice of len(x). Gradient attacks
	// need m to be an nn.Model and return ErrNoGradient otherwise.
	// Perturb checks ctx before every model call and returns ctx.Err() once
	// it is done.
	Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error)
	// Name identifies the attack in reports, e.g. "pgd-linf-ce".
	Name() string
	// Threat describes what the attack may use and change.
	Threat() Threat
}

// Threat is an attack's threat model: what it knows of the model under
// attack and how far it may move an input.
type Threat struct {
	// Access says what the attack uses of the model under attack.
	Access Access
	// Norm is the norm in which Eps is measured.
	Norm Norm
	// Eps is the radius of the perturbation ball; +Inf when the attack is
	// unbounded (CW-L2, Gaussian noise without a ball).
	Eps float32
	// Bounds is the valid input range (the zero value is [0, 1]).
	Bounds Bounds
}

// Access says what an attack uses of the model under attack. The Evaluator
// compares attacks of different access to spot gradient masking.
type Access int

// Access kinds, from the most informed to the least.
const (
	// Gradient attacks use the input gradients of the model (white box).
	Gradient Access = iota
	// Score attacks use the model's logits only (black box, score based).
	Score
	// Transferred attacks use nothing of the model: they are crafted on a
	// substitute model.
	Transferred
	// Random attacks add noise and use nothing of the model.
	Random
)

var accessNames = [...]string{"gradient", "score", "transfer", "random"}

// String returns "gradient", "score", "transfer" or "random".
func (a Access) String() string {
	if a < 0 || int(a) >= len(accessNames) {
		return fmt.Sprintf("Access(%d)", int(a))
	}
	return accessNames[a]
}

// Norm is the norm that measures a perturbation.
type Norm int

// Norms. The zero value is Linf.
const (
	// Linf is the maximum absolute coordinate.
	Linf Norm = iota
	// L2 is the Euclidean norm.
	L2
)

// String returns "linf" or "l2".
func (n Norm) String() string {
	switch n {
	case Linf:
		return "linf"
	case L2:
		return "l2"
	}
	return fmt.Sprintf("Norm(%d)", int(n))
}

// Distance returns the n-norm of a − b, computed in float64 from the
// float32 values. It is the measure the package's invariants are stated in:
// for every example of every attack's output, Distance ≤ Threat().Eps exactly.
// It panics if len(a) != len(b).
func Distance(n Norm, a, b []float32) float64 {
	if len(a) != len(b) {
		panic("attack: Distance of slices of different lengths")
	}
	var s float64
	switch n {
	case L2:
		for i, v := range a {
			d := float64(v) - float64(b[i])
			s += d * d
		}
		return math.Sqrt(s)
	default:
		for i, v := range a {
			d := math.Abs(float64(v) - float64(b[i]))
			if d > s || d != d {
				s = d
			}
		}
		return s
	}
}

// Bounds is the valid range of input values. The zero value is [0, 1].
type Bounds struct {
	Min, Max float32
}

// Range returns the bounds with the zero value resolved to [0, 1], or an
// error wrapping ErrParam if they are not finite or Min ≥ Max.
func (b Bounds) Range() (lo, hi float32, err error) {
	if b.Min == 0 && b.Max == 0 {
		return 0, 1, nil
	}
	if !finite(b.Min) || !finite(b.Max) || b.Min >= b.Max {
		return 0, 0, fmt.Errorf("%w: bounds [%v, %v]", ErrParam, b.Min, b.Max)
	}
	return b.Min, b.Max, nil
}

func (b Bounds) resolved() Bounds {
	if b.Min == 0 && b.Max == 0 {
		return Bounds{0, 1}
	}
	return b
}

// Cloner is an optional interface of models: CloneModel returns an
// independent deep copy that may be used concurrently with the original.
// The Evaluator needs it for Workers > 1, and uses it on the Source of
// Transfer attacks so that every worker crafts on its own copy.
type Cloner interface {
	CloneModel() nn.Model
}

// Target chooses, for a batch with clean logits (n×classes) and labels y,
// the class each example is pushed towards. A targeted attack descends the
// loss on the target class and counts an example as a success when the model
// predicts the target. An example whose target is its label is pushed to
// stay in its class. Target functions must not modify their arguments and
// must be safe for concurrent use.
type Target func(logits []float32, y []int, classes int) []int

// NextClass is the Target (y+1) mod classes.
func NextClass(logits []float32, y []int, classes int) []int {
	t := make([]int, len(y))
	for i, c := range y {
		t[i] = (c + 1) % classes
	}
	return t
}

// LeastLikely is the Target that picks each example's class of smallest
// clean logit (lowest index among ties).
func LeastLikely(logits []float32, y []int, classes int) []int {
	t := make([]int, len(y))
	for i := range y {
		z := logits[i*classes : (i+1)*classes]
		best := 0
		for j, v := range z {
			if v < z[best] {
				best = j
			}
		}
		t[i] = best
	}
	return t
}

// Classes returns the Target that always answers t: use it for one batch
// whose targets are known. Perturb fails with ErrParam if the batch size is
// not len(t).
func Classes(t []int) Target {
	t = append([]int(nil), t...)
	return func([]float32, []int, int) []int { return append([]int(nil), t...) }
}

// Rename returns a with its Name replaced by name, e.g. to tell "fgsm-weak"
// from "fgsm-strong" in a report.
func Rename(a Attack, name string) Attack { return renamed{a, name} }

type renamed struct {
	Attack
	name string
}

func (r renamed) Name() string { return r.name }

func finite(v float32) bool {
	return !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0)
}

// checkEps validates a radius.
func checkEps(eps float32) error {
	if !finite(eps) || eps < 0 {
		return fmt.Errorf("%w: %v (want finite and ≥ 0)", ErrEps, eps)
	}
	return nil
}

// lossOrCE returns l, or nn.CrossEntropy{} for nil.
func lossOrCE(l nn.Loss) nn.Loss {
	if l == nil {
		return nn.CrossEntropy{}
	}
	return l
}

// suffix returns "-targeted" for a targeted attack.
func suffix(t Target) string {
	if t != nil {
		return "-targeted"
	}
	return ""
}
