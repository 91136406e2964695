package blas

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// TestPackedA checks PackedA.Sgemm on every backend against the float64
// reference of TestSgemm's problems, reusing one PackedA for two
// products with different B and C, as a convolution does per image.
func TestPackedA(t *testing.T) {
	for _, be := range backends() {
		var p PackedA
		sgemmCases(func(tc sgemmCase) {
			o := tc.o
			p.pack(be, o.tA, o.m, o.k, tc.alpha, o.a, o.lda)
			// Another B and C for the same A first: Pack's state must not
			// depend on them.
			other := newOperands(rand.New(rand.NewPCG(9, 9)), o.tA, o.tB, o.m, o.n, o.k, 0, false)
			p.Sgemm(o.tB, o.n, other.b, other.ldb, 0, other.c, other.ldc)
			got := append([]float32(nil), o.c...)
			p.Sgemm(o.tB, o.n, o.b, o.ldb, tc.beta, got, o.ldc)
			checkResult(t, backendName(be)+"/"+tc.name, o, got, tc.ref, tc.mag, tc.tolFactor)
		})
	}
}

// TestPackedAConcurrent runs one PackedA on several goroutines at once, as
// the convolution kernels do (run it with -race).
func TestPackedAConcurrent(t *testing.T) {
	const m, n, k = 32, 196, 75
	rnd := rand.New(rand.NewPCG(4, 4))
	o := newOperands(rnd, blas.NoTrans, blas.NoTrans, m, n, k, 1, false)
	ref, mag := o.reference(1, 0)
	tolFactor := gamma(k+3, u32) + gamma(k+3, u64) // as in TestSgemm
	for _, be := range backends() {
		var p PackedA
		p.pack(be, o.tA, m, k, 1, o.a, o.lda)
		var wg sync.WaitGroup
		results := make([][]float32, 2*runtime.GOMAXPROCS(0)+1)
		for g := range results {
			wg.Go(func() {
				c := append([]float32(nil), o.c...)
				p.Sgemm(o.tB, n, o.b, o.ldb, 0, c, o.ldc)
				results[g] = c
			})
		}
		wg.Wait()
		for g, got := range results {
			checkResult(t, fmt.Sprintf("%s/goroutine %d", backendName(be), g), o, got, ref, mag, tolFactor)
		}
	}
}

// TestPackedAPanics checks that Pack and Sgemm reject bad arguments with
// Sgemm's messages.
func TestPackedAPanics(t *testing.T) {
	a := make([]float32, 12)
	for _, tc := range []struct {
		name string
		f    func()
		want string
	}{
		{"bad transpose", func() { new(PackedA).Pack('x', 3, 4, 1, a, 4) }, badTranspose},
		{"m < 0", func() { new(PackedA).Pack(blas.NoTrans, -1, 4, 1, a, 4) }, mLT0},
		{"k < 0", func() { new(PackedA).Pack(blas.NoTrans, 3, -4, 1, a, 4) }, kLT0},
		{"short lda", func() { new(PackedA).Pack(blas.NoTrans, 3, 4, 1, a, 3) }, badLdA},
		{"short a", func() { new(PackedA).Pack(blas.NoTrans, 4, 4, 1, a, 4) }, shortA},
		{"short a, transposed", func() { new(PackedA).Pack(blas.Trans, 4, 4, 1, a, 4) }, shortA},
		{"short b", func() {
			var p PackedA
			p.Pack(blas.NoTrans, 3, 4, 1, a, 4)
			p.Sgemm(blas.NoTrans, 5, make([]float32, 19), 5, 0, make([]float32, 15), 5)
		}, shortB},
		{"short c", func() {
			var p PackedA
			p.Pack(blas.NoTrans, 3, 4, 1, a, 4)
			p.Sgemm(blas.NoTrans, 5, make([]float32, 20), 5, 0, make([]float32, 14), 5)
		}, shortC},
	} {
		got := func() (r any) {
			defer func() { r = recover() }()
			tc.f()
			return nil
		}()
		if got != tc.want {
			t.Errorf("%s: panic %v, want %q", tc.name, got, tc.want)
		}
	}
}
