package attack

import (
	"context"
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Gaussian adds independent N(0, Sigma²) noise to every input value, clipped
// to the bounds and, when Eps > 0, projected onto the Eps-ball of Norm. It
// uses nothing of the model but its Spec. A model that loses more accuracy
// to noise than to gradient attacks of the same radius is masking its
// gradients.
type Gaussian struct {
	// Sigma is the standard deviation; 0 means Eps. With Sigma and Eps both
	// 0 the attack returns x.
	Sigma float32
	// Eps is the radius of the ball the noise is projected onto; 0 means no
	// ball (the noise is only clipped to the bounds, and Threat().Eps is +Inf).
	Eps float32
	// Norm is the ball's norm; the zero value is Linf.
	Norm Norm
	// Seed seeds the noise.
	Seed uint64
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
}

// Uniform adds independent noise uniform in [−Eps, Eps] to every input
// value, clipped to the bounds: a random point of the L∞ Eps-ball. It uses
// nothing of the model but its Spec.
type Uniform struct {
	// Eps is the L∞ radius. It has no default: 0 returns x.
	Eps float32
	// Seed seeds the noise.
	Seed uint64
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
}

var (
	_ Attack = Gaussian{}
	_ Attack = Uniform{}
)

// Name returns "gaussian".
func (a Gaussian) Name() string { return "gaussian" }

// Threat returns a random attack in the Eps-ball of Norm (+Inf when Eps is 0).
func (a Gaussian) Threat() Threat {
	eps := a.Eps
	if eps == 0 {
		eps = float32(math.Inf(1))
	}
	return Threat{Access: Random, Norm: a.Norm, Eps: eps, Bounds: a.Bounds.resolved()}
}

// Perturb implements Attack.
func (a Gaussian) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	if !finite(a.Sigma) || a.Sigma < 0 {
		return nil, fmt.Errorf("%w: Gaussian Sigma %v", ErrParam, a.Sigma)
	}
	if err := checkEps(a.Eps); err != nil {
		return nil, err
	}
	var p *problem
	var err error
	if a.Eps == 0 {
		p, err = setupUnbounded(ctx, m, x, y, a.Bounds, a.Norm, nil)
	} else {
		p, err = setup(ctx, m, x, y, a.Bounds, a.Norm, a.Eps, nil)
	}
	if err != nil {
		return nil, err
	}
	sigma := float64(a.Sigma)
	if sigma == 0 {
		sigma = float64(a.Eps)
	}
	rngs := p.rngs(a.Seed)
	adv := p.start()
	for i, v := range adv {
		adv[i] = float32(float64(v) + sigma*rngs[i/p.d].NormFloat64())
	}
	p.project(adv)
	return adv, nil
}

// Name returns "uniform".
func (a Uniform) Name() string { return "uniform" }

// Threat returns a random attack in the L∞ Eps-ball.
func (a Uniform) Threat() Threat {
	return Threat{Access: Random, Norm: Linf, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// Perturb implements Attack.
func (a Uniform) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	p, err := setup(ctx, m, x, y, a.Bounds, Linf, a.Eps, nil)
	if err != nil {
		return nil, err
	}
	rngs := p.rngs(a.Seed)
	eps := float64(a.Eps)
	adv := p.start()
	for i, v := range adv {
		adv[i] = float32(float64(v) + eps*(2*rngs[i/p.d].Float64()-1))
	}
	p.project(adv)
	return adv, nil
}
