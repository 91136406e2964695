package blas_test

import (
	"fmt"

	gblas "gonum.org/v1/gonum/blas"

	"github.com/robustq/robustq/internal/blas"
)

func ExampleSgemm() {
	// C = A·Bᵀ for A 2×3 and B 2×3, row-major: small integers, so every
	// backend gives exactly these numbers.
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		7, 8, 9,
		1, 0, -1,
	}
	c := make([]float32, 2*2)
	blas.Sgemm(gblas.NoTrans, gblas.Trans, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output:
	// [50 -2 122 -2]
}

func ExampleBackend() {
	// "openblas: libopenblas.so.0 (Haswell kernels)" where OpenBLAS is
	// installed, else "gonum".
	fmt.Println(blas.Backend())
}
