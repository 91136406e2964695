package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// rowsCase is a problem of TestSgemmRows: B (or Bᵀ's rows) given by random,
// overlapping offsets into src, and the same B stored explicitly in o.
type rowsCase struct {
	name string
	o    *operands
	src  []float32
	rows []int
}

// rowsCases calls f with problems whose B is a set of windows of one slice,
// for op(B) = B (trans false: k rows of n) or Bᵀ (n rows of k).
func rowsCases(trans bool, f func(tc rowsCase, alpha, beta float32)) {
	rnd := rand.New(rand.NewPCG(5, 5))
	sizes := []struct{ m, n, k int }{
		{1, 1, 1}, {17, 29, 40}, {5, 33, 130}, {16, 1088, 144}, {9, 300, 600},
	}
	for _, sz := range sizes {
		for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			if trans && tA == blas.Trans {
				continue // SgemmRowsT takes A untransposed
			}
			for _, sc := range []struct{ alpha, beta float32 }{{1, 0}, {-0.5, 1}, {2, -1.5}, {0, 0.5}} {
				tB, count, width := blas.NoTrans, sz.k, sz.n
				if trans {
					tB, count, width = blas.Trans, sz.n, sz.k
				}
				o := newOperands(rnd, tA, tB, sz.m, sz.n, sz.k, 2, sc.beta == 0)
				src := make([]float32, width+3*count)
				for i := range src {
					src[i] = float32(2*rnd.Float64() - 1)
				}
				rows := make([]int, count)
				o.b, o.ldb = make([]float32, count*width), width
				for q := range rows {
					rows[q] = rnd.IntN(len(src) - width + 1)
					copy(o.b[q*width:], src[rows[q]:rows[q]+width])
				}
				f(rowsCase{
					name: fmt.Sprintf("%dx%dx%d/tA=%c/alpha=%g,beta=%g", sz.m, sz.n, sz.k, tA, sc.alpha, sc.beta),
					o:    o, src: src, rows: rows,
				}, sc.alpha, sc.beta)
			}
		}
	}
}

// TestSgemmRows checks PackedA.SgemmRows on every backend against the
// float64 reference of the explicit matrix.
func TestSgemmRows(t *testing.T) {
	for _, be := range backends() {
		var p PackedA
		rowsCases(false, func(tc rowsCase, alpha, beta float32) {
			o := tc.o
			ref, mag := o.reference(alpha, beta)
			p.pack(be, o.tA, o.m, o.k, alpha, o.a, o.lda)
			got := append([]float32(nil), o.c...)
			p.SgemmRows(o.n, tc.src, NewRows(tc.rows), beta, got, o.ldc)
			checkResult(t, backendName(be)+"/"+tc.name, o, got, ref, mag, gamma(o.k+3, u32)+gamma(o.k+3, u64)) // as in TestSgemm
		})
	}
}

// TestSgemmRowsT checks SgemmRowsT on every backend against the float64
// reference of the explicit matrix.
func TestSgemmRowsT(t *testing.T) {
	for _, be := range backends() {
		rowsCases(true, func(tc rowsCase, alpha, beta float32) {
			o := tc.o
			ref, mag := o.reference(alpha, beta)
			got := append([]float32(nil), o.c...)
			sgemmRowsT(be, o.m, o.n, o.k, alpha, o.a, o.lda, tc.src, NewRows(tc.rows), beta, got, o.ldc)
			checkResult(t, backendName(be)+"/"+tc.name, o, got, ref, mag, gamma(o.k+3, u32)+gamma(o.k+3, u64)) // as in TestSgemm
		})
	}
}

// TestRowsPanics checks that offsets outside the slice, or too few of them,
// are rejected before any work.
func TestRowsPanics(t *testing.T) {
	a, b, c := make([]float32, 6), make([]float32, 10), make([]float32, 6)
	var p PackedA
	p.Pack(blas.NoTrans, 2, 3, 1, a, 3)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"row past the end", func() { p.SgemmRows(3, b, NewRows([]int{0, 7, 8}), 0, c, 3) }},
		{"negative offset", func() { p.SgemmRows(3, b, NewRows([]int{0, -1, 2}), 0, c, 3) }},
		{"too few rows", func() { p.SgemmRows(3, b, NewRows([]int{0, 1}), 0, c, 3) }},
		{"transposed: row past the end", func() { SgemmRowsT(2, 2, 3, 1, a, 3, b, NewRows([]int{0, 8}), 0, c, 2) }},
		{"transposed: too many rows", func() { SgemmRowsT(2, 2, 3, 1, a, 3, b, NewRows([]int{0, 1, 2}), 0, c, 2) }},
		{"A by rows: row past the end", func() { SgemmRowsA(2, 3, 4, b, NewRows([]int{0, 7}), a, 3, 0, c, 3) }},
		{"A by rows: too few rows", func() { SgemmRowsA(2, 3, 4, b, NewRows([]int{0}), a, 3, 0, c, 3) }},
	} {
		got := func() (r any) {
			defer func() { r = recover() }()
			tc.f()
			return nil
		}()
		if got != badRows {
			t.Errorf("%s: panic %v, want %q", tc.name, got, badRows)
		}
	}
}

// TestSgemmRowsA checks SgemmRowsA on every backend against the float64
// reference of the explicit matrix, for A given by random, overlapping
// offsets into one slice: n a multiple of 32, 16 more than one (the 8×16
// kernel) and neither (the copying path), m with and without a partial
// 8-row tile, k with and without a remainder after the kernels' 4-step
// unrolling.
func TestSgemmRowsA(t *testing.T) {
	rnd := rand.New(rand.NewPCG(6, 6))
	sizes := []struct{ m, n, k int }{
		{1, 16, 1}, {8, 32, 4}, {13, 48, 7}, {144, 16, 1088}, {25, 32, 896}, {800, 64, 252}, {9, 20, 30}, {3, 0, 5}, {4, 16, 0},
	}
	for _, be := range backends() {
		for _, sz := range sizes {
			for _, beta := range []float32{0, 1, -1.5} {
				o := newOperands(rnd, blas.NoTrans, blas.NoTrans, sz.m, sz.n, sz.k, 2, beta == 0)
				src := make([]float32, sz.k+3*sz.m)
				for i := range src {
					src[i] = float32(2*rnd.Float64() - 1)
				}
				rows := make([]int, sz.m)
				o.a, o.lda = make([]float32, sz.m*sz.k), max(sz.k, 1)
				for i := range rows {
					rows[i] = rnd.IntN(len(src) - sz.k + 1)
					copy(o.a[i*sz.k:], src[rows[i]:rows[i]+sz.k])
				}
				ref, mag := o.reference(1, beta)
				got := append([]float32(nil), o.c...)
				sgemmRowsA(be, o.m, o.n, o.k, src, NewRows(rows), o.b, o.ldb, beta, got, o.ldc)
				name := fmt.Sprintf("%s/%dx%dx%d/beta=%g", backendName(be), sz.m, sz.n, sz.k, beta)
				checkResult(t, name, o, got, ref, mag, gamma(o.k+3, u32)+gamma(o.k+3, u64)) // as in TestSgemm
			}
		}
	}
}

// TestSgemmRowsA3 checks SgemmRowsA3 on every backend against the float64
// reference of the explicit matrix: m with six runs of three rows at a time
// (the 18×16 kernel), with a remainder (SgemmRowsA), and below one tile; k
// with each remainder of k+2 modulo 3 and ResNet-32's 32×34 positions.
// The bound is the worst case of a float32 sum of k+1 products,
// γ(k+1)·Σ|terms| (Higham, Accuracy and Stability, 3.1), in float32 units.
func TestSgemmRowsA3(t *testing.T) {
	rnd := rand.New(rand.NewPCG(8, 8))
	for _, be := range backends() {
		for _, sz := range []struct{ m, k int }{{3, 1}, {18, 2}, {36, 3}, {21, 5}, {144, 1088}, {57, 100}} {
			for _, beta := range []float32{0, 1} {
				rows := make([]int, sz.m)
				src := make([]float32, 4*sz.m+TapRows(sz.k)+10)
				for i := range src {
					src[i] = float32(2*rnd.Float64() - 1)
				}
				for g := 0; g < sz.m; g += 3 {
					base := rnd.IntN(len(src) - TapRows(sz.k) + 1)
					rows[g], rows[g+1], rows[g+2] = base, base+1, base+2
				}
				b := make([]float32, TapRows(sz.k)*16)
				for i := range sz.k * 16 {
					b[i] = float32(2*rnd.Float64() - 1)
				}
				c := make([]float32, sz.m*16)
				for i := range c {
					c[i] = float32(2*rnd.Float64() - 1)
				}
				got := append([]float32(nil), c...)
				sgemmRowsA3(be, sz.m, sz.k, src, NewRows(rows), b, beta, got)
				name := fmt.Sprintf("%s/m=%d/k=%d/beta=%g", backendName(be), sz.m, sz.k, beta)
				for i := range sz.m {
					for j := range 16 {
						ref, mag := float64(beta)*float64(c[i*16+j]), math.Abs(float64(beta)*float64(c[i*16+j]))
						for l := range sz.k {
							p := float64(src[rows[i]+l]) * float64(b[l*16+j])
							ref, mag = ref+p, mag+math.Abs(p)
						}
						tol := float64(sz.k+1) * 0x1p-24 / (1 - float64(sz.k+1)*0x1p-24) * mag
						if d := math.Abs(float64(got[i*16+j]) - ref); d > tol {
							t.Fatalf("%s: C[%d,%d] = %v, want %v (error %.3g > %.3g)", name, i, j, got[i*16+j], ref, d, tol)
						}
					}
				}
			}
		}
	}
}

// TestSgemmRowsA3Panics checks that SgemmRowsA3 refuses rows that are not
// runs of three, a B whose rows from k on are not zero, and an A too short
// for TapRows(k) values from a run's first row.
func TestSgemmRowsA3Panics(t *testing.T) {
	a := make([]float32, 20)
	b := make([]float32, TapRows(4)*16)
	c := make([]float32, 3*16)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"not a run", func() { SgemmRowsA3(3, 4, a, NewRows([]int{0, 1, 3}), b, 0, c) }},
		{"m not a multiple of 3", func() { SgemmRowsA3(2, 4, a, NewRows([]int{0, 1}), b, 0, c) }},
		{"A too short", func() { SgemmRowsA3(3, 4, a, NewRows([]int{15, 16, 17}), b, 0, c) }},
		{"B not zero past k", func() {
			b2 := append([]float32(nil), b...)
			b2[4*16] = 1
			SgemmRowsA3(3, 4, a, NewRows([]int{0, 1, 2}), b2, 0, c)
		}},
		{"beta", func() { SgemmRowsA3(3, 4, a, NewRows([]int{0, 1, 2}), b, 0.5, c) }},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", tc.name)
				}
			}()
			tc.f()
		}()
	}
	SgemmRowsA3(3, 4, a, NewRows([]int{0, 1, 2}), b, 0, c) // the same call, laid out right, runs
}

// TestNewRowsCopies checks that Rows keeps its own copy of the offsets: a
// change to the caller's slice afterwards, which the range found by
// NewRows would not cover, reaches no call.
func TestNewRowsCopies(t *testing.T) {
	offs := []int{0, 1, 2}
	r := NewRows(offs)
	offs[2] = 1 << 30
	if r.Len() != 3 || r.offs[2] != 2 {
		t.Fatalf("rows %v after the caller's change", r.offs) // before a kernel reads them
	}
	a, b, c := make([]float32, 20), make([]float32, TapRows(4)*16), make([]float32, 3*16)
	SgemmRowsA3(3, 4, a, r, b, 0, c)
}
