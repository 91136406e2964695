package quant

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/nn"
)

// Linear is symmetric uniform (linear) k-bit quantization around zero with
// the scale set by the largest weight. The paper asks for linear levels;
// this grid and scale are one reading of that (Uniform is another).
//
// With L = 2^(k−1) − 1 and, for each group of values sharing a scale (the
// whole tensor, or one output channel), s = max|w| / L, the grid for k ≥ 2 is
//
//	s·{−L, …, −1, 0, 1, …, L}
//
// (2^k − 1 levels: symmetric, so one of the 2^k codes is unused) and
// Q(w) = s·clamp(round(w/s), −L, L). For k = 1 the grid is {−α, +α} with
// α = mean|w| over the group, and Q(w) = sign(w)·α with sign(0) = +1 (also
// for −0), as in XNOR-Net / BinaryConnect-style binarization.
//
// Scales and ratios are computed in float64 and each result is rounded to
// float32 once, so an output value is float32(j·s) for an integer j. A group
// whose values are all zero quantizes to zeros.
type Linear struct {
	// Bits is the bit width k, 1..16. Zero means DefaultBits (3).
	Bits int
	// PerChannel gives each output channel (axis 0: the out dimension of a
	// conv weight (out, in, kh, kw) or a dense weight (out, in)) its own
	// scale. Tensors of rank 0 or 1 (biases, batch-norm vectors) always use
	// one scale. False (the default) uses one scale per tensor.
	PerChannel bool
	// Rounding is Nearest (the default) or Stochastic. Stochastic rounding
	// for k ≥ 2 is unbiased: E[Q(w)] = w. For k = 1 it picks +α with
	// probability clamp((w/α + 1)/2, 0, 1) and −α otherwise (BinaryConnect's
	// hard sigmoid), which is unbiased for |w| ≤ α; larger weights are
	// clipped in expectation to sign(w)·α.
	Rounding Rounding
	// Rng is the random source for Stochastic rounding, which draws exactly
	// one Float64 per value, in order; it is required then and unused for
	// Nearest. Because of it a stochastic Linear is not safe for concurrent use.
	Rng *rand.Rand
}

var _ Quantizer = (*Linear)(nil)

// String describes the quantizer, e.g. "linear 3-bit per-tensor nearest".
func (l Linear) String() string {
	bits := l.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	return fmt.Sprintf("linear %d-bit %s %s", bits, granularity(l.PerChannel), l.Rounding)
}

// Quantize returns the quantized values of p.Data; see the type's documentation.
func (l Linear) Quantize(p *nn.Param) ([]float32, error) {
	bits, err := resolveBits(l.Bits, 1, "linear")
	if err != nil {
		return nil, err
	}
	switch l.Rounding {
	case Nearest:
	case Stochastic:
		if l.Rng == nil {
			return nil, fmt.Errorf("%w: stochastic rounding needs Linear.Rng", ErrRounding)
		}
	default:
		return nil, fmt.Errorf("%w: unknown mode %v", ErrRounding, l.Rounding)
	}
	if err := checkParam(p); err != nil {
		return nil, err
	}
	out := make([]float32, len(p.Data))
	c := channels(p, l.PerChannel)
	size := len(p.Data) / c
	for g := range c {
		src, dst := p.Data[g*size:(g+1)*size], out[g*size:(g+1)*size]
		if bits == 1 {
			l.binary(dst, src)
		} else {
			l.uniform(dst, src, bits)
		}
	}
	return out, nil
}

// uniform quantizes one group for k ≥ 2.
func (l Linear) uniform(dst, src []float32, bits int) {
	lim := float64(int(1)<<(bits-1) - 1)
	m := maxAbs(src)
	if m == 0 {
		clear(dst)
		return
	}
	s := m / lim
	for i, v := range src {
		x := float64(v) / s
		var j float64
		if l.Rounding == Stochastic {
			j = math.Floor(x)
			if l.Rng.Float64() < x-j {
				j++
			}
		} else {
			j = math.Round(x)
		}
		j = max(-lim, min(lim, j))
		dst[i] = float32(j * s)
	}
}

// binary quantizes one group for k = 1.
func (l Linear) binary(dst, src []float32) {
	sum := 0.0
	for _, v := range src {
		sum += math.Abs(float64(v))
	}
	a := sum / float64(len(src))
	if a == 0 {
		if l.Rounding == Stochastic {
			for range src { // keep the documented one draw per value
				l.Rng.Float64()
			}
		}
		clear(dst)
		return
	}
	alpha := float32(a)
	for i, v := range src {
		up := v >= 0
		if l.Rounding == Stochastic {
			pUp := max(0, min(1, (float64(v)/a+1)/2))
			up = l.Rng.Float64() < pUp
		}
		if up {
			dst[i] = alpha
		} else {
			dst[i] = -alpha
		}
	}
}
