package quant

import (
	"errors"
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Errors returned by the package. Callers match them with errors.Is. A
// NaN or Inf weight is reported with nn.ErrNonFinite and a Data length that
// does not match Shape with nn.ErrShape, both wrapped with the parameter's name.
var (
	// ErrBits reports a bit width outside the range a quantizer supports
	// (1..16 for Linear and Asymmetric, 2..16 for PowerOfTwo).
	ErrBits = errors.New("quant: bit width out of range")
	// ErrEmpty reports a parameter with no values or a zero-sized dimension.
	ErrEmpty = errors.New("quant: empty parameter")
	// ErrNil reports a nil parameter, quantizer or network.
	ErrNil = errors.New("quant: nil argument")
	// ErrRounding reports an unknown Rounding mode, or Stochastic rounding
	// without a random source.
	ErrRounding = errors.New("quant: bad rounding")
	// ErrSelect reports a selector that cannot be satisfied: an unknown
	// layer name, a layer count out of range, or an empty selection.
	ErrSelect = errors.New("quant: bad selection")
	// ErrState reports STE methods called out of order.
	ErrState = errors.New("quant: STE called out of order")
)

// DefaultBits is the bit width used when a quantizer's Bits field is zero:
// the paper's main setting.
const DefaultBits = 3

// MaxBits is the largest supported bit width.
const MaxBits = 16

// Quantizer maps one weight tensor to its quantized values.
type Quantizer interface {
	// Quantize returns the quantized values of p.Data: a new slice of the
	// same length and layout, every value on the quantizer's grid. p is not
	// modified. It returns an error for a nil or empty p, a Data length
	// that does not match p.Shape, a NaN or Inf value, or an invalid
	// configuration of the quantizer. A quantizer that uses randomness
	// (stochastic rounding) is not safe for concurrent use.
	Quantize(p *nn.Param) ([]float32, error)
	// String describes the scheme for reports, e.g. "linear 3-bit per-tensor nearest".
	String() string
}

// Rounding says how a value between two grid levels is mapped to one of them.
type Rounding int

const (
	// Nearest rounds to the nearest level; a value exactly halfway between
	// two levels goes to the one farther from zero (math.Round). It is the
	// zero value and the default.
	Nearest Rounding = iota
	// Stochastic rounds a value x between adjacent levels a < x < b up to b
	// with probability (x−a)/(b−a) and down to a otherwise, so that
	// E[Q(x)] = x (unbiased). It needs a random source.
	Stochastic
)

// String returns "nearest" or "stochastic".
func (r Rounding) String() string {
	switch r {
	case Nearest:
		return "nearest"
	case Stochastic:
		return "stochastic"
	}
	return fmt.Sprintf("Rounding(%d)", int(r))
}

// resolveBits applies the default and checks the range lo..MaxBits.
func resolveBits(bits, lo int, scheme string) (int, error) {
	if bits == 0 {
		bits = DefaultBits
	}
	if bits < lo || bits > MaxBits {
		return 0, fmt.Errorf("%w: %s quantizer has Bits = %d, want %d..%d (0 means %d)",
			ErrBits, scheme, bits, lo, MaxBits, DefaultBits)
	}
	return bits, nil
}

// checkParam validates p: not nil, consistent non-empty shape, finite values.
func checkParam(p *nn.Param) error {
	if p == nil {
		return fmt.Errorf("%w: parameter is nil", ErrNil)
	}
	for _, d := range p.Shape {
		if d < 0 {
			return fmt.Errorf("quant: parameter %q: shape %v has a negative dimension: %w", p.Name, p.Shape, nn.ErrShape)
		}
		if d == 0 {
			return fmt.Errorf("%w: parameter %q has shape %v", ErrEmpty, p.Name, p.Shape)
		}
	}
	if len(p.Data) == 0 {
		return fmt.Errorf("%w: parameter %q has no values", ErrEmpty, p.Name)
	}
	if n := p.Len(); n != len(p.Data) {
		return fmt.Errorf("quant: parameter %q has %d values for shape %v (%d): %w",
			p.Name, len(p.Data), p.Shape, n, nn.ErrShape)
	}
	for i, v := range p.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("quant: parameter %q value %d is %v: %w", p.Name, i, v, nn.ErrNonFinite)
		}
	}
	return nil
}

// channels returns the number of groups that share one scale: Shape[0]
// when perChannel is set and the tensor has rank ≥ 2, else 1. Groups are
// contiguous runs of len(p.Data)/channels values (row-major, axis 0 first).
func channels(p *nn.Param, perChannel bool) int {
	if perChannel && len(p.Shape) >= 2 {
		return p.Shape[0]
	}
	return 1
}

// granularity names the scale granularity for String methods.
func granularity(perChannel bool) string {
	if perChannel {
		return "per-channel"
	}
	return "per-tensor"
}

// maxAbs returns max |x| over xs in float64.
func maxAbs(xs []float32) float64 {
	m := 0.0
	for _, v := range xs {
		m = max(m, math.Abs(float64(v)))
	}
	return m
}
