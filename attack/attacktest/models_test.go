package attacktest

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/robustq/robustq/nn"
)

// loss64 are float64 versions of the nn losses, for finite differences.
var loss64 = map[string]func(z []float64, y int) float64{
	"ce": func(z []float64, y int) float64 {
		m := slices.Max(z)
		var s float64
		for _, v := range z {
			s += math.Exp(v - m)
		}
		return math.Log(s) - (z[y] - m)
	},
	"cw": func(z []float64, y int) float64 {
		o := math.Inf(-1)
		for j, v := range z {
			if j != y {
				o = math.Max(o, v)
			}
		}
		return o - z[y]
	},
	"dlr": func(z []float64, y int) float64 {
		s := slices.Clone(z)
		slices.Sort(s)
		o := math.Inf(-1)
		for j, v := range z {
			if j != y {
				o = math.Max(o, v)
			}
		}
		k := len(s)
		return -(z[y] - o) / (s[k-1] - s[k-3] + 1e-12)
	},
}

// TestLinearGradient compares InputGrad of Linear and of Scaled(Linear, 3)
// with central finite differences of the float64 loss of the float64
// logits W·x + B (h = 1e-6: truncation O(h²) ≈ 1e-12, rounding ≈ 1e-16/h ≈
// 1e-10). The model computes in float32 (logits, then the loss gradient), a
// relative error of a few float32 ulps (2^-23 ≈ 1.2e-7) of the largest
// terms, so the tolerance is 1e-5 of the gradient's scale.
func TestLinearGradient(t *testing.T) {
	s := nn.Spec{Channels: 1, Height: 2, Width: 3, Classes: 4}
	lin := NewLinear(s, rand.New(rand.NewPCG(1, 1)))
	x, y, err := Batch(lin, 5, rand.New(rand.NewPCG(2, 2)))
	if err != nil {
		t.Fatal(err)
	}
	d, k := s.ExampleSize(), s.Classes
	for _, tt := range []struct {
		name   string
		m      nn.Model
		factor float64
	}{{"linear", lin, 1}, {"scaled", Scaled{M: lin, Factor: 3}, 3}} {
		for _, loss := range []nn.Loss{nn.CrossEntropy{}, nn.CWMargin{}, nn.DLR{}} {
			g, l, err := tt.m.InputGrad(x, y, loss)
			if err != nil {
				t.Fatal(err)
			}
			f := loss64[loss.Name()]
			eval := func(xi []float64, label int) float64 {
				z := make([]float64, k)
				for c := range z {
					z[c] = float64(lin.B[c])
					for j, v := range xi {
						z[c] += float64(lin.W[c*d+j]) * v
					}
					z[c] *= tt.factor
				}
				return f(z, label)
			}
			for i := range y {
				xi := make([]float64, d)
				for j := range xi {
					xi[j] = float64(x[i*d+j])
				}
				if want := eval(xi, y[i]); math.Abs(float64(l[i])-want) > 1e-5*(1+math.Abs(want)) {
					t.Errorf("%s %s: loss of example %d = %v, want %v", tt.name, loss.Name(), i, l[i], want)
				}
				var scale float64
				fd := make([]float64, d)
				const h = 1e-6
				for j := range xi {
					v := xi[j]
					xi[j] = v + h
					up := eval(xi, y[i])
					xi[j] = v - h
					down := eval(xi, y[i])
					xi[j] = v
					fd[j] = (up - down) / (2 * h)
					scale = math.Max(scale, math.Abs(fd[j]))
				}
				for j := range fd {
					if got := float64(g[i*d+j]); math.Abs(got-fd[j]) > 1e-5*(1+scale) {
						t.Errorf("%s %s: example %d coordinate %d: gradient %v, finite difference %v", tt.name, loss.Name(), i, j, got, fd[j])
					}
				}
			}
		}
	}
}

// TestModelsValidate: bad input is an error wrapping the nn sentinel.
func TestModelsValidate(t *testing.T) {
	s := nn.Spec{Channels: 1, Height: 1, Width: 3, Classes: 2}
	lin := NewLinear(s, rand.New(rand.NewPCG(1, 1)))
	if _, err := lin.Logits([]float32{1, 2}); err == nil {
		t.Error("Logits of a truncated batch: no error")
	}
	if _, _, err := lin.InputGrad([]float32{0, 0, 0}, []int{2}, nn.CrossEntropy{}); err == nil {
		t.Error("InputGrad with label 2 of 2 classes: no error")
	}
	bad := &Linear{Shape: s, W: make([]float32, 5), B: make([]float32, 2)}
	if _, err := bad.Logits([]float32{0, 0, 0}); err == nil {
		t.Error("Linear with 5 weights for 2×3: no error")
	}
	c := lin.CloneModel().(*Linear)
	c.W[0]++
	if lin.W[0] == c.W[0] {
		t.Error("CloneModel shares weights")
	}
}
