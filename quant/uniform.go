package quant

import (
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Uniform is symmetric uniform k-bit quantization that uses all 2^k codes
// and chooses its scale to minimise the quantization error.
//
// With L = 2^(k−1), the grid of a group of values sharing a scale (the whole
// tensor, or one output channel) is the "midrise" grid
//
//	s·{−(L − ½), …, −½, ½, …, L − ½}
//
// (2^k levels, symmetric, no zero level), Q(w) = s·(clamp(⌊w/s⌋, −L, L−1) + ½),
// and s minimises Σ (Q(w) − w)² over the group. For k = 1 the grid is
// {−s/2, s/2} and the optimal s/2 is mean|w|, as for Linear's k = 1.
//
// The error is a piecewise quadratic in s with many local minima. The scale
// is found by a scan of 256 scales up to 1.02·max|w|/(L − ½), then, from
// each of the 8 best, by alternating the two steps that each lower the
// error (assign every value its nearest level; set s = Σ w·c / Σ c² for the
// assigned codes c, the least-squares scale) until the assignment repeats
// (at most 100 steps). A group of more than 65,536 values is searched on an
// evenly strided subset of that size, and the scale found is refined once
// more on all values. This is a search, not a proof of the global minimum;
// the tests compare it with a fine scan.
//
// A zero weight maps to +s/2 (there is no zero level). A group whose values
// are all zero quantizes to zeros. Scales are computed in float64 and each
// result is rounded to float32 once.
type Uniform struct {
	// Bits is the bit width k, 1..16. Zero means DefaultBits (3).
	Bits int
	// PerChannel gives each output channel (axis 0) of a tensor of rank ≥ 2
	// its own scale, as for Linear. False (the default) uses one per tensor.
	PerChannel bool
}

var _ Quantizer = (*Uniform)(nil)

// String describes the quantizer, e.g. "uniform 3-bit per-tensor min-error".
func (u Uniform) String() string {
	bits := u.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	return fmt.Sprintf("uniform %d-bit %s min-error", bits, granularity(u.PerChannel))
}

// Quantize returns the quantized values of p.Data; see the type's documentation.
func (u Uniform) Quantize(p *nn.Param) ([]float32, error) {
	bits, err := resolveBits(u.Bits, 1, "uniform")
	if err != nil {
		return nil, err
	}
	if err := checkParam(p); err != nil {
		return nil, err
	}
	out := make([]float32, len(p.Data))
	c := channels(p, u.PerChannel)
	size := len(p.Data) / c
	half := float64(int(1) << (bits - 1))
	for g := range c {
		src, dst := p.Data[g*size:(g+1)*size], out[g*size:(g+1)*size]
		m := maxAbs(src)
		if m == 0 {
			clear(dst)
			continue
		}
		s := minErrorScale(src, half, m)
		for i, v := range src {
			dst[i] = float32(s * midriseCode(float64(v)/s, half))
		}
	}
	return out, nil
}

// midriseCode returns the level of x (in units of the step) on the grid
// {−(half − ½), …, half − ½}: clamp(⌊x⌋, −half, half − 1) + ½.
func midriseCode(x, half float64) float64 {
	return max(-half, min(half-1, math.Floor(x))) + 0.5
}

// uniformScan is the number of scales tried before refinement,
// uniformRefine how many of the best are refined, and uniformSample the
// largest number of values the scan and refinement look at.
const uniformScan, uniformRefine, uniformSample = 256, 8, 1 << 16

// minErrorScale returns the scale s of the midrise grid with 2·half levels
// that gives src the smallest squared error found by the search described
// on Uniform; m is max|src| > 0. A group larger than uniformSample is
// searched on every ⌈n/uniformSample⌉-th value, and the best scale found is
// then refined on all of them.
func minErrorScale(src []float32, half, m float64) float64 {
	if stride := (len(src) + uniformSample - 1) / uniformSample; stride > 1 {
		sub := make([]float32, 0, uniformSample)
		for i := 0; i < len(src); i += stride {
			sub = append(sub, src[i])
		}
		s := minErrorScale(sub, half, m)
		if r := lloyd(src, s, half); midriseError(src, r, half) < midriseError(src, s, half) {
			return r
		}
		return s
	}
	top := 1.02 * m / (half - 0.5)
	type cand struct{ s, err float64 }
	best := make([]cand, 0, uniformRefine+1)
	for i := 1; i <= uniformScan; i++ {
		s := top * float64(i) / uniformScan
		c := cand{s, midriseError(src, s, half)}
		j := len(best)
		for j > 0 && best[j-1].err > c.err {
			j--
		}
		if j < uniformRefine {
			best = append(best[:j], append([]cand{c}, best[j:]...)...)
			best = best[:min(len(best), uniformRefine)]
		}
	}
	bestS, bestErr := best[0].s, best[0].err
	for _, c := range best {
		s := lloyd(src, c.s, half)
		if e := midriseError(src, s, half); e < bestErr {
			bestS, bestErr = s, e
		}
	}
	return bestS
}

// lloyd refines the scale s: it alternates assigning codes and the
// least-squares scale Σ w·c / Σ c² until the assignment repeats (at most 100
// steps); neither step raises the error.
func lloyd(src []float32, s, half float64) float64 {
	for range 100 {
		var wc, cc float64
		for _, v := range src {
			code := midriseCode(float64(v)/s, half)
			wc += float64(v) * code
			cc += code * code
		}
		next := wc / cc
		if !(next > 0) || next == s {
			return s
		}
		same := true
		for _, v := range src {
			if midriseCode(float64(v)/next, half) != midriseCode(float64(v)/s, half) {
				same = false
				break
			}
		}
		s = next
		if same {
			return s
		}
	}
	return s
}

// midriseError is Σ (s·code(w/s) − w)² over src.
func midriseError(src []float32, s, half float64) float64 {
	var e float64
	for _, v := range src {
		d := s*midriseCode(float64(v)/s, half) - float64(v)
		e += d * d
	}
	return e
}
