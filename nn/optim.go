package nn

import (
	"fmt"
	"math"

	"github.com/robustq/robustq/nn/internal/kernel"
)

// Optimizer updates parameters from the gradients of one step.
type Optimizer interface {
	// Step applies one update with learning rate lr. grads[i] is the gradient
	// for params[i]; the same params must be passed on every call.
	Step(params []*Param, grads [][]float32, lr float64) error
}

// SGD is stochastic gradient descent with (heavy-ball or Nesterov) momentum
// and L2 weight decay, PyTorch's torch.optim.SGD update rule.
type SGD struct {
	// Momentum is the momentum factor; 0 is plain SGD.
	Momentum float64
	// Nesterov switches to Nesterov momentum.
	Nesterov bool
	// WeightDecay adds WeightDecay·w to the gradient of conv and dense
	// weights (not biases or batch-norm parameters).
	WeightDecay float64
	velocity    map[*Param][]float32
	pending     map[string][]float32 // SetState's, until the next Step
}

// Adam is Kingma and Ba's optimizer with PyTorch's defaults; with Decoupled
// the weight decay is AdamW's.
type Adam struct {
	// Beta1 and Beta2 are the moment decay rates; 0 means 0.9 and 0.999.
	Beta1, Beta2 float64
	// Eps is added to the denominator; 0 means 1e-8.
	Eps float64
	// WeightDecay applies to conv and dense weights only.
	WeightDecay float64
	// Decoupled applies weight decay as AdamW does (w ← w − lr·wd·w).
	Decoupled bool
	m, v      map[*Param][]float32
	t         map[*Param]int
	pending   map[string][]float32 // SetState's, until the next Step
}

var (
	_ Optimizer = (*SGD)(nil)
	_ Optimizer = (*Adam)(nil)
)

func checkStep(params []*Param, grads [][]float32, lr float64) error {
	if len(params) != len(grads) {
		return fmt.Errorf("nn: optimizer got %d gradients for %d parameters", len(grads), len(params))
	}
	if math.IsNaN(lr) || math.IsInf(lr, 0) || lr < 0 {
		return fmt.Errorf("nn: learning rate %v", lr)
	}
	for i, p := range params {
		if len(grads[i]) != len(p.Data) {
			return fmt.Errorf("%w: gradient of %s has %d values, parameter %d", ErrShape, p.Name, len(grads[i]), len(p.Data))
		}
	}
	return nil
}

// Step implements Optimizer.
func (o *SGD) Step(params []*Param, grads [][]float32, lr float64) error {
	if err := checkStep(params, grads, lr); err != nil {
		return err
	}
	if err := o.restore(params); err != nil {
		return err
	}
	if o.velocity == nil {
		o.velocity = map[*Param][]float32{}
	}
	mu, wd, eta := float32(o.Momentum), float32(o.WeightDecay), float32(lr)
	for i, p := range params {
		g := grads[i]
		decay := wd
		if !p.Kind.IsWeight() {
			decay = 0
		}
		if mu == 0 {
			for j, w := range p.Data {
				p.Data[j] = w - eta*(g[j]+decay*w)
			}
			continue
		}
		v, ok := o.velocity[p]
		if !ok {
			// PyTorch starts the buffer at the first gradient.
			v = make([]float32, len(g))
			o.velocity[p] = v
		}
		// One pass over the parameter (the velocity, then the weight),
		// split over the cores for large tensors.
		kernel.ParallelRange(len(g), func(lo, hi int) {
			w, v, g := p.Data[lo:hi], v[lo:hi], g[lo:hi]
			for j, wj := range w {
				if ok {
					v[j] = mu*v[j] + g[j] + decay*wj
				} else {
					v[j] = g[j] + decay*wj
				}
				d := v[j]
				if o.Nesterov {
					d = g[j] + decay*wj + mu*v[j]
				}
				w[j] = wj - eta*d
			}
		})
	}
	return nil
}

// Step implements Optimizer.
func (o *Adam) Step(params []*Param, grads [][]float32, lr float64) error {
	if err := checkStep(params, grads, lr); err != nil {
		return err
	}
	if err := o.restore(params); err != nil {
		return err
	}
	b1, b2, eps := o.Beta1, o.Beta2, o.Eps
	if b1 == 0 {
		b1 = 0.9
	}
	if b2 == 0 {
		b2 = 0.999
	}
	if eps == 0 {
		eps = 1e-8
	}
	if o.m == nil {
		o.m, o.v, o.t = map[*Param][]float32{}, map[*Param][]float32{}, map[*Param]int{}
	}
	for i, p := range params {
		g := grads[i]
		m, ok := o.m[p]
		if !ok {
			m, o.v[p] = make([]float32, len(g)), make([]float32, len(g))
			o.m[p] = m
		}
		v := o.v[p]
		o.t[p]++
		t := float64(o.t[p])
		c1, c2 := 1-math.Pow(b1, t), 1-math.Pow(b2, t)
		step := float32(lr / c1)
		sq := float32(1 / math.Sqrt(c2))
		wd := float32(o.WeightDecay)
		if !p.Kind.IsWeight() {
			wd = 0
		}
		fb1, fb2, feps := float32(b1), float32(b2), float32(eps)
		for j, w := range p.Data {
			gj := g[j]
			if !o.Decoupled {
				gj += wd * w
			} else {
				w -= float32(lr) * wd * w
			}
			m[j] = fb1*m[j] + (1-fb1)*gj
			v[j] = fb2*v[j] + (1-fb2)*gj*gj
			p.Data[j] = w - step*m[j]/(float32(math.Sqrt(float64(v[j])))*sq+feps)
		}
	}
	return nil
}

// Schedule gives the learning rate for step (0-based) of total steps.
type Schedule func(step, total int) float64

// ConstantLR returns a schedule that always gives lr.
func ConstantLR(lr float64) Schedule { return func(int, int) float64 { return lr } }

// OneCycleLR returns Smith's one-cycle schedule: linear warm-up from max/25
// to max over the first 30% of steps, then cosine annealing to max/1e4
// (PyTorch's OneCycleLR defaults, with linear warm-up).
func OneCycleLR(max float64) Schedule {
	return func(step, total int) float64 {
		if total <= 1 {
			return max
		}
		warm := int(0.3 * float64(total))
		start, end := max/25, max/1e4
		if step < warm {
			return start + (max-start)*float64(step)/float64(warm)
		}
		f := float64(step-warm) / float64(max1(total-1-warm))
		return end + (max-end)*(1+math.Cos(math.Pi*f))/2
	}
}

// PiecewiseLR returns lrs[i] from the fraction bounds[i-1] of the run to
// bounds[i]; len(bounds) = len(lrs)−1, increasing fractions in (0,1).
func PiecewiseLR(lrs []float64, bounds []float64) Schedule {
	return func(step, total int) float64 {
		f := float64(step) / float64(max1(total))
		for i, b := range bounds {
			if f < b {
				return lrs[i]
			}
		}
		return lrs[len(lrs)-1]
	}
}

func max1(n int) int { return max(n, 1) }
