package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/robustq/robustq/nn"
)

// TestSTERoundTrip checks the contract on raw params: Quantize puts Q(W)
// into the chosen params' existing Data and leaves the others alone;
// Restore puts W back bit for bit, including −0 and a subnormal.
func TestSTERoundTrip(t *testing.T) {
	ps := toyParams()
	ps[0].Data[0] = float32(math.Copysign(0, -1))
	ps[7].Data[1] = math.SmallestNonzeroFloat32
	ps[9].Data[2] = 0.1
	before := snapshot(ps)
	backing := make([]*float32, len(ps))
	for i, p := range ps {
		backing[i] = &p.Data[0]
	}
	q := Linear{Bits: 2, PerChannel: true}
	s := &STE{Quantizer: q}
	for step := range 3 { // repeated steps reuse the saved buffers
		if err := s.Quantize(ps); err != nil {
			t.Fatal(err)
		}
		if !s.Active() {
			t.Fatal("not active after Quantize")
		}
		for i, p := range ps {
			want := before[i].Data
			if p.Kind.IsWeight() {
				want = mustQuantize(t, q, before[i])
			}
			if !bitsEqual(p.Data, want) || &p.Data[0] != backing[i] {
				t.Fatalf("step %d: %q does not hold the expected values in place", step, p.Name)
			}
		}
		if err := s.Restore(); err != nil {
			t.Fatal(err)
		}
		if s.Active() {
			t.Fatal("active after Restore")
		}
		checkUntouched(t, before, ps)
	}
}

// TestSTEDefault checks that the zero STE quantizes every conv and dense
// weight with Linear{} (3 bits, per tensor, nearest).
func TestSTEDefault(t *testing.T) {
	ps := toyParams()
	want, err := ApplyParams(ps, Linear{Bits: 3}, Weights())
	if err != nil {
		t.Fatal(err)
	}
	var s STE
	if err := s.Quantize(ps); err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		if !bitsEqual(p.Data, want[i].Data) {
			t.Errorf("%q differs from 3-bit linear quantization", p.Name)
		}
	}
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
}

// TestSTETrainingStep simulates training steps with a made-up gradient
// g(V) = V − target evaluated at the weights the forward pass sees. The STE
// contract gives W ← W − lr·g(Q(W)); plain training would give W − lr·g(W).
func TestSTETrainingStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(30, 30))
	p := randParam(rng, 3, 8)
	p.Name, p.Layer = "fc.weight", "fc"
	target := make([]float32, len(p.Data))
	for i := range target {
		target[i] = float32(rng.NormFloat64())
	}
	const lr = 0.1
	q := Linear{Bits: 3}
	s := &STE{Quantizer: q}
	w := append([]float32(nil), p.Data...) // reference full-precision weights
	for step := range 5 {
		qw := mustQuantize(t, q, newParam("fc.weight", nn.DenseWeight, p.Shape, w))
		if err := s.Quantize([]*nn.Param{p}); err != nil {
			t.Fatal(err)
		}
		grad := make([]float32, len(p.Data))
		for i, v := range p.Data { // "backward pass" sees Data
			grad[i] = v - target[i]
		}
		if err := s.Restore(); err != nil {
			t.Fatal(err)
		}
		for i := range p.Data { // "optimizer step" on the restored Data
			p.Data[i] -= lr * grad[i]
			w[i] -= lr * (qw[i] - target[i])
		}
		if !bitsEqual(p.Data, w) {
			t.Fatalf("step %d: weights %v, want W − lr·g(Q(W)) = %v", step, p.Data, w)
		}
	}
}

func TestSTEErrors(t *testing.T) {
	var s STE
	if err := s.Restore(); !errors.Is(err, ErrState) {
		t.Errorf("Restore first: %v, want ErrState", err)
	}
	ps := toyParams()
	before := snapshot(ps)
	if err := s.Quantize(ps); err != nil {
		t.Fatal(err)
	}
	quantized := snapshot(ps)
	if err := s.Quantize(ps); !errors.Is(err, ErrState) {
		t.Errorf("Quantize twice: %v, want ErrState", err)
	}
	checkUntouched(t, quantized, ps) // the second call changed nothing
	if err := s.Restore(); err != nil {
		t.Fatal(err)
	}
	checkUntouched(t, before, ps) // and the first is still restorable
	if err := s.Restore(); !errors.Is(err, ErrState) {
		t.Errorf("Restore twice: %v, want ErrState", err)
	}

	// A NaN in a later weight: error naming it, nothing changed, not active.
	bad := toyParams()
	bad[9].Data[4] = float32(math.NaN())
	beforeBad := snapshot(bad)
	err := s.Quantize(bad)
	if !errors.Is(err, nn.ErrNonFinite) || !strings.Contains(err.Error(), "fc2.weight") {
		t.Errorf("NaN weight: %v, want nn.ErrNonFinite naming fc2.weight", err)
	}
	for i := range bad { // bitwise, NaN included
		if !bitsEqual(bad[i].Data, beforeBad[i].Data) {
			t.Errorf("%q changed by a failed Quantize", bad[i].Name)
		}
	}
	if s.Active() {
		t.Error("active after a failed Quantize")
	}

	// Data replaced by a slice of another length between the calls.
	if err := s.Quantize(ps); err != nil {
		t.Fatal(err)
	}
	ps[0].Data = ps[0].Data[:3]
	if err := s.Restore(); !errors.Is(err, nn.ErrShape) {
		t.Errorf("changed length: %v, want nn.ErrShape", err)
	}
	for i := 1; i < len(ps); i++ { // every other parameter was restored
		if !bitsEqual(ps[i].Data, before[i].Data) {
			t.Errorf("%q not restored", ps[i].Name)
		}
	}
	if err := (&STE{Selector: LastLayers(9)}).Quantize(toyParams()); !errors.Is(err, ErrSelect) {
		t.Errorf("bad selector: %v, want ErrSelect", err)
	}
}
