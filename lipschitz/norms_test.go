package lipschitz

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/robustq/robustq/nn"
)

// diagOp is the operator diag(d) padded to r×c (r rows, c columns, r ≠ c
// allowed): its singular values are the |d[i]|.
type diagOp struct {
	d    []float64
	r, c int
}

var _ Operator = (*diagOp)(nil)

func (o *diagOp) Dims() (int, int) { return o.r, o.c }
func (o *diagOp) Apply(dst, x []float64) {
	clear(dst)
	for i, v := range o.d {
		dst[i] = v * x[i]
	}
}
func (o *diagOp) ApplyTranspose(dst, y []float64) {
	clear(dst)
	for i, v := range o.d {
		dst[i] = v * y[i]
	}
}

func TestDenseByHand(t *testing.T) {
	tests := []struct {
		name     string
		out, in  int
		data     []float32
		spectral float64
		inf      float64
	}{
		// W = [[3, 0], [4, 5]]: WᵀW = [[25, 20], [20, 25]] has eigenvalues
		// 25 ± 20, so σ₁ = √45 = 3√5 ≈ 6.708; row sums 3 and 9.
		{"2x2", 2, 2, []float32{3, 0, 4, -5}, 3 * math.Sqrt(5), 9},
		// W = u vᵀ with u = (1, 2, 2), v = (3, 4): rank one, σ₁ = ‖u‖‖v‖ = 3·5
		// = 15; rows (3,4), (6,8), (6,8): largest row sum 14.
		{"3x2_rank1", 3, 2, []float32{3, 4, 6, 8, 6, 8}, 15, 14},
		// Its transpose v uᵀ (2×3): σ₁ = 15; rows (3,6,6), (4,8,8): 20.
		{"2x3_rank1", 2, 3, []float32{3, 6, 6, 4, 8, 8}, 15, 20},
		// Zero matrix: both norms 0.
		{"zero", 2, 3, make([]float32, 6), 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := denseParam("fc.weight", tt.out, tt.in, tt.data)
			s, err := Spectral(p)
			if err != nil {
				t.Fatal(err)
			}
			// LAPACK's SVD is backward stable: relative error a few ulps
			// for these 2- and 3-dimensional matrices; 1e-14 is generous.
			if relDiff(s, tt.spectral) > 1e-14 {
				t.Errorf("Spectral = %.17g, want %.17g", s, tt.spectral)
			}
			rs, err := ReshapedSpectral(p)
			if err != nil || rs != s { // same computation on the same matrix
				t.Errorf("ReshapedSpectral = %v, %v, want %v", rs, err, s)
			}
			inf, err := InfNorm(p)
			if err != nil {
				t.Fatal(err)
			}
			if inf != tt.inf { // exact: small integer sums
				t.Errorf("InfNorm = %v, want %v", inf, tt.inf)
			}
		})
	}
}

func TestOperatorNormDiagonal(t *testing.T) {
	ctx := context.Background()
	// Singular values 2, 1.8, 1, 0.5 (signs do not matter): ‖A‖₂ = 2 and
	// ρ = (1.8/2)² = 0.81, so Tol·ρ²/(1−ρ²) ≈ 1.9·Tol; twice that plus
	// rounding (see TestConvSpectralMatchesExplicitSVD) gives 5e-12 at Tol 1e-12.
	op := &diagOp{d: []float64{1, -1.8, 2, 0.5}, r: 5, c: 4}
	est, err := OperatorNorm(ctx, op, PowerIteration{Tol: 1e-12})
	if err != nil {
		t.Fatal(err)
	}
	if !est.Converged || relDiff(est.Value, 2) > 5e-12 {
		t.Errorf("OperatorNorm = %+v, want 2, converged", est)
	}
	if est.Value > 2*(1+1e-15) {
		t.Errorf("estimate %v above the norm 2", est.Value)
	}

	// Same seed, same result, bit for bit.
	again, _ := OperatorNorm(ctx, op, PowerIteration{Tol: 1e-12})
	if again != est {
		t.Errorf("not deterministic: %+v then %+v", est, again)
	}
	// Another seed converges to the same value within the same bound.
	other, _ := OperatorNorm(ctx, op, PowerIteration{Tol: 1e-12, Seed: 99})
	if relDiff(other.Value, 2) > 5e-12 {
		t.Errorf("seed 99: %+v", other)
	}

	// The default tolerance 1e-6: error ≲ 2·1.9e-6.
	def, err := OperatorNorm(ctx, op, PowerIteration{})
	if err != nil || !def.Converged || relDiff(def.Value, 2) > 4e-6 {
		t.Errorf("defaults: %+v, %v", def, err)
	}
	if def.Iterations >= est.Iterations {
		t.Errorf("Tol 1e-6 took %d iterations, Tol 1e-12 %d: the default tolerance is not used", def.Iterations, est.Iterations)
	}

	// MaxIter caps the iterations and reports no convergence.
	capped, err := OperatorNorm(ctx, op, PowerIteration{Tol: 1e-12, MaxIter: 3})
	if err != nil || capped.Converged || capped.Iterations != 3 {
		t.Errorf("MaxIter 3: %+v, %v", capped, err)
	}
	if capped.Value > 2 || capped.Value <= 0 {
		t.Errorf("MaxIter 3: estimate %v is not a lower bound of 2", capped.Value)
	}

	// A zero operator gives 0, converged.
	zero, err := OperatorNorm(ctx, &diagOp{d: []float64{0, 0}, r: 2, c: 3}, PowerIteration{})
	if err != nil || zero.Value != 0 || !zero.Converged {
		t.Errorf("zero operator: %+v, %v", zero, err)
	}
}

func TestOperatorNormErrors(t *testing.T) {
	ctx := context.Background()
	op := &diagOp{d: []float64{1, 0.5}, r: 2, c: 2}
	for _, tt := range []struct {
		name string
		cfg  PowerIteration
	}{
		{"negative tol", PowerIteration{Tol: -1e-6}},
		{"NaN tol", PowerIteration{Tol: math.NaN()}},
		{"negative MaxIter", PowerIteration{MaxIter: -1}},
	} {
		if _, err := OperatorNorm(ctx, op, tt.cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: err = %v, want ErrConfig", tt.name, err)
		}
	}
	if _, err := OperatorNorm(ctx, &diagOp{r: 0, c: 2}, PowerIteration{}); !errors.Is(err, ErrShape) {
		t.Errorf("empty operator: err = %v, want ErrShape", err)
	}
	if _, err := OperatorNorm(ctx, &diagOp{d: []float64{math.Inf(1), 1}, r: 2, c: 2}, PowerIteration{}); !errors.Is(err, ErrNonFinite) {
		t.Errorf("infinite operator: err = %v, want ErrNonFinite", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := OperatorNorm(cctx, op, PowerIteration{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestParamErrors(t *testing.T) {
	ctx := context.Background()
	geom := &nn.ConvGeometry{InHeight: 4, InWidth: 4, Stride: 1, Padding: 1}
	conv := func(mod func(p *nn.Param)) *nn.Param {
		g := *geom
		p := &nn.Param{Name: "c.weight", Kind: nn.ConvWeight, Shape: []int{2, 1, 3, 3}, Data: make([]float32, 18), Conv: &g}
		mod(p)
		return p
	}
	dense := func(mod func(p *nn.Param)) *nn.Param {
		p := &nn.Param{Name: "fc.weight", Kind: nn.DenseWeight, Shape: []int{2, 3}, Data: make([]float32, 6)}
		mod(p)
		return p
	}
	none := func(*nn.Param) {}
	tests := []struct {
		name string
		p    *nn.Param
		want error
	}{
		{"nil", nil, ErrEmpty},
		{"bias kind", &nn.Param{Name: "b", Kind: nn.Bias, Shape: []int{2}, Data: make([]float32, 2)}, ErrKind},
		{"dense rank 3", dense(func(p *nn.Param) { p.Shape = []int{1, 2, 3} }), ErrShape},
		{"dense data too short", dense(func(p *nn.Param) { p.Data = p.Data[:5] }), ErrShape},
		{"dense zero dim", dense(func(p *nn.Param) { p.Shape = []int{0, 3}; p.Data = nil }), ErrShape},
		{"dense negative dim", dense(func(p *nn.Param) { p.Shape = []int{-2, -3} }), ErrShape},
		{"dense NaN", dense(func(p *nn.Param) { p.Data[4] = float32(math.NaN()) }), ErrNonFinite},
		{"conv +Inf", conv(func(p *nn.Param) { p.Data[0] = float32(math.Inf(1)) }), ErrNonFinite},
		{"conv -Inf", conv(func(p *nn.Param) { p.Data[17] = float32(math.Inf(-1)) }), ErrNonFinite},
		{"conv rank 2", conv(func(p *nn.Param) { p.Shape = []int{2, 9} }), ErrShape},
		{"conv no geometry", conv(func(p *nn.Param) { p.Conv = nil }), ErrGeometry},
		{"conv stride 0", conv(func(p *nn.Param) { p.Conv.Stride = 0 }), ErrGeometry},
		{"conv stride -1", conv(func(p *nn.Param) { p.Conv.Stride = -1 }), ErrGeometry},
		{"conv padding -1", conv(func(p *nn.Param) { p.Conv.Padding = -1 }), ErrGeometry},
		{"conv input 0x4", conv(func(p *nn.Param) { p.Conv.InHeight = 0 }), ErrGeometry},
		{"conv kernel larger than padded input", conv(func(p *nn.Param) { p.Conv.InWidth = 1; p.Conv.Padding = 0 }), ErrGeometry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var errs []error
			if tt.p == nil || tt.p.Kind != nn.ConvWeight {
				_, err := Spectral(tt.p)
				errs = append(errs, err)
			}
			if tt.p == nil || tt.p.Kind != nn.DenseWeight {
				_, err := ConvSpectral(ctx, tt.p, PowerIteration{})
				errs = append(errs, err)
				_, err = NewConvOperator(tt.p)
				errs = append(errs, err)
			}
			_, err := ReshapedSpectral(tt.p)
			errs = append(errs, err)
			_, err = InfNorm(tt.p)
			errs = append(errs, err)
			for i, err := range errs {
				if !errors.Is(err, tt.want) {
					t.Errorf("call %d: err = %v, want %v", i, err, tt.want)
				}
				if tt.want == ErrNonFinite && !errors.Is(err, nn.ErrNonFinite) {
					t.Errorf("call %d: err = %v does not wrap nn.ErrNonFinite", i, err)
				}
			}
		})
	}
	// Kind checks of the kind-specific functions.
	if _, err := Spectral(conv(none)); !errors.Is(err, ErrKind) {
		t.Errorf("Spectral(conv): err = %v, want ErrKind", err)
	}
	if _, err := ConvSpectral(ctx, dense(none), PowerIteration{}); !errors.Is(err, ErrKind) {
		t.Errorf("ConvSpectral(dense): err = %v, want ErrKind", err)
	}
	if _, err := ConvSpectral(ctx, conv(none), PowerIteration{MaxIter: -3}); !errors.Is(err, ErrConfig) {
		t.Errorf("ConvSpectral with MaxIter -3: err = %v, want ErrConfig", err)
	}
}
