package attack

import (
	"context"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/nn"
)

// squareRect returns the rows×cols pattern whose value at a point is
// Σ 1/(r+1)² over the centred rectangles r = 0, 1, … (of side 2r+1,
// clipped to the pattern) that contain it, scaled to unit L2 norm.
func squareRect(rows, cols int) []float64 {
	out := make([]float64, rows*cols)
	if rows == 0 || cols == 0 {
		return out
	}
	r0, c0 := rows/2, cols/2 // the centre; rectangle r spans r0−r .. r0+r
	for r := range max(rows/2+1, cols/2+1) {
		v := 1 / float64((r+1)*(r+1))
		for i := max(r0-r, 0); i < min(r0+r+1, rows); i++ {
			for j := max(c0-r, 0); j < min(c0+r+1, cols); j++ {
				out[i*cols+j] += v
			}
		}
	}
	return unitL2(out)
}

// squareEta returns the s×s pattern of the L2 Square Attack: the top
// ⌊s/2⌋ rows a squareRect, the others minus one, at unit L2 norm, and
// transposed with probability ½.
func squareEta(s int, rng *rand.Rand) []float64 {
	top, bottom := squareRect(s/2, s), squareRect(s-s/2, s)
	eta := make([]float64, s*s)
	copy(eta, top)
	for i, v := range bottom {
		eta[len(top)+i] = -v
	}
	eta = unitL2(eta)
	if rng.IntN(2) == 1 {
		t := make([]float64, s*s)
		for i := range s {
			for j := range s {
				t[j*s+i] = eta[i*s+j]
			}
		}
		eta = t
	}
	return eta
}

func unitL2(v []float64) []float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	if s = math.Sqrt(s); s > 0 {
		for i := range v {
			v[i] /= s
		}
	}
	return v
}

// squareL2Place returns x + eps·δ/‖δ‖₂ clipped to the bounds, the point a
// perturbation δ of one example stands for.
func (p *problem) squareL2Place(dst []float32, x []float32, delta []float64) {
	var n float64
	for _, v := range delta {
		n += v * v
	}
	n = math.Sqrt(n) + 1e-12
	eps := float64(p.ball.eps)
	for j, v := range delta {
		dst[j] = p.ball.clampBox(float32(float64(x[j]) + eps*v/n))
	}
}

// perturbL2 is Perturb for the L2 ball; see Square.
func (a Square) perturbL2(ctx context.Context, m nn.Classifier, p *problem, queries int, pInit float64) ([]float32, error) {
	n, d := p.n, p.d
	ch, h, w := p.spec.Channels, p.spec.Height, p.spec.Width
	rngs := p.rngs(a.Seed)
	best := p.start()
	side := max(h/5, 1)
	off := max((h-side*5)/2, 0)
	for i := range n {
		delta := make([]float64, d) // the direction; any scale
		rng := rngs[i]
		for vh := off; vh+side <= h; vh += side {
			for vw := off; vw+side <= w; vw += side {
				eta := squareEta(side, rng)
				for c := range ch {
					sgn := float64(2*rng.IntN(2) - 1)
					for r := range side {
						for q := range side {
							delta[c*h*w+(vh+r)*w+vw+q] += sgn * eta[r*side+q]
						}
					}
				}
			}
		}
		p.squareL2Place(best[i*d:(i+1)*d], p.x[i*d:(i+1)*d], delta)
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
	cur := make([]float64, d)  // an example's current perturbation
	nw := make([]float64, h*w) // window 1's new content
	for it := 1; it < queries && !allTrue(fooled); it++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		s := int(math.Round(math.Sqrt(squareFraction(pInit, it, queries) * float64(d) / float64(ch))))
		s = max(s, 3)
		if s%2 == 0 {
			s++
		}
		s = min(s, h, w)
		copy(cand, best)
		for i := range n {
			if fooled[i] {
				continue
			}
			rng := rngs[i]
			xrow, brow := p.x[i*d:(i+1)*d], best[i*d:(i+1)*d]
			// The current perturbation, as the clipped image has it.
			var imgNorm2 float64
			for j := range cur {
				cur[j] = float64(brow[j]) - float64(xrow[j])
				imgNorm2 += cur[j] * cur[j]
			}
			h1, w1 := rng.IntN(h-s+1), rng.IntN(w-s+1)
			h2, w2 := rng.IntN(h-s+1), rng.IntN(w-s+1)
			inWin := func(r, q, vh, vw int) bool { return r >= vh && r < vh+s && q >= vw && q < vw+s }
			eta := squareEta(s, rng)
			for c := range ch {
				plane := cur[c*h*w : (c+1)*h*w]
				var win1, both float64 // squared norms in window 1 and in the union
				for r := range h {
					for q := range w {
						v := plane[r*w+q]
						a, b := inWin(r, q, h1, w1), inWin(r, q, h2, w2)
						if a {
							win1 += v * v
						}
						if a || b {
							both += v * v
						}
					}
				}
				win1 = math.Sqrt(win1) + 1e-12
				// The new content of window 1: a fresh η with a random sign
				// plus the old content at unit norm, rescaled to carry the
				// union's norm plus a share of the unused budget.
				sgn := float64(2*rng.IntN(2) - 1)
				var nn2 float64
				for r := range s {
					for q := range s {
						v := sgn*eta[r*s+q] + plane[(h1+r)*w+w1+q]/win1
						nw[r*s+q] = v
						nn2 += v * v
					}
				}
				budget := math.Sqrt(max(float64(p.ball.eps)*float64(p.ball.eps)-imgNorm2, 0)/float64(ch) + both)
				scale := budget / (math.Sqrt(nn2) + 1e-12)
				for r := range s {
					for q := range s {
						plane[(h2+r)*w+w2+q] = 0
					}
				}
				for r := range s {
					for q := range s {
						plane[(h1+r)*w+w1+q] = nw[r*s+q] * scale
					}
				}
			}
			p.squareL2Place(cand[i*d:(i+1)*d], xrow, cur)
		}
		p.project(cand)
		z, err := p.logits(m, cand)
		if err != nil {
			return nil, err
		}
		newMargin, newFooled := p.squareMargin(z), p.fooled(z)
		for i := range n {
			if fooled[i] || (newMargin[i] >= bestMargin[i] && !newFooled[i]) {
				continue
			}
			copy(best[i*d:(i+1)*d], cand[i*d:(i+1)*d])
			bestMargin[i], fooled[i] = newMargin[i], newFooled[i]
		}
	}
	return best, nil
}

// squareMargin returns the margin Square lowers, z_y − max_{j≠y} z_j
// (targeted: max_{j≠t} z_j − z_t), per example.
func (p *problem) squareMargin(z []float32) []float32 {
	o := p.objective(z, nn.CWMargin{})
	for i := range o {
		o[i] = -o[i]
	}
	return o
}
