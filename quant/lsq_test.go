package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/robustq/robustq/nn"
)

// LSQ by hand, 2 bits (Qn = 2, Qp = 1): w = (0.3, −0.9, 2.0, −0.1), mean|w|
// = 0.825, so the first step is s = 2·0.825/√1 = 1.65 and w/s = (0.18,
// −0.55, 1.21, −0.06): Q = s·(0, −1, 1, 0), with 2.0 beyond Qp·s.
func TestLSQByHand(t *testing.T) {
	p := newParam("fc.weight", nn.DenseWeight, []int{2, 2}, []float32{0.3, -0.9, 2.0, -0.1})
	q := &LSQ{Bits: 2}
	got, err := q.Quantize(p)
	if err != nil {
		t.Fatal(err)
	}
	const s = 1.65
	want := []float32{0, float32(-s), float32(s), 0}
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("Q = %v, want %v", got, want)
		}
	}
	// Backward with ∂L/∂Q = 1 everywhere: the value beyond the range gets
	// no gradient; ∂L/∂s = (round(x) − x summed inside, + Qp outside)/√(4·1)
	// = ((0 − 0.3/s) + (−1 + 0.9/s) + 1 + (0 + 0.1/s)) / 2.
	grad := []float32{1, 1, 1, 1}
	if err := q.Backward(p, grad, 0.1); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(grad, []float32{1, 1, 0, 1}) {
		t.Errorf("masked gradient %v, want [1 1 0 1]", grad)
	}
	ds := ((0 - 0.3/s) + (-1 + 0.9/s) + 1 + (0 + 0.1/s)) / 2
	if got := q.Steps()["fc.weight"]; math.Abs(got-(s-0.1*ds)) > 1e-6 {
		t.Errorf("step after one update %v, want %v", got, s-0.1*ds)
	}
	if _, err := (&LSQ{Bits: 1}).Quantize(p); !errors.Is(err, ErrBits) {
		t.Errorf("1-bit LSQ: error %v, want ErrBits", err)
	}
}

// Every Exporter's codes give back its Quantize output bit for bit.
func TestExportMatchesQuantize(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	p := randParam(rng, 6, 5)
	zero := newParam("z.weight", nn.DenseWeight, []int{2, 3}, make([]float32, 6))
	for _, q := range []interface {
		Quantizer
		Exporter
	}{
		Linear{Bits: 1}, Linear{Bits: 3}, Linear{Bits: 4, PerChannel: true},
		Uniform{Bits: 1}, Uniform{Bits: 3}, Uniform{Bits: 4, PerChannel: true},
		&LSQ{Bits: 3},
	} {
		for _, param := range []*nn.Param{p, zero} {
			want, err := q.Quantize(param)
			if err != nil {
				t.Fatal(err)
			}
			exp, err := q.Export(param)
			if err != nil {
				t.Fatal(err)
			}
			if got := exp.Values(); !slices.Equal(got, want) {
				t.Errorf("%s on %s: codes give %v, Quantize %v", q, param.Name, got[:4], want[:4])
			}
			lim := int32(1) << (exp.Bits - 1)
			for _, c := range exp.Codes {
				if c < -lim || c >= lim {
					t.Fatalf("%s: code %d does not fit in %d bits", q, c, exp.Bits)
				}
			}
		}
	}
	if _, err := (Linear{Rounding: Stochastic, Rng: rng}).Export(p); !errors.Is(err, ErrRounding) {
		t.Errorf("stochastic Export: error %v, want ErrRounding", err)
	}
}

// STE.Backward restores W and hands the quantizer the gradients of the
// parameters it quantized, and only those.
func TestSTEBackward(t *testing.T) {
	// mean|w| = 5.5/6, so s = 2·mean|w| ≈ 1.83 and −5/s ≈ −2.7 < −Qn = −2.
	w := newParam("fc.weight", nn.DenseWeight, []int{1, 6}, []float32{0.1, -5, 0.1, 0.1, 0.1, 0.1})
	b := newParam("fc.bias", nn.Bias, []int{1}, []float32{7})
	q := &LSQ{Bits: 2}
	ste := STE{Quantizer: q}
	if err := ste.Quantize([]*nn.Param{w, b}); err != nil {
		t.Fatal(err)
	}
	gw, gb := []float32{1, 1, 1, 1, 1, 1}, []float32{1}
	if err := ste.Backward([]*nn.Param{w, b}, [][]float32{gw, gb}, 0.01); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w.Data, []float32{0.1, -5, 0.1, 0.1, 0.1, 0.1}) {
		t.Errorf("weights after Backward %v, want the full-precision ones", w.Data)
	}
	if gw[1] != 0 || gw[0] != 1 || gb[0] != 1 {
		t.Errorf("gradients %v %v: want −5's masked (beyond −Qn·s) and the bias's untouched", gw, gb)
	}
	if _, ok := q.Steps()["fc.bias"]; ok {
		t.Error("the bias, not quantized, got a step")
	}
}
