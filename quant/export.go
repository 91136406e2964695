package quant

import (
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Integer is a quantized tensor as integer codes, the form to ship: value i
// is Scales[g]·(Codes[i] + Offset) for the group g that holds it (one group
// per tensor, or one per output channel: len(Scales) groups of equal size,
// row-major). Computed in float64 and rounded to float32 it equals the
// quantizer's Quantize output bit for bit; round the scales to float32 to
// ship them at that precision.
type Integer struct {
	Name  string
	Shape []int
	// Bits is the bit width: every code fits in a signed Bits-bit integer.
	Bits   int
	Codes  []int32
	Scales []float64
	// Offset is 0 for grids with a zero level, ½ for Uniform's midrise grid.
	Offset float64
}

// Values returns the float32 values the codes stand for.
func (t Integer) Values() []float32 {
	out := make([]float32, len(t.Codes))
	if len(t.Scales) == 0 {
		return out
	}
	size := len(t.Codes) / len(t.Scales)
	for i, c := range t.Codes {
		out[i] = float32(t.Scales[i/size] * (float64(c) + t.Offset))
	}
	return out
}

// Exporter is an optional interface of a Quantizer that can give a
// tensor's integer codes and scales (Linear with nearest rounding, Uniform,
// LSQ).
type Exporter interface {
	Export(p *nn.Param) (Integer, error)
}

var (
	_ Exporter = Linear{}
	_ Exporter = Uniform{}
)

// Export implements Exporter for nearest rounding: codes in
// −(2^(k−1)−1)..2^(k−1)−1 with scale max|w|/(2^(k−1)−1) per group; for
// k = 1, codes ±1 with scale mean|w|.
func (l Linear) Export(p *nn.Param) (Integer, error) {
	if l.Rounding != Nearest {
		return Integer{}, fmt.Errorf("%w: Export needs nearest rounding (stochastic codes are a draw, not a function of w)", ErrRounding)
	}
	bits, err := resolveBits(l.Bits, 1, "linear")
	if err != nil {
		return Integer{}, err
	}
	if err := checkParam(p); err != nil {
		return Integer{}, err
	}
	c := channels(p, l.PerChannel)
	size := len(p.Data) / c
	t := Integer{Name: p.Name, Shape: append([]int(nil), p.Shape...), Bits: max(bits, 2), Codes: make([]int32, len(p.Data)), Scales: make([]float64, c)}
	for g := range c {
		src, codes := p.Data[g*size:(g+1)*size], t.Codes[g*size:(g+1)*size]
		if bits == 1 {
			sum := 0.0
			for _, v := range src {
				sum += math.Abs(float64(v))
			}
			t.Scales[g] = sum / float64(len(src))
			for i, v := range src {
				codes[i] = 1
				if v < 0 {
					codes[i] = -1
				}
			}
			continue
		}
		lim := float64(int(1)<<(bits-1) - 1)
		m := maxAbs(src)
		if m == 0 {
			continue
		}
		s := m / lim
		t.Scales[g] = s
		for i, v := range src {
			codes[i] = int32(max(-lim, min(lim, math.Round(float64(v)/s))))
		}
	}
	return t, nil
}

// Export implements Exporter: codes −2^(k−1)..2^(k−1)−1 with Offset ½ and
// each group's min-error scale.
func (u Uniform) Export(p *nn.Param) (Integer, error) {
	bits, err := resolveBits(u.Bits, 1, "uniform")
	if err != nil {
		return Integer{}, err
	}
	if err := checkParam(p); err != nil {
		return Integer{}, err
	}
	c := channels(p, u.PerChannel)
	size := len(p.Data) / c
	half := float64(int(1) << (bits - 1))
	t := Integer{Name: p.Name, Shape: append([]int(nil), p.Shape...), Bits: bits, Codes: make([]int32, len(p.Data)),
		Scales: make([]float64, c), Offset: 0.5}
	for g := range c {
		src, codes := p.Data[g*size:(g+1)*size], t.Codes[g*size:(g+1)*size]
		m := maxAbs(src)
		if m == 0 {
			continue // scale 0: every value is 0, as Quantize gives
		}
		s := minErrorScale(src, half, m)
		t.Scales[g] = s
		for i, v := range src {
			codes[i] = int32(midriseCode(float64(v)/s, half) - 0.5)
		}
	}
	return t, nil
}
