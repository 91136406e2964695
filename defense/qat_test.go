package defense

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// One SGD step with the QAT hook: the forward pass sees Q(W) (on the 3-bit
// grid), the weights are W again before the update, and the update is
// applied to W: W' = W − lr·∇, with ∇ computed at Q(W).
func TestQATStepSemantics(t *testing.T) {
	ds := blobs(32, 4, 3, 3, 0.1, 1, 1)
	net := mlp(t, 3, 3, 6, 4, 1)
	q := &QAT{Quantizer: quant.Linear{Bits: 3}}
	var w0 map[string][]float32
	var grads map[string][]float32
	sawStep := false
	pre := nn.HookFuncs{Before: func(_ context.Context, s *nn.Step) error {
		w0 = cloneData(s.Net.(*nn.Network))
		return nil
	}}
	probe := nn.HookFuncs{
		Before: func(_ context.Context, s *nn.Step) error {
			sawStep = true
			for _, p := range s.Net.Params() {
				if !p.Kind.IsWeight() {
					if !slices.Equal(p.Data, w0[p.Name]) {
						t.Errorf("%s changed by QAT", p.Name)
					}
					continue
				}
				// Linear is idempotent with nearest rounding: a tensor on its
				// grid quantizes to itself.
				qw, err := quant.Linear{Bits: 3}.Quantize(p)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(qw, p.Data) || distinct(p.Data) > 7 {
					t.Errorf("%s during the step is not on the 3-bit grid (%d distinct values)", p.Name, distinct(p.Data))
				}
			}
			return nil
		},
		Update: func(_ context.Context, s *nn.Step) error {
			if d := cmp.Diff(w0, cloneData(s.Net.(*nn.Network))); d != "" {
				t.Errorf("weights before the update are not the full-precision ones:\n%s", d)
			}
			// The training-mode logits (no batch norm here, so equal to
			// evaluation-mode ones) are those of the quantized network.
			qn, err := quant.Apply(s.Net.(*nn.Network), quant.Linear{Bits: 3}, nil)
			if err != nil {
				t.Fatal(err)
			}
			z, err := qn.Logits(s.X)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(z, s.Out.Logits) {
				t.Error("the forward pass did not use Q(W)")
			}
			grads = map[string][]float32{}
			for i, p := range s.Out.Params {
				grads[p.Name] = slices.Clone(s.Out.Grads[i])
			}
			return nil
		},
	}
	const lr = 0.1
	_, err := nn.Train(context.Background(), net, ds, nn.TrainConfig{
		BatchSize: ds.Len(), Optimizer: &nn.SGD{}, LR: nn.ConstantLR(lr), Hooks: []nn.Hook{pre, q, probe}})
	if err != nil {
		t.Fatal(err)
	}
	if !sawStep || q.Active() {
		t.Fatalf("step seen %v, QAT still active %v", sawStep, q.Active())
	}
	for _, p := range net.Params() {
		g := grads[p.Name]
		for j, w := range w0[p.Name] {
			// nn.SGD computes w − η·g in float32; so does this line.
			if want := w - float32(lr)*g[j]; p.Data[j] != want {
				t.Fatalf("%s[%d] = %v after the step, want W − lr·g = %v", p.Name, j, p.Data[j], want)
			}
		}
	}
	if distinct(net.Param("fc1.weight").Data) <= 7 {
		t.Error("weights after training are on the 3-bit grid, want full precision")
	}
}

// Standard puts the QAT hook before Config.Hooks, and a failing step leaves
// the full-precision weights in the network.
func TestQATOrderAndRestoreOnError(t *testing.T) {
	ds := blobs(32, 4, 3, 3, 0.1, 1, 1)
	net := mlp(t, 3, 3, 6, 4, 1)
	w0 := cloneData(net)
	boom := errors.New("boom")
	q := &QAT{Quantizer: quant.Linear{Bits: 2}}
	fail := nn.HookFuncs{Before: func(_ context.Context, s *nn.Step) error {
		if d := distinct(s.Net.(*nn.Network).Param("fc1.weight").Data); d > 3 {
			t.Errorf("Config.Hooks saw %d distinct values, want the 2-bit grid (≤ 3)", d)
		}
		return boom
	}}
	_, err := Standard{Config: nn.TrainConfig{BatchSize: 8, Hooks: []nn.Hook{fail}}, QAT: q}.Train(context.Background(), net, ds)
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the hook's", err)
	}
	if q.Active() {
		t.Error("QAT still active after the trainer returned")
	}
	if d := cmp.Diff(w0, cloneData(net)); d != "" {
		t.Errorf("weights after a failed first step differ from the originals:\n%s", d)
	}
	// A QAT left active by hand is refused rather than silently reused.
	if err := q.BeforeStep(context.Background(), &nn.Step{Net: net}); err != nil {
		t.Fatal(err)
	}
	if _, err := (Standard{QAT: q}).Train(context.Background(), net, ds); !errors.Is(err, ErrParam) {
		t.Errorf("Train with an active QAT: %v, want ErrParam", err)
	}
	if err := q.Restore(); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(w0, cloneData(net)); d != "" {
		t.Errorf("Restore did not bring back W:\n%s", d)
	}
	if err := q.Restore(); err != nil {
		t.Errorf("second Restore: %v, want nil (no-op)", err)
	}
	if err := q.BeforeStep(context.Background(), &nn.Step{}); !errors.Is(err, ErrNil) {
		t.Errorf("BeforeStep without a network: %v, want ErrNil", err)
	}
	if err := (AdvExamples{}).BeforeStep(context.Background(), &nn.Step{}); !errors.Is(err, ErrNil) {
		t.Errorf("AdvExamples.BeforeStep without a network: %v, want ErrNil", err)
	}
}

// Fine-tuning with QAT at 2 and 3 bits beats post-training quantization of
// the same full-precision model.
func TestQATBeatsPostTrainingQuantization(t *testing.T) {
	ctx := context.Background()
	tr, te := blobs(800, 16, 4, 4, 0.1, 1, 1), blobs(400, 16, 4, 4, 0.1, 1, 2)
	fp := mlp(t, 4, 4, 32, 16, 1)
	trainStd(t, fp, tr, 20, 0.02)
	// Measured for these seeds (test set): full precision 0.975; 2 bits
	// PTQ 0.113, QAT 0.585; 3 bits PTQ 0.865, QAT 0.970. The required
	// margins are about half the measured gaps. (Not a universal law: over
	// 12 blob problems and seeds tried while writing this test, 3-bit QAT
	// beat 3-bit PTQ in 11, by −0.01 to +0.34.)
	tests := []struct {
		bits   int
		margin float64
	}{
		{2, 0.2},
		{3, 0.05},
	}
	for _, tc := range tests {
		lq := quant.Linear{Bits: tc.bits}
		ptq, err := quant.Apply(fp, lq, nil)
		if err != nil {
			t.Fatal(err)
		}
		net := fp.Clone()
		_, err = Standard{Config: nn.TrainConfig{Epochs: 10, BatchSize: 32, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(0.005), Seed: 7},
			QAT: &QAT{Quantizer: lq}}.Train(ctx, net, tr)
		if err != nil {
			t.Fatal(err)
		}
		qat, err := quant.Apply(net, lq, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b := accuracy(t, ptq, te), accuracy(t, qat, te)
		t.Logf("%d bits: full precision %.3f, PTQ %.3f, QAT %.3f", tc.bits, accuracy(t, fp, te), a, b)
		if b < a+tc.margin {
			t.Errorf("%d bits: QAT %.3f, PTQ %.3f; want QAT ≥ PTQ + %v", tc.bits, b, a, tc.margin)
		}
	}
}

// QAT with a learned step (quant.LSQ) at 2 bits: the steps move, and the
// result beats post-training quantization of the same model.
func TestQATWithLearnedStep(t *testing.T) {
	ctx := context.Background()
	tr, te := blobs(800, 16, 4, 4, 0.1, 1, 1), blobs(400, 16, 4, 4, 0.1, 1, 2)
	fp := mlp(t, 4, 4, 32, 16, 1)
	trainStd(t, fp, tr, 20, 0.02)
	ptq, err := quant.Apply(fp, quant.Linear{Bits: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lsq := &quant.LSQ{Bits: 2}
	net := fp.Clone()
	if _, err := (Standard{Config: nn.TrainConfig{Epochs: 10, BatchSize: 32, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(0.005), Seed: 7},
		QAT: &QAT{Quantizer: lsq}}).Train(ctx, net, tr); err != nil {
		t.Fatal(err)
	}
	first := &quant.LSQ{Bits: 2} // its steps take their initial values
	for name, s := range lsq.Steps() {
		if _, err := first.Quantize(fp.Param(name)); err != nil {
			t.Fatal(err)
		}
		if s0 := first.Steps()[name]; s == s0 {
			t.Errorf("%s: step %v never moved from its initial value", name, s)
		}
	}
	qat, err := quant.Apply(net, lsq, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := accuracy(t, ptq, te), accuracy(t, qat, te)
	// Measured for these seeds: full precision 0.975, linear PTQ 0.113,
	// LSQ QAT 0.945 (linear QAT: 0.585, above). The margin is about half
	// the measured gap.
	t.Logf("2 bits: full precision %.3f, linear PTQ %.3f, LSQ QAT %.3f", accuracy(t, fp, te), a, b)
	if b < a+0.4 {
		t.Errorf("LSQ QAT %.3f, PTQ %.3f; want QAT ≥ PTQ + 0.4", b, a)
	}
}
