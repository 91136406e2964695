package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestSGDMatchesDefinition runs three steps of SGD with momentum, with and
// without Nesterov momentum, with weight decay on a weight and none on a
// bias, and compares with PyTorch's update computed in float64:
// d = g + wd·w; buf = d on the first step, μ·buf + d after; the step is
// buf, or d + μ·buf with Nesterov; w ← w − lr·step. The weight is large
// enough (2¹⁷ values) to be split over the cores. Tolerance: each value
// passes through about 8 float32 roundings per step, 24 in all, so
// 24·2⁻²⁴·(|w| + lr·Σ|terms|) bounds the difference; 1e-5 relative to
// max(1, |w|) is above that for these magnitudes (|w|, |g| ≤ 1).
func TestSGDMatchesDefinition(t *testing.T) {
	for _, nesterov := range []bool{false, true} {
		r := rand.New(rand.NewPCG(31, 32))
		w := &Param{Name: "fc.weight", Kind: DenseWeight, Data: randSlice(r, 1<<17, -1, 1)}
		b := &Param{Name: "fc.bias", Kind: Bias, Data: randSlice(r, 5, -1, 1)}
		params := []*Param{w, b}
		const mu, wd, lr = 0.9, 5e-4, 0.05
		ref := [][]float64{f64(w.Data), f64(b.Data)}
		buf := make([][]float64, 2)
		opt := &SGD{Momentum: mu, WeightDecay: wd, Nesterov: nesterov}
		for step := range 3 {
			grads := [][]float32{randSlice(r, len(w.Data), -1, 1), randSlice(r, len(b.Data), -1, 1)}
			for i, p := range params {
				decay := wd
				if !p.Kind.IsWeight() {
					decay = 0
				}
				if buf[i] == nil {
					buf[i] = make([]float64, len(p.Data))
				}
				for j := range ref[i] {
					d := float64(grads[i][j]) + decay*ref[i][j]
					if step == 0 {
						buf[i][j] = d
					} else {
						buf[i][j] = mu*buf[i][j] + d
					}
					s := buf[i][j]
					if nesterov {
						s = d + mu*buf[i][j]
					}
					ref[i][j] -= lr * s
				}
			}
			if err := opt.Step(params, grads, lr); err != nil {
				t.Fatal(err)
			}
		}
		for i, p := range params {
			for j, v := range p.Data {
				if d := math.Abs(float64(v) - ref[i][j]); d > 1e-5*math.Max(1, math.Abs(ref[i][j])) {
					t.Fatalf("nesterov=%v: %s[%d] = %v, want %v", nesterov, p.Name, j, v, ref[i][j])
				}
			}
		}
	}
}

func f64(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}
