package defense

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/robustq/robustq/nn"
)

// DistanceConfig configures BoundaryDistances. The zero value is the
// documented default of every field.
type DistanceConfig struct {
	// Directions is K ≥ 1, the number of directions searched per example
	// when Kinds is nil: the normalised gradient of Loss and K−1 random unit
	// directions. 0 means 4.
	Directions int
	// Kinds, if not nil, lists the directions searched per example, one of
	// each entry (a kind may repeat: each RandomDirection is a new draw).
	// Directions must then be 0 or len(Kinds).
	Kinds []Direction
	// MaxDist is the largest step searched, in L2 units of the input; 0
	// means √(C·H·W), the diagonal of the input cube [0,1]^(C·H·W).
	MaxDist float64
	// Scan is the number of equally spaced steps MaxDist·s/Scan, s = 1…Scan,
	// tried before bisecting, so that bisection starts from the first
	// change of prediction rather than any; 0 means 10.
	Scan int
	// Bisect is the number of bisection steps after the scan; 0 means 20.
	// The estimate is at most MaxDist/Scan/2^Bisect above the first change
	// of prediction within the scan's interval.
	Bisect int
	// Loss gives the gradient direction; nil means nn.CWMargin{}, whose
	// gradient does not vanish when a float32 softmax saturates (the
	// cross-entropy's does). A zero or non-finite gradient is replaced by a
	// random direction.
	Loss nn.Loss
	// Batch is the number of examples handled together (each gives
	// Directions points per model call); 0 means 64.
	Batch int
	// PathStep and PathSteps shape PathDirection's ascent: up to PathSteps
	// L∞ steps of PathStep along the sign of the gradient of Loss; 0 means
	// 0.01 and 20.
	PathStep  float64
	PathSteps int
	// Seed seeds the random directions. Example i of x draws its directions
	// from the stream (Seed, i), so results do not depend on Batch.
	Seed uint64
}

type distanceCfg struct {
	k, scan, bisect, batch int
	kinds                  []Direction
	maxDist                float64
	pathStep               float64
	pathSteps              int
	loss                   nn.Loss
	seed                   uint64
}

func (c DistanceConfig) resolve(spec nn.Spec) (distanceCfg, error) {
	r := distanceCfg{k: c.Directions, scan: c.Scan, bisect: c.Bisect, batch: c.Batch, maxDist: c.MaxDist, loss: c.Loss, seed: c.Seed,
		pathStep: c.PathStep, pathSteps: c.PathSteps}
	if r.k < 0 || r.scan < 0 || r.bisect < 0 || r.batch < 0 || !(r.maxDist >= 0) || math.IsInf(r.maxDist, 1) ||
		!(r.pathStep >= 0) || math.IsInf(r.pathStep, 1) || r.pathSteps < 0 {
		return r, fmt.Errorf("%w: DistanceConfig Directions %d, Scan %d, Bisect %d, Batch %d, MaxDist %v, PathStep %v, PathSteps %d",
			ErrParam, c.Directions, c.Scan, c.Bisect, c.Batch, c.MaxDist, c.PathStep, c.PathSteps)
	}
	if r.pathStep == 0 {
		r.pathStep = 0.01
	}
	if r.pathSteps == 0 {
		r.pathSteps = 20
	}
	if c.Kinds != nil {
		if len(c.Kinds) == 0 || (r.k != 0 && r.k != len(c.Kinds)) {
			return r, fmt.Errorf("%w: DistanceConfig Kinds %v with Directions %d", ErrParam, c.Kinds, c.Directions)
		}
		for _, kd := range c.Kinds {
			if kd < GradientDirection || kd > PathDirection {
				return r, fmt.Errorf("%w: unknown direction %d", ErrParam, int(kd))
			}
		}
		r.k, r.kinds = len(c.Kinds), slices.Clone(c.Kinds)
	}
	if r.k == 0 {
		r.k = 4
	}
	if r.kinds == nil {
		r.kinds = make([]Direction, r.k)
		for q := 1; q < r.k; q++ {
			r.kinds[q] = RandomDirection
		}
	}
	if r.scan == 0 {
		r.scan = 10
	}
	if r.bisect == 0 {
		r.bisect = 20
	}
	if r.batch == 0 {
		r.batch = 64
	}
	if r.maxDist == 0 {
		r.maxDist = math.Sqrt(float64(spec.ExampleSize()))
	}
	if r.loss == nil {
		r.loss = nn.CWMargin{}
	}
	return r, nil
}

// Direction is a kind of direction along which distances to the decision
// boundary are searched, and along which FeedbackLearning generates
// examples.
type Direction int

const (
	// GradientDirection is the L2-normalised input gradient of the
	// distance loss: the steepest ascent in L2, and the normal of the
	// boundary of a linear model.
	GradientDirection Direction = iota
	// SignDirection is the sign of that gradient, L2-normalised: the
	// steepest ascent in L∞ (FGSM's direction). A step t along it moves
	// every pixel with a non-zero gradient by t/√(nonzeros).
	SignDirection
	// RandomDirection is a Gaussian random direction, L2-normalised.
	RandomDirection
	// PathDirection points from the example to the end of a short ascent
	// of the loss: L∞ steps of DistanceConfig.PathStep along the sign of
	// the gradient, stopped at the first change of prediction or after
	// PathSteps steps, L2-normalised. Where the boundary is curved it
	// finds a nearer crossing than the straight gradient line.
	PathDirection
)

// String names the direction: "gradient", "sign" or "random".
func (d Direction) String() string {
	switch d {
	case GradientDirection:
		return "gradient"
	case SignDirection:
		return "sign"
	case RandomDirection:
		return "random"
	case PathDirection:
		return "path"
	}
	return fmt.Sprintf("Direction(%d)", int(d))
}

// boundary is the result of a distance estimate for n examples of d values,
// each searched along k directions.
type boundary struct {
	n, k, d int
	kinds   []Direction
	// Per (example, direction) pair p = i*k + q, filled when all is set:
	// pairDist is the first change of prediction (maxDist when none was
	// found, 0 for a misclassified example), pairCrossed whether one was
	// found, and pairDir[p*d:] the unit direction.
	all         bool
	pairDist    []float64
	pairCrossed []bool
	pairDir     []float32
	// Per example: dist is the minimum over the directions (0 when
	// misclassified, maxDist when no change was found), dir its direction
	// (zeros when none; only when all is not set).
	dist    []float64
	dir     []float32
	correct []bool // classified correctly
	crossed []bool // correct, and the prediction changed within maxDist
	maxDist float64
}

// BoundaryDistances estimates, for each example of x (layout of m.Spec(),
// values in [0, 1]) with label y, its distance to m's decision boundary:
// the smallest step t ∈ (0, MaxDist] at which the prediction at
// clip(x + t·u, 0, 1) is no longer y, minimised over K unit directions u
// (in L2): by default the normalised gradient of cfg.Loss, which points
// across the nearest boundary of a linear model, and K−1 uniformly random
// directions (cfg.Kinds chooses others). Along each direction the steps
// MaxDist·s/Scan are tried in order and the first interval where the
// prediction changes is bisected; an example whose prediction never changes
// gets MaxDist, and one that m already misclassifies gets 0.
//
// t is the length of the step before clipping; the clipped point can be
// closer. For a two-class linear model z = Wx + b and an example whose path
// stays inside [0,1], the gradient direction is the normal of the boundary
// and gives its distance |(w_0 − w_1)·x + b_0 − b_1| / ‖w_0 − w_1‖ up to
// the bisection tolerance MaxDist/Scan/2^Bisect.
//
// The cost is at most 1 + Scan + Bisect batched calls of Logits on up to K
// points per example, plus one InputGrad (and, with PathDirection, up to
// PathSteps more of each for the ascent); directions that cannot give the
// minimum are dropped early, which does not change the result.
//
// It checks ctx before every model call and returns ctx.Err() when
// cancelled. x and y are validated as by m.Spec().CheckInput.
func BoundaryDistances(ctx context.Context, m nn.Model, x []float32, y []int, cfg DistanceConfig) ([]float64, error) {
	b, err := estimateBoundary(ctx, m, x, y, cfg, false)
	if err != nil {
		return nil, err
	}
	return b.dist, nil
}

// estimateBoundary measures x's distances. With all set it searches every
// direction to its own first change and keeps each pair's distance and
// direction; otherwise only the minimum over the directions.
func estimateBoundary(ctx context.Context, m nn.Model, x []float32, y []int, cfg DistanceConfig, all bool) (*boundary, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil model", ErrNil)
	}
	spec := m.Spec()
	c, err := cfg.resolve(spec)
	if err != nil {
		return nil, err
	}
	n, err := spec.CheckInput(x, y)
	if err != nil {
		return nil, fmt.Errorf("defense: %w", err)
	}
	for i, v := range x {
		if !(v >= 0 && v <= 1) {
			return nil, fmt.Errorf("%w: input value %d is %v, want [0, 1]", ErrParam, i, v)
		}
	}
	d := spec.ExampleSize()
	b := &boundary{
		n: n, k: c.k, d: d, kinds: c.kinds, all: all,
		dist: make([]float64, n), correct: make([]bool, n), crossed: make([]bool, n), maxDist: c.maxDist,
	}
	if all {
		b.pairDist, b.pairCrossed, b.pairDir = make([]float64, n*c.k), make([]bool, n*c.k), make([]float32, n*c.k*d)
	} else {
		b.dir = make([]float32, n*d)
	}
	for lo := 0; lo < n; lo += c.batch {
		hi := min(lo+c.batch, n)
		if err := boundaryBatch(ctx, m, x, y, lo, hi, c, b); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// boundaryBatch fills b for examples lo..hi-1.
func boundaryBatch(ctx context.Context, m nn.Model, x []float32, y []int, lo, hi int, c distanceCfg, b *boundary) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d := b.d
	pred, err := nn.Predict(m, x[lo*d:hi*d], 0)
	if err != nil {
		return fmt.Errorf("defense: %w", err)
	}
	var idx []int // correctly classified examples
	for j, p := range pred {
		i := lo + j
		if p == y[i] {
			b.correct[i] = true
			idx = append(idx, i)
		}
	}
	if len(idx) == 0 {
		return nil
	}
	nc, k := len(idx), c.k
	xs := make([]float32, 0, nc*d)
	ys := make([]int, 0, nc)
	for _, i := range idx {
		xs = append(xs, x[i*d:(i+1)*d]...)
		ys = append(ys, y[i])
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	grad, _, err := m.InputGrad(xs, ys, c.loss)
	if err != nil {
		return fmt.Errorf("defense: input gradient: %w", err)
	}
	if len(grad) != len(xs) {
		return fmt.Errorf("defense: InputGrad returned %d values for %d: %w", len(grad), len(xs), nn.ErrShape)
	}
	var path []float32
	if slices.Contains(c.kinds, PathDirection) {
		if path, err = ascend(ctx, m, xs, ys, grad, c); err != nil {
			return err
		}
	}
	// dirs[(j*k+q)*d:] is direction q of correct example j.
	dirs := make([]float32, nc*k*d)
	for j, i := range idx {
		var pj []float32
		if path != nil {
			pj = path[j*d : (j+1)*d]
		}
		directions(dirs[j*k*d:(j+1)*k*d], grad[j*d:(j+1)*d], pj, c.kinds, c.seed, i)
	}
	// Search every (example, direction) pair: lo/hi bracket the first change.
	np := nc * k
	tlo, thi := make([]float64, np), make([]float64, np)
	found := make([]bool, np)
	eval := func(pairs []int, t []float64) ([]bool, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pts := make([]float32, len(pairs)*d)
		for a, p := range pairs {
			j := p / k
			xi := xs[j*d : (j+1)*d]
			u := dirs[p*d : (p+1)*d]
			row := pts[a*d : (a+1)*d]
			for v := range row {
				row[v] = float32(min(max(float64(xi[v])+t[a]*float64(u[v]), 0), 1))
			}
		}
		pp, err := nn.Predict(m, pts, 0)
		if err != nil {
			return nil, fmt.Errorf("defense: %w", err)
		}
		wrong := make([]bool, len(pairs))
		for a, p := range pairs {
			wrong[a] = pp[a] != ys[p/k]
		}
		return wrong, nil
	}
	// When only the minimum over an example's directions is kept, a
	// direction can be dropped as soon as it cannot win: the scan stops for
	// an example at its first change in any direction (the others have not
	// changed up to that step, so their first change comes later), and
	// bisection drops a direction whose lower end reaches the best upper
	// end of its example (its final value would be strictly larger). The
	// result is the same as searching every direction to the end, which is
	// what b.all asks for.
	done := make([]bool, nc)
	for s := 1; s <= c.scan; s++ {
		var pairs []int
		for p := range np {
			if !found[p] && (b.all || !done[p/k]) {
				pairs = append(pairs, p)
			}
		}
		if len(pairs) == 0 {
			break
		}
		t := c.maxDist * float64(s) / float64(c.scan)
		ts := make([]float64, len(pairs))
		for a := range ts {
			ts[a] = t
		}
		wrong, err := eval(pairs, ts)
		if err != nil {
			return err
		}
		for a, p := range pairs {
			if wrong[a] {
				found[p], tlo[p], thi[p] = true, c.maxDist*float64(s-1)/float64(c.scan), t
				done[p/k] = true
			}
		}
	}
	best := make([]float64, nc)
	for range c.bisect {
		for j := range best {
			best[j] = math.Inf(1)
		}
		for p := range np {
			if found[p] {
				best[p/k] = min(best[p/k], thi[p])
			}
		}
		var pairs []int
		for p := range np {
			if found[p] && (b.all || tlo[p] < best[p/k]) {
				pairs = append(pairs, p)
			}
		}
		if len(pairs) == 0 {
			break
		}
		mid := make([]float64, len(pairs))
		for a, p := range pairs {
			mid[a] = (tlo[p] + thi[p]) / 2
		}
		wrong, err := eval(pairs, mid)
		if err != nil {
			return err
		}
		for a, p := range pairs {
			if wrong[a] {
				thi[p] = mid[a]
			} else {
				tlo[p] = mid[a]
			}
		}
	}
	for j, i := range idx {
		best, bq := c.maxDist, -1
		for q := range k {
			p := j*k + q
			if found[p] && (bq < 0 || thi[p] < best) {
				best, bq = thi[p], q
			}
			if b.all {
				b.pairDist[i*k+q], b.pairCrossed[i*k+q] = c.maxDist, found[p]
				if found[p] {
					b.pairDist[i*k+q] = thi[p]
				}
				copy(b.pairDir[(i*k+q)*d:(i*k+q+1)*d], dirs[p*d:(p+1)*d])
			}
		}
		b.dist[i] = best
		if bq >= 0 {
			b.crossed[i] = true
			if !b.all {
				copy(b.dir[i*d:(i+1)*d], dirs[(j*k+bq)*d:(j*k+bq+1)*d])
			}
		}
	}
	return nil
}

// ascend returns, for each example of xs (labels ys, input gradient grad
// of c.loss at xs), the displacement of its ascent: up to c.pathSteps L∞
// steps of c.pathStep along the sign of the gradient, clipped to [0, 1],
// each example stopping at its first change of prediction.
func ascend(ctx context.Context, m nn.Model, xs []float32, ys []int, grad []float32, c distanceCfg) ([]float32, error) {
	n, d := len(ys), len(xs)/len(ys)
	cur := slices.Clone(xs)
	g := grad
	active := make([]int, n)
	for j := range active {
		active[j] = j
	}
	for t := 0; t < c.pathSteps && len(active) > 0; t++ {
		if t > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			pts, lab := make([]float32, 0, len(active)*d), make([]int, 0, len(active))
			for _, j := range active {
				pts, lab = append(pts, cur[j*d:(j+1)*d]...), append(lab, ys[j])
			}
			var err error
			if g, _, err = m.InputGrad(pts, lab, c.loss); err != nil {
				return nil, fmt.Errorf("defense: input gradient: %w", err)
			}
			if len(g) != len(pts) {
				return nil, fmt.Errorf("defense: InputGrad returned %d values for %d: %w", len(g), len(pts), nn.ErrShape)
			}
		}
		pts := make([]float32, 0, len(active)*d)
		for a, j := range active {
			row := cur[j*d : (j+1)*d]
			for v, gv := range g[a*d : (a+1)*d] {
				switch {
				case gv > 0:
					row[v] = float32(min(float64(row[v])+c.pathStep, 1))
				case gv < 0:
					row[v] = float32(max(float64(row[v])-c.pathStep, 0))
				}
			}
			pts = append(pts, row...)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		pred, err := nn.Predict(m, pts, 0)
		if err != nil {
			return nil, fmt.Errorf("defense: %w", err)
		}
		still := active[:0]
		for a, j := range active {
			if pred[a] == ys[j] {
				still = append(still, j)
			}
		}
		active = still
	}
	for v := range cur {
		cur[v] -= xs[v]
	}
	return cur, nil
}

// directions fills dirs (len(kinds) unit vectors of len(grad) values) for
// example i, direction q of kind kinds[q]: the normalised gradient, its
// normalised sign, the normalised path (ascend's displacement), or a
// Gaussian direction, random draws coming from the stream (seed, i) in
// order. A gradient, sign or path that is zero or not finite is replaced by
// a Gaussian direction.
func directions(dirs, grad, path []float32, kinds []Direction, seed uint64, i int) {
	d := len(grad)
	rng := rand.New(rand.NewPCG(seed, uint64(i)))
	for q, kind := range kinds {
		u := dirs[q*d : (q+1)*d]
		switch kind {
		case GradientDirection:
			if unit(u, grad) {
				continue
			}
		case SignDirection:
			if signUnit(u, grad) {
				continue
			}
		case PathDirection:
			if unit(u, path) {
				continue
			}
		}
		for {
			for t := range u {
				u[t] = float32(rng.NormFloat64())
			}
			if unit(u, u) {
				break
			}
		}
	}
}

// unit writes v/‖v‖₂ into u and reports whether v had a finite, non-zero
// norm (u is left unspecified otherwise). u and v may be the same slice.
func unit(u, v []float32) bool {
	var s float64
	for _, a := range v {
		s += float64(a) * float64(a)
	}
	nrm := math.Sqrt(s)
	if !(nrm > 0) || math.IsInf(nrm, 1) {
		return false
	}
	for t, a := range v {
		u[t] = float32(float64(a) / nrm)
	}
	return true
}

// signUnit writes sign(v)/√(nonzeros) into u (sign(0) = 0) and reports
// whether v had a non-zero value and no NaN (u is left unspecified
// otherwise).
func signUnit(u, v []float32) bool {
	nz := 0
	for _, a := range v {
		if a != a {
			return false
		}
		if a != 0 {
			nz++
		}
	}
	if nz == 0 {
		return false
	}
	s := float32(1 / math.Sqrt(float64(nz)))
	for t, a := range v {
		switch {
		case a > 0:
			u[t] = s
		case a < 0:
			u[t] = -s
		default:
			u[t] = 0
		}
	}
	return true
}
