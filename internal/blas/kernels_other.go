//go:build !amd64 || noasm

package blas

// haveAVX512 and haveAVX2 are false: the assembly kernels exist for amd64
// only, and the noasm build tag leaves them out there too (OpenBLAS or
// gonum then run).
const haveAVX512, haveAVX2 = false, false

func kern8x32(kc int, a, b *float32, ldb int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kdot4x4(k int, a, b *[4]*float32, alpha float32, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern8x32rows(kc int, a, b *float32, rows *int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern8x32arows(a *float32, rows *[8]int, kc int, b *float32, ldb int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern8x16arows(a *float32, rows *[8]int, kc int, b *float32, ldb int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern18x16slide(a *float32, bases *[6]int, steps int, b *float32, c *float32, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern6x16(kc int, a, b *float32, ldb int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern6x16rows(kc int, a, b *float32, rows *int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kdot3x4(k int, a, b *[4]*float32, alpha float32, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern6x16arows(a *float32, rows *[8]int, kc int, b *float32, ldb int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}

func kern12x8slide(a *float32, bases *[6]int, steps int, b *float32, c *float32, load bool) {
	panic("blas: no assembly kernels on this architecture")
}
