package attack_test

import (
	"context"
	"testing"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/nn"
)

var sink []float32

// benchPGDStep measures one PGD iteration (one InputGrad, the sign step and
// the projection) on a batch of n random examples for the model m.
func benchPGDStep(b *testing.B, m nn.Model, n int) {
	x, y := batch(b, m, n, 1)
	a := attack.PGD{Eps: 0.3, Step: 0.01, Steps: 1}
	ctx := context.Background()
	if _, err := a.Perturb(ctx, m, x, y); err != nil { // builds the model's graph
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		adv, err := a.Perturb(ctx, m, x, y)
		if err != nil {
			b.Fatal(err)
		}
		sink = adv
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "img/s")
}

var mnistShape = nn.Spec{Channels: 1, Height: 28, Width: 28, Classes: 10}

func BenchmarkPGDStepLinearMNIST100(b *testing.B) { benchPGDStep(b, linear(1, mnistShape), 100) }
