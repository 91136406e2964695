package attack

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestProjectInvariant checks the central projection on random points: the
// result is inside the box and within eps of x exactly (Distance in float64
// on the float32 values, no tolerance), for radii where float32 rounding of
// x ± eps matters (1e-7, 0.1, 1/3) and where it does not (0, 2).
func TestProjectInvariant(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const d = 37
	for _, norm := range []Norm{Linf, L2} {
		for _, eps := range []float32{0, 1e-7, 0.1, 1.0 / 3, 2} {
			for _, b := range []ball{{lo: 0, hi: 1}, {lo: -1, hi: 0.5}} {
				b.norm, b.eps = norm, eps
				for trial := 0; trial < 200; trial++ {
					x := make([]float32, 3*d)
					adv := make([]float32, len(x))
					for i := range x {
						switch rng.IntN(4) {
						case 0:
							x[i] = b.lo
						case 1:
							x[i] = b.hi
						default:
							x[i] = b.lo + (b.hi-b.lo)*rng.Float32()
						}
						adv[i] = x[i] + float32(3*rng.NormFloat64())
						if rng.IntN(50) == 0 {
							adv[i] = float32(math.NaN())
						}
					}
					b.project(adv, x, d)
					for i := 0; i < len(x); i += d {
						if dist := Distance(norm, adv[i:i+d], x[i:i+d]); dist > float64(eps) {
							t.Fatalf("%v eps %v: distance %v", norm, eps, dist)
						}
					}
					for i, v := range adv {
						if !(v >= b.lo && v <= b.hi) {
							t.Fatalf("%v eps %v: value %d = %v outside [%v, %v]", norm, eps, i, v, b.lo, b.hi)
						}
					}
				}
			}
		}
	}
}

// TestProjectLinfIsClamp checks that for Linf the projection is the exact
// clamp: a point already inside is unchanged, and a point outside lands on
// the nearest end of the interval.
func TestProjectLinfIsClamp(t *testing.T) {
	b := ball{norm: Linf, eps: 0.25, lo: 0, hi: 1}
	x := []float32{0.5, 0.5, 0.5, 0.1, 0.9}
	adv := []float32{0.6, 0.9, 0.1, -1, 2}
	// 0.6 is inside; 0.9 and 0.1 clamp to 0.5±0.25 (exact in float32);
	// -1 clamps to the box 0 and 2 to the box 1.
	want := []float32{0.6, 0.75, 0.25, 0, 1}
	b.project(adv, x, 5)
	if !slices.Equal(adv, want) {
		t.Errorf("project = %v, want %v", adv, want)
	}
}

// TestAPGDCheckpoints checks the checkpoints for 100 iterations against the
// sequence p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j − p_{j−1} − 0.03, 0.06)
// of Croce and Hein (2020), worked by hand: 0.22, 0.41, 0.57, 0.70, 0.80,
// 0.87, 0.93, 0.99 (the next, 1.05, is past the end).
func TestAPGDCheckpoints(t *testing.T) {
	want := []int{22, 41, 57, 70, 80, 87, 93, 99}
	if got := apgdCheckpoints(100); !slices.Equal(got, want) {
		t.Errorf("apgdCheckpoints(100) = %v, want %v", got, want)
	}
	// With 10 iterations ⌈p·10⌉ gives 3, 5, 6, 7, 8, 9, 10(0.93→10), 10(0.99):
	// duplicates are dropped and all stay ≤ 10.
	if got, want := apgdCheckpoints(10), []int{3, 5, 6, 7, 8, 9, 10}; !slices.Equal(got, want) {
		t.Errorf("apgdCheckpoints(10) = %v, want %v", got, want)
	}
}

// TestSquareFraction checks the schedule of Andriushchenko et al. (2020): p
// halves after rescaled iterations 10, 50, 200, 500, 1000, 2000, 4000, 6000
// and 8000 of a 10000 budget, and the schedule is rescaled to other budgets.
func TestSquareFraction(t *testing.T) {
	tests := []struct {
		it, n int
		want  float64
	}{
		{1, 10000, 0.8}, {10, 10000, 0.8}, {11, 10000, 0.4}, {50, 10000, 0.4}, {51, 10000, 0.2},
		{201, 10000, 0.1}, {501, 10000, 0.05}, {1001, 10000, 0.025}, {2001, 10000, 0.0125},
		{4001, 10000, 0.00625}, {6001, 10000, 0.003125}, {8001, 10000, 0.8 / 512}, {9999, 10000, 0.8 / 512},
		// Budget 1000: iteration 1 is rescaled to 10, 2 to 20.
		{1, 1000, 0.8}, {2, 1000, 0.4},
	}
	for _, tt := range tests {
		if got := squareFraction(0.8, tt.it, tt.n); got != tt.want {
			t.Errorf("squareFraction(0.8, %d, %d) = %v, want %v", tt.it, tt.n, got, tt.want)
		}
	}
}
