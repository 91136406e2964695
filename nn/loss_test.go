package nn

import (
	"math"
	"testing"
)

func TestLossValues(t *testing.T) {
	tests := []struct {
		name   string
		loss   Loss
		logits []float32
		y      int
		want   float64
		tol    float64
	}{
		// Uniform logits over K classes: −log(1/K) = log K.
		{"ce uniform", CrossEntropy{}, []float32{2, 2, 2, 2}, 1, math.Log(4), 1e-6},
		// log(1 + e^-3) for logits (3, 0): the stable form's exact value.
		{"ce two class", CrossEntropy{}, []float32{3, 0}, 0, math.Log1p(math.Exp(-3)), 1e-6},
		// max other (2) − z_y (1) = 1.
		{"cw misclassified", CWMargin{}, []float32{1, 2, -5}, 0, 1, 0},
		// max other (0.5) − z_y (4) = −3.5.
		{"cw correct", CWMargin{}, []float32{0.5, 4, 0}, 1, -3.5, 0},
		// Clipped at −κ = −2.
		{"cw clipped", CWMargin{Kappa: 2, Clip: true}, []float32{0.5, 4, 0}, 1, -2, 0},
		// −(z_y − max other)/(z_π1 − z_π3) = −(4 − 1)/(4 − (−2)) = −0.5.
		{"dlr correct", DLR{}, []float32{1, 4, -2, -3}, 1, -0.5, 1e-6},
		// −(1 − 4)/(4 − (−2)) = 0.5 for a misclassified example.
		{"dlr wrong", DLR{}, []float32{1, 4, -2, -3}, 0, 0.5, 1e-6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := len(tc.logits)
			l, g := make([]float32, 1), make([]float32, k)
			tc.loss.Eval(tc.logits, k, []int{tc.y}, l, g)
			if math.Abs(float64(l[0])-tc.want) > tc.tol {
				t.Errorf("loss %v, want %v ± %v", l[0], tc.want, tc.tol)
			}
		})
	}
}

// Finite differences of each loss with respect to the logits, away from
// ties. h = 1e-3 on O(1) float32 losses: rounding contributes ≲ 1e-7/2e-3
// = 5e-5; the tolerance 1e-3 leaves room for the O(h²) term of CE.
func TestLossGradients(t *testing.T) {
	logits := []float32{0.3, -1.2, 2.1, 0.9, -0.4, 1.5, 0.2, -2.0, 1.1, 0.7}
	const k = 5
	y := []int{3, 0}
	for _, loss := range []Loss{CrossEntropy{}, CWMargin{}, DLR{}, DLRTargeted{}} {
		t.Run(loss.Name(), func(t *testing.T) {
			l, g := make([]float32, 2), make([]float32, len(logits))
			loss.Eval(logits, k, y, l, g)
			for j := range logits {
				p := append([]float32(nil), logits...)
				m := append([]float32(nil), logits...)
				p[j] += 1e-3
				m[j] -= 1e-3
				lp, lm := make([]float32, 2), make([]float32, 2)
				loss.Eval(p, k, y, lp, make([]float32, len(g)))
				loss.Eval(m, k, y, lm, make([]float32, len(g)))
				num := (float64(lp[j/k]) - float64(lm[j/k])) / 2e-3
				if math.Abs(num-float64(g[j])) > 1e-3 {
					t.Errorf("d loss/d z[%d]: finite difference %.6g, analytic %.6g", j, num, g[j])
				}
			}
		})
	}
}

// Saturation: with logits scaled by 1e4 the float32 softmax is exactly
// one-hot, so cross-entropy's gradient is exactly zero while the margin
// losses keep theirs. This is the gradient masking robustq must expose.
func TestSaturatedCrossEntropy(t *testing.T) {
	z := []float32{0.3e4, 0.1e4, -0.2e4}
	l, g := make([]float32, 1), make([]float32, 3)
	CrossEntropy{}.Eval(z, 3, []int{0}, l, g)
	for j, v := range g {
		if v != 0 {
			t.Errorf("CE gradient[%d] = %v, want exactly 0 in float32", j, v)
		}
	}
	for _, loss := range []Loss{CWMargin{}, DLR{}} {
		loss.Eval(z, 3, []int{0}, l, g)
		if g[0] == 0 {
			t.Errorf("%s gradient for the true class is 0; want non-zero", loss.Name())
		}
	}
}

// DLRTargeted by hand: logits (3, 1, 2, 0, −1), target 2: the largest
// other logit is 3, the sorted logits 3, 2, 1, 0, so the loss is
// (3 − 2) / (3 − (1 + 0)/2) = 1 / 2.5.
func TestDLRTargetedValue(t *testing.T) {
	l, g := make([]float32, 1), make([]float32, 5)
	DLRTargeted{}.Eval([]float32{3, 1, 2, 0, -1}, 5, []int{2}, l, g)
	if math.Abs(float64(l[0])-0.4) > 1e-6 {
		t.Errorf("loss %v, want 0.4", l[0])
	}
	DLRTargeted{}.Eval([]float32{3, 1, 2}, 3, []int{2}, l, g[:3])
	if !math.IsNaN(float64(l[0])) {
		t.Errorf("3 classes: loss %v, want NaN", l[0])
	}
}
