package blas

import "gonum.org/v1/gonum/blas"

// PackedA is alpha·op(A) prepared once for several products
//
//	C = alpha·op(A)·op(B) + beta·C
//
// with the same A and different B and C, such as a convolution's filters
// against each image of a batch. With robustq's assembly kernels it holds A
// packed into their layout, so the per-product packing is done once; with
// the other backends it only refers to A. The zero value is empty; Pack fills
// it, reusing its storage. A must not change between Pack and the last
// Sgemm; Sgemm may run on several goroutines at once.
type PackedA struct {
	be     backend
	tA     blas.Transpose
	m, k   int
	alpha  float32
	a      []float32
	lda    int
	packed []float32 // nil unless the kernels run and there is work
}

// Pack prepares alpha·op(A), op(A) m×k, for Sgemm. It panics on invalid
// arguments with the messages of Sgemm.
func (p *PackedA) Pack(tA blas.Transpose, m, k int, alpha float32, a []float32, lda int) {
	p.pack(current(), tA, m, k, alpha, a, lda)
}

// pack is Pack for the backend be.
func (p *PackedA) pack(be backend, tA blas.Transpose, m, k int, alpha float32, a []float32, lda int) {
	// Sgemm's checks with B and C of no columns: only A's.
	check(tA, blas.NoTrans, m, 0, k, a, lda, nil, 1, nil, 1)
	rows, cols := m, k
	if tA != blas.NoTrans {
		rows, cols = k, m
	}
	if m > 0 && k > 0 && len(a) < (rows-1)*lda+cols {
		panic(shortA)
	}
	p.be, p.tA, p.m, p.k, p.alpha, p.a, p.lda = be, tA, m, k, alpha, a, lda
	if be.kernels == noKernels || m == 0 || k == 0 || alpha == 0 {
		p.packed = p.packed[:0]
		return
	}
	p.packed = packAll(be.kernels, p.packed, a, lda, tA != blas.NoTrans, m, k, alpha)
}

// Sgemm computes C = alpha·op(A)·op(B) + beta·C with the A and alpha that
// Pack was given: op(B) is k×n, C is m×n. It has the semantics and panics of
// the package's Sgemm.
func (p *PackedA) Sgemm(tB blas.Transpose, n int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	be := p.be
	if be.kernels == noKernels || len(p.packed) == 0 || asDots(p.tA, tB, p.k) {
		sgemm(be, p.tA, tB, p.m, n, p.k, p.alpha, p.a, p.lda, b, ldb, beta, c, ldc)
		return
	}
	check(p.tA, tB, p.m, n, p.k, p.a, p.lda, b, ldb, c, ldc)
	if n == 0 {
		return
	}
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	packedSgemm(ws, be.kernels, p.packed, p.m, p.k, tB, n, matrix{s: b, ld: ldb}, beta, c, ldc)
}
