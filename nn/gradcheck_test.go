package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Finite-difference gradient checks. The kernels are float32, so each check
// compares a directional derivative <∇f, v> against the central difference
// (f(θ+hv) − f(θ−hv)) / 2h along a few random unit directions v, with
// h = 1e-3. Sources of disagreement and their size: float32 rounding of f
// (|f| ≲ 10, relative 1e-7, so about 1e-6 / 2h = 5e-5 absolute), the O(h²)
// truncation term (≲ 1e-4 for these smooth-between-kinks functions), and
// kinks (ReLU, max pool) crossed within ±h, which random inputs make rare.
// A wrong sign, factor or index shows up as an O(1) relative error, so the
// tolerance below, 2% relative with a 2e-3 absolute floor, still catches it.
const (
	fdStep   = 1e-3
	fdRelTol = 2e-2
	fdAbsTol = 2e-3
)

func randSlice(r *rand.Rand, n int, lo, hi float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = lo + (hi-lo)*r.Float32()
	}
	return s
}

func unitDirection(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	var s float64
	for i := range v {
		v[i] = float32(r.NormFloat64())
		s += float64(v[i]) * float64(v[i])
	}
	for i := range v {
		v[i] /= float32(math.Sqrt(s))
	}
	return v
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func sum(s []float32) float64 {
	var t float64
	for _, v := range s {
		t += float64(v)
	}
	return t
}

func closeEnough(num, ana float64) bool {
	return math.Abs(num-ana) <= fdAbsTol+fdRelTol*math.Abs(ana)
}

// checkInputGrad compares InputGrad (evaluation mode, gradient of the sum of
// per-example losses) with central differences.
func checkInputGrad(t *testing.T, net Model, x []float32, y []int, loss Loss, r *rand.Rand) {
	t.Helper()
	g, _, err := net.InputGrad(x, y, loss)
	if err != nil {
		t.Fatal(err)
	}
	f := func(x []float32) float64 {
		_, l, err := net.InputGrad(x, y, loss)
		if err != nil {
			t.Fatal(err)
		}
		return sum(l)
	}
	for d := range 3 {
		v := unitDirection(r, len(x))
		xp, xm := make([]float32, len(x)), make([]float32, len(x))
		for i := range x {
			xp[i] = x[i] + fdStep*v[i]
			xm[i] = x[i] - fdStep*v[i]
		}
		num := (f(xp) - f(xm)) / (2 * fdStep)
		ana := dot(g, v)
		if !closeEnough(num, ana) {
			t.Errorf("input gradient, direction %d: finite difference %.6g, analytic %.6g", d, num, ana)
		}
	}
}

// checkParamGrads compares Gradients (training mode, gradient of the mean
// loss) with central differences of the training-mode mean loss, for every
// trainable parameter.
func checkParamGrads(t *testing.T, net *Network, x []float32, y []int, loss Loss, r *rand.Rand) {
	t.Helper()
	out, err := net.Gradients(x, y, loss)
	if err != nil {
		t.Fatal(err)
	}
	grads := make([][]float32, len(out.Grads))
	for i, g := range out.Grads {
		grads[i] = append([]float32(nil), g...)
	}
	params := out.Params
	f := func() float64 {
		o, err := net.Gradients(x, y, loss)
		if err != nil {
			t.Fatal(err)
		}
		return sum(o.Losses) / float64(len(y))
	}
	for i, p := range params {
		v := unitDirection(r, p.Len())
		orig := append([]float32(nil), p.Data...)
		for j := range p.Data {
			p.Data[j] = orig[j] + fdStep*v[j]
		}
		fp := f()
		for j := range p.Data {
			p.Data[j] = orig[j] - fdStep*v[j]
		}
		fm := f()
		copy(p.Data, orig)
		num := (fp - fm) / (2 * fdStep)
		ana := dot(grads[i], v)
		if !closeEnough(num, ana) {
			t.Errorf("gradient of %s: finite difference %.6g, analytic %.6g", p.Name, num, ana)
		}
	}
}

func TestGradients(t *testing.T) {
	tests := []struct {
		name   string
		in     [3]int
		layers func() []Layer
	}{
		{"conv stride1 pad1 bias", [3]int{3, 6, 5}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 5, Kernel: 3, Padding: 1, Bias: true}, Flatten(), Dense("fc", 4)}
		}},
		{"conv stride2 pad2 nobias", [3]int{2, 7, 7}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 3, Kernel: 5, Stride: 2, Padding: 2}, Flatten(), Dense("fc", 4)}
		}},
		{"conv 1x1 stride2 pad0", [3]int{3, 5, 6}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 7, Kernel: 1, Stride: 2}, Flatten(), Dense("fc", 4)}
		}},
		{"dense relu dense", [3]int{1, 3, 4}, func() []Layer {
			return []Layer{Flatten(), Dense("fc1", 9), ReLU(), Dense("fc2", 4)}
		}},
		{"leaky relu", [3]int{2, 4, 4}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 3, Kernel: 3, Padding: 1, Bias: true}, LeakyReLU(0.1), Flatten(), Dense("fc", 4)}
		}},
		{"max pool 2/2", [3]int{2, 6, 6}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 3, Kernel: 3, Padding: 1, Bias: true}, MaxPool(2, 2), Flatten(), Dense("fc", 4)}
		}},
		{"max pool 3/2 overlapping", [3]int{2, 7, 7}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 3, Kernel: 3, Padding: 1, Bias: true}, MaxPool(3, 2), Flatten(), Dense("fc", 4)}
		}},
		{"avg pool 2/2", [3]int{2, 6, 6}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 3, Kernel: 3, Padding: 1, Bias: true}, AvgPool(2, 2), Flatten(), Dense("fc", 4)}
		}},
		{"global avg pool", [3]int{2, 5, 3}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 6, Kernel: 3, Padding: 1, Bias: true}, GlobalAvgPool(), Dense("fc", 4)}
		}},
		{"batch norm", [3]int{2, 4, 4}, func() []Layer {
			return []Layer{&ConvLayer{Name: "c", Out: 3, Kernel: 3, Padding: 1}, BatchNorm("bn"), LeakyReLU(0.1), Flatten(), Dense("fc", 4)}
		}},
		{"batch norm flat", [3]int{1, 3, 3}, func() []Layer {
			return []Layer{Flatten(), Dense("fc1", 5), BatchNorm("bn"), Dense("fc2", 4)}
		}},
		{"residual identity", [3]int{4, 5, 5}, func() []Layer {
			return []Layer{&ResidualUnit{Name: "u", Out: 4, Slope: 0.1}, GlobalAvgPool(), Dense("fc", 4)}
		}},
		{"residual projection stride2", [3]int{3, 6, 6}, func() []Layer {
			return []Layer{&ResidualUnit{Name: "u", Out: 5, Stride: 2, Slope: 0.1}, GlobalAvgPool(), Dense("fc", 4)}
		}},
		// Identity units in a row: the gradient at each sum is shared by
		// both of its inputs (sumKernel), and each unit's input adds it to
		// the gradient through the unit's own layers. (On 3×4×4 inputs with 3
		// channels, u1.c1's direction crossed a leaky ReLU kink 5e-4 away:
		// central differences went -0.0133 at h = 1e-3, -0.01033 at 1e-4,
		// against an analytic -0.01028.)
		{"residual identity x3", [3]int{4, 5, 5}, func() []Layer {
			return []Layer{&ResidualUnit{Name: "u1", Out: 4, Slope: 0.1}, &ResidualUnit{Name: "u2", Out: 4, Slope: 0.1}, &ResidualUnit{Name: "u3", Out: 4, Slope: 0.1}, GlobalAvgPool(), Dense("fc", 4)}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 7))
			net, err := NewNetwork(tc.name, tc.in, r, tc.layers()...)
			if err != nil {
				t.Fatal(err)
			}
			// Non-trivial batch-norm parameters and running statistics, so
			// that evaluation mode is not the identity.
			for _, p := range net.Params() {
				switch p.Kind {
				case BNScale, BNVar:
					for i := range p.Data {
						p.Data[i] = 0.5 + r.Float32()
					}
				case BNShift, BNMean:
					for i := range p.Data {
						p.Data[i] = r.Float32() - 0.5
					}
				}
			}
			// Spread the classes' logits 1 apart through the output bias, so
			// that the piecewise-linear losses (CW, DLR) sit far (≫ h) from the
			// kinks where the best other class changes: random tiny networks
			// otherwise give near-ties (seen: two logits 2e-4 apart).
			ps := net.Params()
			out := ps[len(ps)-1]
			if out.Kind != Bias {
				t.Fatalf("last parameter %s is not the output bias", out.Name)
			}
			for j := range out.Data {
				out.Data[j] = float32(j)
			}
			const batch = 3
			x := randSlice(r, batch*net.Spec().ExampleSize(), 0, 1)
			y := []int{0, 3, 1}
			for _, loss := range []Loss{CrossEntropy{}, CWMargin{}, DLR{}} {
				t.Run(loss.Name(), func(t *testing.T) {
					checkInputGrad(t, net, x, y, loss, r)
					checkParamGrads(t, net, x, y, loss, r)
				})
			}
		})
	}
}
