package blas

import (
	"sync"

	"gonum.org/v1/gonum/blas"
)

// badRows is the panic message for row offsets that do not fit their slice.
const badRows = "blas: row offset out of range"

// Rows is a matrix's row offsets into a slice, as the functions that read
// a matrix given by offsets take them: the offsets' range is found once,
// so that each call checks its rows in constant time (a convolution makes
// one call per output row, with the same few hundred offsets).
type Rows struct {
	offs   []int
	lo, hi int
	// runs3 is whether the offsets come in runs of three one apart
	// (SgemmRowsA3).
	runs3 bool
}

// NewRows returns the Rows of a copy of offs.
func NewRows(offs []int) Rows {
	r := Rows{offs: append([]int(nil), offs...), runs3: len(offs)%3 == 0}
	for i, off := range r.offs {
		if i == 0 || off < r.lo {
			r.lo = off
		}
		if i == 0 || off > r.hi {
			r.hi = off
		}
		if i%3 != 0 && off != r.offs[i-1]+1 {
			r.runs3 = false
		}
	}
	return r
}

// Len is the number of rows.
func (r Rows) Len() int { return len(r.offs) }

// check panics unless there are count rows and each, b[off:off+width],
// lies inside b.
func (r Rows) check(b []float32, count, width int) {
	if len(r.offs) != count || count > 0 && (r.lo < 0 || r.hi > len(b)-width) {
		panic(badRows)
	}
}

// gathered is scratch space for the backends without the kernels, which
// copy rows given by offsets into an ordinary matrix.
var gathered = sync.Pool{New: func() any { return new([]float32) }}

// gather copies count rows of width values, row q from b[rows[q]:], into a
// count×width matrix from the pool; put it back with gathered.Put.
func gather(b []float32, rows []int, width int) *[]float32 {
	buf := gathered.Get().(*[]float32)
	if need := len(rows) * width; cap(*buf) < need {
		*buf = make([]float32, need)
	} else {
		*buf = (*buf)[:need]
	}
	for q, off := range rows {
		copy((*buf)[q*width:][:width], b[off:off+width])
	}
	return buf
}

// SgemmRows computes C = alpha·op(A)·B + beta·C with the A and alpha that
// Pack was given, where B is the k×n matrix whose row q is
// b[rows[q] : rows[q]+n]: an implicit im2col matrix, whose rows are shifted
// windows of one zero-padded image, multiplied without being formed. C is
// m×n. It panics as Sgemm does, and if len(rows) ≠ k or a row leaves b.
func (p *PackedA) SgemmRows(n int, b []float32, r Rows, beta float32, c []float32, ldc int) {
	checkExcept(p.tA, blas.NoTrans, p.m, n, p.k, p.a, p.lda, b, max(n, 1), c, ldc, true)
	r.check(b, p.k, n)
	rows := r.offs
	if p.be.kernels == noKernels || len(p.packed) == 0 {
		buf := gather(b, rows, n)
		defer gathered.Put(buf)
		p.Sgemm(blas.NoTrans, n, *buf, max(n, 1), beta, c, ldc)
		return
	}
	if n == 0 || p.m == 0 {
		return
	}
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	packedSgemm(ws, p.be.kernels, p.packed, p.m, p.k, blas.NoTrans, n, matrix{s: b, rows: rows}, beta, c, ldc)
}

// SgemmRowsT computes C = alpha·A·Bᵀ + beta·C for A m×k (row-major, lda)
// and the n×k matrix B whose row j is b[rows[j] : rows[j]+k]: the filter
// gradient of an implicit-im2col convolution. It panics as Sgemm does, and
// if len(rows) ≠ n or a row leaves b.
func SgemmRowsT(m, n, k int, alpha float32, a []float32, lda int, b []float32, rows Rows, beta float32, c []float32, ldc int) {
	sgemmRowsT(current(), m, n, k, alpha, a, lda, b, rows, beta, c, ldc)
}

func sgemmRowsT(be backend, m, n, k int, alpha float32, a []float32, lda int, b []float32, r Rows, beta float32, c []float32, ldc int) {
	checkExcept(blas.NoTrans, blas.Trans, m, n, k, a, lda, b, max(k, 1), c, ldc, true)
	r.check(b, n, k)
	rows := r.offs
	if be.kernels == noKernels || k < DotMinK || m == 0 || n == 0 || k == 0 || alpha == 0 {
		buf := gather(b, rows, k)
		defer gathered.Put(buf)
		sgemm(be, blas.NoTrans, blas.Trans, m, n, k, alpha, a, lda, *buf, max(k, 1), beta, c, ldc)
		return
	}
	dotSgemm(be.kernels, m, n, k, alpha, a, lda, matrix{s: b, rows: rows}, beta, c, ldc)
}

// SgemmRowsA computes C = A·B + beta·C for the m×k matrix A whose row i is
// a[rows[i] : rows[i]+k], B k×n (row-major, ldb) and C m×n: with A the
// im2col matrix of one image read in place and B its output gradient
// transposed, the transposed filter gradient of an implicit-im2col
// convolution. The kernels run it where n is a multiple of 16 (pad B and C
// with zero columns otherwise); other backends copy A's rows first. It
// panics as Sgemm does, and if len(rows) ≠ m or a row leaves a.
func SgemmRowsA(m, n, k int, a []float32, rows Rows, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmRowsA(current(), m, n, k, a, rows, b, ldb, beta, c, ldc)
}

func sgemmRowsA(be backend, m, n, k int, a []float32, r Rows, b []float32, ldb int, beta float32, c []float32, ldc int) {
	switch {
	case m < 0:
		panic(mLT0)
	case n < 0:
		panic(nLT0)
	case k < 0:
		panic(kLT0)
	case ldb < max(1, n):
		panic(badLdB)
	case ldc < max(1, n):
		panic(badLdC)
	}
	r.check(a, m, k)
	rows := r.offs
	if m == 0 || n == 0 {
		return
	}
	switch {
	case k > 0 && len(b) < (k-1)*ldb+n:
		panic(shortB)
	case len(c) < (m-1)*ldc+n:
		panic(shortC)
	}
	if k == 0 {
		scale(beta, m, n, c, ldc)
		return
	}
	if be.kernels == noKernels || n%16 != 0 {
		buf := gather(a, rows, k)
		defer gathered.Put(buf)
		sgemm(be, blas.NoTrans, blas.NoTrans, m, n, k, 1, *buf, max(k, 1), b, ldb, beta, c, ldc)
		return
	}
	if beta != 0 && beta != 1 {
		scale(beta, m, n, c, ldc)
	}
	load := beta != 0
	// Tiles of tr rows by up to tc columns: 8×32 (8×16 for the last 16
	// columns) with AVX-512, 6×16 with AVX2.
	tr, tc := 8, 32
	if be.kernels == avx2Kernels {
		tr, tc = 6, 16
	}
	var ar [8]int
	var tile [8 * 32]float32
	for j := 0; j < n; j += tc {
		cols := min(tc, n-j)
		// Direct calls, not a function value: through one, ar and tile
		// would escape to the heap on every call (go build -gcflags=-m).
		kern := func(a *float32, ar *[8]int, b *float32, c *float32, ldc int, load bool) {
			switch {
			case tr == 6:
				kern6x16arows(a, ar, k, b, ldb, c, ldc, load)
			case cols == 16:
				kern8x16arows(a, ar, k, b, ldb, c, ldc, load)
			default:
				kern8x32arows(a, ar, k, b, ldb, c, ldc, load)
			}
		}
		for i := 0; i < m; i += tr {
			valid := min(tr, m-i)
			for r := range ar {
				ar[r] = rows[i+min(r, valid-1)]
			}
			if valid == tr {
				kern(&a[0], &ar, &b[j], &c[i*ldc+j], ldc, load)
				continue
			}
			// An edge tile: its missing rows repeat the last one into a
			// scratch tile, of which only the valid rows are kept.
			if load {
				for r := range valid {
					copy(tile[r*32:][:cols], c[(i+r)*ldc+j:][:cols])
				}
			}
			kern(&a[0], &ar, &b[j], &tile[0], 32, load)
			for r := range valid {
				copy(c[(i+r)*ldc+j:][:cols], tile[r*32:][:cols])
			}
		}
	}
}

// SgemmRowsA3's own panic messages.
const (
	badRuns = "blas: rows, A or B not laid out for SgemmRowsA3"
	badBeta = "blas: SgemmRowsA3's beta must be 0 or 1"
	kLT1    = "blas: SgemmRowsA3 needs k ≥ 1"
)

// TapRows is the number of rows of B, and of values of A from each run's
// first row, that SgemmRowsA3 reads for k positions: k+2 rounded up to a
// multiple of 3.
func TapRows(k int) int { return (k + 4) / 3 * 3 }

// SgemmRowsA3 computes C = A·B + beta·C (beta 0 or 1) as SgemmRowsA with
// n = ldb = ldc = 16, for an m×k matrix A whose rows come in runs of three
// windows one value apart: rows[3g+j] = rows[3g] + j (m a multiple of 3),
// the filter taps along a row of a 3-wide kernel in an implicit im2col
// matrix. There the kernels compute six runs at a time (four with AVX2),
// each value of A loaded once for its three rows (kern18x16slide,
// kern12x8slide). B must have TapRows(k)
// rows of 16 values, those from row k on zero, and a must hold TapRows(k)
// values from every run's first row. It panics as SgemmRowsA does, and if
// these conditions fail.
func SgemmRowsA3(m, k int, a []float32, rows Rows, b []float32, beta float32, c []float32) {
	switch {
	case m < 0 || m%3 != 0:
		panic(badRuns)
	case k < 1:
		panic(kLT1)
	case beta != 0 && beta != 1:
		panic(badBeta)
	case rows.Len() != m:
		panic(badRows)
	case !rows.runs3:
		panic(badRuns)
	case len(b) < TapRows(k)*16:
		panic(shortB)
	case len(c) < m*16:
		panic(shortC)
	}
	for _, v := range b[k*16 : TapRows(k)*16] {
		if v != 0 {
			panic(badRuns)
		}
	}
	// Every run's first row holds TapRows(k) values when the last offset,
	// some run's third row, has room for TapRows(k)−2.
	rows.check(a, m, TapRows(k)-2)
	sgemmRowsA3(current(), m, k, a, rows, b, beta, c)
}

func sgemmRowsA3(be backend, m, k int, a []float32, r Rows, b []float32, beta float32, c []float32) {
	rows := r.offs
	done := 0
	var bases [6]int
	switch be.kernels {
	case avx512Kernels:
		for ; done+18 <= m; done += 18 {
			for g := range bases {
				bases[g] = rows[done+3*g]
			}
			kern18x16slide(&a[0], &bases, TapRows(k)/3, &b[0], &c[done*16], beta != 0)
		}
	case avx2Kernels:
		// 12 rows at a time, in two halves of 8 columns.
		for ; done+12 <= m; done += 12 {
			for g := range 4 {
				bases[g] = rows[done+3*g]
			}
			kern12x8slide(&a[0], &bases, TapRows(k)/3, &b[0], &c[done*16], beta != 0)
			kern12x8slide(&a[0], &bases, TapRows(k)/3, &b[8], &c[done*16+8], beta != 0)
		}
	}
	if done < m {
		rest := Rows{offs: rows[done:], lo: r.lo, hi: r.hi} // a subset: within the range
		sgemmRowsA(be, m-done, 16, k, a, rest, b, 16, beta, c[done*16:], 16)
	}
}
