package blas

import (
	"sync"

	"gonum.org/v1/gonum/blas"
)

// kernelSet is a family of assembly kernels: noKernels where OpenBLAS or
// gonum run, the AVX-512 kernels, or the AVX2+FMA ones for CPUs without
// AVX-512 (16 ymm registers: smaller tiles).
type kernelSet uint8

const (
	noKernels kernelSet = iota
	avx512Kernels
	avx2Kernels
)

// tile is the shape mr×nr of the set's GEMM tile: 8×32 for AVX-512
// (kern8x32: 16 zmm accumulators), 6×16 for AVX2 (kern6x16: 12 ymm).
func (ks kernelSet) tile() (mr, nr int) {
	if ks == avx2Kernels {
		return 6, 16
	}
	return 8, 32
}

// String is Backend's answer when the set runs.
func (ks kernelSet) String() string {
	switch ks {
	case avx512Kernels:
		return "robustq AVX-512 kernels (Go assembly)"
	case avx2Kernels:
		return "robustq AVX2+FMA kernels (Go assembly)"
	}
	return "no kernels"
}

// Blocking of the kernels' GEMM: a tile of C is mr×nr (kernelSet.tile). A
// is packed whole (packAll), in blocks of kcMax steps of the inner
// dimension; the driver takes up to mcMax rows of a block at a time (a
// multiple of mr), so that they (mc·kc·4 ≤ 256 KiB) stay in the L2 cache
// and a kc×nr panel of B (at most 32 KiB) in L1 while every tile of those
// rows passes over it. maxMR and maxNR bound every set's tile.
const (
	kcMax        = 256
	mcMax        = 256
	maxMR, maxNR = 8, 32
)

// workspace is the packing space of one kernelSgemm call.
type workspace struct {
	a    []float32 // op(A) packed by packAll, alpha applied; grown on demand
	b    []float32 // kcMax×nr: a panel of B, when it cannot be read in place
	tile [maxMR * maxNR]float32
}

var workspaces = sync.Pool{New: func() any {
	return &workspace{b: make([]float32, kcMax*maxNR)}
}}

// kernelSgemm is Sgemm on the assembly kernels, for arguments that check
// accepted with m, n, k ≥ 1 and alpha ≠ 0. It runs on the calling goroutine.
func kernelSgemm(ks kernelSet, tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if asDots(tA, tB, k) {
		dotSgemm(ks, m, n, k, alpha, a, lda, matrix{s: b, ld: ldb}, beta, c, ldc)
		return
	}
	ws := workspaces.Get().(*workspace)
	defer workspaces.Put(ws)
	ws.a = packAll(ks, ws.a, a, lda, tA != blas.NoTrans, m, k, alpha)
	packedSgemm(ws, ks, ws.a, m, k, tB, n, matrix{s: b, ld: ldb}, beta, c, ldc)
}

// matrix is an operand stored in s: row q starts at s[rows[q]] when rows is
// set (the rows of an implicit im2col matrix: shifts of one image), at
// s[q·ld] otherwise.
type matrix struct {
	s    []float32
	ld   int
	rows []int
}

func (x matrix) row(q int) int {
	if x.rows != nil {
		return x.rows[q]
	}
	return q * x.ld
}

// packedSgemm is C = pa·op(B) + beta·C on the kernels ks for A packed by
// packAll for ks (alpha applied); ws supplies the panel of B and the edge
// tile. B given by row offsets must not be transposed.
func packedSgemm(ws *workspace, ks kernelSet, pa []float32, m, k int, tB blas.Transpose, n int, b matrix, beta float32, c []float32, ldc int) {
	if beta != 0 && beta != 1 {
		scale(beta, m, n, c, ldc)
	}
	transB := tB != blas.NoTrans
	mr, nr := ks.tile()
	mcStep := mcMax / mr * mr
	mPad := roundUp(m, mr)
	for pc := 0; pc < k; pc += kcMax {
		kc := min(kcMax, k-pc)
		block := pa[pc*mPad:][:mPad*kc]
		// Beta 0: the first block overwrites C without reading it.
		load := pc > 0 || beta != 0
		for ic := 0; ic < m; ic += mcStep {
			mc := min(mcStep, m-ic)
			for jc := 0; jc < n; jc += nr {
				nc := min(nr, n-jc)
				// A full-width panel of an untransposed B is read in place.
				inPlace := !transB && nc == nr
				if !inPlace {
					packB(ws.b, nr, b, transB, pc, kc, jc, nc)
				}
				tile := func(ap, cp *float32, ldc int, load bool) {
					switch {
					case ks == avx2Kernels && !inPlace:
						kern6x16(kc, ap, &ws.b[0], nr, cp, ldc, load)
					case ks == avx2Kernels && b.rows != nil:
						kern6x16rows(kc, ap, &b.s[jc], &b.rows[pc], cp, ldc, load)
					case ks == avx2Kernels:
						kern6x16(kc, ap, &b.s[pc*b.ld+jc], b.ld, cp, ldc, load)
					case !inPlace:
						kern8x32(kc, ap, &ws.b[0], nr, cp, ldc, load)
					case b.rows != nil:
						kern8x32rows(kc, ap, &b.s[jc], &b.rows[pc], cp, ldc, load)
					default:
						kern8x32(kc, ap, &b.s[pc*b.ld+jc], b.ld, cp, ldc, load)
					}
				}
				for ir := ic; ir < ic+mc; ir += mr {
					rows := min(mr, m-ir)
					ap := &block[ir*kc]
					if rows == mr && nc == nr {
						tile(ap, &c[ir*ldc+jc], ldc, load)
						continue
					}
					// An edge tile: computed whole into ws.tile, then the part
					// inside C added or copied.
					tile(ap, &ws.tile[0], nr, false)
					for r := range rows {
						dst, src := c[(ir+r)*ldc+jc:][:nc], ws.tile[r*nr:][:nc]
						if !load {
							copy(dst, src)
							continue
						}
						for j, v := range src {
							dst[j] += v
						}
					}
				}
			}
		}
	}
}

func roundUp(x, to int) int { return (x + to - 1) / to * to }

// packAll packs alpha·op(A) (m×k) for packedSgemm on the kernels ks into
// dst, grown if short: for each block of kcMax steps of the inner dimension
// (pc), the block's columns of all rows as packA lays them out in panels of
// ks's mr rows, at offset pc·roundUp(m, mr).
func packAll(ks kernelSet, dst, a []float32, lda int, trans bool, m, k int, alpha float32) []float32 {
	mr, _ := ks.tile()
	mPad := roundUp(m, mr)
	if need := mPad * k; cap(dst) < need {
		dst = make([]float32, need)
	} else {
		dst = dst[:need]
	}
	for pc := 0; pc < k; pc += kcMax {
		kc := min(kcMax, k-pc)
		packA(dst[pc*mPad:][:mPad*kc], mr, a, lda, trans, 0, m, pc, kc, alpha)
	}
	return dst
}

// packA writes rows ic..ic+mc and columns pc..pc+kc of op(A), times alpha,
// into dst as mr-row panels: the panel of rows p..p+mr, at offset p·kc,
// holds for each step q < kc the values of its rows at column pc+q,
// contiguous; rows past mc are zero.
func packA(dst []float32, mr int, a []float32, lda int, trans bool, ic, mc, pc, kc int, alpha float32) {
	for p := 0; p < mc; p += mr {
		panel := dst[p*kc:][:mr*kc]
		rows := min(mr, mc-p)
		if trans {
			for q := range kc {
				d := panel[q*mr:][:rows]
				for r, v := range a[(pc+q)*lda+ic+p:][:rows] {
					d[r] = alpha * v
				}
			}
		} else {
			for r := range rows {
				for q, v := range a[(ic+p+r)*lda+pc:][:kc] {
					panel[q*mr+r] = alpha * v
				}
			}
		}
		if rows < mr {
			for q := range kc {
				clear(panel[q*mr+rows : (q+1)*mr])
			}
		}
	}
}

// packB writes rows pc..pc+kc and columns jc..jc+nc of op(B) into dst as a
// kc×nr panel, zero past column nc.
func packB(dst []float32, nr int, b matrix, trans bool, pc, kc, jc, nc int) {
	if trans {
		for j := range nc {
			for q, v := range b.s[b.row(jc+j)+pc:][:kc] {
				dst[q*nr+j] = v
			}
		}
	} else {
		for q := range kc {
			copy(dst[q*nr:][:nc], b.s[b.row(pc+q)+jc:][:nc])
		}
	}
	if nc < nr {
		for q := range kc {
			clear(dst[q*nr+nc : (q+1)*nr])
		}
	}
}

// asDots reports whether the kernels compute op(A)·op(B) as dot products
// (dotSgemm): A·Bᵀ with an inner dimension of at least DotMinK.
func asDots(tA, tB blas.Transpose, k int) bool {
	return tA == blas.NoTrans && tB != blas.NoTrans && k >= DotMinK
}

// DotMinK is the inner dimension from which the kernels compute A·Bᵀ as
// dot products of rows, reading B in place (also when B is given by row
// offsets, SgemmRowsT); shorter products copy Bᵀ into panels first. The
// dot products finish with a horizontal sum, which shorter ones do not
// amortise: 16×144×1024 ran at 87 GFLOP/s as dot products and 16 packed;
// 64×576×64 at 48 against 51.
const DotMinK = 128

const (
	dotKC = 512 // a multiple of 16
	dotNC = 256
)

// dotSgemm is C = alpha·A·Bᵀ + (load ? C : 0) on the kernels ks for
// row-major A (m×k) and B (n×k): rows of both are contiguous, so each
// element of C is a dot product, in tiles of four rows of A by four of B
// (three by four with AVX2, whose 16 ymm registers hold 12 sums and the
// rows they need). Blocks of dotKC steps of the inner dimension and dotNC
// rows of B (dotNC·dotKC·4 = 512 KiB) keep the part of B that the rows of A
// pass over in the L2 cache. Edge tiles repeat the last row of A or B and
// keep only their valid part.
func dotSgemm(ks kernelSet, m, n, k int, alpha float32, a []float32, lda int, b matrix, beta float32, c []float32, ldc int) {
	if beta != 0 && beta != 1 {
		scale(beta, m, n, c, ldc)
	}
	dr := 4
	if ks == avx2Kernels {
		dr = 3
	}
	var ap, bp [4]*float32
	var tile [16]float32
	for pc := 0; pc < k; pc += dotKC {
		kc := min(dotKC, k-pc)
		load := pc > 0 || beta != 0
		for jc := 0; jc < n; jc += dotNC {
			nc := min(dotNC, n-jc)
			for i := 0; i < m; i += dr {
				rows := min(dr, m-i)
				for r := range ap {
					ap[r] = &a[(i+min(r, rows-1))*lda+pc]
				}
				for j := jc; j < jc+nc; j += 4 {
					cols := min(4, jc+nc-j)
					for r := range bp {
						bp[r] = &b.s[b.row(j+min(r, cols-1))+pc]
					}
					if rows == dr && cols == 4 {
						if ks == avx2Kernels {
							kdot3x4(kc, &ap, &bp, alpha, &c[i*ldc+j], ldc, load)
						} else {
							kdot4x4(kc, &ap, &bp, alpha, &c[i*ldc+j], ldc, load)
						}
						continue
					}
					if ks == avx2Kernels {
						kdot3x4(kc, &ap, &bp, alpha, &tile[0], 4, false)
					} else {
						kdot4x4(kc, &ap, &bp, alpha, &tile[0], 4, false)
					}
					for r := range rows {
						dst, src := c[(i+r)*ldc+j:][:cols], tile[r*4:][:cols]
						if !load {
							copy(dst, src)
							continue
						}
						for q, v := range src {
							dst[q] += v
						}
					}
				}
			}
		}
	}
}
