package quant

import (
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Asymmetric is affine (min/max) k-bit quantization with 2^k levels and a
// zero point, with the range nudged so that zero is exactly representable
// (as in integer-only inference schemes, e.g. TensorFlow Lite).
//
// For each group of values sharing a scale, with N = 2^k − 1,
// lo = min(min w, 0) and hi = max(max w, 0):
//
//	s = (hi − lo) / N
//	z = round(−lo / s)                      (the zero point, an integer in 0..N)
//	Q(w) = s·(clamp(round(w/s) + z, 0, N) − z)
//
// The grid is s·{−z, …, N − z}: 2^k levels, one of them exactly 0. Because z
// is rounded the grid can end up to s/2 inside [lo, hi], so |Q(w) − w| ≤ s/2
// still holds for every w in the group. round is to nearest with ties away
// from zero (math.Round). A group whose values are all zero quantizes to
// zeros. Scales are computed in float64 and each result is rounded to
// float32 once. The scheme is not sign symmetric: Q(−w) ≠ −Q(w) in general,
// and it is idempotent only up to float32 rounding: the ends of Q(W)'s range
// are rounded to float32, so requantizing recomputes s with a relative
// change of about 2^−24 and a value can move by a float32 ulp or two.
type Asymmetric struct {
	// Bits is the bit width k, 1..16. Zero means DefaultBits (3).
	Bits int
	// PerChannel gives each output channel (axis 0) of a tensor of rank ≥ 2
	// its own scale and zero point, as for Linear. False (the default) uses
	// one per tensor.
	PerChannel bool
}

var _ Quantizer = (*Asymmetric)(nil)

// String describes the quantizer, e.g. "asymmetric 3-bit per-tensor".
func (a Asymmetric) String() string {
	bits := a.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	return fmt.Sprintf("asymmetric %d-bit %s", bits, granularity(a.PerChannel))
}

// Quantize returns the quantized values of p.Data; see the type's documentation.
func (a Asymmetric) Quantize(p *nn.Param) ([]float32, error) {
	bits, err := resolveBits(a.Bits, 1, "asymmetric")
	if err != nil {
		return nil, err
	}
	if err := checkParam(p); err != nil {
		return nil, err
	}
	out := make([]float32, len(p.Data))
	c := channels(p, a.PerChannel)
	size := len(p.Data) / c
	n := float64(int(1)<<bits - 1)
	for g := range c {
		src, dst := p.Data[g*size:(g+1)*size], out[g*size:(g+1)*size]
		lo, hi := 0.0, 0.0
		for _, v := range src {
			lo = min(lo, float64(v))
			hi = max(hi, float64(v))
		}
		if hi == lo { // all zero
			clear(dst)
			continue
		}
		s := (hi - lo) / n
		z := math.Round(-lo / s)
		for i, v := range src {
			j := max(0, min(n, math.Round(float64(v)/s)+z))
			dst[i] = float32((j - z) * s)
		}
	}
	return out, nil
}
