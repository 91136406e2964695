package attack

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/nn"
)

// ball is a threat model's constraint set: the norm ball of radius eps around
// each clean example intersected with the box [lo, hi]. eps = +Inf is the box alone.
type ball struct {
	norm   Norm
	eps    float32
	lo, hi float32
}

// project is the one place where the package enforces a threat model. It
// moves every example of adv (rows of d values) into the ball around the
// matching row of x, in place, so that Distance(norm, row, xrow) ≤ eps and
// lo ≤ row ≤ hi hold exactly for the float32 result. NaN values are replaced
// by the clean value. Every attack calls it after each step and on its output.
//
// For Linf this is the exact Euclidean projection (a clamp per coordinate).
// For L2 the example is first clamped to the box and then, if still outside
// the ball, scaled towards x and clamped again; this is a feasible point, not
// always the exact projection onto the intersection.
func (b ball) project(adv, x []float32, d int) {
	if b.norm == L2 {
		for i := 0; i < len(adv); i += d {
			b.projectL2(adv[i:i+d], x[i:i+d])
		}
		return
	}
	for i, v := range adv {
		xi := x[i]
		if v != v {
			v = xi
		}
		a, c := linfInterval(xi, b.eps, b.lo, b.hi)
		if v < a {
			v = a
		}
		if v > c {
			v = c
		}
		adv[i] = v
	}
}

// linfInterval returns the float32 interval [a, c] of values v with
// |v − x| ≤ eps (in exact arithmetic on the float32 values) and lo ≤ v ≤ hi.
// x must lie in [lo, hi].
func linfInterval(x, eps, lo, hi float32) (a, c float32) {
	a = x - eps
	if float64(x)-float64(a) > float64(eps) {
		a = math.Nextafter32(a, float32(math.Inf(1)))
	}
	c = x + eps
	if float64(c)-float64(x) > float64(eps) {
		c = math.Nextafter32(c, float32(math.Inf(-1)))
	}
	return max(a, lo), min(c, hi)
}

func (b ball) clampBox(v float32) float32 {
	return min(max(v, b.lo), b.hi)
}

func (b ball) projectL2(row, xrow []float32) {
	for i, v := range row {
		if v != v {
			v = xrow[i]
		}
		row[i] = b.clampBox(v)
	}
	eps := float64(b.eps)
	nrm := Distance(L2, row, xrow)
	if nrm <= eps {
		return
	}
	orig := append([]float32(nil), row...)
	s := eps / nrm
	// Rounding to float32 can leave the scaled point a hair outside the
	// ball; shrink a little more until it is inside, and fall back to the
	// clean example (distance 0) in the unlikely case that never happens.
	for try := 0; try < 8; try++ {
		for i, v := range orig {
			xi := float64(xrow[i])
			row[i] = b.clampBox(float32(xi + s*(float64(v)-xi)))
		}
		got := Distance(L2, row, xrow)
		if got <= eps {
			return
		}
		s *= eps / got * (1 - 1.0/(1<<20))
	}
	copy(row, xrow)
}

// problem is one validated call of Perturb.
type problem struct {
	spec     nn.Spec
	n, d, k  int
	x        []float32
	y        []int
	labels   []int // y when untargeted, the targets when targeted
	targeted bool
	ball     ball
}

// setup validates a call of Perturb with radius eps (finite, ≥ 0) and
// resolves its target classes.
func setup(ctx context.Context, m nn.Classifier, x []float32, y []int, bounds Bounds, norm Norm, eps float32, target Target) (*problem, error) {
	if err := checkEps(eps); err != nil {
		return nil, err
	}
	return setupBall(ctx, m, x, y, bounds, norm, eps, target)
}

// setupUnbounded is setup for an attack without a ball (bounds only).
func setupUnbounded(ctx context.Context, m nn.Classifier, x []float32, y []int, bounds Bounds, norm Norm, target Target) (*problem, error) {
	return setupBall(ctx, m, x, y, bounds, norm, float32(math.Inf(1)), target)
}

func setupBall(ctx context.Context, m nn.Classifier, x []float32, y []int, bounds Bounds, norm Norm, eps float32, target Target) (*problem, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := nn.CheckModel(m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParam, err)
	}
	if norm != Linf && norm != L2 {
		return nil, fmt.Errorf("%w: norm %v", ErrParam, norm)
	}
	lo, hi, err := bounds.Range()
	if err != nil {
		return nil, err
	}
	spec := m.Spec()
	if y == nil {
		return nil, fmt.Errorf("attack: %w: nil labels", nn.ErrShape)
	}
	n, err := spec.CheckInput(x, y)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	for i, v := range x {
		if v < lo || v > hi {
			return nil, fmt.Errorf("%w: value %d is %v, bounds [%v, %v]", ErrBounds, i, v, lo, hi)
		}
	}
	p := &problem{
		spec: spec, n: n, d: spec.ExampleSize(), k: spec.Classes,
		x: x, y: y, labels: y,
		ball: ball{norm: norm, eps: eps, lo: lo, hi: hi},
	}
	if target != nil {
		z, err := p.logits(m, x)
		if err != nil {
			return nil, err
		}
		t := target(z, y, p.k)
		if len(t) != n {
			return nil, fmt.Errorf("%w: target gave %d classes for %d examples", ErrParam, len(t), n)
		}
		for i, c := range t {
			if c < 0 || c >= p.k {
				return nil, fmt.Errorf("%w: target class %d of example %d, want 0..%d", ErrParam, c, i, p.k-1)
			}
		}
		p.labels = t
		p.targeted = true
	}
	return p, nil
}

// asModel returns m as an nn.Model or ErrNoGradient.
func asModel(m nn.Classifier) (nn.Model, error) {
	gm, ok := m.(nn.Model)
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrNoGradient, m)
	}
	return gm, nil
}

// setupGradient is setup for a gradient attack: it also returns m as an
// nn.Model, or ErrNoGradient.
func setupGradient(ctx context.Context, m nn.Classifier, x []float32, y []int, bounds Bounds, norm Norm, eps float32, target Target) (*problem, nn.Model, error) {
	if err := checkEps(eps); err != nil {
		return nil, nil, err
	}
	return setupGradientUnbounded(ctx, m, x, y, bounds, norm, eps, target)
}

// setupGradientUnbounded is setupGradient without the check of eps, which
// may be +Inf (an attack without a ball).
func setupGradientUnbounded(ctx context.Context, m nn.Classifier, x []float32, y []int, bounds Bounds, norm Norm, eps float32, target Target) (*problem, nn.Model, error) {
	p, err := setupBall(ctx, m, x, y, bounds, norm, eps, target)
	if err != nil {
		return nil, nil, err
	}
	gm, err := asModel(m)
	if err != nil {
		return nil, nil, err
	}
	return p, gm, nil
}

// subset returns the problem of the examples at idx (in that order).
func (p *problem) subset(idx []int) *problem {
	q := *p
	q.n = len(idx)
	q.x = gather(p.x, idx, p.d)
	q.y, q.labels = make([]int, len(idx)), make([]int, len(idx))
	for j, i := range idx {
		q.y[j], q.labels[j] = p.y[i], p.labels[i]
	}
	return &q
}

// gather returns the rows idx of v (rows of d values).
func gather(v []float32, idx []int, d int) []float32 {
	out := make([]float32, 0, len(idx)*d)
	for _, i := range idx {
		out = append(out, v[i*d:(i+1)*d]...)
	}
	return out
}

// scatter writes the rows of src back to rows idx of dst.
func scatter(dst, src []float32, idx []int, d int) {
	for j, i := range idx {
		copy(dst[i*d:(i+1)*d], src[j*d:(j+1)*d])
	}
}

// start returns a copy of the clean batch.
func (p *problem) start() []float32 { return append([]float32(nil), p.x...) }

// project projects adv onto the problem's ball.
func (p *problem) project(adv []float32) { p.ball.project(adv, p.x, p.d) }

// gradient returns the gradient of the objective the attack ascends and the
// objective per example: the loss for an untargeted attack, minus the loss
// on the target class for a targeted one. The slices are fresh.
func (p *problem) gradient(gm nn.Model, adv []float32, loss nn.Loss) (g, obj []float32, err error) {
	mg, ml, err := gm.InputGrad(adv, p.labels, loss)
	if err != nil {
		return nil, nil, fmt.Errorf("attack: input gradient: %w", err)
	}
	if len(mg) != len(adv) || len(ml) != p.n {
		return nil, nil, fmt.Errorf("%w: InputGrad returned %d gradient values and %d losses for %d examples of %d values",
			ErrModel, len(mg), len(ml), p.n, p.d)
	}
	g = make([]float32, len(mg))
	obj = make([]float32, len(ml))
	s := float32(1)
	if p.targeted {
		s = -1
	}
	for i, v := range mg {
		if !finite(v) {
			return nil, nil, fmt.Errorf("attack: %w: gradient value %d is %v (loss %s)", nn.ErrNonFinite, i, v, loss.Name())
		}
		g[i] = s * v
	}
	for i, v := range ml {
		if !finite(v) {
			return nil, nil, fmt.Errorf("attack: %w: loss of example %d is %v (loss %s)", nn.ErrNonFinite, i, v, loss.Name())
		}
		obj[i] = s * v
	}
	return g, obj, nil
}

// logits returns the model's logits for a batch of p.n examples.
func (p *problem) logits(m nn.Classifier, adv []float32) ([]float32, error) {
	z, err := m.Logits(adv)
	if err != nil {
		return nil, fmt.Errorf("attack: logits: %w", err)
	}
	if len(z) != p.n*p.k {
		return nil, fmt.Errorf("%w: %d logits for %d examples of %d classes", ErrModel, len(z), p.n, p.k)
	}
	return z, nil
}

// fooled reports, per example, whether the logits z meet the attack's goal:
// a prediction other than the label, or the target class when targeted.
func (p *problem) fooled(z []float32) []bool {
	f := make([]bool, p.n)
	for i := range f {
		pred := nn.Argmax(z[i*p.k : (i+1)*p.k])
		if p.targeted {
			f[i] = pred == p.labels[i]
		} else {
			f[i] = pred != p.labels[i]
		}
	}
	return f
}

// objective returns the objective (as in gradient) of logits z, computed
// with loss on the host.
func (p *problem) objective(z []float32, loss nn.Loss) []float32 {
	obj := make([]float32, p.n)
	scratch := make([]float32, len(z))
	loss.Eval(z, p.k, p.labels, obj, scratch)
	if p.targeted {
		for i := range obj {
			obj[i] = -obj[i]
		}
	}
	return obj
}

// sign returns −1, 0 or +1.
func sign(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

// rowL2 returns the L2 norm of v, in float64.
func rowL2(v []float32) float64 {
	var s float64
	for _, a := range v {
		s += float64(a) * float64(a)
	}
	return math.Sqrt(s)
}

// rowL1 returns the L1 norm of v, in float64.
func rowL1(v []float32) float64 {
	var s float64
	for _, a := range v {
		s += math.Abs(float64(a))
	}
	return s
}

// rngs returns one generator per example, seeded by the attack's seed and
// a hash of the example's values. Every random attack draws an example's
// randomness from its own generator, afresh in each Perturb call, so an
// example's output depends only on the example, the model and the seed: not
// on the rest of the batch, nor on how a data set is cut into batches.
func (p *problem) rngs(seed uint64) []*rand.Rand { return ExampleRNGs(seed, p.x, p.d) }
