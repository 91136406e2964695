package quant

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/robustq/robustq/nn"
)

// TestLinearHand checks small cases computed by hand from the documented
// definition. All inputs and scales are chosen so that the float64 ratios
// w/s are exact, so ties are real ties.
func TestLinearHand(t *testing.T) {
	tests := []struct {
		name  string
		q     Linear
		shape []int
		in    []float32
		want  []float32
	}{
		{
			// mean|W| = (0.5+1.5+0+2)/4 = 1; sign(0) = +1.
			name: "1 bit", q: Linear{Bits: 1}, shape: []int{4},
			in:   []float32{0.5, -1.5, 0, 2},
			want: []float32{1, -1, 1, 1},
		},
		{
			// L = 1, s = max|W| = 2, grid {−2, 0, 2}: 0.25→0, −0.75→−1,
			// 0.495→0, 1→1, −0.5 (tie)→−1 away from zero.
			name: "2 bits", q: Linear{Bits: 2}, shape: []int{5},
			in:   []float32{0.5, -1.5, 0.99, 2, -1},
			want: []float32{0, -2, 0, 2, -2},
		},
		{
			// L = 3, s = 1.5/3 = 0.5, grid 0.5·{−3..3}: w/s = 3, −0.4→0,
			// 0.5 (tie)→1, −1.48→−1, 1.52→2, −2.52→−3.
			name: "3 bits", q: Linear{Bits: 3}, shape: []int{6},
			in:   []float32{1.5, -0.2, 0.25, -0.74, 0.76, -1.26},
			want: []float32{1.5, 0, 0.5, -0.5, 1, -1.5},
		},
		{
			// Per channel, 2 bits: row 0 has s = 1, row 1 has s = 0.25
			// (0.125 is a tie → 0.25, −0.1/0.25 = −0.4 → 0).
			name: "2 bits per channel", q: Linear{Bits: 2, PerChannel: true}, shape: []int{2, 3},
			in:   []float32{1, -0.4, 0.6, 0.25, 0.125, -0.1},
			want: []float32{1, 0, 1, 0.25, 0.25, 0},
		},
		{
			// The same tensor per tensor: s = 1 for all.
			name: "2 bits per tensor", q: Linear{Bits: 2}, shape: []int{2, 3},
			in:   []float32{1, -0.4, 0.6, 0.25, 0.125, -0.1},
			want: []float32{1, 0, 1, 0, 0, 0},
		},
		{
			// 1 bit per channel: row means 0.5 and 2.
			name: "1 bit per channel", q: Linear{Bits: 1, PerChannel: true}, shape: []int{2, 2},
			in:   []float32{-0.25, 0.75, 3, -1},
			want: []float32{-0.5, 0.5, 2, -2},
		},
		{
			// Rank-1 tensors use one scale even when PerChannel is set.
			name: "bias per channel is per tensor", q: Linear{Bits: 2, PerChannel: true}, shape: []int{3},
			in:   []float32{4, 1, -3},
			want: []float32{4, 0, -4},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustQuantize(t, tt.q, newParam("l.weight", nn.DenseWeight, tt.shape, tt.in))
			// The expected values are exact dyadic numbers: no tolerance.
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// linearScale recomputes, independently of the implementation, the
// documented scale of a group for k ≥ 2: s = max|w| / (2^(k−1) − 1).
func linearScale(grp []float32, bits int) float64 {
	m := 0.0
	for _, v := range grp {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m / float64(int(1)<<(bits-1)-1)
}

// TestLinearGrid checks, on random tensors for k = 2..16, per tensor and
// per channel, that each value is float32(j·s) for an integer |j| ≤ L, that
// nearest rounding is within s/2, and that j is the nearest integer.
func TestLinearGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	p := randParam(rng, 5, 2, 3, 3)
	for _, pc := range []bool{false, true} {
		for _, bits := range []int{2, 3, 4, 5, 8, 12, 16} {
			q := Linear{Bits: bits, PerChannel: pc}
			got := mustQuantize(t, q, p)
			c := channels(p, pc)
			lim := float64(int(1)<<(bits-1) - 1)
			for g, grp := range groupsOf(got, c) {
				in := groupsOf(p.Data, c)[g]
				s := linearScale(in, bits)
				for i, v := range grp {
					j := math.Round(float64(v) / s)
					if math.Abs(j) > lim || v != float32(j*s) {
						t.Fatalf("%v group %d value %d: %v is not float32(j·s) with |j| ≤ %v, s = %v", q, g, i, v, lim, s)
					}
					// s/2 from rounding to nearest, plus the final float32
					// rounding of at most half an ulp of |v| ≤ 2^−24·|v|.
					if e := math.Abs(float64(v) - float64(in[i])); e > s/2+math.Ldexp(math.Abs(float64(v)), -24) {
						t.Fatalf("%v: |Q(w) − w| = %v > s/2 = %v", q, e, s/2)
					}
					if want := math.Max(-lim, math.Min(lim, math.Round(float64(in[i])/s))); j != want {
						t.Fatalf("%v: w = %v went to level %v, nearest is %v", q, in[i], j, want)
					}
				}
			}
		}
	}
}

// TestLinearBinaryGrid checks k = 1 on random tensors: every value is
// ±mean|w| of its group with the sign of w.
func TestLinearBinaryGrid(t *testing.T) {
	p := randParam(rand.New(rand.NewPCG(5, 5)), 7, 30)
	for _, pc := range []bool{false, true} {
		q := Linear{Bits: 1, PerChannel: pc}
		got := mustQuantize(t, q, p)
		c := channels(p, pc)
		for g, grp := range groupsOf(got, c) {
			in := groupsOf(p.Data, c)[g]
			sum := 0.0
			for _, v := range in {
				sum += math.Abs(float64(v))
			}
			alpha := float32(sum / float64(len(in)))
			for i, v := range grp {
				want := alpha
				if in[i] < 0 {
					want = -alpha
				}
				if v != want {
					t.Fatalf("%v group %d value %d: got %v, want %v", q, g, i, v, want)
				}
			}
		}
	}
}

// TestSignSymmetry checks Q(−W) = −Q(W) for the symmetric schemes with
// nearest rounding (for Linear k = 1 only away from exact zeros, which
// map to +mean|W|; random normal data has none).
func TestSignSymmetry(t *testing.T) {
	p := randParam(rand.New(rand.NewPCG(6, 6)), 4, 25)
	for _, q := range nearestQuantizers() {
		if _, ok := q.(Asymmetric); ok {
			continue
		}
		got := mustQuantize(t, q, p)
		neg := mustQuantize(t, q, withData(p, negate(p.Data)))
		for i := range got {
			if neg[i] != -got[i] {
				t.Fatalf("%v: Q(−w) = %v, −Q(w) = %v at %d", q, neg[i], -got[i], i)
			}
		}
	}
}

// TestPerChannelIndependent checks that, per channel, each output channel
// is quantized exactly as the tensor made of that channel alone, so that
// rescaling one channel leaves the others unchanged.
func TestPerChannelIndependent(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := randParam(rng, 3, 2, 2, 2)
	for _, q := range nearestQuantizers() {
		if !strings.Contains(q.String(), "per-channel") {
			continue
		}
		got := mustQuantize(t, q, p)
		for g, in := range groupsOf(p.Data, 3) {
			alone := mustQuantize(t, q, newParam("c.weight", nn.ConvWeight, []int{1, 2, 2, 2}, in))
			if !bitsEqual(alone, groupsOf(got, 3)[g]) {
				t.Fatalf("%v: channel %d differs from the channel quantized alone", q, g)
			}
		}
		scaled := append([]float32(nil), p.Data...)
		for i := 8; i < 16; i++ {
			scaled[i] *= 1000
		}
		got2 := mustQuantize(t, q, withData(p, scaled))
		if !bitsEqual(got[:8], got2[:8]) || !bitsEqual(got[16:], got2[16:]) {
			t.Fatalf("%v: scaling channel 1 changed another channel", q)
		}
	}
}

// TestLinear16Bits checks that 16 bits is nearly lossless: the error is at
// most s/2 = max|W|/(2·32767) plus float32 rounding.
func TestLinear16Bits(t *testing.T) {
	p := randParam(rand.New(rand.NewPCG(8, 8)), 1, 1000)
	got := mustQuantize(t, Linear{Bits: 16}, p)
	m := maxAbs(p.Data)
	tol := m/(2*32767) + math.Ldexp(m, -24) // s/2 plus half an ulp at max|W|
	opts := cmpopts.EquateApprox(0, tol)
	if !cmp.Equal(p.Data, got, opts) {
		t.Errorf("16-bit quantization error exceeds %v", tol)
	}
}

// TestLinearStochasticUnbiased checks E[Q(w)] = w for k ≥ 2: over n draws
// the mean must be within 5 standard errors of w. Q(w) takes the two
// values a = s·floor(w/s) and a + s, with P(a+s) = p = w/s − floor(w/s), so
// the standard error of the mean is s·sqrt(p(1−p)/n). Each draw must be
// one of the two neighbours.
func TestLinearStochasticUnbiased(t *testing.T) {
	const n = 20000
	in := []float32{0.9, -0.61, 0.05, 0.333, -0.999, 1, 0, -0.42}
	for _, bits := range []int{2, 3, 4} {
		q := Linear{Bits: bits, Rounding: Stochastic, Rng: rand.New(rand.NewPCG(9, uint64(bits)))}
		p := newParam("s.weight", nn.DenseWeight, []int{len(in)}, in)
		s := linearScale(in, bits)
		sum := make([]float64, len(in))
		for range n {
			got := mustQuantize(t, q, p)
			for i, v := range got {
				lo := math.Floor(float64(in[i]) / s)
				if v != float32(lo*s) && v != float32((lo+1)*s) {
					t.Fatalf("bits %d: %v went to %v, not a neighbour level", bits, in[i], v)
				}
				sum[i] += float64(v)
			}
		}
		for i, w := range in {
			x := float64(w) / s
			pr := x - math.Floor(x)
			se := s * math.Sqrt(pr*(1-pr)/n)
			// 5 standard errors, plus 1e-6 for float32 levels and summation.
			if d := math.Abs(sum[i]/n - float64(w)); d > 5*se+1e-6 {
				t.Errorf("bits %d: mean of Q(%v) = %v, off by %v > 5·SE = %v", bits, w, sum[i]/n, d, 5*se)
			}
		}
	}
}

// TestLinearStochasticBinary checks 1-bit stochastic rounding: mean over n
// draws is w for |w| ≤ α = mean|W| and sign(w)·α beyond (within 5
// standard errors, α·sqrt(1−(w/α)²)/sqrt(n) for a ±α variable with mean w).
func TestLinearStochasticBinary(t *testing.T) {
	const n = 20000
	in := []float32{1.6, -0.2, 0.3, -0.5, 0, -1.2, 0.5, 0.4} // mean|W| = 0.5875
	alpha := 0.0
	for _, v := range in {
		alpha += math.Abs(float64(v))
	}
	alpha /= float64(len(in))
	q := Linear{Bits: 1, Rounding: Stochastic, Rng: rand.New(rand.NewPCG(10, 10))}
	p := newParam("b.weight", nn.DenseWeight, []int{len(in)}, in)
	sum := make([]float64, len(in))
	for range n {
		for i, v := range mustQuantize(t, q, p) {
			if v != float32(alpha) && v != -float32(alpha) {
				t.Fatalf("value %v is not ±%v", v, alpha)
			}
			sum[i] += float64(v)
		}
	}
	for i, w := range in {
		want := math.Max(-alpha, math.Min(alpha, float64(w)))
		r := want / alpha
		se := alpha * math.Sqrt((1-r*r)/n)
		if d := math.Abs(sum[i]/n - want); d > 5*se+1e-6 { // 1e-6: float32 α and summation
			t.Errorf("mean of Q(%v) = %v, want %v (off by %v > 5·SE = %v)", w, sum[i]/n, want, d, 5*se)
		}
	}
}

// TestLinearStochasticSeed checks that stochastic rounding is reproducible
// from a seed, differs between seeds, and draws exactly one Float64 per value.
func TestLinearStochasticSeed(t *testing.T) {
	p := randParam(rand.New(rand.NewPCG(11, 11)), 4, 64)
	run := func(seed uint64) ([]float32, *rand.Rand) {
		rng := rand.New(rand.NewPCG(seed, 0))
		return mustQuantize(t, Linear{Bits: 3, PerChannel: true, Rounding: Stochastic, Rng: rng}, p), rng
	}
	a, rngA := run(1)
	b, _ := run(1)
	c, _ := run(2)
	if !bitsEqual(a, b) {
		t.Error("same seed gave different results")
	}
	// 256 values each rounded up or down at random: two seeds agree on all
	// of them with negligible probability (each agreement has chance < 1).
	if bitsEqual(a, c) {
		t.Error("different seeds gave identical results")
	}
	ref := rand.New(rand.NewPCG(1, 0))
	for range len(p.Data) {
		ref.Float64()
	}
	if rngA.Float64() != ref.Float64() {
		t.Error("Quantize did not draw exactly one Float64 per value")
	}
}
