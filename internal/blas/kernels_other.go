//go:build !amd64

package blas

// haveKernels is false: the assembly kernels exist for amd64 only.
const haveKernels = false

func kern8x32(kc int, a, b *float32, ldb int, c *float32, ldc int, load bool) {
	panic("blas: no assembly kernels on this architecture")
}
