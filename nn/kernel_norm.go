package nn

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"
)

// batchNormKernel normalises each channel of x (N,C,H,W) and applies
// γ·x̂ + β; inputs x, γ (C), β (C). In training mode it uses the batch's
// statistics (biased variance) and updates the running ones as PyTorch does:
// r ← (1−m)·r + m·batch, with the unbiased variance. In evaluation mode it
// uses the running statistics.
type batchNormKernel struct {
	shape      tensor.Shape
	n, c, hw   int
	training   bool
	momentum   float64
	eps        float64
	runMean    *Param
	runVar     *Param
	mean, istd []float64 // the statistics used by the last forward pass
}

func newBatchNormKernel(x tensor.Shape, training bool, momentum, eps float64, runMean, runVar *Param) (*batchNormKernel, error) {
	if len(x) != 4 && len(x) != 2 {
		return nil, fmt.Errorf("%w: batch norm input %v, want (N,C,H,W) or (N,C)", ErrShape, x)
	}
	hw := 1
	if len(x) == 4 {
		hw = x[2] * x[3]
	}
	if x[1] != runMean.Len() {
		return nil, fmt.Errorf("%w: batch norm over %d channels, input %v", ErrShape, runMean.Len(), x)
	}
	return &batchNormKernel{shape: x.Clone(), n: x[0], c: x[1], hw: hw, training: training, momentum: momentum, eps: eps,
		runMean: runMean, runVar: runVar, mean: make([]float64, x[1]), istd: make([]float64, x[1])}, nil
}

func (k *batchNormKernel) name() string           { return "batch-norm" }
func (k *batchNormKernel) outShape() tensor.Shape { return k.shape }
func (k *batchNormKernel) differentiable() []bool { return []bool{true, true, true} }

// channel calls f with each contiguous run of channel c's values.
func (k *batchNormKernel) channel(x []float32, c int, f func(run []float32, off int)) {
	for n := range k.n {
		off := (n*k.c + c) * k.hw
		f(x[off:off+k.hw], off)
	}
}

func (k *batchNormKernel) forward(out []float32, in [][]float32) error {
	x, gamma, beta := in[0], in[1], in[2]
	m := float64(k.n * k.hw)
	parallelFor(k.c, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			var mean, variance float64
			if k.training {
				var s float64
				k.channel(x, c, func(run []float32, _ int) {
					for _, v := range run {
						s += float64(v)
					}
				})
				mean = s / m
				var q float64
				k.channel(x, c, func(run []float32, _ int) {
					for _, v := range run {
						d := float64(v) - mean
						q += d * d
					}
				})
				variance = q / m
				unbiased := variance
				if m > 1 {
					unbiased = q / (m - 1)
				}
				rm, rv := &k.runMean.Data[c], &k.runVar.Data[c]
				*rm = float32((1-k.momentum)*float64(*rm) + k.momentum*mean)
				*rv = float32((1-k.momentum)*float64(*rv) + k.momentum*unbiased)
			} else {
				mean, variance = float64(k.runMean.Data[c]), float64(k.runVar.Data[c])
			}
			istd := 1 / math.Sqrt(variance+k.eps)
			k.mean[c], k.istd[c] = mean, istd
			scale := float32(float64(gamma[c]) * istd)
			shift := float32(float64(beta[c]) - mean*float64(gamma[c])*istd)
			k.channel(x, c, func(run []float32, off int) {
				o := out[off : off+len(run)]
				for i, v := range run {
					o[i] = v*scale + shift
				}
			})
		}
	})
	return nil
}

func (k *batchNormKernel) backward(i int, dIn []float32, in [][]float32, _, dOut []float32) error {
	x, gamma := in[0], in[1]
	m := float64(k.n * k.hw)
	parallelFor(k.c, func(_, lo, hi int) {
		for c := lo; c < hi; c++ {
			mean, istd := k.mean[c], k.istd[c]
			// Σ dy and Σ dy·x̂ over the channel.
			var sdy, sdyx float64
			k.channel(x, c, func(run []float32, off int) {
				g := dOut[off : off+len(run)]
				for j, v := range run {
					sdy += float64(g[j])
					sdyx += float64(g[j]) * (float64(v) - mean) * istd
				}
			})
			switch i {
			case 1:
				dIn[c] = float32(sdyx)
			case 2:
				dIn[c] = float32(sdy)
			case 0:
				gi := float64(gamma[c]) * istd
				k.channel(x, c, func(run []float32, off int) {
					g := dOut[off : off+len(run)]
					d := dIn[off : off+len(run)]
					if !k.training {
						for j := range run {
							d[j] = float32(gi * float64(g[j]))
						}
						return
					}
					for j, v := range run {
						xh := (float64(v) - mean) * istd
						d[j] = float32(gi * (float64(g[j]) - sdy/m - xh*sdyx/m))
					}
				})
			}
		}
	})
	return nil
}

// lossKernel reduces logits (N,K) to the sum of a per-example loss; it keeps
// the per-example values and their gradients for the backward pass.
type lossKernel struct {
	n, k   int
	loss   Loss
	labels []int
	losses []float32
	dz     []float32
}

func (k *lossKernel) name() string           { return "loss" }
func (k *lossKernel) outShape() tensor.Shape { return tensor.ScalarShape() }
func (k *lossKernel) differentiable() []bool { return []bool{true} }

func (k *lossKernel) forward(out []float32, in [][]float32) error {
	if k.loss == nil || len(k.labels) != k.n {
		return fmt.Errorf("nn: loss run without a loss or with %d labels for %d examples", len(k.labels), k.n)
	}
	if len(k.losses) != k.n {
		k.losses = make([]float32, k.n)
		k.dz = make([]float32, k.n*k.k)
	}
	k.loss.Eval(in[0], k.k, k.labels, k.losses, k.dz)
	var s float64
	for _, v := range k.losses {
		s += float64(v)
	}
	out[0] = float32(s)
	return nil
}

func (k *lossKernel) backward(_ int, dIn []float32, _ [][]float32, _, dOut []float32) error {
	g := dOut[0]
	for i, v := range k.dz {
		dIn[i] = g * v
	}
	return nil
}
