package attacktest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/nn"
)

// Check runs the conformance suite for a on the model m and the clean batch
// x (values inside a.Threat().Bounds) with labels y, as subtests:
//
//   - threat: Perturb succeeds; its output has len(x) finite values inside
//     Threat().Bounds, each example within Threat().Eps of its clean example
//     in Threat().Norm (attack.Distance, no tolerance); x, y and m's logits
//     on x are unchanged.
//   - deterministic: a second call gives bit-identical output (a stateful
//     attack or model fails here).
//   - cancelled: with a cancelled context Perturb returns an error matching
//     context.Canceled without calling the model.
//   - cancel-midway: when the context is cancelled during the first model
//     call, Perturb makes no further call and returns either a valid result
//     or an error matching context.Canceled.
//   - invalid: a NaN input, a value outside the bounds, a truncated batch,
//     missing or short labels, an out-of-range label and a nil model each
//     give an error (and no panic).
//
// m must be deterministic. Check uses t.Run, so it may be called several
// times in one test. See also CheckBatchIndependence.
func Check(t *testing.T, a attack.Attack, m nn.Classifier, x []float32, y []int) {
	t.Helper()
	var first []float32
	t.Run("threat", func(t *testing.T) {
		adv, err := checkThreat(a, m, x, y)
		if err != nil {
			t.Fatal(err)
		}
		first = adv
	})
	t.Run("deterministic", func(t *testing.T) {
		if first == nil {
			t.Skip("threat failed")
		}
		if err := checkSame(a, m, x, y, first); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		if err := checkCancelled(a, m, x, y); err != nil {
			t.Error(err)
		}
	})
	t.Run("cancel-midway", func(t *testing.T) {
		if err := checkCancelMidway(a, m, x, y); err != nil {
			t.Error(err)
		}
	})
	t.Run("invalid", func(t *testing.T) {
		for _, err := range checkInvalid(a, m, x, y) {
			t.Error(err)
		}
	})
}

// CheckBatchIndependence checks that a's output for each example of x does
// not depend on the rest of the batch: Perturb on the whole batch and on
// each example alone give bit-identical results. All attacks of package
// attack have this property (random ones seed each example from its own
// values), and the Evaluator's report is then independent of its Batch.
func CheckBatchIndependence(t *testing.T, a attack.Attack, m nn.Classifier, x []float32, y []int) {
	t.Helper()
	if err := checkBatchIndependence(a, m, x, y); err != nil {
		t.Error(err)
	}
}

func checkThreat(a attack.Attack, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	xc, yc := slices.Clone(x), slices.Clone(y)
	th := a.Threat()
	lo, hi, err := th.Bounds.Range()
	if err != nil {
		return nil, fmt.Errorf("%s: Threat().Bounds: %v", a.Name(), err)
	}
	d := m.Spec().ExampleSize()
	z0, err := m.Logits(x)
	if err != nil {
		return nil, fmt.Errorf("model logits: %v", err)
	}
	adv, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		return nil, fmt.Errorf("%s: Perturb: %v", a.Name(), err)
	}
	if !slices.Equal(x, xc) || !slices.Equal(y, yc) {
		return nil, fmt.Errorf("%s: Perturb modified x or y", a.Name())
	}
	if z, err := m.Logits(x); err != nil || !slices.Equal(z, z0) {
		return nil, fmt.Errorf("%s: the model's logits changed after Perturb (err %v)", a.Name(), err)
	}
	if len(adv) != len(x) {
		return nil, fmt.Errorf("%s: %d output values, want %d", a.Name(), len(adv), len(x))
	}
	for i, v := range adv {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) || v < lo || v > hi {
			return nil, fmt.Errorf("%s: output value %d is %v, bounds [%v, %v]", a.Name(), i, v, lo, hi)
		}
	}
	for i := 0; i < len(x); i += d {
		if dist := attack.Distance(th.Norm, adv[i:i+d], x[i:i+d]); dist > float64(th.Eps) {
			return nil, fmt.Errorf("%s: example %d moved %v in %v > eps %v", a.Name(), i/d, dist, th.Norm, th.Eps)
		}
	}
	return adv, nil
}

func checkSame(a attack.Attack, m nn.Classifier, x []float32, y []int, first []float32) error {
	adv, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		return fmt.Errorf("%s: second Perturb: %v", a.Name(), err)
	}
	if len(adv) != len(first) {
		return fmt.Errorf("%s: second call returned %d values, first %d", a.Name(), len(adv), len(first))
	}
	for i := range adv {
		if math.Float32bits(adv[i]) != math.Float32bits(first[i]) {
			return fmt.Errorf("%s: second call differs at value %d: %v, first %v", a.Name(), i, adv[i], first[i])
		}
	}
	return nil
}

func checkCancelled(a attack.Attack, m nn.Classifier, x []float32, y []int) error {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	cm := counting(m, nil)
	_, err := a.Perturb(ctx, cm, x, y)
	if !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: cancelled Perturb returned %v, want context.Canceled", a.Name(), err)
	}
	if n := cm.calls(); n != 0 {
		return fmt.Errorf("%s: %d model calls with a cancelled context", a.Name(), n)
	}
	return nil
}

func checkCancelMidway(a attack.Attack, m nn.Classifier, x []float32, y []int) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cm := counting(m, cancel)
	adv, err := a.Perturb(ctx, cm, x, y)
	if n := cm.calls(); n > 1 {
		return fmt.Errorf("%s: %d model calls, want none after the one that cancelled", a.Name(), n)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: Perturb cancelled midway returned %v, want nil or context.Canceled", a.Name(), err)
	}
	if err == nil && len(adv) != len(x) {
		return fmt.Errorf("%s: %d output values, want %d", a.Name(), len(adv), len(x))
	}
	return nil
}

func checkInvalid(a attack.Attack, m nn.Classifier, x []float32, y []int) []error {
	lo, hi, err := a.Threat().Bounds.Range()
	if err != nil {
		return []error{err}
	}
	ctx := context.Background()
	cases := []struct {
		name string
		m    nn.Classifier
		x    []float32
		y    []int
		want error // nil: any error
	}{
		{"nan", m, with(x, 0, float32(math.NaN())), y, nn.ErrNonFinite},
		{"inf", m, with(x, 0, float32(math.Inf(1))), y, nil},
		{"above-bounds", m, with(x, len(x)-1, hi+1), y, nil},
		{"below-bounds", m, with(x, 0, lo-1), y, nil},
		{"truncated", m, x[:len(x)-1], y, nn.ErrShape},
		{"labels-short", m, x, y[:len(y)-1], nn.ErrShape},
		{"nil-labels", m, x, nil, nil},
		{"label-range", m, x, withLabel(y, 0, m.Spec().Classes), nn.ErrLabel},
		{"label-negative", m, x, withLabel(y, 0, -1), nn.ErrLabel},
		{"nil-model", nil, x, y, nil},
	}
	var errs []error
	for _, c := range cases {
		adv, err := perturbNoPanic(ctx, a, c.m, c.x, c.y)
		if err == nil {
			errs = append(errs, fmt.Errorf("%s: %s: no error (output of %d values)", a.Name(), c.name, len(adv)))
			continue
		}
		if c.want != nil && !errors.Is(err, c.want) {
			errs = append(errs, fmt.Errorf("%s: %s: error %v, want one matching %v", a.Name(), c.name, err, c.want))
		}
	}
	return errs
}

// perturbNoPanic turns a panic of Perturb into an error that matches nothing.
func perturbNoPanic(ctx context.Context, a attack.Attack, m nn.Classifier, x []float32, y []int) (adv []float32, err error) {
	defer func() {
		if r := recover(); r != nil {
			adv, err = nil, fmt.Errorf("panic: %v", r)
		}
	}()
	return a.Perturb(ctx, m, x, y)
}

func checkBatchIndependence(a attack.Attack, m nn.Classifier, x []float32, y []int) error {
	d := m.Spec().ExampleSize()
	all, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		return fmt.Errorf("%s: Perturb: %v", a.Name(), err)
	}
	for i := range y {
		one, err := a.Perturb(context.Background(), m, x[i*d:(i+1)*d], y[i:i+1])
		if err != nil {
			return fmt.Errorf("%s: Perturb of example %d alone: %v", a.Name(), i, err)
		}
		for j, v := range one {
			if math.Float32bits(v) != math.Float32bits(all[i*d+j]) {
				return fmt.Errorf("%s: example %d alone differs from the batch at value %d: %v, %v", a.Name(), i, j, v, all[i*d+j])
			}
		}
	}
	return nil
}

func with(x []float32, i int, v float32) []float32 {
	c := slices.Clone(x)
	c[i] = v
	return c
}

func withLabel(y []int, i, v int) []int {
	c := slices.Clone(y)
	c[i] = v
	return c
}

// counter counts model calls and calls cancel (if not nil) when the first
// call returns.
type counter struct {
	m      nn.Classifier
	cancel func()
	mu     sync.Mutex
	n      int
}

func (c *counter) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *counter) hit() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	if c.n == 1 && c.cancel != nil {
		c.cancel()
	}
}

func (c *counter) Spec() nn.Spec { return c.m.Spec() }

func (c *counter) Logits(x []float32) ([]float32, error) {
	defer c.hit()
	return c.m.Logits(x)
}

type countingModel struct{ *counter }

func (c countingModel) InputGrad(x []float32, y []int, loss nn.Loss) ([]float32, []float32, error) {
	defer c.hit()
	return c.m.(nn.Model).InputGrad(x, y, loss)
}

// counting wraps m in a counter, keeping it an nn.Model when it is one.
func counting(m nn.Classifier, cancel func()) interface {
	nn.Classifier
	calls() int
} {
	c := &counter{m: m, cancel: cancel}
	if _, ok := m.(nn.Model); ok {
		return countingModel{c}
	}
	return c
}
