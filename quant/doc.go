// Package quant quantizes the weights of a neural network: it maps each
// chosen weight tensor to values on a small grid (k bits per value) while
// activations, biases and batch-norm parameters stay in float32.
//
// # Overview
//
// A Quantizer maps one nn.Param to its quantized values. These schemes are
// provided:
//
//   - Linear: symmetric uniform levels s·{−(2^(k−1)−1), …, 2^(k−1)−1} with
//     s = max|W|/(2^(k−1)−1), per tensor or per output channel, with nearest
//     or stochastic (unbiased) rounding; for k = 1, sign(W)·mean|W|. The
//     paper says only "linear (uniform) levels, weights only"; the grid and
//     the scale are our choice.
//   - Uniform: symmetric uniform levels that use all 2^k codes,
//     s·{±½, ±3/2, …, ±(2^(k−1)−½)}, with the scale that minimises the
//     squared quantization error, per tensor or per output channel.
//   - Asymmetric: affine min/max levels with 2^k values and a zero point,
//     nudged so that zero is exact.
//   - PowerOfTwo: logarithmic levels {0, ±s·2^(−j)}.
//   - LSQ: learned step size quantization, whose step per tensor is
//     trained with the network (Esser et al. 2020).
//
// A Selector chooses which parameters to quantize: Weights (every conv and
// dense weight, the default), Layers (by layer name), LastLayers (the last n
// weight layers) or any ParamFunc.
//
// Apply and ApplyParams do post-training quantization: they return a
// quantized copy and leave the full-precision original untouched. STE does
// quantization-aware training with the straight-through estimator: it
// swaps Q(W) into the live parameters for the forward and backward passes
// and puts W back before the optimizer step. A quantizer that implements
// Backward sets the estimator's gradient rule (LSQ's clipped estimator) and
// trains parameters of its own. One that implements Exporter gives a
// tensor's integer codes and scales (Integer), the form to ship.
//
// The quantization error ΔW = Q(W) − W of a layer is what package lipschitz
// measures.
//
// # Example
//
//	q3, err := quant.Apply(net, quant.Uniform{Bits: 3}, nil) // conv and dense weights; biases stay float32
//	acc, err := nn.Accuracy(q3, test.X, test.Y, 0)         // net keeps its float32 weights
//
// # Invariants
//
//   - Quantize never modifies its parameter and returns a new slice of the
//     same length; every value is on the documented grid of its group (the
//     tensor, or one output channel along axis 0 for tensors of rank ≥ 2).
//   - Linear with k ≥ 2 gives at most 2^k − 1 distinct values per group, with
//     k = 1 at most 2; Asymmetric and Uniform at most 2^k; PowerOfTwo at most
//     2^k − 1.
//   - With nearest rounding, Linear and PowerOfTwo are idempotent
//     (Q(Q(W)) = Q(W) exactly; Asymmetric up to float32 rounding), the
//     error of Linear and Asymmetric is at most s/2 per value (s the group's
//     step), and Linear and PowerOfTwo are
//     sign symmetric (Q(−W) = −Q(W), except that Linear with k = 1 maps 0
//     to +mean|W|).
//   - Stochastic rounding is unbiased for Linear with k ≥ 2, consumes exactly
//     one Rng.Float64 per value in order, and so is reproducible from a seed.
//   - A group of all-zero values quantizes to zeros; NaN or Inf weights,
//     empty tensors, nil parameters and bit widths out of range are errors,
//     never NaN outputs.
//   - Bits = 0 means DefaultBits (3), the paper's main setting.
//   - There is no package-level mutable state; randomness comes only from a
//     caller's *rand.Rand.
package quant
