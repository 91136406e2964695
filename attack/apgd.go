package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/nn"
)

// APGD is Auto-PGD in the L∞ or L2 ball (Croce and Hein 2020, "Reliable
// evaluation of adversarial robustness with an ensemble of diverse
// parameter-free attacks"), the step-size-free PGD of AutoAttack.
//
// Each run starts from a random point of the ball (uniform in the L∞ box;
// at distance Eps along a Gaussian direction for L2), takes a first step
// of size η = 2·Eps, then momentum steps
//
//	z = P(x_k + η·s(∇f(x_k)))
//	x_{k+1} = P(x_k + α(z − x_k) + (1 − α)(x_k − x_{k−1}))
//
// where s is the sign for L∞ and the gradient scaled to unit L2 norm for L2.
//
// with per-example step sizes η. At the checkpoints w_j = ⌈p_j·Steps⌉,
// p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06), an
// example's η is halved, and the example restarted from its best point
// (with the momentum reset), when the loss increased in fewer than a
// fraction Rho of the steps since the last checkpoint, or when η was not
// halved at the last checkpoint and the best loss has not improved since
// then. The loss is nn.CrossEntropy{} by default; nn.DLR{} gives APGD-DLR.
//
// Perturb returns, per example, the first iterate that met the attack's goal
// (checked with Logits after every step), or else the point of highest
// loss. It stops early once every example of the batch meets the goal.
type APGD struct {
	// Norm is Linf (the zero value) or L2.
	Norm Norm
	// Eps is the radius. It has no default: 0 returns x.
	Eps float32
	// Steps is the number of iterations per run; 0 means 100.
	Steps int
	// Restarts is the number of runs; 0 means 1. Later runs only change
	// examples that no earlier run fooled.
	Restarts int
	// Rho is the checkpoint threshold ρ; 0 means 0.75.
	Rho float32
	// Alpha is the momentum weight α; 0 means 0.75.
	Alpha float32
	// Loss is the loss ascended; nil means nn.CrossEntropy{}.
	Loss nn.Loss
	// Seed seeds the random starts.
	Seed uint64
	// Target makes the attack targeted (it descends Loss on the target
	// class); nil means untargeted.
	Target Target
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
}

var _ Attack = APGD{}

func (a APGD) resolve() (steps, restarts int, rho, alpha float32, err error) {
	steps, restarts, rho, alpha = a.Steps, a.Restarts, a.Rho, a.Alpha
	if steps < 0 || restarts < 0 || !finite(rho) || rho < 0 || rho > 1 || !finite(alpha) || alpha < 0 || alpha > 1 {
		return 0, 0, 0, 0, fmt.Errorf("%w: APGD Steps %d, Restarts %d, Rho %v, Alpha %v", ErrParam, steps, restarts, rho, alpha)
	}
	if steps == 0 {
		steps = 100
	}
	if restarts == 0 {
		restarts = 1
	}
	if rho == 0 {
		rho = 0.75
	}
	if alpha == 0 {
		alpha = 0.75
	}
	return steps, restarts, rho, alpha, nil
}

// Name returns "apgd-", "l2-" for the L2 ball, and the loss name, e.g.
// "apgd-dlr".
func (a APGD) Name() string {
	n := "apgd-"
	if a.Norm == L2 {
		n += "l2-"
	}
	return n + lossOrCE(a.Loss).Name() + suffix(a.Target)
}

// Threat returns a gradient attack in the Eps-ball of Norm.
func (a APGD) Threat() Threat {
	return Threat{Access: Gradient, Norm: a.Norm, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// apgdCheckpoints returns the iterations ⌈p_j·n⌉ (j ≥ 1, p_j < 1) at which
// APGD checks its step sizes, strictly increasing.
func apgdCheckpoints(n int) []int {
	ps := []float64{0, 0.22}
	for ps[len(ps)-1] < 1 {
		j := len(ps) - 1
		ps = append(ps, ps[j]+math.Max(ps[j]-ps[j-1]-0.03, 0.06))
	}
	var w []int
	for _, p := range ps[1:] {
		if p >= 1 {
			break
		}
		// The tolerance keeps 0.22·100 = 22.000000000000004 at 22.
		c := int(math.Ceil(p*float64(n) - 1e-9))
		if c >= 1 && c <= n && (len(w) == 0 || c > w[len(w)-1]) {
			w = append(w, c)
		}
	}
	return w
}

// Perturb implements Attack.
func (a APGD) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	steps, restarts, rho, alpha, err := a.resolve()
	if err != nil {
		return nil, err
	}
	p, gm, err := setupGradient(ctx, m, x, y, a.Bounds, a.Norm, a.Eps, a.Target)
	if err != nil {
		return nil, err
	}
	loss := lossOrCE(a.Loss)
	rngs := p.rngs(a.Seed)
	out := p.start()
	found := make([]bool, p.n)
	bestObj := make([]float32, p.n)
	for i := range bestObj {
		bestObj[i] = float32(math.Inf(-1))
	}
	checkpoints := apgdCheckpoints(steps)
	d := p.d
	for r := 0; r < restarts && !allTrue(found); r++ {
		run, err := p.apgdRun(ctx, m, gm, loss, steps, checkpoints, rho, alpha, rngs)
		if err != nil {
			return nil, err
		}
		for i := 0; i < p.n; i++ {
			if found[i] {
				continue
			}
			switch {
			case run.found[i]:
				copy(out[i*d:(i+1)*d], run.adv[i*d:(i+1)*d])
				found[i] = true
			case run.bestObj[i] > bestObj[i]:
				copy(out[i*d:(i+1)*d], run.best[i*d:(i+1)*d])
				bestObj[i] = run.bestObj[i]
			}
		}
	}
	p.project(out)
	return out, nil
}

type apgdResult struct {
	found   []bool    // the goal was met at some iterate
	adv     []float32 // the first iterate that met the goal, where found
	best    []float32 // the point of highest objective
	bestObj []float32
}

func (p *problem) apgdRun(ctx context.Context, m nn.Classifier, gm nn.Model, loss nn.Loss, steps int,
	checkpoints []int, rho, alpha float32, rngs []*rand.Rand) (*apgdResult, error) {
	n, d := p.n, p.d
	cur := p.start()
	eps := float64(p.ball.eps)
	if p.ball.norm == L2 {
		u := make([]float64, d)
		for i := 0; i < n; i++ {
			var s float64
			for j := range u {
				u[j] = rngs[i].NormFloat64()
				s += u[j] * u[j]
			}
			if s = math.Sqrt(s); s > 0 {
				for j, v := range u {
					cur[i*d+j] = float32(float64(p.x[i*d+j]) + eps*v/s)
				}
			}
		}
	} else {
		for i := range cur {
			cur[i] = float32(float64(p.x[i]) + eps*(2*rngs[i/d].Float64()-1))
		}
	}
	p.project(cur)

	res := &apgdResult{found: make([]bool, n), adv: p.start()}
	// evaluate returns the gradient and objective at pt and records the
	// examples that meet the goal there.
	evaluate := func(pt []float32) ([]float32, []float32, error) {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		g, obj, err := p.gradient(gm, pt, loss)
		if err != nil {
			return nil, nil, err
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		z, err := p.logits(m, pt)
		if err != nil {
			return nil, nil, err
		}
		for i, f := range p.fooled(z) {
			if f && !res.found[i] {
				res.found[i] = true
				copy(res.adv[i*d:(i+1)*d], pt[i*d:(i+1)*d])
			}
		}
		return g, obj, nil
	}

	g, obj, err := evaluate(cur)
	if err != nil {
		return nil, err
	}
	best := append([]float32(nil), cur...)
	bestG := append([]float32(nil), g...)
	bestObj := append([]float32(nil), obj...)
	curObj := append([]float32(nil), obj...)
	prev := append([]float32(nil), cur...)
	eta := make([]float32, n)
	for i := range eta {
		eta[i] = 2 * p.ball.eps
	}
	increases := make([]int, n)
	lastBest := append([]float32(nil), bestObj...)
	lastReduced := make([]bool, n)
	z := make([]float32, len(cur))
	next := make([]float32, len(cur))
	lastCheck, ci := 0, 0

	for k := 0; k < steps; k++ {
		a := alpha
		if k == 0 {
			a = 1
		}
		if p.ball.norm == L2 {
			for i := 0; i < n; i++ {
				gi := g[i*d : (i+1)*d]
				nrm := rowL2(gi)
				for j, v := range gi {
					step := float32(0)
					if nrm > 0 {
						step = eta[i] * float32(float64(v)/nrm)
					}
					z[i*d+j] = cur[i*d+j] + step
				}
			}
		} else {
			for i := range z {
				z[i] = cur[i] + eta[i/d]*sign(g[i])
			}
		}
		p.project(z)
		for i := range next {
			next[i] = cur[i] + a*(z[i]-cur[i]) + (1-a)*(cur[i]-prev[i])
		}
		p.project(next)
		copy(prev, cur)
		copy(cur, next)

		g, obj, err = evaluate(cur)
		if err != nil {
			return nil, err
		}
		for i := 0; i < n; i++ {
			if obj[i] > curObj[i] {
				increases[i]++
			}
			curObj[i] = obj[i]
			if obj[i] > bestObj[i] {
				bestObj[i] = obj[i]
				copy(best[i*d:(i+1)*d], cur[i*d:(i+1)*d])
				copy(bestG[i*d:(i+1)*d], g[i*d:(i+1)*d])
			}
		}
		if ci < len(checkpoints) && k+1 == checkpoints[ci] {
			span := float32(checkpoints[ci] - lastCheck)
			for i := 0; i < n; i++ {
				osc := float32(increases[i]) < rho*span
				stall := !lastReduced[i] && bestObj[i] <= lastBest[i]
				reduce := osc || stall
				if reduce {
					eta[i] /= 2
					row := cur[i*d : (i+1)*d]
					copy(row, best[i*d:(i+1)*d])
					copy(prev[i*d:(i+1)*d], row)
					copy(g[i*d:(i+1)*d], bestG[i*d:(i+1)*d])
					curObj[i] = bestObj[i]
				}
				lastReduced[i] = reduce
				lastBest[i] = bestObj[i]
				increases[i] = 0
			}
			lastCheck = checkpoints[ci]
			ci++
		}
		if allTrue(res.found) {
			break
		}
	}
	res.best, res.bestObj = best, bestObj
	return res, nil
}
