// Package kernel is the compute engine under package nn: the arithmetic of
// its layers on plain float32 slices and []int shapes, with no Gorgonia.
//
// # Overview
//
// A Kernel is one differentiable operation on tensors of fixed shapes:
// Forward computes the result from the inputs, Backward the gradient with
// respect to one input. The kernels are Conv (2-D convolution by GEMM over
// im2col's matrix or, for stride 1, an implicit GEMM over the padded image;
// optionally plus a bias or a residual), Dense, Pool (max and average),
// BatchNorm (optionally fused with the leaky ReLU after it), LeakyReLU, Add
// and Reshape. nn wraps each in a Gorgonia operation, which orders them and
// accumulates gradients; nn keeps the loss kernel, which runs an nn.Loss.
//
// Under the kernels are the elementwise loops (vec.go: Go versions
// everywhere, AVX-512 and AVX2 versions on amd64 that round exactly as the
// Go ones; AVX2 where AVX-512 is absent or ROBUSTQ_BLAS=avx2 asks for it),
// the GEMMs of internal/blas, and a crew of worker goroutines kept from
// call to call (parallel.go) that the kernels split their work over;
// ParallelRange and ParallelAdd lend the crew to nn's optimizer and tensor
// engine. A batch norm may take the sums it needs from the convolutions
// around it, image by image while in cache (FeedStats, FeedGradSums).
//
// Options, given when a kernel is built, choose paths that are otherwise
// chosen by shape and CPU: tests and benchmarks use them to compare the
// paths. There are no package-level switches. The build tag noasm leaves
// out the assembly, here and in internal/blas.
//
// # Invariants
//
//   - Where robustq's assembly GEMM kernels run, results do not depend on
//     the number of workers: sums over a batch are partial sums over fixed
//     ranges of images, added in a fixed order. On the OpenBLAS and gonum
//     backends (neither AVX-512 nor AVX2, or the noasm tag) they can differ
//     in the last bits with GOMAXPROCS.
//   - Bad shapes give errors wrapping ErrShape (nn.ErrShape) when a kernel
//     is built; Forward and Backward take slices of the lengths the shapes
//     say.
//   - A kernel is not safe for concurrent use; its per-worker buffers are
//     its own, and the partial-sum buffers are shared under a lock.
package kernel
