package kernel

import (
	"fmt"
	"math"
	"slices"
)

// BatchNorm normalises each channel of x (N,C,H,W) and applies
// γ·x̂ + β; inputs x, γ (C), β (C). In training mode it uses the batch's
// statistics (biased variance) and updates the running ones as PyTorch does:
// r ← (1−m)·r + m·batch, with the unbiased variance. In evaluation mode it
// uses the running statistics.
//
// Sums run in float64 over float32 values, where every product of two
// inputs is exact (24+24 significant bits < 53). The one-pass forms
// Var = E[x²] − E[x]² and Σdy·x̂ = istd·(Σdy·x − mean·Σdy) then lose what the
// channel's ratio r = |mean|/σ cancels: the float64 rounding of the sums
// (about √n ulps for n summed values) grows by r² in the variance and by r
// in Σdy·x̂. For a channel of 131,072 values (batch 128, 32×32) that is
// about 10⁻¹⁰ relative at r = 100 and 10⁻⁶ at r = 10⁴, against float32's
// 6·10⁻⁸; TestBatchNormMatchesDefinition checks r = 1000.
type BatchNorm struct {
	shape      []int
	n, c, hw   int
	training   bool
	momentum   float64
	eps        float64
	runMean    []float32 // the running statistics, updated in training
	runVar     []float32
	vec        vec
	mean, istd []float64 // the statistics used by the last forward pass
	// scale and shift are the last forward pass's x̂·γ + β as x·scale +
	// shift per channel, rounded to float32 as it applied them.
	scale, shift []float32
	// Σdy and Σdy·x̂ per channel for the dOut of sumsFor; the three gradients
	// of one backward pass share them. forward resets sumsFor.
	sdy, sdyx []float64
	sumsFor   *float32
	// stats and grads hold a pair of sums per run (image, channel), added
	// per channel in image order: the forward pass's Σx, Σx² and the
	// backward pass's Σdy, Σdy·x (each through the activation's derivative
	// when act is set). The kernels that write x and dy may fill them as
	// each image comes out (FeedStats, FeedGradSums); else the batch norm
	// makes its own pass. coef holds the backward pass's per-channel
	// coefficients.
	stats, grads runSums
	coef         []float32
	// x is the input of the last forward pass, for grads' observer.
	x []float32
	// fusedPasses counts the passes whose sums came from an observer.
	fusedPasses int
	// With act set, the kernel is batch norm followed by leaky ReLU of the
	// given slope (≥ 0, so that the output's sign is the normalised
	// value's): one pass over the activations instead of two each way, the
	// activation's derivative recomputed from x, scale and shift. Bit for
	// bit the results of the two kernels in turn.
	act   bool
	slope float32
}

// BatchNormConfig is how a batch norm runs, besides its input's shape.
type BatchNormConfig struct {
	// Training uses the batch's statistics and updates the running ones;
	// otherwise the running ones are used.
	Training bool
	// Momentum and Eps are PyTorch's momentum and eps, used as given: nn
	// fills in their defaults.
	Momentum, Eps float64
	// RunMean and RunVar are the running statistics, one value per channel,
	// read and (in training) written in place; SetRunning replaces them.
	RunMean, RunVar []float32
	// Act makes the kernel batch norm followed by leaky ReLU with slope
	// Slope ≥ 0 (0: ReLU).
	Act   bool
	Slope float32
}

// NewBatchNorm returns batch norm over the channels of inputs of shape x,
// (N,C,H,W) or (N,C).
func NewBatchNorm(x []int, cfg BatchNormConfig, o Options) (*BatchNorm, error) {
	if len(x) != 4 && len(x) != 2 {
		return nil, fmt.Errorf("%w: batch norm input %v, want (N,C,H,W) or (N,C)", ErrShape, dims(x))
	}
	hw := 1
	if len(x) == 4 {
		hw = x[2] * x[3]
	}
	if x[1] != len(cfg.RunMean) || x[1] != len(cfg.RunVar) {
		return nil, fmt.Errorf("%w: batch norm over %d channels, input %v", ErrShape, len(cfg.RunMean), dims(x))
	}
	if cfg.Act && !(cfg.Slope >= 0) {
		return nil, fmt.Errorf("nn: batch norm with an activation of slope %v < 0", cfg.Slope)
	}
	c := x[1]
	return &BatchNorm{shape: slices.Clone(x), n: x[0], c: c, hw: hw, training: cfg.Training, momentum: cfg.Momentum, eps: cfg.Eps,
		runMean: cfg.RunMean, runVar: cfg.RunVar, vec: o.vec(), act: cfg.Act, slope: cfg.Slope,
		mean: make([]float64, c), istd: make([]float64, c),
		scale: make([]float32, c), shift: make([]float32, c),
		sdy: make([]float64, c), sdyx: make([]float64, c)}, nil
}

// SetRunning replaces the running statistics the kernel reads and updates
// (one value per channel each): where their owner's storage was replaced.
func (k *BatchNorm) SetRunning(mean, variance []float32) { k.runMean, k.runVar = mean, variance }

// Training reports whether the kernel uses and updates batch statistics.
func (k *BatchNorm) Training() bool { return k.training }

// FusedPasses counts the passes whose sums the kernels around it computed
// (FeedStats, FeedGradSums).
func (k *BatchNorm) FusedPasses() int { return k.fusedPasses }

// Name implements Kernel.
func (k *BatchNorm) Name() string {
	if k.act {
		return "batch-norm+leaky-relu"
	}
	return "batch-norm"
}

// OutShape implements Kernel.
func (k *BatchNorm) OutShape() []int { return k.shape }

// Differentiable implements Kernel.
func (k *BatchNorm) Differentiable() []bool { return []bool{true, true, true} }

// runs calls f(c, off) for every contiguous run of hw values of one
// channel (image n, channel c, at off = (n·C + c)·hw) in memory order, the
// runs handed to the workers in chunks: f must compute each run's result
// on its own. Visiting each channel across the batch instead (a stride of
// C·hw between runs of hw values) left the memory-bound loops two to three
// times slower on ResNet's 8×8 and 16×16 planes.
func (k *BatchNorm) runs(f func(c, off int)) {
	parallelEach(k.n*k.c, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			f(r%k.c, r*k.hw)
		}
	})
}

// channelSums returns channel c's sums of the pairs in s, added over the
// images in order: the same float64 values whatever the workers' schedule.
func (k *BatchNorm) channelSums(s *runSums, c int) (float64, float64) {
	var a, b float64
	for n := range k.n {
		r := n*k.c + c
		a, b = a+s.pairs[2*r], b+s.pairs[2*r+1]
	}
	return a, b
}

// fill fills s with f's pair for every run, in a pass of its own.
func (k *BatchNorm) fill(s *runSums, f func(c, off int) (float64, float64)) {
	s.reset(k.n * k.c)
	k.runs(func(c, off int) {
		r := off / k.hw
		s.pairs[2*r], s.pairs[2*r+1] = f(c, off)
	})
}

// statSums is the pair of sums of the forward pass for the run of channel
// c at off in x.
func (k *BatchNorm) statSums(x []float32) func(c, off int) (float64, float64) {
	return func(_, off int) (float64, float64) {
		run := x[off : off+k.hw]
		return k.vec.sums(run, run)
	}
}

// gradSumsOf is the pair of sums of the backward pass for the run of
// channel c at off in dOut, x.
func (k *BatchNorm) gradSumsOf(x, dOut []float32) func(c, off int) (float64, float64) {
	return func(c, off int) (float64, float64) {
		return k.gradRunSums(c, x[off:off+k.hw], dOut[off:off+k.hw])
	}
}

// gradRunSums is Σdy and Σdy·x over one run of channel c (through the
// activation's derivative when act is set).
func (k *BatchNorm) gradRunSums(c int, x, dy []float32) (float64, float64) {
	if k.act {
		return k.vec.sumsMasked(dy, x, k.scale[c], k.shift[c], k.slope)
	}
	return k.vec.sums(dy, x)
}

// statsObserver fills k.stats from the kernel that writes the batch norm's
// input, an image at a time.
func (k *BatchNorm) statsObserver() imageObserver {
	return &runSumsObserver{s: &k.stats, runs: k.n * k.c, fill: func(n int, img []float32) {
		for c := range k.c {
			r, run := n*k.c+c, img[c*k.hw:(c+1)*k.hw]
			k.stats.pairs[2*r], k.stats.pairs[2*r+1] = k.vec.sums(run, run)
		}
	}}
}

// gradsObserver fills k.grads from the kernel that writes the gradient with
// respect to the batch norm's output, an image at a time. It reads the
// input and the scale and shift of the last forward pass.
func (k *BatchNorm) gradsObserver() imageObserver {
	return &runSumsObserver{s: &k.grads, runs: k.n * k.c, fill: func(n int, img []float32) {
		for c := range k.c {
			r := n*k.c + c
			k.grads.pairs[2*r], k.grads.pairs[2*r+1] = k.gradRunSums(c, k.x[r*k.hw:(r+1)*k.hw], img[c*k.hw:(c+1)*k.hw])
		}
	}}
}

// Forward implements Kernel.
func (k *BatchNorm) Forward(out []float32, in [][]float32) error {
	x, gamma, beta := in[0], in[1], in[2]
	k.sumsFor, k.x = nil, x
	m := float64(k.n * k.hw)
	if k.training {
		if k.stats.holdsFor(x) {
			k.fusedPasses++
		} else {
			k.fill(&k.stats, k.statSums(x))
		}
	}
	for c := range k.c {
		var mean, variance float64
		if k.training {
			s, q := k.channelSums(&k.stats, c)
			mean = s / m
			variance = max(0, q/m-mean*mean)
			unbiased := variance
			if m > 1 {
				unbiased = variance * m / (m - 1)
			}
			rm, rv := &k.runMean[c], &k.runVar[c]
			*rm = float32((1-k.momentum)*float64(*rm) + k.momentum*mean)
			*rv = float32((1-k.momentum)*float64(*rv) + k.momentum*unbiased)
		} else {
			mean, variance = float64(k.runMean[c]), float64(k.runVar[c])
		}
		istd := 1 / math.Sqrt(variance+k.eps)
		k.mean[c], k.istd[c] = mean, istd
		k.scale[c] = float32(float64(gamma[c]) * istd)
		k.shift[c] = float32(float64(beta[c]) - mean*float64(gamma[c])*istd)
	}
	k.runs(func(c, off int) {
		run, o := x[off:off+k.hw], out[off:off+k.hw]
		if k.act {
			k.vec.scaleShiftLeaky(o, run, k.scale[c], k.shift[c], k.slope)
		} else {
			k.vec.scaleShift(o, run, k.scale[c], k.shift[c])
		}
	})
	return nil
}

// gradSums fills k.sdy and k.sdyx for dOut (through the activation's
// derivative when act is set) unless they are already for it.
func (k *BatchNorm) gradSums(x, dOut []float32) {
	if len(dOut) == 0 || k.sumsFor == &dOut[0] {
		return
	}
	if k.grads.holdsFor(dOut) && len(k.x) > 0 && &k.x[0] == &x[0] {
		k.fusedPasses++
	} else {
		k.fill(&k.grads, k.gradSumsOf(x, dOut))
	}
	for c := range k.c {
		sdy, sdyx := k.channelSums(&k.grads, c)
		k.sdy[c] = sdy
		k.sdyx[c] = k.istd[c] * (sdyx - k.mean[c]*sdy)
	}
	k.sumsFor = &dOut[0]
}

// Backward implements Kernel.
func (k *BatchNorm) Backward(i int, dIn []float32, in [][]float32, out, dOut []float32) error {
	x, gamma := in[0], in[1]
	if len(k.coef) != 4*k.c {
		k.coef = make([]float32, 4*k.c)
	}
	if i == 0 && !k.training {
		// The statistics are constants: dx = γ·istd·dy.
		for c := range k.c {
			k.coef[c] = float32(float64(gamma[c]) * k.istd[c])
		}
		k.runs(func(c, off int) {
			g, d := dOut[off:off+k.hw], dIn[off:off+k.hw]
			if k.act {
				k.vec.scaleMasked(d, g, out[off:off+k.hw], k.coef[c], k.slope)
			} else {
				k.vec.scaleShift(d, g, k.coef[c], 0)
			}
		})
		return nil
	}
	k.gradSums(x, dOut)
	switch i {
	case 1:
		for c := range k.c {
			dIn[c] = float32(k.sdyx[c])
		}
	case 2:
		for c := range k.c {
			dIn[c] = float32(k.sdy[c])
		}
	case 0:
		// dx = γ·istd·(dy − Σdy/m − x̂·Σdy·x̂/m) = a·dy + b·(x − mean) + off
		// per channel; x − mean before scaling: no cancellation of b·x
		// against b·mean.
		m := float64(k.n * k.hw)
		a, b, off, mean := k.coef[:k.c], k.coef[k.c:2*k.c], k.coef[2*k.c:3*k.c], k.coef[3*k.c:]
		for c := range k.c {
			gi, istd := float64(gamma[c])*k.istd[c], k.istd[c]
			a[c] = float32(gi)
			b[c] = float32(-gi * istd * k.sdyx[c] / m)
			off[c] = float32(-gi * k.sdy[c] / m)
			mean[c] = float32(k.mean[c])
		}
		k.runs(func(c, o int) {
			run, g, d := x[o:o+k.hw], dOut[o:o+k.hw], dIn[o:o+k.hw]
			if k.act {
				k.vec.bnGradMasked(d, g, run, a[c], b[c], mean[c], off[c], k.scale[c], k.shift[c], k.slope)
			} else {
				k.vec.bnGrad(d, g, run, a[c], b[c], mean[c], off[c])
			}
		})
	}
	return nil
}
