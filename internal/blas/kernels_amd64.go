//go:build !noasm

package blas

import "golang.org/x/sys/cpu"

// haveAVX512 reports whether the CPU and the operating system run the
// AVX-512 kernels of kernels_amd64.s: AVX512F, and AVX512VL for the
// 256-bit EVEX additions of kdot4x4's final sums (every AVX-512 CPU since
// Skylake-SP and Zen 4 has both; Knights Landing lacks VL). GODEBUG's
// cpu.avx512f=off hides them (golang.org/x/sys/cpu reads it).
var haveAVX512 = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL

// haveAVX2 reports whether they run the AVX2+FMA kernels of
// kernels_avx2_amd64.s (Haswell and Zen on).
var haveAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// kern8x32 computes one 8×32 tile of C (row stride ldc):
//
//	C = (load ? C : 0) + Σ_{p<kc} a[8p:8p+8] ⊗ b[p·ldb : p·ldb+32]
//
// from a packed panel of A (8 values per step, one per row of the tile) and
// 32 consecutive values of each of kc rows of B (row stride ldb). Strides are
// in elements; kc may be 0.
//
//go:noescape
func kern8x32(kc int, a, b *float32, ldb int, c *float32, ldc int, load bool)

// kdot4x4 computes one 4×4 tile of C = alpha·A·Bᵀ (row stride ldc), adding
// the C it finds when load is set: C[i][j] = (load ? C[i][j] : 0) + alpha ·
// Σ_{q<k} a[i][q]·b[j][q], for the rows a[0..3] of A and b[0..3] of B, each
// k contiguous values, read 16 at a time (the last k mod 16 masked).
//
//go:noescape
func kdot4x4(k int, a, b *[4]*float32, alpha float32, c *float32, ldc int, load bool)

// kern8x32rows is kern8x32 with the rows of B found through offsets: row p
// starts at b[rows[p]] (so that the rows of an implicit im2col matrix are
// shifts of one padded image).
//
//go:noescape
func kern8x32rows(kc int, a, b *float32, rows *int, c *float32, ldc int, load bool)

// kern8x32arows computes one 8×32 tile of C (row stride ldc) with the rows
// of A read in place, row r starting at a[rows[r]]:
//
//	C[r] = (load ? C[r] : 0) + Σ_{p<kc} a[rows[r]+p] · b[p·ldb : p·ldb+32]
//
// (the filter gradient of an implicit-im2col convolution, whose rows are
// shifted windows of one zero-padded image). kc may be 0.
//
//go:noescape
func kern8x32arows(a *float32, rows *[8]int, kc int, b *float32, ldb int, c *float32, ldc int, load bool)

// kern8x16arows is kern8x32arows for an 8×16 tile.
//
//go:noescape
func kern8x16arows(a *float32, rows *[8]int, kc int, b *float32, ldb int, c *float32, ldc int, load bool)

// kern18x16slide computes an 18×16 tile of C (rows of 16, contiguous) whose
// rows come in six runs of three windows one value apart, row 3g+j
// starting at a[bases[g]+j] (an implicit im2col matrix's rows for three
// neighbouring filter taps), from B's rows of 16:
//
//	C[3g+j] = (load ? C[3g+j] : 0) + Σ_{s<3·steps} a[bases[g]+s] · B[s−j]
//
// with B[−1] = B[−2] = 0. Each value of A, broadcast once, serves the three
// rows of its run against the last three rows of B, kept in registers:
// 7 loads for 18 FMAs, where kern8x16arows needs 9 for 8. steps ≥ 1.
//
//go:noescape
func kern18x16slide(a *float32, bases *[6]int, steps int, b *float32, c *float32, load bool)

// The AVX2+FMA kernels (kernels_avx2_amd64.s), for CPUs without AVX-512:
// the same contracts with tiles that fit 16 ymm registers.

// kern6x16 is kern8x32 for a 6×16 tile: A packed in 6-row panels (6
// values per step).
//
//go:noescape
func kern6x16(kc int, a, b *float32, ldb int, c *float32, ldc int, load bool)

// kern6x16rows is kern8x32rows for a 6×16 tile.
//
//go:noescape
func kern6x16rows(kc int, a, b *float32, rows *int, c *float32, ldc int, load bool)

// kdot3x4 is kdot4x4 for a 3×4 tile: rows a[0..2] of A (a[3] is not
// read), each k values read 8 at a time (the last k mod 8 masked).
//
//go:noescape
func kdot3x4(k int, a, b *[4]*float32, alpha float32, c *float32, ldc int, load bool)

// kern6x16arows is kern8x32arows for a 6×16 tile: rows[0..5] are read.
//
//go:noescape
func kern6x16arows(a *float32, rows *[8]int, kc int, b *float32, ldb int, c *float32, ldc int, load bool)

// kern12x8slide is kern18x16slide for four runs of three rows (bases[0..3])
// and 8 columns: B's rows and C's rows are 8 values 16 apart (one half of
// SgemmRowsA3's 16 columns).
//
//go:noescape
func kern12x8slide(a *float32, bases *[6]int, steps int, b *float32, c *float32, load bool)
