package attack

import (
	"context"
	"fmt"
	"slices"

	"github.com/robustq/robustq/nn"
)

// AutoAttack is the evaluation of Croce and Hein (2020), "Reliable
// evaluation of adversarial robustness with an ensemble of diverse
// parameter-free attacks", as one attack: APGD-CE, then APGD-T (APGD
// descending nn.DLRTargeted towards each of the Targets classes of largest
// clean logit after the first), then Square, each run only on the examples
// that the attacks before it have not fooled. An example misclassified
// clean is left as it is. Per example it returns the first output that is
// misclassified, or else the last attack's output; its accuracy is the
// worst case over the attacks, computed with a fraction of their cost.
//
// Where it differs from the reference implementation's "standard" version:
// FAB-T is not run; APGD-T's loss needs no true label (it equals DLR-T
// while the example is classified correctly, see nn.DLRTargeted), and its
// early stop is reaching its target class; Square keeps L2 proposals by
// the margin (see Square). The defaults (100 iterations, 9 targets, 5000
// queries) are the reference's.
type AutoAttack struct {
	// Norm is Linf (the zero value) or L2.
	Norm Norm
	// Eps is the radius. It has no default: 0 returns x.
	Eps float32
	// Steps is APGD's number of iterations per run; 0 means 100.
	Steps int
	// Targets is the number of target classes of APGD-T; 0 means 9, or
	// the number of classes minus one when that is smaller. A negative
	// value skips APGD-T.
	Targets int
	// Queries is Square's query budget per example; 0 means 5000. A
	// negative value skips Square.
	Queries int
	// Seed seeds the random starts and the random search.
	Seed uint64
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
}

var _ Attack = AutoAttack{}

// Name returns "autoattack-linf" or "autoattack-l2".
func (a AutoAttack) Name() string { return "autoattack-" + a.Norm.String() }

// Threat returns a gradient attack in the Eps-ball of Norm.
func (a AutoAttack) Threat() Threat {
	return Threat{Access: Gradient, Norm: a.Norm, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// Attacks returns the sequence AutoAttack runs, in order, for a model of
// the given number of classes; an Evaluator given them reports each one.
func (a AutoAttack) Attacks(classes int) []Attack {
	out := []Attack{APGD{Norm: a.Norm, Eps: a.Eps, Steps: a.Steps, Seed: a.Seed, Bounds: a.Bounds}}
	targets := a.Targets
	if targets == 0 {
		targets = min(9, classes-1)
	}
	if classes >= 4 {
		for r := 2; r < 2+targets && r <= classes; r++ {
			out = append(out, Rename(APGD{Norm: a.Norm, Eps: a.Eps, Steps: a.Steps, Seed: a.Seed, Bounds: a.Bounds,
				Loss: nn.DLRTargeted{}, Target: Ranked(r)}, fmt.Sprintf("apgd-t%d", r)))
		}
	}
	if a.Queries >= 0 {
		out = append(out, Square{Norm: a.Norm, Eps: a.Eps, Queries: a.Queries, Seed: a.Seed, Bounds: a.Bounds})
	}
	return out
}

// Perturb implements Attack.
func (a AutoAttack) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	if a.Steps < 0 {
		return nil, fmt.Errorf("%w: AutoAttack Steps %d", ErrParam, a.Steps)
	}
	p, _, err := setupGradient(ctx, m, x, y, a.Bounds, a.Norm, a.Eps, nil)
	if err != nil {
		return nil, err
	}
	out := p.start()
	z, err := p.logits(m, x)
	if err != nil {
		return nil, err
	}
	done := p.fooled(z) // misclassified clean: nothing to do
	for _, at := range a.Attacks(p.k) {
		var idx []int
		for i, f := range done {
			if !f {
				idx = append(idx, i)
			}
		}
		if len(idx) == 0 {
			break
		}
		q := p.subset(idx)
		adv, err := at.Perturb(ctx, m, q.x, q.y)
		if err != nil {
			return nil, fmt.Errorf("autoattack: %s: %w", at.Name(), err)
		}
		za, err := q.logits(m, adv)
		if err != nil {
			return nil, err
		}
		fooled := q.fooled(za)
		for j, i := range idx {
			copy(out[i*p.d:(i+1)*p.d], adv[j*p.d:(j+1)*p.d])
			done[i] = fooled[j]
		}
	}
	p.project(out)
	return out, nil
}

// Ranked returns the Target that picks each example's class of r-th
// largest clean logit (r = 2: the most likely class after the first;
// lowest index first among ties). r is clamped to 1..classes.
func Ranked(r int) Target {
	return func(logits []float32, y []int, classes int) []int {
		r := min(max(r, 1), classes)
		t := make([]int, len(y))
		order := make([]int, classes)
		for i := range y {
			z := logits[i*classes : (i+1)*classes]
			for j := range order {
				order[j] = j
			}
			slices.SortStableFunc(order, func(a, b int) int {
				switch {
				case z[a] > z[b]:
					return -1
				case z[a] < z[b]:
					return 1
				}
				return 0
			})
			t[i] = order[r-1]
		}
		return t
	}
}
