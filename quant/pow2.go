package quant

import (
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// PowerOfTwo is logarithmic k-bit quantization: the levels are zero and
// signed powers of two times a scale. With J = 2^(k−1) − 2 and, for each
// group of values sharing a scale, s = max|w|, the grid is
//
//	{0} ∪ {±s·2^(−j) : j = 0, …, J}
//
// (2^k − 1 levels: a sign bit and 2^(k−1) magnitude codes, one of which is
// zero; k = 2 gives {−s, 0, s}). Q(w) is the level nearest to w in linear
// distance: between adjacent magnitudes s·2^(−j−1) and s·2^(−j) the threshold
// is 0.75·s·2^(−j), between 0 and the smallest level s·2^(−J) it is
// s·2^(−J)/2, and ties go to the level farther from zero. Hence
// |Q(w) − w| ≤ |w|/3 whenever |w| ≥ s·2^(−J), and ≤ s·2^(−J−1) below.
//
// Bits must be at least 2: one bit has no room for a sign and a zero (use
// Linear with Bits 1 for binarization). A group whose values are all zero
// quantizes to zeros. Results are computed in float64 and rounded to float32
// once; levels below float32's range become zero.
type PowerOfTwo struct {
	// Bits is the bit width k, 2..16. Zero means DefaultBits (3).
	Bits int
	// PerChannel gives each output channel (axis 0) of a tensor of rank ≥ 2
	// its own scale, as for Linear. False (the default) uses one per tensor.
	PerChannel bool
}

var _ Quantizer = (*PowerOfTwo)(nil)

// String describes the quantizer, e.g. "power-of-two 3-bit per-tensor".
func (q PowerOfTwo) String() string {
	bits := q.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	return fmt.Sprintf("power-of-two %d-bit %s", bits, granularity(q.PerChannel))
}

// Quantize returns the quantized values of p.Data; see the type's documentation.
func (q PowerOfTwo) Quantize(p *nn.Param) ([]float32, error) {
	bits, err := resolveBits(q.Bits, 2, "power-of-two")
	if err != nil {
		return nil, err
	}
	if err := checkParam(p); err != nil {
		return nil, err
	}
	out := make([]float32, len(p.Data))
	c := channels(p, q.PerChannel)
	size := len(p.Data) / c
	jmax := int(1)<<(bits-1) - 2
	smallest := math.Ldexp(1, -jmax) // relative to s
	for g := range c {
		src, dst := p.Data[g*size:(g+1)*size], out[g*size:(g+1)*size]
		s := maxAbs(src)
		if s == 0 {
			clear(dst)
			continue
		}
		for i, v := range src {
			a := math.Abs(float64(v)) / s // in [0, 1]
			var m float64                 // quantized magnitude relative to s
			switch {
			case a == 0:
			case a < smallest:
				if a >= smallest/2 {
					m = smallest
				}
			default:
				// a = f·2^e with f in [0.5, 1): a lies in [2^(e−1), 2^e).
				f, e := math.Frexp(a)
				if f >= 0.75 {
					m = math.Ldexp(1, e)
				} else {
					m = math.Ldexp(1, e-1)
				}
			}
			m = min(m, 1) // guards a that exceeds 1 by rounding
			if v < 0 {
				m = -m
			}
			dst[i] = float32(m * s)
		}
	}
	return out, nil
}
