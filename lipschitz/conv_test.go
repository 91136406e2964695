package lipschitz

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/robustq/robustq/nn"
)

// convCases cover stride 1, 2 and 3, padding 0, 1 and 2, square and
// non-square inputs and kernels, in ≠ out, 1x1 kernels, strides that drop the
// last rows or columns of the input, and a kernel as large as the input.
var convCases = []convCase{
	{name: "1to1_3x3_5x5_s1p1", out: 1, in: 1, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 5, InWidth: 5, Stride: 1, Padding: 1}},
	{name: "2to3_3x3_6x5_s2p1", out: 3, in: 2, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 6, InWidth: 5, Stride: 2, Padding: 1}},
	{name: "3to2_3x3_7x4_s2p0", out: 2, in: 3, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 7, InWidth: 4, Stride: 2, Padding: 0}},
	{name: "2to2_3x2_5x6_s1p2", out: 2, in: 2, kh: 3, kw: 2, g: nn.ConvGeometry{InHeight: 5, InWidth: 6, Stride: 1, Padding: 2}},
	{name: "1to2_2x2_7x5_s3p2", out: 2, in: 1, kh: 2, kw: 2, g: nn.ConvGeometry{InHeight: 7, InWidth: 5, Stride: 3, Padding: 2}},
	{name: "2to2_3x3_6x6_s2p0_dropsborder", out: 2, in: 2, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 6, InWidth: 6, Stride: 2, Padding: 0}},
	{name: "3to4_1x1_4x5_s1p0", out: 4, in: 3, kh: 1, kw: 1, g: nn.ConvGeometry{InHeight: 4, InWidth: 5, Stride: 1, Padding: 0}},
	{name: "2to2_1x1_5x5_s2p1", out: 2, in: 2, kh: 1, kw: 1, g: nn.ConvGeometry{InHeight: 5, InWidth: 5, Stride: 2, Padding: 1}},
	{name: "2to3_3x3_3x3_s1p0_wholeinput", out: 3, in: 2, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 3, InWidth: 3, Stride: 1, Padding: 0}},
	{name: "1to1_5x5_2x3_s1p2_kernelbigger", out: 1, in: 1, kh: 5, kw: 5, g: nn.ConvGeometry{InHeight: 2, InWidth: 3, Stride: 1, Padding: 2}},
}

// TestConvApplyMatchesDefinition checks Apply against naiveConv and
// ApplyTranspose against the transpose of the explicit matrix.
func TestConvApplyMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, cc := range convCases {
		t.Run(cc.name, func(t *testing.T) {
			w32, w64 := randWeights(rng, cc.out*cc.in*cc.kh*cc.kw)
			a, err := NewConvOperator(convParam("c.weight", cc, w32))
			if err != nil {
				t.Fatal(err)
			}
			r, c := a.Dims()
			m := explicitMatrix(cc, w64)
			if mr, mc := m.Dims(); mr != r || mc != c {
				t.Fatalf("Dims = %d×%d, explicit matrix is %d×%d", r, c, mr, mc)
			}
			x, y := randVec(rng, c), randVec(rng, r)
			got := make([]float64, r)
			a.Apply(got, x)
			want := naiveConv(cc, w64, x)
			gotT := make([]float64, c)
			a.ApplyTranspose(gotT, y)
			var wantT mat.VecDense
			wantT.MulVec(m.T(), mat.NewVecDense(r, y))
			// Both sides add the same at most in·kh·kw (resp. out·kh·kw) products
			// in another order; float64 rounding is then below 1e-13 relative to
			// the vector norm for these sizes (≤ 50 terms of N(0,1) values).
			const tol = 1e-13
			for i := range got {
				if math.Abs(got[i]-want[i]) > tol*(1+norm2(want)) {
					t.Fatalf("Apply[%d] = %v, definition gives %v", i, got[i], want[i])
				}
			}
			for i := range gotT {
				if math.Abs(gotT[i]-wantT.AtVec(i)) > tol*(1+norm2(gotT)) {
					t.Fatalf("ApplyTranspose[%d] = %v, Mᵀy gives %v", i, gotT[i], wantT.AtVec(i))
				}
			}
		})
	}
}

// TestConvAdjoint checks <A x, y> = <x, Aᵀ y>, the definition of the adjoint,
// on random vectors, with several rounds on the same operator (the scratch
// space is reused).
func TestConvAdjoint(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, cc := range convCases {
		t.Run(cc.name, func(t *testing.T) {
			w32, _ := randWeights(rng, cc.out*cc.in*cc.kh*cc.kw)
			a, err := NewConvOperator(convParam("c.weight", cc, w32))
			if err != nil {
				t.Fatal(err)
			}
			r, c := a.Dims()
			ax, aty := make([]float64, r), make([]float64, c)
			for range 3 {
				x, y := randVec(rng, c), randVec(rng, r)
				a.Apply(ax, x)
				a.ApplyTranspose(aty, y)
				lhs, rhs := dot(ax, y), dot(x, aty)
				// Both inner products are sums of the same products w·x·y; for
				// these sizes (a few hundred terms of N(0,1)-sized values)
				// float64 rounding stays below 1e-12 relative to ‖x‖‖y‖.
				if math.Abs(lhs-rhs) > 1e-12*norm2(x)*norm2(y) {
					t.Fatalf("<Ax,y> = %.17g, <x,Aᵀy> = %.17g", lhs, rhs)
				}
			}
		})
	}
}

// TestConvSpectralMatchesExplicitSVD compares the power iteration with the
// largest singular value of the explicit convolution matrix.
func TestConvSpectralMatchesExplicitSVD(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	const piTol = 1e-12
	for _, cc := range convCases {
		t.Run(cc.name, func(t *testing.T) {
			w32, w64 := randWeights(rng, cc.out*cc.in*cc.kh*cc.kw)
			s := singularValues(t, explicitMatrix(cc, w64))
			rho := gapRatio(s)
			if rho > 0.995 {
				t.Fatalf("test case has spectral gap ratio %v, too close to 1 to converge in MaxIter", rho)
			}
			est, err := ConvSpectral(context.Background(), convParam("c.weight", cc, w32), PowerIteration{Tol: piTol, MaxIter: 100000, Seed: 7})
			if err != nil {
				t.Fatal(err)
			}
			if !est.Converged {
				t.Fatalf("did not converge in %d iterations (ρ = %v)", est.Iterations, rho)
			}
			// Near convergence the relative error δ of the estimate shrinks by
			// ρ² per iteration, so a change of at most Tol leaves
			// δ ≤ Tol·ρ²/(1−ρ²); twice that covers the neglected lower
			// components, plus 1e-12 for float64 rounding in the products.
			tol := 2*piTol*rho*rho/(1-rho*rho) + 1e-12
			t.Logf("σ₁ = %.15g, estimate %.15g, rel. diff %.2g (bound %.2g), ρ = %.3f, %d iterations",
				s[0], est.Value, relDiff(est.Value, s[0]), tol, rho, est.Iterations)
			if d := relDiff(est.Value, s[0]); d > tol {
				t.Errorf("ConvSpectral = %.15g, explicit SVD σ₁ = %.15g (rel. diff %.3g > %.3g, ρ = %.3g)", est.Value, s[0], d, tol, rho)
			}
			// The estimate is a lower bound of σ₁ up to rounding.
			if est.Value > s[0]*(1+1e-12) {
				t.Errorf("estimate %.17g exceeds σ₁ = %.17g", est.Value, s[0])
			}
		})
	}
}

// TestConvInfNormMatchesExplicit compares InfNorm with the largest absolute
// row sum of the explicit matrix, which is the definition of the ∞→∞ norm.
func TestConvInfNormMatchesExplicit(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, cc := range convCases {
		t.Run(cc.name, func(t *testing.T) {
			w32, w64 := randWeights(rng, cc.out*cc.in*cc.kh*cc.kw)
			got, err := InfNorm(convParam("c.weight", cc, w32))
			if err != nil {
				t.Fatal(err)
			}
			m := explicitMatrix(cc, w64)
			want := mat.Norm(m, math.Inf(1))
			// Same absolute values summed in another order: float64 rounding
			// of at most 50 non-negative terms, below 1e-14 relative.
			if d := relDiff(got, want); d > 1e-14 {
				t.Errorf("InfNorm = %.17g, explicit max row sum = %.17g", got, want)
			}
		})
	}
}

// TestConvInfNormByHand checks a case worked out by hand.
func TestConvInfNormByHand(t *testing.T) {
	// Kernel 1..9 (row-major 3x3), one channel, 2x2 input, padding 1, stride 1:
	// the output is 2x2 and no position sees the whole kernel.
	//   (0,0) sees taps rows 1-2, cols 1-2: 5+6+8+9 = 28
	//   (0,1) rows 1-2, cols 0-1: 4+5+7+8 = 24
	//   (1,0) rows 0-1, cols 1-2: 2+3+5+6 = 16
	//   (1,1) rows 0-1, cols 0-1: 1+2+4+5 = 12
	// so ‖A‖∞ = 28, not Σ|w| = 45. Signs do not matter: tap 5 is negated.
	k := []float32{1, 2, 3, 4, -5, 6, 7, 8, 9}
	cc := convCase{out: 1, in: 1, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 2, InWidth: 2, Stride: 1, Padding: 1}}
	got, err := InfNorm(convParam("c.weight", cc, k))
	if err != nil {
		t.Fatal(err)
	}
	if got != 28 { // exact: small integer sums
		t.Errorf("InfNorm = %v, want 28", got)
	}
	// On a 5x5 input the centre outputs see the whole kernel: Σ|w| = 45.
	cc.g = nn.ConvGeometry{InHeight: 5, InWidth: 5, Stride: 1, Padding: 1}
	if got, _ := InfNorm(convParam("c.weight", cc, k)); got != 45 {
		t.Errorf("InfNorm on 5x5 = %v, want 45", got)
	}
	// Two input channels add up per tap; two output channels take the max:
	// output 0 = kernel above on both channels (2·45 = 90), output 1 = ones (18).
	cc2 := convCase{out: 2, in: 2, kh: 3, kw: 3, g: cc.g}
	data := append(append(append([]float32{}, k...), k...), []float32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}...)
	if got, _ := InfNorm(convParam("c.weight", cc2, data)); got != 90 {
		t.Errorf("InfNorm with 2 channels = %v, want 90", got)
	}
}

// TestConvClosedForms checks operator norms known in closed form.
func TestConvClosedForms(t *testing.T) {
	ctx := context.Background()
	g := func(h, w, s, p int) nn.ConvGeometry {
		return nn.ConvGeometry{InHeight: h, InWidth: w, Stride: s, Padding: p}
	}
	// delta returns a 2→2 3x3 kernel with c at tap (i, j) from channel o to o
	// and zero elsewhere. Its operator is c times a partial isometry (a
	// shift, possibly subsampled, that drops what falls outside), so when
	// some output reads the input its norm is |c|; AᵀA = c²·(a projection),
	// so the very first estimate is exact and the second confirms it.
	delta := func(c float32, i, j int) []float32 {
		k := make([]float32, 2*2*9)
		for o := range 2 {
			k[((o*2+o)*3+i)*3+j] = c
		}
		return k
	}
	// m33 is M = [[3, 0], [4, 5]]: MᵀM = [[25, 20], [20, 25]] has eigenvalues
	// 45 and 5, so ‖M‖₂ = √45 = 3√5.
	m33 := []float32{3, 0, 4, 5}
	tests := []struct {
		name   string
		cc     convCase
		data   []float32
		want   float64
		tol    float64
		maxIts int // 0: no check
	}{
		// 1 ulp-level: one product and one norm ratio, exact up to rounding.
		{"delta_centre_s1p1", convCase{out: 2, in: 2, kh: 3, kw: 3, g: g(5, 4, 1, 1)}, delta(-2.5, 1, 1), 2.5, 1e-15, 2},
		{"delta_centre_s2p1", convCase{out: 2, in: 2, kh: 3, kw: 3, g: g(6, 5, 2, 1)}, delta(0.75, 1, 1), 0.75, 1e-15, 2},
		{"delta_corner_s1p1", convCase{out: 2, in: 2, kh: 3, kw: 3, g: g(4, 4, 1, 1)}, delta(3, 0, 0), 3, 1e-15, 2},
		{"delta_corner_s2p2", convCase{out: 2, in: 2, kh: 3, kw: 3, g: g(5, 7, 2, 2)}, delta(1.5, 0, 2), 1.5, 1e-15, 2},
		// A 1x1 conv with channel matrix M acts as M on every pixel: I ⊗ M
		// (stride and padding only select or add zero pixels), norm ‖M‖₂ = 3√5.
		// ρ = 5/45 so Tol 1e-12 leaves an error ~1e-14; 1e-12 covers rounding.
		{"1x1_M_s1p0", convCase{out: 2, in: 2, kh: 1, kw: 1, g: g(3, 4, 1, 0)}, m33, 3 * math.Sqrt(5), 1e-12, 0},
		{"1x1_M_s2p1", convCase{out: 2, in: 2, kh: 1, kw: 1, g: g(5, 4, 2, 1)}, m33, 3 * math.Sqrt(5), 1e-12, 0},
		// Kernel [1 1] on a 1×8 row, no padding: A is the 7×8 bidiagonal
		// matrix with ones; AAᵀ = tridiag(1, 2, 1) of order 7, eigenvalues
		// 2 + 2cos(kπ/8), so ‖A‖₂ = √(2+2cos(π/8)) = 2cos(π/16).
		// ρ = (2+2cos(2π/8))/(2+2cos(π/8)) ≈ 0.887: error ≲ Tol·ρ²/(1−ρ²) ≈ 4e-12.
		{"ones_1x2_row8", convCase{out: 1, in: 1, kh: 1, kw: 2, g: g(1, 8, 1, 0)}, []float32{1, 1}, 2 * math.Cos(math.Pi/16), 1e-11, 0},
		// Only the corner taps are nonzero but the only output (1x1 input,
		// padding 1) reads the centre tap: the operator is zero.
		{"corners_only_read_padding", convCase{out: 1, in: 1, kh: 3, kw: 3, g: g(1, 1, 1, 1)}, []float32{1, 0, 1, 0, 0, 0, 1, 0, 1}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			est, err := ConvSpectral(ctx, convParam("c.weight", tt.cc, tt.data), PowerIteration{Tol: 1e-12, MaxIter: 10000, Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			if !est.Converged {
				t.Fatalf("not converged after %d iterations", est.Iterations)
			}
			if math.Abs(est.Value-tt.want) > tt.tol*tt.want {
				t.Errorf("ConvSpectral = %.17g, want %.17g", est.Value, tt.want)
			}
			if tt.maxIts > 0 && est.Iterations > tt.maxIts {
				t.Errorf("took %d iterations, want at most %d", est.Iterations, tt.maxIts)
			}
		})
	}
}

// TestReshapedIsNotTheOperatorNorm shows the two values differ both ways, so
// they must not be confused, and checks ReshapedSpectral's closed forms.
func TestReshapedIsNotTheOperatorNorm(t *testing.T) {
	ctx := context.Background()
	cfg := PowerIteration{Tol: 1e-12, MaxIter: 10000}
	// Kernel [1 1]: reshaped is the 1×2 matrix [1 1], norm √2; the operator
	// on a 1×8 row has norm 2cos(π/16) ≈ 1.96 (see TestConvClosedForms).
	ones := convParam("c.weight", convCase{out: 1, in: 1, kh: 1, kw: 2, g: nn.ConvGeometry{InHeight: 1, InWidth: 8, Stride: 1}}, []float32{1, 1})
	rs, err := ReshapedSpectral(ones)
	if err != nil {
		t.Fatal(err)
	}
	if relDiff(rs, math.Sqrt2) > 1e-15 { // SVD of [1 1]: exact up to rounding
		t.Errorf("ReshapedSpectral([1 1]) = %v, want √2", rs)
	}
	op, _ := ConvSpectral(ctx, ones, cfg)
	if !(op.Value > rs) {
		t.Errorf("operator %v should exceed reshaped %v here", op.Value, rs)
	}
	// Corner taps only, 1x1 input with padding 1: the operator is 0 but the
	// reshaped 1×9 matrix has norm √4 = 2.
	corners := convParam("c.weight", convCase{out: 1, in: 1, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 1, InWidth: 1, Stride: 1, Padding: 1}},
		[]float32{1, 0, 1, 0, 0, 0, 1, 0, 1})
	rs, _ = ReshapedSpectral(corners)
	if relDiff(rs, 2) > 1e-15 {
		t.Errorf("ReshapedSpectral(corners) = %v, want 2", rs)
	}
	if op, _ := ConvSpectral(ctx, corners, cfg); op.Value != 0 {
		t.Errorf("operator of corners = %v, want 0", op.Value)
	}
	// out=2, in=1, 1×2 taps [3 0] and [4 5]: reshaped is M = [[3,0],[4,5]],
	// norm 3√5 (see TestConvClosedForms).
	two := convParam("c.weight", convCase{out: 2, in: 1, kh: 1, kw: 2, g: nn.ConvGeometry{InHeight: 3, InWidth: 3, Stride: 1}}, []float32{3, 0, 4, 5})
	if rs, _ := ReshapedSpectral(two); relDiff(rs, 3*math.Sqrt(5)) > 1e-14 {
		t.Errorf("ReshapedSpectral = %v, want 3√5", rs)
	}
}

// TestConvKernelAsLargeAsInput: with the kernel covering the whole input
// and no padding there is one output position, so the operator matrix is the
// reshaped weight matrix and both values agree.
func TestConvKernelAsLargeAsInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	cc := convCase{out: 3, in: 2, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 3, InWidth: 3, Stride: 1}}
	w32, _ := randWeights(rng, 3*2*9)
	p := convParam("c.weight", cc, w32)
	rs, err := ReshapedSpectral(p)
	if err != nil {
		t.Fatal(err)
	}
	est, err := ConvSpectral(context.Background(), p, PowerIteration{Tol: 1e-13, MaxIter: 100000})
	if err != nil || !est.Converged {
		t.Fatal(err, est)
	}
	// 3 singular values of a random 3×18 matrix are well separated; power
	// iteration at Tol 1e-13 and rounding stay below 1e-10 (see
	// TestConvSpectralMatchesExplicitSVD for the bound).
	if d := relDiff(est.Value, rs); d > 1e-10 {
		t.Errorf("operator %v, reshaped %v", est.Value, rs)
	}
}

func TestValidRange(t *testing.T) {
	// Brute force over small sizes: validRange must return exactly the t in
	// [0, nOut) with 0 <= t·stride+off < n.
	for n := 1; n <= 6; n++ {
		for stride := 1; stride <= 3; stride++ {
			for off := -4; off <= 6; off++ {
				for nOut := 1; nOut <= 5; nOut++ {
					sp := validRange(off, stride, n, nOut)
					for tt := range nOut {
						in := tt*stride+off >= 0 && tt*stride+off < n
						got := tt >= sp.lo && tt < sp.hi
						if in != got {
							t.Fatalf("validRange(off=%d, stride=%d, n=%d, nOut=%d) = %v, wrong at t=%d", off, stride, n, nOut, sp, tt)
						}
					}
					if sp.lo > sp.hi || sp.lo < 0 || sp.hi > nOut {
						t.Fatalf("validRange(%d,%d,%d,%d) = %v out of bounds", off, stride, n, nOut, sp)
					}
				}
			}
		}
	}
}

func TestConvApplyPanicsOnWrongLength(t *testing.T) {
	cc := convCases[0]
	a, err := NewConvOperator(convParam("c.weight", cc, make([]float32, 9)))
	if err != nil {
		t.Fatal(err)
	}
	r, c := a.Dims()
	for name, f := range map[string]func(){
		"Apply dst":          func() { a.Apply(make([]float64, r-1), make([]float64, c)) },
		"Apply x":            func() { a.Apply(make([]float64, r), make([]float64, c+1)) },
		"ApplyTranspose dst": func() { a.ApplyTranspose(make([]float64, c+1), make([]float64, r)) },
		"ApplyTranspose y":   func() { a.ApplyTranspose(make([]float64, c), make([]float64, r-1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// BenchmarkConvOperatorNorm times ConvSpectral on the largest conv layer of
// the wide ResNet-32 (3x3, stride 1, padding 1, 8x8 input, 64·w channels in
// and out) with random weights and a fixed number of iterations.
func BenchmarkConvOperatorNorm(b *testing.B) {
	b.Run("w1", func(b *testing.B) { benchConvOperatorNorm(b, 1) })
	b.Run("w10", func(b *testing.B) { benchConvOperatorNorm(b, 10) })
}

// benchIters is the fixed iteration count of BenchmarkConvOperatorNorm: Tol
// is set below float64 resolution so that every run does exactly this many.
const benchIters = 20

var sinkEstimate Estimate

func benchConvOperatorNorm(b *testing.B, width int) {
	ch := 64 * width
	cc := convCase{out: ch, in: ch, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 8, InWidth: 8, Stride: 1, Padding: 1}}
	w32, _ := randWeights(rand.New(rand.NewPCG(1, 1)), ch*ch*9)
	p := convParam("c.weight", cc, w32)
	cfg := PowerIteration{Tol: 1e-300, MaxIter: benchIters, Seed: 1}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		est, err := ConvSpectral(context.Background(), p, cfg)
		if err != nil || est.Iterations != benchIters {
			b.Fatal(err, est)
		}
		sinkEstimate = est
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchIters), "ns/iter")
}
