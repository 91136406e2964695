package nn

import (
	"fmt"
	"math"

	"github.com/chewxy/math32"

	"github.com/robustq/robustq/nn/internal/kernel"
)

// Loss is a per-example loss on logits. Attacks ascend it: larger means
// further from a correct prediction of the label.
//
// Implementations compute in float32, as a float32 network would, so that
// saturation (a softmax probability of exactly 1 and a gradient of exactly 0)
// shows up here as it does in practice.
type Loss interface {
	// Name identifies the loss in reports ("ce", "cw", "dlr").
	Name() string
	// Eval writes, for each of the n = len(y) rows of logits (n×k), the loss
	// value into losses[i] and its gradient with respect to the row into
	// grad[i*k:(i+1)*k]. Labels are in 0..k-1; lengths are the caller's duty.
	Eval(logits []float32, k int, y []int, losses, grad []float32)
}

// CrossEntropy is the softmax cross-entropy −log p_y, computed the way float32
// frameworks do: log-softmax with the maximum subtracted, gradient softmax − onehot.
type CrossEntropy struct{}

// CWMargin is the Carlini-Wagner margin loss max_{j≠y} z_j − z_y. It is
// positive exactly when the example is misclassified. It is a difference of
// logits, so it keeps a non-zero gradient when the softmax saturates.
// The zero value does not clip.
type CWMargin struct {
	// Kappa is the confidence: the loss is max(max_{j≠y} z_j − z_y, −Kappa)
	// when Clip is true. With Clip false (the default) the margin is not clipped.
	Kappa float32
	// Clip enables clipping at −Kappa.
	Clip bool
}

// DLR is the Difference of Logits Ratio loss of Croce and Hein (2020):
// −(z_y − max_{j≠y} z_j) / (z_π1 − z_π3 + 1e-12), with z_π the logits sorted
// in decreasing order. It is invariant to shifting and scaling the logits.
// It needs at least 3 classes.
type DLR struct{}

var (
	_ Loss = CrossEntropy{}
	_ Loss = CWMargin{}
	_ Loss = DLR{}
)

// Name returns "ce".
func (CrossEntropy) Name() string { return "ce" }

// Eval implements Loss.
func (CrossEntropy) Eval(logits []float32, k int, y []int, losses, grad []float32) {
	for i, label := range y {
		z := logits[i*k : (i+1)*k]
		g := grad[i*k : (i+1)*k]
		m := z[0]
		for _, v := range z[1:] {
			if v > m {
				m = v
			}
		}
		var s float32
		for j, v := range z {
			e := math32.Exp(v - m)
			g[j] = e
			s += e
		}
		lse := math32.Log(s)
		losses[i] = lse - (z[label] - m)
		for j := range g {
			g[j] /= s
		}
		g[label] -= 1
	}
}

// Name returns "cw".
func (CWMargin) Name() string { return "cw" }

// Eval implements Loss.
func (l CWMargin) Eval(logits []float32, k int, y []int, losses, grad []float32) {
	for i, label := range y {
		z := logits[i*k : (i+1)*k]
		g := grad[i*k : (i+1)*k]
		other := bestOther(z, label)
		v := z[other] - z[label]
		clear(g)
		if l.Clip && v < -l.Kappa {
			losses[i] = -l.Kappa
			continue
		}
		losses[i] = v
		g[other] = 1
		g[label] = -1
	}
}

// Name returns "dlr".
func (DLR) Name() string { return "dlr" }

// Eval implements Loss. With fewer than 3 classes the loss and gradient are NaN.
func (DLR) Eval(logits []float32, k int, y []int, losses, grad []float32) {
	for i, label := range y {
		z := logits[i*k : (i+1)*k]
		g := grad[i*k : (i+1)*k]
		clear(g)
		if k < 3 {
			losses[i] = undefined(g)
			continue
		}
		p1, p2, p3 := top3(z)
		other := bestOther(z, label)
		num := z[label] - z[other]
		den := z[p1] - z[p3] + 1e-12
		losses[i] = -num / den
		// d/dz of −num/den = −(dnum)/den + num·(dden)/den².
		g[label] -= 1 / den
		g[other] += 1 / den
		c := num / (den * den)
		g[p1] += c
		g[p3] -= c
		_ = p2
	}
}

// bestOther returns the index of the largest logit other than label
// (the lowest index among ties).
func bestOther(z []float32, label int) int {
	best := -1
	for j, v := range z {
		if j == label {
			continue
		}
		if best < 0 || v > z[best] {
			best = j
		}
	}
	return best
}

// top3 returns the indices of the three largest logits, in decreasing order
// (lowest index first among ties).
func top3(z []float32) (a, b, c int) {
	a, b, c = -1, -1, -1
	for j, v := range z {
		switch {
		case a < 0 || v > z[a]:
			a, b, c = j, a, b
		case b < 0 || v > z[b]:
			b, c = j, b
		case c < 0 || v > z[c]:
			c = j
		}
	}
	return a, b, c
}

// lossKernel reduces logits (N,K) to the sum of a per-example loss; it keeps
// the per-example values and their gradients for the backward pass. It is a
// kernel.Kernel that stays in nn, as it runs a Loss; a graph sets its loss
// and labels before each run.
type lossKernel struct {
	n, k   int
	loss   Loss
	labels []int
	losses []float32
	dz     []float32
}

var _ kernel.Kernel = (*lossKernel)(nil)

func (k *lossKernel) Name() string           { return "loss" }
func (k *lossKernel) OutShape() []int        { return []int{} } // a scalar
func (k *lossKernel) Differentiable() []bool { return []bool{true} }

func (k *lossKernel) Forward(out []float32, in [][]float32) error {
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

func (k *lossKernel) Backward(_ int, dIn []float32, _ [][]float32, _, dOut []float32) error {
	g := dOut[0]
	for i, v := range k.dz {
		dIn[i] = g * v
	}
	return nil
}

// undefined fills a loss's gradient row g with NaN and returns NaN, for a
// loss that is not defined on so few classes.
func undefined(g []float32) float32 {
	nan := float32(math.NaN())
	for j := range g {
		g[j] = nan
	}
	return nan
}
