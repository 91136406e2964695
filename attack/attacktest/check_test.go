package attacktest

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/nn"
)

// broken is an attack with a chosen defect, to show that each check of the
// suite catches the defect it is meant for. Without defects it is a valid
// (trivial) attack that adds +eps/2 to every value, clipped to [0, 1].
type broken struct {
	leak, unclipped, stateful, ignoreCtx, noValidation, batchNoise bool
	calls                                                          *int
}

func (b broken) Name() string          { return "broken" }
func (b broken) Threat() attack.Threat { return attack.Threat{Eps: 0.1} }
func (b broken) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	if !b.ignoreCtx {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	if !b.noValidation {
		if m == nil || y == nil {
			return nil, attack.ErrParam
		}
		if _, err := m.Spec().CheckInput(x, y); err != nil {
			return nil, err
		}
		for _, v := range x {
			if v < 0 || v > 1 {
				return nil, attack.ErrBounds
			}
		}
	}
	if _, err := m.Logits(x); err != nil {
		return nil, err
	}
	if !b.ignoreCtx {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	_, _ = m.Logits(x)
	step := float32(0.05)
	if b.leak {
		step = 0.2
	}
	if b.stateful {
		*b.calls++
		step = 0.01 * float32(*b.calls)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	adv := make([]float32, len(x))
	for i, v := range x {
		adv[i] = v + step
		if b.batchNoise {
			adv[i] = v + 0.05*rng.Float32()
		}
		if !b.unclipped {
			adv[i] = min(max(adv[i], 0), 1)
		}
	}
	return adv, nil
}

// TestChecksCatchDefects runs each check on an attack with one defect.
func TestChecksCatchDefects(t *testing.T) {
	m := NewLinear(nn.Spec{Channels: 1, Height: 2, Width: 2, Classes: 3}, rand.New(rand.NewPCG(1, 1)))
	x, y, err := Batch(m, 4, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	tests := []struct {
		name  string
		a     broken
		check func(attack.Attack) bool // reports whether the check found a defect
	}{
		{"none-threat", broken{}, func(a attack.Attack) bool { _, err := checkThreat(a, m, x, y); return err != nil }},
		{"none-invalid", broken{}, func(a attack.Attack) bool { return len(checkInvalid(a, m, x, y)) > 0 }},
		{"none-cancel", broken{}, func(a attack.Attack) bool { return checkCancelled(a, m, x, y) != nil }},
		{"none-midway", broken{}, func(a attack.Attack) bool { return checkCancelMidway(a, m, x, y) != nil }},
		{"none-batch", broken{}, func(a attack.Attack) bool { return checkBatchIndependence(a, m, x, y) != nil }},
		{"leak", broken{leak: true}, func(a attack.Attack) bool { _, err := checkThreat(a, m, x, y); return err != nil }},
		{"unclipped", broken{unclipped: true}, func(a attack.Attack) bool { _, err := checkThreat(a, m, x, y); return err != nil }},
		{"stateful", broken{stateful: true, calls: &n}, func(a attack.Attack) bool {
			first, err := a.Perturb(context.Background(), m, x, y)
			return err != nil || checkSame(a, m, x, y, first) != nil
		}},
		{"ignore-ctx", broken{ignoreCtx: true}, func(a attack.Attack) bool { return checkCancelled(a, m, x, y) != nil }},
		{"ignore-ctx-midway", broken{ignoreCtx: true}, func(a attack.Attack) bool { return checkCancelMidway(a, m, x, y) != nil }},
		{"no-validation", broken{noValidation: true}, func(a attack.Attack) bool { return len(checkInvalid(a, m, x, y)) > 0 }},
		{"batch-noise", broken{batchNoise: true}, func(a attack.Attack) bool { return checkBatchIndependence(a, m, x, y) != nil }},
	}
	for _, tt := range tests {
		want := tt.name[:4] != "none"
		if got := tt.check(tt.a); got != want {
			t.Errorf("%s: defect found = %v, want %v", tt.name, got, want)
		}
	}
}
