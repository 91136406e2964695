package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/robustq/robustq/nn"
)

// scanError is the least squared error of the midrise grid over n scales
// evenly spaced up to 1.02 times the max|w| grid's scale top.
func scanError(data []float32, half, top float64, n int) float64 {
	best := math.Inf(1)
	for i := 1; i <= n; i++ {
		best = min(best, midriseError(data, top*1.02*float64(i)/float64(n), half))
	}
	return best
}

// uniformError is Σ (Q(w) − w)² in float64.
func uniformError(src, q []float32) float64 {
	var e float64
	for i, v := range src {
		d := float64(q[i]) - float64(v)
		e += d * d
	}
	return e
}

// A hand example: 2 bits, values {−1, −0.5, 0.2, 1}. On the grid
// s·{−1.5, −0.5, 0.5, 1.5} the least error puts −1 and 1 on ∓1.5s, −0.5 on
// −0.5s and 0.2 on 0.5s: s = Σ w·c / Σ c² = (1.5 + 0.25 + 0.1 + 1.5)/5 = 0.67.
func TestUniformHand(t *testing.T) {
	p := newParam("w.weight", nn.DenseWeight, []int{2, 2}, []float32{-1, -0.5, 0.2, 1})
	got, err := Uniform{Bits: 2}.Quantize(p)
	if err != nil {
		t.Fatal(err)
	}
	const s = 0.67
	want := []float32{float32(-1.5 * s), float32(-0.5 * s), float32(0.5 * s), float32(1.5 * s)}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Q(%v) = %v, want %v", p.Data[i], got[i], want[i])
		}
	}
}

// The error is no larger than the best of a fine scan of scales (2,000
// scales up to the max|w| grid, 2 % beyond), for groups with at least a few
// values per level (with fewer the error has thousands of local minima and
// the search can miss the best by a fraction of a percent), the grid has at most 2^k
// levels of the form s·(j + ½), and the result is sign symmetric.
func TestUniformMinimisesError(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, bits := range []int{1, 2, 3, 4, 6} {
		for trial := range 5 {
			p := randParam(rng, 1, (64+trial*50)<<max(0, bits-3))
			got, err := Uniform{Bits: bits}.Quantize(p)
			if err != nil {
				t.Fatal(err)
			}
			half := float64(int(1) << (bits - 1))
			scan := scanError(p.Data, half, maxAbs(p.Data)/(half-0.5), 2000)
			e := uniformError(p.Data, got)
			// float32 rounding of the outputs adds up to ~1e-7 relative per value.
			if e > scan*(1+1e-5) {
				t.Errorf("%d bits trial %d: error %.6g above the scan's %.6g", bits, trial, e, scan)
			}
			if n := distinct(got); n > 1<<bits {
				t.Errorf("%d bits: %d distinct values", bits, n)
			}
			neg := newParam("w.weight", nn.DenseWeight, p.Shape, make([]float32, len(p.Data)))
			for i, v := range p.Data {
				neg.Data[i] = -v
			}
			gn, _ := Uniform{Bits: bits}.Quantize(neg)
			for i := range got {
				if p.Data[i] != 0 && gn[i] != -got[i] {
					t.Fatalf("%d bits: Q(−w) = %v, −Q(w) = %v", bits, gn[i], -got[i])
				}
			}
		}
	}
}

// For k = 1 the optimal level is mean|w| (the least-squares fit of ±α).
func TestUniformBinaryMeanAbs(t *testing.T) {
	p := newParam("w.weight", nn.DenseWeight, []int{1, 5}, []float32{0.3, -1.2, 0.05, 2, -0.4})
	got, err := Uniform{Bits: 1}.Quantize(p)
	if err != nil {
		t.Fatal(err)
	}
	mean := (0.3 + 1.2 + 0.05 + 2 + 0.4) / 5.0
	for i, v := range p.Data {
		want := float32(math.Copysign(mean, float64(v)))
		if math.Abs(float64(got[i]-want)) > 1e-7 {
			t.Errorf("Q(%v) = %v, want %v", v, got[i], want)
		}
	}
}

// Per channel, each output channel gets its own scale: quantizing a
// channel alone gives the same values.
func TestUniformPerChannel(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	p := randParam(rng, 4, 30)
	got, err := Uniform{Bits: 3, PerChannel: true}.Quantize(p)
	if err != nil {
		t.Fatal(err)
	}
	for c, g := range groupsOf(p.Data, 4) {
		one, _ := Uniform{Bits: 3}.Quantize(newParam("w.weight", nn.DenseWeight, []int{1, 30}, g))
		for i := range one {
			if got[c*30+i] != one[i] {
				t.Fatalf("channel %d value %d: %v, alone %v", c, i, got[c*30+i], one[i])
			}
		}
	}
	// 3 bits per tensor never beats 3 bits per channel.
	pt, _ := Uniform{Bits: 3}.Quantize(p)
	if uniformError(p.Data, got) > uniformError(p.Data, pt) {
		t.Error("per-channel error above per-tensor")
	}
}

func TestUniformErrors(t *testing.T) {
	good := newParam("w.weight", nn.DenseWeight, []int{1, 2}, []float32{1, 2})
	if _, err := (Uniform{Bits: 17}).Quantize(good); !errors.Is(err, ErrBits) {
		t.Errorf("17 bits: %v", err)
	}
	if _, err := (Uniform{Bits: -1}).Quantize(good); !errors.Is(err, ErrBits) {
		t.Errorf("-1 bits: %v", err)
	}
	nan := newParam("w.weight", nn.DenseWeight, []int{1, 2}, []float32{1, float32(math.NaN())})
	if _, err := (Uniform{}).Quantize(nan); !errors.Is(err, nn.ErrNonFinite) {
		t.Errorf("NaN: %v", err)
	}
	zero := newParam("w.weight", nn.DenseWeight, []int{1, 3}, make([]float32, 3))
	if got, err := (Uniform{}).Quantize(zero); err != nil || distinct(got) != 1 || got[0] != 0 {
		t.Errorf("all zero: %v, %v", got, err)
	}
	if s := (Uniform{}).String(); s != "uniform 3-bit per-tensor min-error" {
		t.Errorf("String %q", s)
	}
}

// A group larger than the search's sample (65,536 values) is searched on a
// strided subset and refined on all values; its error stays within 0.1 % of
// a 400-scale scan of all values (the subset estimates each scale's error
// to a fraction of a percent at this size).
func TestUniformLargeGroup(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	p := randParam(rng, 1, 150000)
	for _, bits := range []int{2, 3, 5} {
		got, err := Uniform{Bits: bits}.Quantize(p)
		if err != nil {
			t.Fatal(err)
		}
		half := float64(int(1) << (bits - 1))
		scan := scanError(p.Data, half, maxAbs(p.Data)/(half-0.5), 400)
		if e := uniformError(p.Data, got); e > scan*1.001 {
			t.Errorf("%d bits: error %.6g, scan %.6g", bits, e, scan)
		}
	}
}
