package nn

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

// TestResumeMatchesUninterrupted trains a small conv + batch-norm network
// for three epochs, and again for one epoch, saved (weights and optimizer
// state), loaded into fresh objects and resumed for the last two: the
// weights must be the same bit for bit (the same steps on the same batches
// in the same order). Without the optimizer state they must differ, which
// shows that the comparison can fail.
func TestResumeMatchesUninterrupted(t *testing.T) {
	ds := synthetic(100, 3)
	newNet := func() *Network {
		net, err := NewNetwork("bn", [3]int{1, 6, 6}, rand.New(rand.NewPCG(4, 4)),
			&ConvLayer{Name: "conv", Out: 4, Kernel: 3, Padding: 1}, BatchNorm("bn"), ReLU(), Flatten(), Dense("fc", 3))
		if err != nil {
			t.Fatal(err)
		}
		return net
	}
	for _, tc := range []struct {
		name string
		opt  func() StatefulOptimizer
	}{
		{"SGD Nesterov", func() StatefulOptimizer { return &SGD{Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4} }},
		{"Adam", func() StatefulOptimizer { return &Adam{WeightDecay: 1e-3} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := func(start int, opt Optimizer) TrainConfig {
				return TrainConfig{Epochs: 3, StartEpoch: start, BatchSize: 16, Seed: 9, Optimizer: opt, LR: OneCycleLR(0.05)}
			}
			straight := newNet()
			if _, err := Train(context.Background(), straight, ds, cfg(0, tc.opt())); err != nil {
				t.Fatal(err)
			}

			// The same run, stopped after its first epoch by a hook that
			// checkpoints it as examples/internal/pipeline does.
			dir := t.TempDir()
			netPath, optPath := filepath.Join(dir, "net.safetensors"), filepath.Join(dir, "opt.safetensors")
			errStop := errors.New("stop")
			c := cfg(0, tc.opt())
			c.Hooks = []Hook{HookFuncs{After: func(_ context.Context, s *Step) error {
				if s.Iter+1 != s.Iters {
					return nil
				}
				if err := s.Net.(*Network).SaveFile(netPath, nil); err != nil {
					return err
				}
				if err := SaveOptimizerFile(optPath, s.Optimizer.(StatefulOptimizer), map[string]string{"epoch": "1"}); err != nil {
					return err
				}
				return errStop
			}}}
			if _, err := Train(context.Background(), newNet(), ds, c); !errors.Is(err, errStop) {
				t.Fatalf("interrupted run: %v", err)
			}

			for _, restore := range []bool{true, false} {
				resumed, opt2 := newNet(), tc.opt()
				if _, err := resumed.LoadFile(netPath); err != nil {
					t.Fatal(err)
				}
				if restore {
					meta, err := LoadOptimizerFile(optPath, opt2)
					if err != nil {
						t.Fatal(err)
					}
					if meta["epoch"] != "1" {
						t.Errorf("metadata %v, want epoch 1", meta)
					}
				}
				if _, err := Train(context.Background(), resumed, ds, cfg(1, opt2)); err != nil {
					t.Fatal(err)
				}
				same := true
				for _, p := range straight.Params() {
					if !slices.Equal(p.Data, resumed.Param(p.Name).Data) {
						same = false
					}
				}
				if same != restore {
					t.Errorf("optimizer state restored %v: weights equal to the uninterrupted run's: %v", restore, same)
				}
			}
		})
	}
}

// TestOptimizerStateRejected checks the errors for state that does not fit.
func TestOptimizerStateRejected(t *testing.T) {
	net := tinyNet(t, 1)
	grads := make([][]float32, len(net.Params()))
	for i, p := range net.Params() {
		grads[i] = make([]float32, len(p.Data))
	}
	n := len(net.Param("fc.bias").Data)
	for _, tc := range []struct {
		name    string
		opt     StatefulOptimizer
		state   map[string][]float32
		atStep  bool // rejected by Step rather than SetState
		wantErr bool
	}{
		{"SGD: fits", &SGD{Momentum: 0.9}, map[string][]float32{"velocity/fc.bias": make([]float32, n)}, false, false},
		{"SGD: unknown buffer", &SGD{Momentum: 0.9}, map[string][]float32{"momentum/fc.bias": make([]float32, n)}, false, true},
		{"SGD: no parameter name", &SGD{Momentum: 0.9}, map[string][]float32{"velocity/": {}}, false, true},
		{"SGD: NaN", &SGD{Momentum: 0.9}, map[string][]float32{"velocity/fc.bias": {float32(math.NaN()), 0, 0}}, false, true},
		{"SGD: wrong length", &SGD{Momentum: 0.9}, map[string][]float32{"velocity/fc.bias": make([]float32, n+1)}, true, true},
		{"SGD: no such parameter", &SGD{Momentum: 0.9}, map[string][]float32{"velocity/fc2.bias": make([]float32, n)}, true, true},
		{"Adam: fits", &Adam{}, map[string][]float32{"adam.m/fc.bias": make([]float32, n), "adam.v/fc.bias": make([]float32, n), "adam.t/fc.bias": {3}}, false, false},
		{"Adam: fractional step", &Adam{}, map[string][]float32{"adam.m/fc.bias": make([]float32, n), "adam.v/fc.bias": make([]float32, n), "adam.t/fc.bias": {2.5}}, false, true},
		{"Adam: no step count", &Adam{}, map[string][]float32{"adam.m/fc.bias": make([]float32, n), "adam.v/fc.bias": make([]float32, n)}, true, true},
		{"Adam: no second moment", &Adam{}, map[string][]float32{"adam.m/fc.bias": make([]float32, n), "adam.t/fc.bias": {1}}, true, true},
	} {
		err := tc.opt.SetState(tc.state)
		if err == nil {
			err = tc.opt.Step(net.Params(), grads, 0.01)
			if err != nil && !tc.atStep {
				t.Errorf("%s: rejected by Step, want by SetState: %v", tc.name, err)
			}
		} else if tc.atStep {
			t.Errorf("%s: rejected by SetState, want by Step: %v", tc.name, err)
		}
		if (err != nil) != tc.wantErr {
			t.Errorf("%s: error %v, want one: %v", tc.name, err, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrWeights) {
			t.Errorf("%s: error %v does not wrap ErrWeights", tc.name, err)
		}
	}
}
