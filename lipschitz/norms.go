package lipschitz

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/robustq/robustq/nn"
)

// Errors returned by the package. Callers match them with errors.Is.
var (
	// ErrShape reports a shape that is not that of a dense (out, in) or conv
	// (out, in, kh, kw) weight, data whose length does not match the shape,
	// or two weights of different shapes.
	ErrShape = errors.New("lipschitz: bad shape")
	// ErrNonFinite reports a NaN or Inf in a weight. Errors that wrap it also
	// wrap nn.ErrNonFinite.
	ErrNonFinite = errors.New("lipschitz: non-finite weight")
	// ErrGeometry reports a conv weight without a ConvGeometry, a stride below
	// 1, a negative padding, an input size below 1, a kernel larger than the
	// padded input, or two conv weights with different geometries.
	ErrGeometry = errors.New("lipschitz: bad conv geometry")
	// ErrKind reports a parameter of a kind the function does not take.
	ErrKind = errors.New("lipschitz: wrong parameter kind")
	// ErrMissing reports a weight that one network has and the other lacks,
	// or a name used twice.
	ErrMissing = errors.New("lipschitz: weight missing")
	// ErrEmpty reports a nil parameter or network, or nothing to compare.
	ErrEmpty = errors.New("lipschitz: empty input")
	// ErrConfig reports an invalid PowerIteration setting.
	ErrConfig = errors.New("lipschitz: bad configuration")
)

// Defaults of PowerIteration.
const (
	// DefaultTol is the relative-change tolerance used when PowerIteration.Tol is zero.
	DefaultTol = 1e-6
	// DefaultMaxIter is the iteration limit used when PowerIteration.MaxIter is zero.
	DefaultMaxIter = 500
)

// seedStream is the second PCG seed word: the start vector is drawn from
// rand.NewPCG(Seed, seedStream). It is the ASCII of "lipsch".
const seedStream = 0x6c6970736368

// PowerIteration configures the power iteration that estimates the largest
// singular value of a matrix-free operator. The zero value is ready to use.
type PowerIteration struct {
	// Tol stops the iteration once the estimate changes by at most Tol times
	// its value between two iterations. Zero means DefaultTol (1e-6).
	// Negative or NaN is an error.
	//
	// Tol bounds the change, not the error: near convergence the relative
	// error is about Tol·ρ²/(1−ρ²), where ρ = (σ₂/σ₁)² for the two largest
	// distinct singular values. Noise-like weights have clustered top
	// singular values: for a random 64→64 3x3 conv on 8x8, Tol 1e-6 stops
	// after 215 iterations at least 2e-4 (relative) below σ₁.
	Tol float64
	// MaxIter is the largest number of iterations (each one product with A
	// and one with Aᵀ). Zero means DefaultMaxIter (500). Negative is an error.
	MaxIter int
	// Seed seeds the Gaussian start vector; every value, zero included, is a
	// valid seed, and the same seed gives the same estimate.
	Seed uint64
}

// withDefaults validates pi and returns it with zero fields replaced by defaults.
func (pi PowerIteration) withDefaults() (PowerIteration, error) {
	if pi.Tol < 0 || math.IsNaN(pi.Tol) {
		return pi, fmt.Errorf("%w: tolerance %v, want >= 0", ErrConfig, pi.Tol)
	}
	if pi.MaxIter < 0 {
		return pi, fmt.Errorf("%w: MaxIter %d, want >= 0", ErrConfig, pi.MaxIter)
	}
	if pi.Tol == 0 {
		pi.Tol = DefaultTol
	}
	if pi.MaxIter == 0 {
		pi.MaxIter = DefaultMaxIter
	}
	return pi, nil
}

// Estimate is the result of a power iteration.
type Estimate struct {
	// Value estimates the largest singular value. It is a lower bound of the
	// true value up to rounding.
	Value float64
	// Iterations is the number of iterations run.
	Iterations int
	// Converged reports whether the relative change of Value fell to the
	// tolerance or below before the iteration limit. An operator found to be
	// zero counts as converged.
	Converged bool
}

// Operator is a real linear map A: R^c → R^r that can be applied and
// transposed without forming its matrix.
type Operator interface {
	// Dims returns r and c, the lengths of the output and of the input.
	Dims() (r, c int)
	// Apply sets dst = A·x, where len(dst) == r and len(x) == c. It does not
	// modify x and does not retain either slice.
	Apply(dst, x []float64)
	// ApplyTranspose sets dst = Aᵀ·y, where len(dst) == c and len(y) == r. It
	// does not modify y and does not retain either slice.
	ApplyTranspose(dst, y []float64)
}

// OperatorNorm estimates ‖A‖₂, the largest singular value of a, by power
// iteration on AᵀA from a Gaussian start vector v drawn with cfg.Seed. Each
// iteration computes u = A·v and w = Aᵀ·u, takes ‖w‖/‖u‖ as the estimate and
// continues from v = w/‖w‖; it stops when the estimate changes by at most
// cfg.Tol relative to its value, or after cfg.MaxIter iterations. If A·v is
// zero for the random start, A is zero (with probability one) and the result
// is 0, converged.
//
// ctx is checked before every iteration; on cancellation OperatorNorm returns
// the estimate so far and ctx's error. A non-finite result from a's products
// is an error wrapping ErrNonFinite.
func OperatorNorm(ctx context.Context, a Operator, cfg PowerIteration) (Estimate, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Estimate{}, err
	}
	r, c := a.Dims()
	if r < 1 || c < 1 {
		return Estimate{}, fmt.Errorf("%w: operator of size %d×%d", ErrShape, r, c)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, seedStream))
	v := make([]float64, c)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	floats.Scale(1/floats.Norm(v, 2), v)
	u := make([]float64, r)
	w := make([]float64, c)

	var est Estimate
	for k := 1; k <= cfg.MaxIter; k++ {
		if err := ctx.Err(); err != nil {
			return est, fmt.Errorf("lipschitz: power iteration stopped after %d iterations: %w", est.Iterations, err)
		}
		a.Apply(u, v)
		nu := floats.Norm(u, 2)
		if nu == 0 {
			// v is a unit vector; A·v = 0 for a random v only if A = 0.
			return Estimate{Value: 0, Iterations: k, Converged: true}, nil
		}
		a.ApplyTranspose(w, u)
		nw := floats.Norm(w, 2)
		val := nw / nu
		if math.IsNaN(val) || math.IsInf(val, 0) {
			return est, fmt.Errorf("%w: power iteration produced %v at iteration %d: %w",
				ErrNonFinite, val, k, nn.ErrNonFinite)
		}
		prev := est.Value
		est = Estimate{Value: val, Iterations: k}
		if k > 1 && math.Abs(val-prev) <= cfg.Tol*val {
			est.Converged = true
			return est, nil
		}
		floats.ScaleTo(v, 1/nw, w)
	}
	return est, nil
}

// Spectral returns ‖W‖₂, the largest singular value of the dense weight p
// (Kind nn.DenseWeight, shape (out, in)), computed exactly by a singular value
// decomposition in float64. It is the layer's Lipschitz constant in the
// Euclidean norm. For a conv weight use ConvSpectral.
func Spectral(p *nn.Param) (float64, error) {
	if err := checkParam(p); err != nil {
		return 0, err
	}
	if p.Kind != nn.DenseWeight {
		return 0, fmt.Errorf("%w: Spectral of %s %q, want %s (use ConvSpectral)", ErrKind, p.Kind, p.Name, nn.DenseWeight)
	}
	return largestSingular(p.Shape[0], p.Shape[1], toFloat64(p.Data))
}

// ConvSpectral estimates ‖W‖₂ of the conv weight p (Kind nn.ConvWeight,
// shape (out, in, kh, kw), geometry p.Conv): the largest singular value of the
// convolution operator R^{in×H×W} → R^{out×Ho×Wo}, by OperatorNorm.
func ConvSpectral(ctx context.Context, p *nn.Param, cfg PowerIteration) (Estimate, error) {
	a, err := NewConvOperator(p)
	if err != nil {
		return Estimate{}, err
	}
	return OperatorNorm(ctx, a, cfg)
}

// ReshapedSpectral returns the largest singular value of the weight p viewed
// as a Shape[0]×(product of the other dimensions) matrix, exactly, by SVD. For
// a conv weight that is the out×(in·kh·kw) reshaping some papers report as
// "the spectral norm of a conv layer"; it is not the norm of the convolution
// operator (see ConvSpectral) and ignores the geometry. For a dense weight it
// equals Spectral.
func ReshapedSpectral(p *nn.Param) (float64, error) {
	if err := checkParam(p); err != nil {
		return 0, err
	}
	return largestSingular(p.Shape[0], len(p.Data)/p.Shape[0], toFloat64(p.Data))
}

// InfNorm returns ‖W‖∞, the ∞→∞ operator norm of the layer's linear map: the
// largest sum of absolute weights over one output. For a dense weight (out, in)
// that is max_o Σ_i |w[o,i]|. For a conv weight it is the maximum over output
// channels o and output positions of Σ |w[o,c,i,j]| over the channels c and
// the taps (i, j) that fall inside the input at that position; with padding,
// border positions see fewer taps, and when some position sees the whole
// kernel the value is max_o Σ_{c,i,j} |w[o,c,i,j]|.
func InfNorm(p *nn.Param) (float64, error) {
	if err := checkParam(p); err != nil {
		return 0, err
	}
	switch p.Kind {
	case nn.DenseWeight:
		return denseInf(p.Shape[0], p.Shape[1], toFloat64(p.Data)), nil
	case nn.ConvWeight:
		a, err := NewConvOperator(p)
		if err != nil {
			return 0, err
		}
		return a.InfNorm(), nil
	}
	return 0, fmt.Errorf("%w: InfNorm of %s %q", ErrKind, p.Kind, p.Name)
}

// checkParam validates p: not nil, a weight kind with the matching rank,
// positive dimensions, data of the right length, finite values, and for a
// conv weight a valid geometry.
func checkParam(p *nn.Param) error {
	if p == nil {
		return fmt.Errorf("%w: nil parameter", ErrEmpty)
	}
	var rank int
	switch p.Kind {
	case nn.DenseWeight:
		rank = 2
	case nn.ConvWeight:
		rank = 4
	default:
		return fmt.Errorf("%w: %q is a %s, want a conv or dense weight", ErrKind, p.Name, p.Kind)
	}
	if len(p.Shape) != rank {
		return fmt.Errorf("%w: %s %q has shape %v, want %d dimensions", ErrShape, p.Kind, p.Name, p.Shape, rank)
	}
	n := 1
	for _, d := range p.Shape {
		if d < 1 {
			return fmt.Errorf("%w: %q has shape %v", ErrShape, p.Name, p.Shape)
		}
		if n > math.MaxInt/d {
			return fmt.Errorf("%w: %q has shape %v, too large", ErrShape, p.Name, p.Shape)
		}
		n *= d
	}
	if len(p.Data) != n {
		return fmt.Errorf("%w: %q has %d values for shape %v", ErrShape, p.Name, len(p.Data), p.Shape)
	}
	if err := checkFinite(p.Name, p.Data); err != nil {
		return err
	}
	if p.Kind == nn.ConvWeight {
		if p.Conv == nil {
			return fmt.Errorf("%w: conv weight %q has no ConvGeometry", ErrGeometry, p.Name)
		}
		return checkGeometry(p.Name, *p.Conv, p.Shape[2], p.Shape[3])
	}
	return nil
}

func checkFinite(name string, data []float32) error {
	for i, v := range data {
		if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%w: %q value %d is %v: %w", ErrNonFinite, name, i, v, nn.ErrNonFinite)
		}
	}
	return nil
}

func checkGeometry(name string, g nn.ConvGeometry, kh, kw int) error {
	switch {
	case g.Stride < 1:
		return fmt.Errorf("%w: %q has stride %d, want >= 1", ErrGeometry, name, g.Stride)
	case g.Padding < 0:
		return fmt.Errorf("%w: %q has padding %d, want >= 0", ErrGeometry, name, g.Padding)
	case g.InHeight < 1 || g.InWidth < 1:
		return fmt.Errorf("%w: %q has input %dx%d", ErrGeometry, name, g.InHeight, g.InWidth)
	case kh > g.InHeight+2*g.Padding || kw > g.InWidth+2*g.Padding:
		return fmt.Errorf("%w: %q: kernel %dx%d is larger than the padded input %dx%d",
			ErrGeometry, name, kh, kw, g.InHeight+2*g.Padding, g.InWidth+2*g.Padding)
	}
	return nil
}

func toFloat64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// largestSingular returns the largest singular value of the r×c row-major
// matrix a (which it may overwrite) by SVD.
func largestSingular(r, c int, a []float64) (float64, error) {
	if floats.Norm(a, math.Inf(1)) == 0 {
		return 0, nil
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(r, c, a), mat.SVDNone) {
		return 0, fmt.Errorf("lipschitz: SVD of a %d×%d matrix did not converge", r, c)
	}
	return svd.Values(nil)[0], nil
}

// denseInf returns max over rows of the row's 1-norm for an r×c row-major matrix.
func denseInf(r, c int, a []float64) float64 {
	m := 0.0
	for o := range r {
		m = max(m, floats.Norm(a[o*c:(o+1)*c], 1))
	}
	return m
}
