package attack

import (
	"context"
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Square is the L∞ Square Attack (Andriushchenko et al. 2020, "Square
// Attack: a query-efficient black-box adversarial attack via random
// search"). It needs only logits (an nn.Classifier), so it cannot be fooled
// by masked gradients.
//
// It starts from x plus vertical stripes of ±Eps (one random sign per
// channel and column), then repeatedly proposes to set a random s×s square
// of each channel to x ± Eps (one random sign per channel) and keeps the
// proposal only if it lowers the margin z_y − max_{j≠y} z_j (or, targeted,
// max_{j≠t} z_j − z_t). The square's side is s = round(√(p·H·W)), clamped
// to [1, min(H, W) − 1], where the fraction p starts at PInit and halves
// when the iteration, rescaled to a budget of 10000, passes 10, 50, 200,
// 500, 1000, 2000, 4000, 6000 and 8000. An example stops as soon as it meets
// the attack's goal.
//
// With Norm L2 it is the L2 Square Attack of the same paper: the
// perturbation is a tiling of squares of side ⌊H/5⌋, each filled with a
// pattern η (two halves of opposite sign whose magnitudes fall off as
// 1/(r+1)² from their centres) times a random sign per channel, scaled to
// norm Eps. Each iteration picks two windows of side s (at least 3, odd),
// moves the second window's share of the norm into the first, refills the
// first with its old content plus a new η with a random sign per channel,
// and rescales the whole perturbation to Eps before clipping to the
// bounds. Proposals are kept by the same margin as for L∞ (the reference
// implementation keeps untargeted L2 proposals by cross-entropy).
//
// Each iteration queries the whole batch (examples that are done are sent
// unchanged), so a model that caches per-batch-size graphs sees one shape;
// Queries is the number of queries per example, including the first.
type Square struct {
	// Norm is Linf (the zero value) or L2.
	Norm Norm
	// Eps is the radius. It has no default: 0 returns x.
	Eps float32
	// Queries is the query budget per example; 0 means 5000.
	Queries int
	// PInit is the initial fraction of pixels changed per query; 0 means
	// 0.8 (the value AutoAttack uses for L∞ on MNIST and CIFAR-10).
	PInit float32
	// Seed seeds the random search.
	Seed uint64
	// Target makes the attack targeted; nil means untargeted.
	Target Target
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds Bounds
}

var _ Attack = Square{}

// Name returns "square", or "square-l2" for the L2 ball.
func (a Square) Name() string {
	if a.Norm == L2 {
		return "square-l2" + suffix(a.Target)
	}
	return "square" + suffix(a.Target)
}

// Threat returns a score-based attack in the Eps-ball of Norm.
func (a Square) Threat() Threat {
	return Threat{Access: Score, Norm: a.Norm, Eps: a.Eps, Bounds: a.Bounds.resolved()}
}

// squareFraction returns the fraction p of pixels changed at iteration it of n.
func squareFraction(pInit float64, it, n int) float64 {
	r := int(float64(it) / float64(n) * 10000)
	halvings := 0
	for _, th := range [...]int{10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000} {
		if r > th {
			halvings++
		}
	}
	return pInit / float64(int(1)<<halvings)
}

// Perturb implements Attack. m needs only to be an nn.Classifier.
func (a Square) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	if a.Queries < 0 || !finite(a.PInit) || a.PInit < 0 || a.PInit > 1 {
		return nil, fmt.Errorf("%w: Square Queries %d, PInit %v", ErrParam, a.Queries, a.PInit)
	}
	queries, pInit := a.Queries, float64(a.PInit)
	if queries == 0 {
		queries = 5000
	}
	if pInit == 0 {
		pInit = 0.8
	}
	p, err := setup(ctx, m, x, y, a.Bounds, a.Norm, a.Eps, a.Target)
	if err != nil {
		return nil, err
	}
	if a.Eps == 0 {
		return p.start(), nil
	}
	if a.Norm == L2 {
		return a.perturbL2(ctx, m, p, queries, pInit)
	}
	n, d := p.n, p.d
	ch, h, w := p.spec.Channels, p.spec.Height, p.spec.Width
	eps := a.Eps
	rngs := p.rngs(a.Seed)

	best := p.start()
	for i := 0; i < n; i++ {
		rng := rngs[i]
		for c := 0; c < ch; c++ {
			for col := 0; col < w; col++ {
				v := eps
				if rng.IntN(2) == 0 {
					v = -eps
				}
				for r := 0; r < h; r++ {
					best[i*d+c*h*w+r*w+col] += v
				}
			}
		}
	}
	p.project(best)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	z, err := p.logits(m, best)
	if err != nil {
		return nil, err
	}
	bestMargin, fooled := p.squareMargin(z), p.fooled(z)

	cand := make([]float32, len(best))
	for it := 1; it < queries && !allTrue(fooled); it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := int(math.Round(math.Sqrt(squareFraction(pInit, it, queries) * float64(h*w))))
		s = min(max(s, 1), max(min(h, w)-1, 1))
		copy(cand, best)
		for i := 0; i < n; i++ {
			if fooled[i] {
				continue
			}
			rng := rngs[i]
			row, xrow, brow := cand[i*d:(i+1)*d], x[i*d:(i+1)*d], best[i*d:(i+1)*d]
			// Redraw a proposal that changes nothing (all of the square
			// already at the chosen corner), a few times at most.
			for try := 0; try < 10; try++ {
				r0, c0 := rng.IntN(h-s+1), rng.IntN(w-s+1)
				changed := false
				for c := 0; c < ch; c++ {
					v := eps
					if rng.IntN(2) == 0 {
						v = -eps
					}
					for r := r0; r < r0+s; r++ {
						for col := c0; col < c0+s; col++ {
							j := c*h*w + r*w + col
							lo, hi := linfInterval(xrow[j], eps, p.ball.lo, p.ball.hi)
							nv := min(max(xrow[j]+v, lo), hi)
							row[j] = nv
							if math.Abs(float64(nv)-float64(brow[j])) >= 1e-7 {
								changed = true
							}
						}
					}
				}
				if changed {
					break
				}
			}
		}
		p.project(cand)
		z, err := p.logits(m, cand)
		if err != nil {
			return nil, err
		}
		newMargin, newFooled := p.squareMargin(z), p.fooled(z)
		for i := 0; i < n; i++ {
			if fooled[i] || newMargin[i] >= bestMargin[i] {
				continue
			}
			copy(best[i*d:(i+1)*d], cand[i*d:(i+1)*d])
			bestMargin[i], fooled[i] = newMargin[i], newFooled[i]
		}
	}
	return best, nil
}
