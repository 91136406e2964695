package kernel

import (
	"errors"
	"strconv"

	rqblas "github.com/robustq/robustq/internal/blas"
)

// ErrShape reports shapes a kernel cannot take. nn exports it as nn.ErrShape.
var ErrShape = errors.New("nn: shape mismatch")

// Kernel is one differentiable operation on float32 tensors of fixed
// shapes, row-major. A faster implementation of an operation replaces its
// kernel and nothing else. A kernel belongs to one graph. It may keep state from
// forward to backward (pooling indices, batch statistics): the caller runs
// Forward before any Backward of the same pass, on one goroutine.
type Kernel interface {
	// Name is a short label for error messages.
	Name() string
	// OutShape is the shape of the result; the caller must not change it.
	OutShape() []int
	// Forward computes out (len = OutShape's volume) from the inputs.
	Forward(out []float32, in [][]float32) error
	// Backward writes into dIn the gradient with respect to input i, given
	// the inputs, the forward result and the gradient dOut with respect to it.
	Backward(i int, dIn []float32, in [][]float32, out, dOut []float32) error
	// Differentiable reports, per input, whether Backward supports it.
	Differentiable() []bool
}

var (
	_ Kernel     = (*Dense)(nil)
	_ Kernel     = (*Pool)(nil)
	_ Kernel     = (*BatchNorm)(nil)
	_ Kernel     = (*LeakyReLU)(nil)
	_ Kernel     = (*Reshape)(nil)
	_ PassKernel = (*Conv)(nil)
	_ PassKernel = (*Add)(nil)
)

// PassKernel marks a kernel whose result is a sum one of whose terms is an
// input: the gradient with respect to that input is dOut itself, which the
// caller may use instead of calling Backward (which must still give it).
type PassKernel interface {
	Kernel
	// PassesGradient reports whether input i's gradient is dOut.
	PassesGradient(i int) bool
}

// Options are the choices a kernel makes once, when it is built. The zero
// value is what networks use; tests set the others to compare the paths.
type Options struct {
	// ConvPath forces the path of stride-1 convolutions.
	ConvPath ConvPath
	// Loops chooses the kernel's elementwise loops.
	Loops Loops
}

// Loops chooses the elementwise loops: LoopsAuto the AVX-512 ones where the
// CPU has them, the AVX2 ones where it has those instead (or where
// ROBUSTQ_BLAS=avx2 asked internal/blas for its AVX2 kernels), Go
// elsewhere; the others force a set where the CPU runs it, Go elsewhere.
type Loops int

// The sets of elementwise loops.
const (
	LoopsAuto Loops = iota
	LoopsGo
	LoopsAVX2
)

// vec returns the elementwise loops o asks for.
func (o Options) vec() vec {
	switch o.Loops {
	case LoopsGo:
		return vec{}
	case LoopsAVX2:
		return vec{avx2: hasAVX2}
	}
	if hasAVX512 && !rqblas.KernelsAVX2() {
		return vec{avx512: true}
	}
	return vec{avx2: hasAVX2}
}

// ConvPath chooses how stride-1 convolutions run: ConvAuto picks the
// implicit GEMM where the assembly kernels run and im2col elsewhere, by
// shape (BenchmarkConvPaths); the others force a path.
type ConvPath int

// The paths of stride-1 convolutions.
const (
	ConvAuto         ConvPath = iota
	ConvIm2col                // im2col's copies and a GEMM
	ConvImplicit              // the implicit GEMM, the filter gradient by tiles
	ConvImplicitDots          // the implicit GEMM with the filter gradient by dot products
	ConvImplicitTaps          // the implicit GEMM with the filter gradient by SgemmRowsA3 where it applies
)

// dims formats a shape in error messages as nn's tensors do: (N, C, H, W).
type dims []int

func (s dims) String() string {
	b := []byte{'('}
	for i, v := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(v), 10)
	}
	return string(append(b, ')'))
}
