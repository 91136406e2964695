package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/nn"
)

// This file holds the pieces every attack needs, exported so that an attack
// written outside the package validates, projects and draws randomness
// exactly as the built-in ones do.

// Check validates one call of an attack's Perturb under threat t before the
// model is called: ctx not cancelled, m not nil, t's Eps (finite and ≥ 0,
// or +Inf for an unbounded attack), Norm and Bounds valid, x and y fitting
// m.Spec() (see nn.Spec.CheckInput: length, finite values, labels), and
// every value of x inside t.Bounds. It returns the batch size. Errors wrap
// the same sentinels as the built-in attacks' (ErrEps, ErrParam, ErrBounds,
// nn.ErrShape, nn.ErrLabel, nn.ErrNonFinite, nn.ErrNilModel) or are
// ctx.Err().
func (t Threat) Check(ctx context.Context, m nn.Classifier, x []float32, y []int) (int, error) {
	if !math.IsInf(float64(t.Eps), 1) {
		if err := checkEps(t.Eps); err != nil {
			return 0, err
		}
	}
	p, err := setupBall(ctx, m, x, y, t.Bounds, t.Norm, t.Eps, nil)
	if err != nil {
		return 0, err
	}
	return p.n, nil
}

// Project moves every example of adv (rows of exampleSize values) into t's
// ball around the matching example of x, intersected with t.Bounds, in
// place. Afterwards Distance(t.Norm, row, xrow) ≤ t.Eps and every value
// lies in t.Bounds, exactly for the float32 values, so the Evaluator's
// check (ErrThreat) always accepts the result; a NaN becomes the clean
// value. For L∞ it is the exact projection (a clamp per value, adjusted by
// one float32 ulp where x ± Eps rounds outside the ball); for L2 it clamps
// to the bounds, scales the perturbation into the ball and clamps again, a
// feasible point rather than always the exact projection. x must lie in
// t.Bounds (Check verifies it).
func (t Threat) Project(adv, x []float32, exampleSize int) error {
	lo, hi, err := t.Bounds.Range()
	if err != nil {
		return err
	}
	switch {
	case t.Norm != Linf && t.Norm != L2:
		return fmt.Errorf("%w: norm %v", ErrParam, t.Norm)
	case t.Eps != t.Eps || t.Eps < 0:
		return fmt.Errorf("%w: %v (want ≥ 0 or +Inf)", ErrEps, t.Eps)
	case exampleSize <= 0 || len(adv) != len(x) || len(x)%exampleSize != 0:
		return fmt.Errorf("attack: %w: Project of %d values around %d in examples of %d", nn.ErrShape, len(adv), len(x), exampleSize)
	}
	ball{norm: t.Norm, eps: t.Eps, lo: lo, hi: hi}.project(adv, x, exampleSize)
	return nil
}

// ExampleRNGs returns one generator per example of x (rows of exampleSize
// values), seeded by seed and a hash of the example's values. An attack
// that draws each example's randomness from its own generator gives an
// example the same output whatever else is in the batch and however a data
// set is cut into batches, which attacktest.Check verifies.
func ExampleRNGs(seed uint64, x []float32, exampleSize int) []*rand.Rand {
	if exampleSize <= 0 {
		return nil
	}
	r := make([]*rand.Rand, len(x)/exampleSize)
	for i := range r {
		h := uint64(14695981039346656037) // FNV-1a 64 offset basis
		for _, v := range x[i*exampleSize : (i+1)*exampleSize] {
			b := math.Float32bits(v)
			for k := 0; k < 4; k++ {
				h ^= uint64(b >> (8 * k) & 0xff)
				h *= 1099511628211 // FNV-1a 64 prime
			}
		}
		r[i] = rand.New(rand.NewPCG(seed, h))
	}
	return r
}
