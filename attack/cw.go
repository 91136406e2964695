package attack

import (
	"context"
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// CW is the Carlini-Wagner L2 attack (Carlini and Wagner 2017, "Towards
// evaluating the robustness of neural networks"). It searches, per example,
// for the smallest L2 perturbation that fools the model with confidence
// Kappa by minimising
//
//	‖x' − x‖₂² + c·max(−o(x'), −Kappa)
//
// where o is the margin max_{j≠y} z_j − z_y (untargeted) or
// z_t − max_{j≠t} z_j (targeted), over x' = mid + half·tanh(w) (the
// change of variables that keeps x' inside the bounds), with Adam. A binary
// search over c (BinarySteps rounds from InitialConst, multiplying c by 10
// until the first success) balances distance against success.
//
// Perturb returns, per example, the successful x' of smallest L2 distance
// found in any iteration of any round, and x itself where no round
// succeeded. The attack is unbounded: Threat().Eps is +Inf.
type CW struct {
	// Steps is the number of Adam iterations per binary-search round; 0 means 100.
	Steps int
	// LR is Adam's learning rate; 0 means 0.01.
	LR float32
	// BinarySteps is the number of binary-search rounds over c; 0 means 9.
	BinarySteps int
	// InitialConst is the first c; 0 means 1e-3.
	InitialConst float32
	// Kappa is the confidence κ ≥ 0: a success needs o(x') > Kappa. The
	// zero value is 0.
	Kappa float32
	// Target makes the attack targeted; nil means untargeted.
	Target Target
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
	// AbortEarly ends a round for an example once its objective has not
	// fallen by 0.01% over a tenth of Steps, as Carlini and Wagner's
	// reference code does for a batch; per example here, so that an
	// example's result does not depend on its batch. The round ends when
	// every example has stopped. The zero value runs every step.
	AbortEarly bool
}

var _ Attack = CW{}

// Name returns "cw-l2".
func (a CW) Name() string { return "cw-l2" + suffix(a.Target) }

// Threat returns an unbounded L2 gradient attack.
func (a CW) Threat() Threat {
	return Threat{Access: Gradient, Norm: L2, Eps: float32(math.Inf(1)), Bounds: a.Bounds.resolved()}
}

func (a CW) resolve() (steps, bsteps int, lr, c0 float64, err error) {
	if a.Steps < 0 || a.BinarySteps < 0 || !finite(a.LR) || a.LR < 0 || !finite(a.InitialConst) || a.InitialConst < 0 ||
		!finite(a.Kappa) || a.Kappa < 0 {
		return 0, 0, 0, 0, fmt.Errorf("%w: CW Steps %d, BinarySteps %d, LR %v, InitialConst %v, Kappa %v",
			ErrParam, a.Steps, a.BinarySteps, a.LR, a.InitialConst, a.Kappa)
	}
	steps, bsteps, lr, c0 = a.Steps, a.BinarySteps, float64(a.LR), float64(a.InitialConst)
	if steps == 0 {
		steps = 100
	}
	if bsteps == 0 {
		bsteps = 9
	}
	if lr == 0 {
		lr = 0.01
	}
	if c0 == 0 {
		c0 = 1e-3
	}
	return steps, bsteps, lr, c0, nil
}

// Perturb implements Attack.
func (a CW) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	steps, bsteps, lr, c0, err := a.resolve()
	if err != nil {
		return nil, err
	}
	p, gm, err := setupGradientUnbounded(ctx, m, x, y, a.Bounds, L2, float32(math.Inf(1)), a.Target)
	if err != nil {
		return nil, err
	}
	const (
		beta1, beta2, adamEps = 0.9, 0.999, 1e-8 // Adam's defaults (Kingma and Ba 2015)
		noUpper               = 1e10             // "no upper bound on c yet"
	)
	n, d := p.n, p.d
	lo, hi := float64(p.ball.lo), float64(p.ball.hi)
	mid, half := (hi+lo)/2, (hi-lo)/2
	kappa := a.Kappa
	loss := nn.CWMargin{}

	w0 := make([]float64, len(x))
	for i, v := range x {
		u := (float64(v) - mid) / half
		u = math.Max(-1+1e-6, math.Min(1-1e-6, u))
		w0[i] = math.Atanh(u)
	}
	c := make([]float64, n)
	lower := make([]float64, n)
	upper := make([]float64, n)
	for i := range c {
		c[i], upper[i] = c0, noUpper
	}
	bestL2 := make([]float64, n)
	for i := range bestL2 {
		bestL2[i] = math.Inf(1)
	}
	out := p.start()

	w := make([]float64, len(x))
	mom := make([]float64, len(x))
	vel := make([]float64, len(x))
	th := make([]float64, len(x))
	xp := make([]float32, len(x))
	success := make([]bool, n)
	// Early abort: every checkEvery steps, an example whose objective is not
	// below 0.9999 of its value at the last check stops moving.
	checkEvery := (steps + 9) / 10
	stopped := make([]bool, n)
	lastCheck := make([]float64, n)
	for bs := 0; bs < bsteps; bs++ {
		copy(w, w0)
		clear(mom)
		clear(vel)
		clear(success)
		clear(stopped)
		for i := range lastCheck {
			lastCheck[i] = math.Inf(1)
		}
		running := n
		for it := 0; ; it++ {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			for j, v := range w {
				th[j] = math.Tanh(v)
				xp[j] = float32(mid + half*th[j])
			}
			p.ball.project(xp, p.x, d) // clamps to the box; the ball is unbounded
			g, o, err := p.gradient(gm, xp, loss)
			if err != nil {
				return nil, err
			}
			for i := 0; i < n; i++ {
				if o[i] <= kappa {
					continue
				}
				success[i] = true
				row := xp[i*d : (i+1)*d]
				if l2 := Distance(L2, row, x[i*d:(i+1)*d]); l2 < bestL2[i] {
					bestL2[i] = l2
					copy(out[i*d:(i+1)*d], row)
				}
			}
			if a.AbortEarly && it%checkEvery == 0 {
				for i := 0; i < n; i++ {
					if stopped[i] {
						continue
					}
					l2 := Distance(L2, xp[i*d:(i+1)*d], x[i*d:(i+1)*d])
					obj := l2*l2 + c[i]*math.Max(float64(kappa)-float64(o[i]), 0) // ≥ 0, as the relative test needs
					if !(obj <= 0.9999*lastCheck[i]) {
						stopped[i] = true
						running--
					}
					lastCheck[i] = obj
				}
			}
			if it == steps || running == 0 {
				break
			}
			t := float64(it + 1)
			b1, b2 := 1-math.Pow(beta1, t), 1-math.Pow(beta2, t)
			for i := 0; i < n; i++ {
				if stopped[i] {
					continue
				}
				active := o[i] < kappa // the hinge max(−o, −κ) is not clipped
				for j := i * d; j < (i+1)*d; j++ {
					gx := 2 * (float64(xp[j]) - float64(x[j]))
					if active {
						gx -= c[i] * float64(g[j])
					}
					gw := gx * half * (1 - th[j]*th[j])
					mom[j] = beta1*mom[j] + (1-beta1)*gw
					vel[j] = beta2*vel[j] + (1-beta2)*gw*gw
					w[j] -= lr * (mom[j] / b1) / (math.Sqrt(vel[j]/b2) + adamEps)
				}
			}
		}
		for i := 0; i < n; i++ {
			if success[i] {
				upper[i] = math.Min(upper[i], c[i])
			} else {
				lower[i] = math.Max(lower[i], c[i])
			}
			if upper[i] < noUpper {
				c[i] = (lower[i] + upper[i]) / 2
			} else {
				c[i] *= 10
			}
		}
	}
	p.project(out)
	return out, nil
}
