package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/nn"
)

// PGD is projected gradient descent (Madry et al. 2018) in the L∞ or L2
// ball: Steps steps of size Step along sign(∇loss) (L∞) or ∇loss/‖∇loss‖₂
// (L2), each projected onto the Eps-ball and the bounds, optionally from a
// uniformly random start in the ball and with restarts.
//
// With Restarts > 1 it returns, per example, the first restart that meets
// the attack's goal, or else the restart of highest final loss.
type PGD struct {
	// Norm is the ball's norm; the zero value is Linf.
	Norm Norm
	// Eps is the radius. It has no default: 0 returns x.
	Eps float32
	// Step is the step size; 0 means 2.5·Eps/Steps (Madry et al. 2018):
	// larger than BIM's and MIM's Eps/Steps, because PGD starts at a random
	// point of the ball and must be able to cross it, and projection keeps
	// the overshoot in the ball.
	Step float32
	// Steps is the number of iterations; 0 means 40.
	Steps int
	// RandomStart starts each restart from a uniformly random point of the
	// ball instead of x. The zero value starts from x.
	RandomStart bool
	// Restarts is the number of runs; 0 means 1.
	Restarts int
	// Seed seeds the random starts.
	Seed uint64
	// Loss is the loss ascended; nil means nn.CrossEntropy{}.
	Loss nn.Loss
	// Target makes the attack targeted; nil means untargeted.
	Target Target
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
	// EarlyStop stops stepping an example once it meets the goal and keeps
	// that point (AutoAttack's convention): never a higher accuracy on the
	// outputs, fewer gradients, one extra forward pass per step for the
	// examples still running. With Restarts, an example met in
	// one restart keeps that point. False runs every step, as other libraries do.
	EarlyStop bool
}

var _ Attack = PGD{}

func (a PGD) resolve() (steps int, step float32, restarts int, err error) {
	steps, step, restarts = a.Steps, a.Step, a.Restarts
	if steps < 0 || step < 0 || !finite(step) || restarts < 0 {
		return 0, 0, 0, fmt.Errorf("%w: PGD Steps %d, Step %v, Restarts %d", ErrParam, steps, step, restarts)
	}
	if steps == 0 {
		steps = 40
	}
	if step == 0 {
		step = 2.5 * a.Eps / float32(steps)
	}
	if restarts == 0 {
		restarts = 1
	}
	return steps, step, restarts, nil
}

// Name returns "pgd-", the norm and the loss, e.g. "pgd-linf-ce".
func (a PGD) Name() string {
	return "pgd-" + a.Norm.String() + "-" + lossOrCE(a.Loss).Name() + suffix(a.Target)
}

// Threat returns a gradient attack in the Eps-ball of Norm.
func (a PGD) Threat() Threat {
	return Threat{Access: Gradient, Norm: a.Norm, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// Perturb implements Attack.
func (a PGD) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	steps, step, restarts, err := a.resolve()
	if err != nil {
		return nil, err
	}
	p, gm, err := setupGradient(ctx, m, x, y, a.Bounds, a.Norm, a.Eps, a.Target)
	if err != nil {
		return nil, err
	}
	loss := lossOrCE(a.Loss)
	var rngs []*rand.Rand
	if a.RandomStart {
		rngs = p.rngs(a.Seed)
	}
	var best, bestObj []float32
	var bestFooled []bool
	for r := 0; r < restarts; r++ {
		adv := p.start()
		if a.RandomStart {
			p.randomStart(adv, rngs)
		}
		if err := p.iterate(ctx, gm, adv, iterSpec{norm: a.Norm, step: step, steps: steps, loss: loss, earlyStop: a.EarlyStop}); err != nil {
			return nil, err
		}
		if restarts == 1 {
			return adv, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		z, err := p.logits(m, adv)
		if err != nil {
			return nil, err
		}
		obj, f := p.objective(z, loss), p.fooled(z)
		if best == nil {
			best, bestObj, bestFooled = adv, obj, f
		} else {
			for i := range f {
				if bestFooled[i] || (!f[i] && obj[i] <= bestObj[i]) {
					continue
				}
				copy(best[i*p.d:(i+1)*p.d], adv[i*p.d:(i+1)*p.d])
				bestObj[i], bestFooled[i] = obj[i], f[i]
			}
		}
		if allTrue(bestFooled) {
			break
		}
	}
	return best, nil
}

// randomStart moves adv to a uniformly random point of the ball around x
// (uniform in the cube for Linf, uniform in the ball for L2) and projects it.
func (p *problem) randomStart(adv []float32, rngs []*rand.Rand) {
	eps := float64(p.ball.eps)
	if p.ball.norm == L2 {
		dir := make([]float64, p.d)
		for i := 0; i < p.n; i++ {
			rng := rngs[i]
			var s float64
			for j := range dir {
				dir[j] = rng.NormFloat64()
				s += dir[j] * dir[j]
			}
			r := eps * math.Pow(rng.Float64(), 1/float64(p.d))
			f := 0.0
			if s > 0 {
				f = r / math.Sqrt(s)
			}
			row := adv[i*p.d : (i+1)*p.d]
			for j := range row {
				row[j] = float32(float64(p.x[i*p.d+j]) + f*dir[j])
			}
		}
	} else {
		for i := range adv {
			adv[i] = float32(float64(p.x[i]) + eps*(2*rngs[i/p.d].Float64()-1))
		}
	}
	p.project(adv)
}

func allTrue(b []bool) bool {
	for _, v := range b {
		if !v {
			return false
		}
	}
	return true
}
