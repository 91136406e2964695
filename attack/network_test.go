package attack_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/attack/attacktest"
	"github.com/robustq/robustq/nn"
)

// cloneable gives an *nn.Network the attack.Cloner capability.
type cloneable struct{ *nn.Network }

func (c cloneable) CloneModel() nn.Model { return cloneable{c.Network.Clone()} }

// tinyCNN is a small untrained nn.Network on 1×8×8 inputs: conv3×3×4 –
// ReLU – max-pool 2 – FC 10.
func tinyCNN(t testing.TB) cloneable {
	t.Helper()
	n, err := nn.NewNetwork("tiny", [3]int{1, 8, 8}, rand.New(rand.NewPCG(1, 1)),
		&nn.ConvLayer{Name: "conv", Out: 4, Kernel: 3, Padding: 1, Bias: true}, nn.ReLU(), nn.MaxPool(2, 2), nn.Flatten(), nn.Dense("fc", 10))
	if err != nil {
		t.Fatal(err)
	}
	return cloneable{n}
}

// TestNetworkConformance runs the suite against a real nn.Network, whose
// InputGrad goes through the graph (including the custom losses).
func TestNetworkConformance(t *testing.T) {
	m := tinyCNN(t)
	x, y := batch(t, m, 4, 1)
	for _, a := range []attack.Attack{
		attack.FGSM{Eps: 0.1},
		attack.PGD{Eps: 0.1, Steps: 3, RandomStart: true, Seed: 1},
		attack.PGD{Norm: attack.L2, Eps: 0.5, Steps: 3, Loss: nn.CWMargin{}},
		attack.MIM{Eps: 0.1, Steps: 3},
		attack.APGD{Eps: 0.1, Steps: 5, Loss: nn.DLR{}, Seed: 1},
		attack.CW{Steps: 5, BinarySteps: 2},
		attack.Square{Eps: 0.1, Queries: 10, Seed: 1},
	} {
		t.Run(a.Name(), func(t *testing.T) {
			attacktest.Check(t, a, m, x, y)
			attacktest.CheckBatchIndependence(t, a, m, x, y)
		})
	}
}

// TestNetworkEvaluatorWorkers: with one network clone per worker the report
// is the same as with one worker.
func TestNetworkEvaluatorWorkers(t *testing.T) {
	m := tinyCNN(t)
	x, y := batch(t, m, 12, 2)
	ev := attack.Evaluator{Attacks: []attack.Attack{
		attack.PGD{Eps: 0.1, Steps: 3},
		attack.Transfer{Source: tinyCNN(t), Attack: attack.FGSM{Eps: 0.1}},
	}, Batch: 4}
	one, err := ev.Run(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	ev.Workers = 2
	two, err := ev.Run(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(one, two, cmpopts.IgnoreFields(attack.Row{}, "Elapsed"), cmpopts.EquateNaNs()); diff != "" {
		t.Errorf("Workers 2 (-1 worker +2):\n%s", diff)
	}
}
