package quant

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/robustq/robustq/nn"
)

// TestPowerOfTwoHand checks small cases computed by hand. k = 3: J = 2,
// grid {0, ±s/4, ±s/2, ±s} with s = max|W| = 1. Thresholds (linear
// midpoints): 0.125 between 0 and 1/4, 0.375 between 1/4 and 1/2, 0.75
// between 1/2 and 1; ties go away from zero.
func TestPowerOfTwoHand(t *testing.T) {
	tests := []struct {
		name  string
		q     PowerOfTwo
		shape []int
		in    []float32
		want  []float32
	}{
		{
			name: "3 bits", q: PowerOfTwo{Bits: 3}, shape: []int{9},
			in:   []float32{1, 0.7, 0.8, -0.3, 0.12, 0.13, -0.375, 0.125, -0.75},
			want: []float32{1, 0.5, 1, -0.25, 0, 0.25, -0.5, 0.25, -1},
		},
		{
			// k = 2: grid {−s, 0, s}, threshold s/2; s = 4.
			name: "2 bits", q: PowerOfTwo{Bits: 2}, shape: []int{4},
			in:   []float32{-4, 1.9, 2, -2.1},
			want: []float32{-4, 0, 4, -4},
		},
		{
			// k = 4: J = 6, smallest level s/64 = 3/64; s = 3.
			// 0.02 < 3/128 → 0; 0.024 ≥ 3/128 = 0.0234375 → 3/64;
			// 0.2: a = 0.0667 in [1/16, 1/8), f = 0.533 < 0.75 → 3/16.
			name: "4 bits", q: PowerOfTwo{Bits: 4}, shape: []int{4},
			in:   []float32{3, 0.02, -0.024, 0.2},
			want: []float32{3, 0, float32(-3.0 / 64), float32(3.0 / 16)},
		},
		{
			// Per channel: rows with s = 1 and s = 8.
			name: "3 bits per channel", q: PowerOfTwo{Bits: 3, PerChannel: true}, shape: []int{2, 3},
			in:   []float32{1, 0.3, -0.6, 8, -3, 1.5},
			want: []float32{1, 0.25, -0.5, 8, -4, 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustQuantize(t, tt.q, newParam("p.weight", nn.DenseWeight, tt.shape, tt.in))
			// Expected values are s·2^(−j) rounded to float32 once, as documented: no tolerance.
			if d := cmp.Diff(tt.want, got); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// TestPowerOfTwoGrid checks on random tensors that every value is 0 or
// ±s·2^(−j) with 0 ≤ j ≤ J, and the documented error bounds: |Q(w) − w| ≤
// |w|/3 above the smallest level and ≤ half the smallest level below it.
func TestPowerOfTwoGrid(t *testing.T) {
	p := randParam(rand.New(rand.NewPCG(13, 13)), 3, 80)
	for _, pc := range []bool{false, true} {
		for _, bits := range []int{2, 3, 4, 6, 16} {
			q := PowerOfTwo{Bits: bits, PerChannel: pc}
			got := mustQuantize(t, q, p)
			c := channels(p, pc)
			jmax := int(1)<<(bits-1) - 2
			for g, grp := range groupsOf(got, c) {
				in := groupsOf(p.Data, c)[g]
				s := maxAbs(in)
				smallest := math.Ldexp(s, -jmax)
				for i, v := range grp {
					w := float64(in[i])
					if v != 0 {
						f, e := math.Frexp(math.Abs(float64(v)) / s)
						j := 1 - e
						// |v|/s must be 2^(−j) up to the float32 rounding of v.
						if math.Abs(f-0.5) > 1e-6 || j < 0 || j > jmax || math.Signbit(float64(v)) != math.Signbit(w) {
							t.Fatalf("%v: %v is not ±s·2^(−j), s = %v", q, v, s)
						}
					}
					e := math.Abs(float64(v) - w)
					// 1e-6 relative slack for the float32 rounding of v.
					if math.Abs(w) >= smallest && e > math.Abs(w)/3*(1+1e-6) {
						t.Fatalf("%v: |Q(w) − w| = %v > |w|/3 for w = %v", q, e, w)
					}
					if math.Abs(w) < smallest && e > smallest/2*(1+1e-6) {
						t.Fatalf("%v: |Q(w) − w| = %v > smallest/2 for w = %v", q, e, w)
					}
				}
			}
		}
	}
}
