package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/robustq/robustq/nn"
)

// newParam returns a param with the given kind, shape and values.
func newParam(name string, kind nn.Kind, shape []int, data []float32) *nn.Param {
	layer := name
	for i := range name {
		if name[i] == '.' {
			layer = name[:i]
			break
		}
	}
	return &nn.Param{Name: name, Layer: layer, Kind: kind, Shape: shape, Data: data}
}

// randParam returns a dense-weight param of the given shape with N(0, 1)
// values, each channel (row along axis 0) multiplied by its own scale
// 10^u, u uniform in [−2, 1], so that per-channel scales differ a lot.
func randParam(rng *rand.Rand, shape ...int) *nn.Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	data := make([]float32, n)
	rows := shape[0]
	size := n / rows
	for r := range rows {
		scale := math.Pow(10, -2+3*rng.Float64())
		for i := range size {
			data[r*size+i] = float32(rng.NormFloat64() * scale)
		}
	}
	kind := nn.DenseWeight
	if len(shape) == 4 {
		kind = nn.ConvWeight
	}
	return newParam("w.weight", kind, shape, data)
}

// groupsOf splits xs into c equal contiguous groups.
func groupsOf(xs []float32, c int) [][]float32 {
	size := len(xs) / c
	out := make([][]float32, c)
	for g := range c {
		out[g] = xs[g*size : (g+1)*size]
	}
	return out
}

// distinct returns the number of distinct values in xs (+0 and −0 count as one).
func distinct(xs []float32) int {
	set := make(map[float32]bool)
	for _, v := range xs {
		set[v+0] = true // v+0 turns −0 into +0
	}
	return len(set)
}

// bitsEqual reports whether a and b are equal bit for bit.
func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// mustQuantize calls q.Quantize and fails the test on error.
func mustQuantize(t *testing.T, q Quantizer, p *nn.Param) []float32 {
	t.Helper()
	v, err := q.Quantize(p)
	if err != nil {
		t.Fatalf("%v: Quantize(%q): %v", q, p.Name, err)
	}
	return v
}

// withData returns a copy of p holding data.
func withData(p *nn.Param, data []float32) *nn.Param {
	c := p.Clone()
	c.Data = append([]float32(nil), data...)
	return c
}

// negate returns −xs.
func negate(xs []float32) []float32 {
	out := make([]float32, len(xs))
	for i, v := range xs {
		out[i] = -v
	}
	return out
}

// nearestQuantizers lists every deterministic quantizer configuration that
// the shared property tests run over.
func nearestQuantizers() []Quantizer {
	var qs []Quantizer
	for _, pc := range []bool{false, true} {
		for bits := 1; bits <= 8; bits++ {
			qs = append(qs, Linear{Bits: bits, PerChannel: pc}, Asymmetric{Bits: bits, PerChannel: pc})
			if bits >= 2 {
				qs = append(qs, PowerOfTwo{Bits: bits, PerChannel: pc})
			}
		}
		qs = append(qs, Linear{Bits: 16, PerChannel: pc}, Asymmetric{Bits: 16, PerChannel: pc}, PowerOfTwo{Bits: 16, PerChannel: pc})
	}
	return qs
}
