// Package lipschitz measures how much a change of weights can change a
// network's layers: operator norms of dense and convolution weights, and
// per-layer reports of ΔW = W' − W between two versions of a network (full
// precision and quantized, or full precision and μ-law mapped).
//
// # Overview
//
// A layer computes a linear map of its input before the bias and the
// nonlinearity. Its Lipschitz constant in a norm is the operator norm of that
// map, and the difference of two layers with weights W and W' is bounded by
// the operator norm of ΔW = W' − W. The package computes two of them:
//
//   - ‖ΔW‖₂, the largest singular value of the operator. For a dense weight of
//     shape (out, in), the layer computes y = W x and the operator is the
//     matrix itself: [Spectral] returns its largest singular value exactly
//     (a singular value decomposition in float64). For a convolution weight of
//     shape (out, in, kh, kw) the operator is the convolution as it is
//     applied, R^{in×H×W} → R^{out×Ho×Wo}, with the layer's input size, stride
//     and zero padding ([nn.ConvGeometry]); [ConvSpectral] estimates its norm
//     by power iteration on AᵀA, where Aᵀ is the exact transposed convolution.
//   - ‖ΔW‖∞, the ∞→∞ operator norm: the largest sum of absolute weights over
//     one output. For a dense weight that is the largest row 1-norm; for a
//     convolution, the largest over output channels and output positions of
//     the sum of |w| over the taps that touch the input at that position
//     ([InfNorm]). With padding, border outputs touch fewer taps.
//
// Some papers report, for a convolution, the largest singular value of the
// kernel reshaped into an out×(in·kh·kw) matrix. That is a different number
// (neither bound holds in general) and the package returns it only under its
// own name, [ReshapedSpectral].
//
// [CompareParams] and [Compare] match the weights of two networks by name and
// return a [Report] with, per layer, ‖ΔW‖₂, the reshaped value, ‖ΔW‖∞ and ‖W‖₂
// of the reference for scale; a Report renders to Markdown and CSV.
//
// [ConvOperator] is the convolution as a matrix-free [Operator]; [OperatorNorm]
// runs the power iteration on any Operator.
//
// # Example
//
//	q3, err := quant.Apply(net, quant.Uniform{Bits: 3}, nil)
//	rep, err := lipschitz.Compare(ctx, net, q3, lipschitz.PowerIteration{}) // ‖ΔW‖ per layer
//	fmt.Print(rep.Markdown())
//
// # Invariants
//
//   - All arithmetic is in float64. ΔW is formed in float64 from the float32
//     weights, so it is exact for weights of similar magnitude.
//   - A convolution is a cross-correlation as in PyTorch's Conv2d:
//     y[o,r,s] = Σ_{c,i,j} w[o,c,i,j]·x[c, r·stride−pad+i, s·stride−pad+j],
//     with x zero outside the image. [ConvOperator.ApplyTranspose] is its exact
//     adjoint, including the rows and columns that the stride never reads.
//   - The power iteration is deterministic: its start vector comes from
//     [PowerIteration.Seed]. Its estimate never exceeds the true norm (up to
//     rounding): both quantities it uses, ‖Av‖/‖v‖ and ‖AᵀAv‖/‖Av‖, are lower
//     bounds of ‖A‖₂, and it returns the latter, which is the larger.
//     [Estimate.Converged] says whether the relative change between
//     iterations fell below the tolerance Tol; the relative error left is
//     about Tol·ρ²/(1−ρ²) with ρ = (σ₂/σ₁)², so clustered top singular values
//     (as in noise-like ΔW) leave it far larger than Tol (see
//     [PowerIteration.Tol]).
//   - Invalid input (a shape that does not match the data, NaN or Inf, a
//     convolution weight without geometry, a stride below 1, weights missing
//     from one network) returns an error that starts with "lipschitz: " and
//     wraps one of the package's sentinel errors, never a panic and never a
//     silently wrong number. Only [ConvOperator.Apply] and
//     [ConvOperator.ApplyTranspose] panic, on slices of the wrong length, a
//     programmer error.
//   - Nothing is global; a [ConvOperator] holds scratch space and is not safe
//     for concurrent use. The package-level functions are.
package lipschitz
