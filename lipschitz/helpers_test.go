package lipschitz

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/robustq/robustq/nn"
)

// convCase is the shape and geometry of a small convolution.
type convCase struct {
	name            string
	out, in, kh, kw int
	g               nn.ConvGeometry
}

// naiveConv is the definition of the convolution, written independently of
// ConvOperator: y[o,r,s] = Σ_{c,i,j} w[o,c,i,j]·x[c, r·s−p+i, s·s−p+j] with x
// zero outside the image.
func naiveConv(cc convCase, w, x []float64) []float64 {
	h, wd := cc.g.InHeight, cc.g.InWidth
	ho, wo := cc.g.OutSize(cc.kh, cc.kw)
	y := make([]float64, cc.out*ho*wo)
	for o := 0; o < cc.out; o++ {
		for r := 0; r < ho; r++ {
			for s := 0; s < wo; s++ {
				sum := 0.0
				for c := 0; c < cc.in; c++ {
					for i := 0; i < cc.kh; i++ {
						for j := 0; j < cc.kw; j++ {
							ih := r*cc.g.Stride - cc.g.Padding + i
							iw := s*cc.g.Stride - cc.g.Padding + j
							if ih < 0 || ih >= h || iw < 0 || iw >= wd {
								continue
							}
							sum += w[((o*cc.in+c)*cc.kh+i)*cc.kw+j] * x[(c*h+ih)*wd+iw]
						}
					}
				}
				y[(o*ho+r)*wo+s] = sum
			}
		}
	}
	return y
}

// explicitMatrix returns the matrix of the convolution, column k being
// naiveConv of the k-th unit vector.
func explicitMatrix(cc convCase, w []float64) *mat.Dense {
	n := cc.in * cc.g.InHeight * cc.g.InWidth
	ho, wo := cc.g.OutSize(cc.kh, cc.kw)
	m := mat.NewDense(cc.out*ho*wo, n, nil)
	e := make([]float64, n)
	for k := range n {
		e[k] = 1
		m.SetCol(k, naiveConv(cc, w, e))
		e[k] = 0
	}
	return m
}

// singularValues returns the singular values of m, largest first.
func singularValues(t *testing.T, m mat.Matrix) []float64 {
	t.Helper()
	var svd mat.SVD
	if !svd.Factorize(m, mat.SVDNone) {
		t.Fatal("SVD did not converge")
	}
	s := svd.Values(nil)
	sort.Sort(sort.Reverse(sort.Float64Slice(s)))
	return s
}

// gapRatio returns ρ = (σ₂/σ₁)², σ₂ being the largest singular value below
// σ₁ by more than a relative 1e-9 (so that a repeated σ₁ does not count), or
// 0 if there is none: the rate at which power iteration on AᵀA converges.
func gapRatio(s []float64) float64 {
	for _, v := range s[1:] {
		if v < s[0]*(1-1e-9) {
			return (v / s[0]) * (v / s[0])
		}
	}
	return 0
}

// randWeights returns n float32 weights from N(0,1) and their float64 values.
func randWeights(rng *rand.Rand, n int) ([]float32, []float64) {
	w32 := make([]float32, n)
	w64 := make([]float64, n)
	for i := range w32 {
		w32[i] = float32(rng.NormFloat64())
		w64[i] = float64(w32[i])
	}
	return w32, w64
}

func convParam(name string, cc convCase, data []float32) *nn.Param {
	g := cc.g
	return &nn.Param{
		Name: name, Layer: name[:len(name)-len(".weight")], Kind: nn.ConvWeight,
		Shape: []int{cc.out, cc.in, cc.kh, cc.kw}, Data: data, Conv: &g,
	}
}

func denseParam(name string, out, in int, data []float32) *nn.Param {
	return &nn.Param{
		Name: name, Layer: name[:len(name)-len(".weight")], Kind: nn.DenseWeight,
		Shape: []int{out, in}, Data: data,
	}
}

func randVec(rng *rand.Rand, n int) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = rng.NormFloat64()
	}
	return v
}

func dot(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func norm2(a []float64) float64 { return math.Sqrt(dot(a, a)) }

func relDiff(got, want float64) float64 {
	if got == want {
		return 0
	}
	return math.Abs(got-want) / math.Max(math.Abs(want), math.SmallestNonzeroFloat64)
}
