package defense

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// Every trainer is reproducible from its seeds, stops on a cancelled
// context, and rejects nil arguments.
func TestTrainers(t *testing.T) {
	ds := blobs(64, 3, 3, 3, 0.1, 1, 1)
	cfg := nn.TrainConfig{Epochs: 2, BatchSize: 16, Seed: 5}
	trainers := []struct {
		name string
		tr   Trainer
	}{
		{"standard", Standard{Config: cfg}},
		{"standard qat", Standard{Config: cfg, QAT: &QAT{}}},
		{"adversarial", Adversarial{Config: cfg, Examples: AdvExamples{Eps: 0.1, Steps: 2, Ratio: 0.5, Seed: 1}}},
		{"adversarial fast qat", Adversarial{Config: cfg, Examples: AdvExamples{Eps: 0.1, Fast: true}, QAT: &QAT{}}},
		{"defensive quantization", DefensiveQuantization{Config: cfg, QAT: &QAT{}}},
		{"feedback", FeedbackLearning{Rounds: 1, Sample: 32, Config: cfg, Seed: 2}},
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range trainers {
		t.Run(tc.name, func(t *testing.T) {
			run := func() (*nn.Network, nn.TrainResult) {
				net := mlp(t, 3, 3, 6, 3, 1)
				trainStd(t, net, ds, 3, 0.05) // feedback learning starts from a trained model
				res, err := tc.tr.Train(context.Background(), net, ds)
				if err != nil {
					t.Fatal(err)
				}
				return net, res
			}
			a, ra := run()
			b, rb := run()
			if d := cmp.Diff(cloneData(a), cloneData(b)); d != "" {
				t.Errorf("two runs differ:\n%s", d)
			}
			if ra.Steps == 0 || ra.Steps != rb.Steps || !cmp.Equal(ra.EpochLoss, rb.EpochLoss) {
				t.Errorf("results %+v and %+v", ra, rb)
			}
			if _, err := tc.tr.Train(cancelled, mlp(t, 3, 3, 6, 3, 1), ds); !errors.Is(err, context.Canceled) {
				t.Errorf("cancelled: %v, want context.Canceled", err)
			}
			if _, err := tc.tr.Train(context.Background(), nil, ds); !errors.Is(err, ErrNil) {
				t.Errorf("nil network: %v, want ErrNil", err)
			}
			if _, err := tc.tr.Train(context.Background(), a, (*data.Dataset)(nil)); !errors.Is(err, ErrNil) {
				t.Errorf("nil data: %v, want ErrNil", err)
			}
		})
	}
}

// Cancelling in the middle of adversarial training stops it with the
// weights of the last completed step (full precision under QAT).
func TestAdversarialCancelMidway(t *testing.T) {
	ds := blobs(64, 3, 3, 3, 0.1, 1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	steps := 0
	stopper := nn.HookFuncs{After: func(context.Context, *nn.Step) error {
		steps++
		if steps == 2 {
			cancel()
		}
		return nil
	}}
	q := &QAT{}
	net := mlp(t, 3, 3, 6, 3, 1)
	res, err := Adversarial{Config: nn.TrainConfig{Epochs: 3, BatchSize: 16, Hooks: []nn.Hook{stopper}},
		Examples: AdvExamples{Eps: 0.1, Steps: 2}, QAT: q}.Train(ctx, net, ds)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if res.Steps != 2 || q.Active() || distinct(net.Param("fc1.weight").Data) <= 7 {
		t.Errorf("steps %d, QAT active %v, %d distinct weights", res.Steps, q.Active(), distinct(net.Param("fc1.weight").Data))
	}
}
