package attack

import (
	"context"
	"fmt"

	"github.com/robustq/robustq/nn"
)

// FGSM is the fast gradient sign method (Goodfellow et al. 2015): one L∞
// step x + Eps·sign(∇loss), projected onto the bounds. A coordinate whose
// gradient is exactly zero does not move, so an FGSM that leaves inputs
// unchanged on a model with a saturated softmax measures masking, not
// robustness; use a margin loss (nn.CWMargin{}, nn.DLR{}) to see through it.
type FGSM struct {
	// Eps is the L∞ radius. It has no default: 0 returns x.
	Eps float32
	// Loss is the loss ascended; nil means nn.CrossEntropy{}.
	Loss nn.Loss
	// Target makes the attack targeted (it descends the loss on the target
	// class); nil means untargeted.
	Target Target
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
}

// BIM is the basic iterative method (Kurakin et al. 2017): Steps FGSM steps
// of size Step, each projected onto the L∞ Eps-ball and the bounds, from x
// itself (no random start).
type BIM struct {
	// Eps is the L∞ radius. It has no default: 0 returns x.
	Eps float32
	// Step is the step size; 0 means Eps/Steps (as in Dong et al. 2018).
	Step float32
	// Steps is the number of iterations; 0 means 10.
	Steps int
	// Loss is the loss ascended; nil means nn.CrossEntropy{}.
	Loss nn.Loss
	// Target makes the attack targeted; nil means untargeted.
	Target Target
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
	// EarlyStop stops stepping an example once it meets the goal and keeps
	// that point (AutoAttack's convention): never a higher accuracy on the
	// outputs, fewer gradients, one extra forward pass per step for the
	// examples still running. False runs every step, as other libraries do.
	EarlyStop bool
}

// MIM is the momentum iterative method (Dong et al. 2018, "Boosting
// adversarial attacks with momentum"): g ← Decay·g + ∇/‖∇‖₁ per example,
// x ← x + Step·sign(g), projected onto the L∞ Eps-ball and the bounds.
type MIM struct {
	// Eps is the L∞ radius. It has no default: 0 returns x.
	Eps float32
	// Step is the step size; 0 means Eps/Steps (Dong et al. 2018).
	Step float32
	// Steps is the number of iterations; 0 means 10.
	Steps int
	// Decay is the momentum decay μ; 0 means 1.0, the paper's value. Use
	// BIM for μ = 0.
	Decay float32
	// Loss is the loss ascended; nil means nn.CrossEntropy{}.
	Loss nn.Loss
	// Target makes the attack targeted; nil means untargeted.
	Target Target
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
	// EarlyStop stops stepping an example once it meets the goal and keeps
	// that point (AutoAttack's convention): never a higher accuracy on the
	// outputs, fewer gradients, one extra forward pass per step for the
	// examples still running. False runs every step, as other libraries do.
	EarlyStop bool
}

var (
	_ Attack = FGSM{}
	_ Attack = BIM{}
	_ Attack = MIM{}
)

// Name returns "fgsm-" and the loss name, e.g. "fgsm-ce", with "-targeted"
// appended for a targeted attack.
func (a FGSM) Name() string { return "fgsm-" + lossOrCE(a.Loss).Name() + suffix(a.Target) }

// Threat returns a gradient attack in the L∞ Eps-ball.
func (a FGSM) Threat() Threat {
	return Threat{Access: Gradient, Norm: Linf, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// Perturb implements Attack.
func (a FGSM) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	p, gm, err := setupGradient(ctx, m, x, y, a.Bounds, Linf, a.Eps, a.Target)
	if err != nil {
		return nil, err
	}
	adv := p.start()
	err = p.iterate(ctx, gm, adv, iterSpec{norm: Linf, step: a.Eps, steps: 1, loss: lossOrCE(a.Loss)})
	if err != nil {
		return nil, err
	}
	return adv, nil
}

func (a BIM) resolve() (steps int, step float32, err error) {
	steps, step = a.Steps, a.Step
	if steps < 0 || step < 0 || !finite(step) {
		return 0, 0, fmt.Errorf("%w: BIM Steps %d, Step %v", ErrParam, steps, step)
	}
	if steps == 0 {
		steps = 10
	}
	if step == 0 {
		step = a.Eps / float32(steps)
	}
	return steps, step, nil
}

// Name returns "bim-" and the loss name, e.g. "bim-ce".
func (a BIM) Name() string { return "bim-" + lossOrCE(a.Loss).Name() + suffix(a.Target) }

// Threat returns a gradient attack in the L∞ Eps-ball.
func (a BIM) Threat() Threat {
	return Threat{Access: Gradient, Norm: Linf, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// Perturb implements Attack.
func (a BIM) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	steps, step, err := a.resolve()
	if err != nil {
		return nil, err
	}
	p, gm, err := setupGradient(ctx, m, x, y, a.Bounds, Linf, a.Eps, a.Target)
	if err != nil {
		return nil, err
	}
	adv := p.start()
	if err := p.iterate(ctx, gm, adv, iterSpec{norm: Linf, step: step, steps: steps, loss: lossOrCE(a.Loss), earlyStop: a.EarlyStop}); err != nil {
		return nil, err
	}
	return adv, nil
}

func (a MIM) resolve() (steps int, step, decay float32, err error) {
	steps, step, decay = a.Steps, a.Step, a.Decay
	if steps < 0 || step < 0 || !finite(step) || decay < 0 || !finite(decay) {
		return 0, 0, 0, fmt.Errorf("%w: MIM Steps %d, Step %v, Decay %v", ErrParam, steps, step, decay)
	}
	if steps == 0 {
		steps = 10
	}
	if step == 0 {
		step = a.Eps / float32(steps)
	}
	if decay == 0 {
		decay = 1
	}
	return steps, step, decay, nil
}

// Name returns "mim-" and the loss name, e.g. "mim-ce".
func (a MIM) Name() string { return "mim-" + lossOrCE(a.Loss).Name() + suffix(a.Target) }

// Threat returns a gradient attack in the L∞ Eps-ball.
func (a MIM) Threat() Threat {
	return Threat{Access: Gradient, Norm: Linf, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// Perturb implements Attack.
func (a MIM) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	steps, step, decay, err := a.resolve()
	if err != nil {
		return nil, err
	}
	p, gm, err := setupGradient(ctx, m, x, y, a.Bounds, Linf, a.Eps, a.Target)
	if err != nil {
		return nil, err
	}
	adv := p.start()
	spec := iterSpec{norm: Linf, step: step, steps: steps, momentum: true, decay: decay, loss: lossOrCE(a.Loss), earlyStop: a.EarlyStop}
	if err := p.iterate(ctx, gm, adv, spec); err != nil {
		return nil, err
	}
	return adv, nil
}

// iterSpec configures the projected gradient iteration shared by FGSM, BIM,
// MIM and PGD.
type iterSpec struct {
	norm     Norm
	step     float32
	steps    int
	momentum bool    // MIM: accumulate L1-normalised gradients
	decay    float32 // momentum decay μ
	loss     nn.Loss
	// earlyStop stops stepping an example once it meets the goal.
	earlyStop bool
}

// iterate runs s.steps projected gradient steps on adv in place. With
// s.earlyStop each step first asks the model for the predictions of the
// examples still running and leaves those that meet the goal where they
// are; the others take the same steps as without it.
func (p *problem) iterate(ctx context.Context, gm nn.Model, adv []float32, s iterSpec) error {
	var acc []float32
	if s.momentum {
		acc = make([]float32, len(adv))
	}
	active := make([]int, p.n)
	for i := range active {
		active[i] = i
	}
	for t := 0; t < s.steps && len(active) > 0; t++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		q, a, m := p, adv, acc
		if s.earlyStop {
			q = p.subset(active)
			z, err := q.logits(gm, gather(adv, active, p.d))
			if err != nil {
				return err
			}
			f := q.fooled(z)
			still := active[:0]
			for j, i := range active {
				if !f[j] {
					still = append(still, i)
				}
			}
			if active = still; len(active) == 0 {
				break
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			q, a = p.subset(active), gather(adv, active, p.d)
			if s.momentum {
				m = gather(acc, active, p.d)
			}
		}
		g, _, err := q.gradient(gm, a, s.loss)
		if err != nil {
			return err
		}
		if s.momentum {
			for i := 0; i < q.n; i++ {
				row := g[i*q.d : (i+1)*q.d]
				am := m[i*q.d : (i+1)*q.d]
				l1 := rowL1(row)
				for j, v := range row {
					var u float32
					if l1 > 0 {
						u = float32(float64(v) / l1)
					}
					am[j] = s.decay*am[j] + u
				}
			}
			g = m
		}
		q.step(a, g, s.norm, s.step)
		q.project(a)
		if s.earlyStop {
			scatter(adv, a, active, p.d)
			if s.momentum {
				scatter(acc, m, active, p.d)
			}
		}
	}
	return nil
}

// step moves adv by step along dir: the sign of dir for Linf, dir scaled
// to L2 norm step (per example) for L2. A zero direction does not move.
func (p *problem) step(adv, dir []float32, norm Norm, step float32) {
	if norm == L2 {
		for i := 0; i < p.n; i++ {
			row := dir[i*p.d : (i+1)*p.d]
			nrm := rowL2(row)
			if nrm == 0 {
				continue
			}
			f := float64(step) / nrm
			a := adv[i*p.d : (i+1)*p.d]
			for j, v := range row {
				a[j] += float32(f * float64(v))
			}
		}
		return
	}
	for i, v := range dir {
		adv[i] += step * sign(v)
	}
}
