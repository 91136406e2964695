package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/robustq/robustq/nn"
)

// TestAsymmetricHand checks small cases computed by hand from the
// documented definition (N = 2^k − 1, s = (hi−lo)/N, z = round(−lo/s)).
func TestAsymmetricHand(t *testing.T) {
	// Nudged case: k = 2, lo = −0.4, hi = 1, s = 1.4/3, −lo/s = 6/7 → z = 1;
	// grid s·{−1, 0, 1, 2}; 1/s = 2.14 → 2, −0.4/s = −0.86 → −1, 0.3/s = 0.64 → 1.
	s := (float64(float32(1)) - float64(float32(-0.4))) / 3
	tests := []struct {
		name  string
		q     Asymmetric
		shape []int
		in    []float32
		want  []float32
		tol   float64
	}{
		{
			// k = 2: lo = −1, hi = 2, s = 1, z = 1, grid {−1, 0, 1, 2};
			// −0.25 → 0, 0.5 is a tie → 1 (away from zero). Exact.
			name: "2 bits exact", q: Asymmetric{Bits: 2}, shape: []int{4},
			in: []float32{-1, -0.25, 0.5, 2}, want: []float32{-1, 0, 1, 2},
		},
		{
			name: "2 bits nudged", q: Asymmetric{Bits: 2}, shape: []int{3},
			in:   []float32{-0.4, 1, 0.3},
			want: []float32{float32(-s), float32(2 * s), float32(s)},
			tol:  1e-7, // the want values are float32(j·s), as documented
		},
		{
			// k = 1, all positive: lo = 0, hi = 3, s = 3, z = 0, grid {0, 3}.
			name: "1 bit positive", q: Asymmetric{Bits: 1}, shape: []int{3},
			in: []float32{3, 1, 1.5}, want: []float32{3, 0, 3},
		},
		{
			// k = 3, all negative: lo = −7, hi = 0, s = 1, z = 7, grid {−7..0}.
			name: "3 bits negative", q: Asymmetric{Bits: 3}, shape: []int{4},
			in: []float32{-7, -2.4, -0.6, -3.5}, want: []float32{-7, -2, -1, -4},
		},
		{
			// Per channel, k = 2: row 0 as "2 bits exact"; row 1 lo = 0,
			// hi = 3, s = 1, z = 0.
			name: "2 bits per channel", q: Asymmetric{Bits: 2, PerChannel: true}, shape: []int{2, 4},
			in:   []float32{-1, -0.25, 0.5, 2, 3, 1.2, 0, 2.6},
			want: []float32{-1, 0, 1, 2, 3, 1, 0, 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustQuantize(t, tt.q, newParam("a.weight", nn.DenseWeight, tt.shape, tt.in))
			if d := cmp.Diff(tt.want, got, cmpopts.EquateApprox(0, tt.tol)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestAsymmetricGrid checks on random tensors that each value is
// float32((j − z)·s) with j in 0..N, that zero is on the grid (a zero
// weight stays exactly zero) and that |Q(w) − w| ≤ s/2.
func TestAsymmetricGrid(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 12))
	p := randParam(rng, 4, 50)
	p.Data[7] = 0
	for _, pc := range []bool{false, true} {
		for _, bits := range []int{1, 2, 3, 4, 8, 16} {
			q := Asymmetric{Bits: bits, PerChannel: pc}
			got := mustQuantize(t, q, p)
			if got[7] != 0 {
				t.Fatalf("%v: zero weight became %v", q, got[7])
			}
			c := channels(p, pc)
			n := float64(int(1)<<bits - 1)
			for g, grp := range groupsOf(got, c) {
				in := groupsOf(p.Data, c)[g]
				lo, hi := 0.0, 0.0
				for _, v := range in {
					lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
				}
				s := (hi - lo) / n
				z := math.Round(-lo / s)
				for i, v := range grp {
					j := math.Round(float64(v)/s) + z
					if j < 0 || j > n || v != float32((j-z)*s) {
						t.Fatalf("%v group %d value %d: %v is not on the grid (s = %v, z = %v)", q, g, i, v, s, z)
					}
					// s/2 from rounding, plus half a float32 ulp of |v|.
					if e := math.Abs(float64(v) - float64(in[i])); e > s/2+math.Ldexp(math.Abs(float64(v)), -24) {
						t.Fatalf("%v: |Q(w) − w| = %v > s/2 = %v for w = %v", q, e, s/2, in[i])
					}
				}
			}
		}
	}
}
