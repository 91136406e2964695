package defense

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// penalty64 is ‖WᵀW − I_m‖²_F for the out×m matrix w, straight from the
// definition, in float64.
func penalty64(w []float64, out, m int) float64 {
	var s float64
	for i := range m {
		for j := range m {
			var g float64
			for r := range out {
				g += w[r*m+i] * w[r*m+j]
			}
			if i == j {
				g--
			}
			s += g * g
		}
	}
	return s
}

func randomWeight(shape []int, scale float64, seed uint64) *nn.Param {
	r := rand.New(rand.NewPCG(seed, 9))
	n := 1
	for _, d := range shape {
		n *= d
	}
	p := &nn.Param{Name: "w", Layer: "l", Kind: nn.DenseWeight, Shape: shape, Data: make([]float32, n)}
	if len(shape) == 4 {
		p.Kind = nn.ConvWeight
	}
	for i := range p.Data {
		p.Data[i] = float32(scale * r.NormFloat64())
	}
	return p
}

// The gradient 2β·W(WᵀW − I) against central finite differences of
// β/2·‖WᵀW − I‖²_F in float64, for wide, tall and square matrices and a
// convolution kernel (reshaped out × in·k·k).
func TestLipschitzGradientFiniteDifferences(t *testing.T) {
	const beta = 0.7
	tests := []struct {
		name  string
		shape []int
	}{
		{"wide 3x5 (WWᵀ path)", []int{3, 5}},
		{"tall 6x4 (WᵀW path)", []int{6, 4}},
		{"square 4x4", []int{4, 4}},
		{"conv 2x3x2x2 (2 x 12)", []int{2, 3, 2, 2}},
		{"conv 5x1x2x1 (5 x 2)", []int{5, 1, 2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := randomWeight(tc.shape, 0.6, 1)
			out, m := tc.shape[0], len(p.Data)/tc.shape[0]
			grad := make([]float32, len(p.Data))
			if err := (Lipschitz{Beta: beta}).AddGradient([]*nn.Param{p}, [][]float32{grad}); err != nil {
				t.Fatal(err)
			}
			w := make([]float64, len(p.Data))
			for i, v := range p.Data {
				w[i] = float64(v)
			}
			fd := make([]float32, len(w))
			const h = 1e-5 // central differences: error O(h²) for this quartic
			for i := range w {
				w0 := w[i]
				w[i] = w0 + h
				up := penalty64(w, out, m)
				w[i] = w0 - h
				down := penalty64(w, out, m)
				w[i] = w0
				fd[i] = float32(beta / 2 * (up - down) / (2 * h))
			}
			// tol: the analytic gradient is computed with float32 products
			// (relative rounding ~1e-6 per term, a dozen terms); the finite
			// differences have truncation ~h² and cancellation ~1e-16/h ≈ 1e-11.
			if d := cmp.Diff(fd, grad, cmpopts.EquateApprox(1e-4, 1e-5)); d != "" {
				t.Errorf("gradient (-fd +analytic):\n%s", d)
			}
			// The value matches the definition too (the hook computes it
			// with the smaller Gram matrix plus the constant m − out).
			got, err := Lipschitz{Beta: beta}.Penalty([]*nn.Param{p})
			if err != nil {
				t.Fatal(err)
			}
			want := beta / 2 * penalty64(w, out, m)
			if math.Abs(got-want) > 1e-5*want { // float32 Gram entries, relative ~1e-6
				t.Errorf("Penalty = %v, want %v", got, want)
			}
		})
	}
}

// A matrix with orthonormal rows has WWᵀ = I: the gradient is exactly
// zero, while ‖WᵀW − I_m‖² = m − out is the constant that separates the two
// forms of the penalty.
func TestLipschitzOrthonormalRows(t *testing.T) {
	p := &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{2, 4}, Data: []float32{
		0, 1, 0, 0,
		0, 0, 0, -1,
	}}
	grad := make([]float32, 8)
	l := Lipschitz{Beta: 2}
	if err := l.AddGradient([]*nn.Param{p}, [][]float32{grad}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(grad, make([]float32, 8)) {
		t.Errorf("gradient %v, want zeros", grad)
	}
	got, err := l.Penalty([]*nn.Param{p})
	if err != nil {
		t.Fatal(err)
	}
	if got != 2 { // β/2·(m − out) = 1·2
		t.Errorf("Penalty = %v, want 2", got)
	}
}

// The hook adds ∇R once, to the gradients of the chosen weights only.
func TestLipschitzHookAddsOnce(t *testing.T) {
	net := mlp(t, 2, 3, 4, 3, 1)
	var params []*nn.Param
	for _, p := range net.Params() {
		if p.Kind.Trainable() {
			params = append(params, p)
		}
	}
	g0 := make([][]float32, len(params))
	grads := make([][]float32, len(params))
	r := rand.New(rand.NewPCG(3, 3))
	for i, p := range params {
		g0[i] = make([]float32, len(p.Data))
		for j := range g0[i] {
			g0[i][j] = float32(r.NormFloat64())
		}
		grads[i] = slices.Clone(g0[i])
	}
	l := Lipschitz{Beta: 0.1, Selector: quant.LastLayers(1)}
	s := &nn.Step{Net: net, Out: &nn.StepOutput{Params: params, Grads: grads}}
	if err := l.BeforeUpdate(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	for i, p := range params {
		if p.Name != "out.weight" {
			if !slices.Equal(grads[i], g0[i]) {
				t.Errorf("%s: gradient changed", p.Name)
			}
			continue
		}
		reg := make([]float32, len(p.Data))
		addGrad(reg, p.Data, p.Shape[0], p.Shape[1], 0.1)
		for j := range reg {
			reg[j] += g0[i][j]
		}
		// tol: Sgemm with beta = 1 adds in float32 in another order.
		if d := cmp.Diff(reg, grads[i], cmpopts.EquateApprox(1e-6, 1e-7)); d != "" {
			t.Errorf("out.weight gradient (-want +got):\n%s", d)
		}
	}
}

func TestLipschitzErrors(t *testing.T) {
	net := mlp(t, 2, 2, 3, 2, 1)
	params := net.Params()
	grads := make([][]float32, len(params))
	for i, p := range params {
		grads[i] = make([]float32, len(p.Data))
	}
	tests := []struct {
		name  string
		l     Lipschitz
		grads [][]float32
		want  error
	}{
		{"negative beta", Lipschitz{Beta: -1}, grads, ErrParam},
		{"nan beta", Lipschitz{Beta: math.NaN()}, grads, ErrParam},
		{"bias chosen", Lipschitz{Selector: quant.ParamFunc(func(p *nn.Param) bool { return p.Kind == nn.Bias })}, grads, quant.ErrSelect},
		{"unknown layer", Lipschitz{Selector: quant.Layers{"x"}}, grads, quant.ErrSelect},
		{"gradient count", Lipschitz{}, grads[:1], nn.ErrShape},
		{"gradient length", Lipschitz{}, append([][]float32{grads[0][:1]}, grads[1:]...), nn.ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.l.AddGradient(params, tc.grads); !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
	if err := (Lipschitz{}).BeforeUpdate(context.Background(), &nn.Step{}); !errors.Is(err, ErrNil) {
		t.Errorf("BeforeUpdate without output: %v, want ErrNil", err)
	}
}

// Training with the regulariser lowers the penalty compared with the same
// training without it, and keeps most of the clean accuracy of this easy
// problem.
func TestDefensiveQuantizationLowersPenalty(t *testing.T) {
	ctx := context.Background()
	tr, te := blobs(400, 4, 4, 4, 0.15, 2, 1), blobs(400, 4, 4, 4, 0.15, 2, 2)
	cfg := nn.TrainConfig{Epochs: 10, BatchSize: 32, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(0.02), Seed: 7}
	l := Lipschitz{Beta: 0.01}
	std, dq := mlp(t, 4, 4, 16, 4, 1), mlp(t, 4, 4, 16, 4, 1)
	if _, err := (Standard{Config: cfg}).Train(ctx, std, tr); err != nil {
		t.Fatal(err)
	}
	if _, err := (DefensiveQuantization{Config: cfg, Lipschitz: l, QAT: &QAT{}}).Train(ctx, dq, tr); err != nil {
		t.Fatal(err)
	}
	ps, _ := l.Penalty(std.Params())
	pd, _ := l.Penalty(dq.Params())
	q, err := quant.Apply(dq, quant.Linear{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	as, af, ad := accuracy(t, std, te), accuracy(t, dq, te), accuracy(t, q, te)
	t.Logf("penalty standard %.4g, regularised %.4g; accuracy standard %.3f, regularised %.3f, its 3-bit %.3f", ps, pd, as, af, ad)
	if !(pd < ps/2) {
		t.Errorf("penalty with the regulariser %v, without %v; want less than half", pd, ps)
	}
	// Measured: standard 0.953, regularised with 3-bit QAT then quantized
	// 0.907 (chance is 0.25). 0.8 checks that the strong regulariser
	// (β = 0.01) and QAT did not wreck the classifier.
	if ad < 0.8 {
		t.Errorf("regularised 3-bit accuracy %.3f, want ≥ 0.8", ad)
	}
}
