package nn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/robustq/robustq/data"
)

// TrainConfig configures Train. The zero value trains one epoch with batch
// 128, SGD with momentum 0.9, a constant learning rate of 0.01 and
// cross-entropy, shuffling with seed 0.
type TrainConfig struct {
	// Epochs is the number of passes over the data; 0 means 1.
	Epochs int
	// StartEpoch skips the first StartEpoch epochs (to resume from a
	// checkpoint): shuffling and the schedule continue as in an uninterrupted
	// run. The optimizer starts from its current state: restore it with
	// StatefulOptimizer.SetState (or LoadOptimizerFile) to take exactly the
	// steps of a run that was never interrupted.
	StartEpoch int
	// BatchSize is the mini-batch size; 0 means 128.
	BatchSize int
	// Optimizer updates the weights; nil means &SGD{Momentum: 0.9}.
	Optimizer Optimizer
	// LR gives the learning rate per step; nil means ConstantLR(0.01).
	LR Schedule
	// Loss is the training loss; nil means CrossEntropy{}.
	Loss Loss
	// Seed seeds the shuffling (epoch e uses the stream (Seed, e)).
	Seed uint64
	// Hooks run around every step, in order.
	Hooks []Hook
}

// Step describes one training step to the hooks.
type Step struct {
	// Net is the model being trained (a *Network, or a user's Trainable).
	Net Trainable
	// Epoch is 0-based; Iter counts steps within it, of Iters.
	Epoch, Iter, Iters int
	// Global counts steps from the start of training, of Total.
	Global, Total int
	// LR is the learning rate of this step.
	LR float64
	// X and Y are the batch. BeforeStep hooks may replace them (adversarial
	// training); they must keep the batch's shape.
	X []float32
	Y []int
	// Out is set after the forward and backward pass.
	Out *StepOutput
	// Rng is the training run's random source, for hooks that need one
	// (seeded from TrainConfig.Seed).
	Rng *rand.Rand
	// Optimizer is the run's optimizer (checkpoint hooks save its state
	// when it is a StatefulOptimizer).
	Optimizer Optimizer
}

// Hook observes or changes a training step: any value with one or more of
// the methods of BeforeStepper, BeforeUpdater and AfterStepper (HookFuncs
// adapts functions). Train calls the methods a hook has, hooks in the order
// of TrainConfig.Hooks, and rejects a hook that has none. Any error stops
// training and is returned by Train.
type Hook any

// BeforeStepper is a Hook that runs before the forward pass. It may replace
// s.X and s.Y or change the weights (quantization-aware training swaps in
// Q(W)).
type BeforeStepper interface {
	BeforeStep(ctx context.Context, s *Step) error
}

// BeforeUpdater is a Hook that runs after the backward pass, with s.Out
// set, before the optimizer changes the weights (quantization-aware
// training restores the full-precision weights here).
type BeforeUpdater interface {
	BeforeUpdate(ctx context.Context, s *Step) error
}

// AfterStepper is a Hook that runs after the update (progress,
// checkpoints).
type AfterStepper interface {
	AfterStep(ctx context.Context, s *Step) error
}

// HookFuncs adapts functions to Hook; nil fields do nothing.
type HookFuncs struct {
	Before, Update, After func(ctx context.Context, s *Step) error
}

var (
	_ BeforeStepper = HookFuncs{}
	_ BeforeUpdater = HookFuncs{}
	_ AfterStepper  = HookFuncs{}
)

// checkHooks rejects hooks with none of the three methods.
func checkHooks(hooks []Hook) error {
	for i, h := range hooks {
		_, b := h.(BeforeStepper)
		_, u := h.(BeforeUpdater)
		_, a := h.(AfterStepper)
		if !b && !u && !a {
			return fmt.Errorf("nn: hook %d (%T) has none of BeforeStep, BeforeUpdate, AfterStep", i, h)
		}
	}
	return nil
}

// BeforeStep implements Hook.
func (h HookFuncs) BeforeStep(ctx context.Context, s *Step) error { return call(h.Before, ctx, s) }

// BeforeUpdate implements Hook.
func (h HookFuncs) BeforeUpdate(ctx context.Context, s *Step) error {
	return call(h.Update, ctx, s)
}

// AfterStep implements Hook.
func (h HookFuncs) AfterStep(ctx context.Context, s *Step) error { return call(h.After, ctx, s) }

func call(f func(context.Context, *Step) error, ctx context.Context, s *Step) error {
	if f == nil {
		return nil
	}
	return f(ctx, s)
}

// TrainResult summarises a training run.
type TrainResult struct {
	// Steps is the number of optimizer steps taken.
	Steps int
	// EpochLoss and EpochAccuracy are the mean training loss and the
	// training-mode accuracy of each epoch run.
	EpochLoss, EpochAccuracy []float64
	Duration                 time.Duration
}

// Trainable is a Model that Train can update: its parameters (live: the
// optimizer writes their Data) and a training-mode pass that gives the
// per-example losses, the logits and the gradient of the mean loss with
// respect to each trainable parameter. *Network is one; a model of the
// user's own that computes its gradients can be another.
type Trainable interface {
	Model
	Params() []*Param
	Gradients(x []float32, y []int, loss Loss) (*StepOutput, error)
}

var _ Trainable = (*Network)(nil)

// Train trains net on ds. It checks ctx before every step and returns
// ctx.Err() when cancelled, and stops with an error wrapping ErrNonFinite
// on a NaN or Inf loss. The weights at return are those after the last
// completed step.
func Train(ctx context.Context, net Trainable, ds *data.Dataset, cfg TrainConfig) (TrainResult, error) {
	var res TrainResult
	start := time.Now()
	if CheckModel(net) != nil || ds == nil {
		return res, errors.New("nn: Train needs a network and a data set")
	}
	s := net.Spec()
	if ds.Channels != s.Channels || ds.Height != s.Height || ds.Width != s.Width || ds.Classes > s.Classes {
		return res, fmt.Errorf("%w: data %dx%dx%d with %d classes, network %dx%dx%d with %d",
			ErrShape, ds.Channels, ds.Height, ds.Width, ds.Classes, s.Channels, s.Height, s.Width, s.Classes)
	}
	if ds.Len() == 0 {
		return res, fmt.Errorf("nn: Train on an empty data set")
	}
	epochs := max(cfg.Epochs, 1)
	bs := cfg.BatchSize
	if bs == 0 {
		bs = 128
	}
	if bs < 0 || cfg.StartEpoch < 0 {
		return res, fmt.Errorf("nn: batch size %d, start epoch %d", bs, cfg.StartEpoch)
	}
	opt := cfg.Optimizer
	if opt == nil {
		opt = &SGD{Momentum: 0.9}
	}
	lr := cfg.LR
	if lr == nil {
		lr = ConstantLR(0.01)
	}
	loss := cfg.Loss
	if loss == nil {
		loss = CrossEntropy{}
	}
	if err := checkHooks(cfg.Hooks); err != nil {
		return res, err
	}
	iters := (ds.Len() + bs - 1) / bs
	total := epochs * iters
	for epoch := cfg.StartEpoch; epoch < epochs; epoch++ {
		rng := rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)))
		var lossSum float64
		var correct, seen int
		it := 0
		for b := range ds.Batches(bs, rand.New(rand.NewPCG(cfg.Seed, uint64(epoch)^0x5eed))) {
			if err := ctx.Err(); err != nil {
				res.Duration = time.Since(start)
				return res, err
			}
			st := &Step{Net: net, Epoch: epoch, Iter: it, Iters: iters, Global: epoch*iters + it, Total: total,
				X: b.X, Y: b.Y, Rng: rng, Optimizer: opt}
			st.LR = lr(st.Global, total)
			for _, h := range cfg.Hooks {
				if h, ok := h.(BeforeStepper); ok {
					if err := h.BeforeStep(ctx, st); err != nil {
						return res, err
					}
				}
			}
			out, err := net.Gradients(st.X, st.Y, loss)
			if err != nil {
				return res, fmt.Errorf("nn: epoch %d step %d: %w", epoch, it, err)
			}
			st.Out = out
			for _, h := range cfg.Hooks {
				if h, ok := h.(BeforeUpdater); ok {
					if err := h.BeforeUpdate(ctx, st); err != nil {
						return res, err
					}
				}
			}
			if err := opt.Step(out.Params, out.Grads, st.LR); err != nil {
				return res, err
			}
			res.Steps++
			for _, l := range out.Losses {
				lossSum += float64(l)
			}
			correct += countCorrect(out.Logits, s.Classes, st.Y)
			seen += len(st.Y)
			for _, h := range cfg.Hooks {
				if h, ok := h.(AfterStepper); ok {
					if err := h.AfterStep(ctx, st); err != nil {
						return res, err
					}
				}
			}
			it++
		}
		res.EpochLoss = append(res.EpochLoss, lossSum/float64(seen))
		res.EpochAccuracy = append(res.EpochAccuracy, float64(correct)/float64(seen))
	}
	res.Duration = time.Since(start)
	return res, nil
}

func countCorrect(logits []float32, k int, y []int) int {
	c := 0
	for i, label := range y {
		if Argmax(logits[i*k:(i+1)*k]) == label {
			c++
		}
	}
	return c
}

// Argmax returns the index of the largest value (the first among ties).
func Argmax(z []float32) int {
	best := 0
	for j, v := range z {
		if v > z[best] {
			best = j
		}
	}
	return best
}

// Predict returns the predicted class of each example of x, evaluated in
// batches of at most batch examples (0 means 256).
func Predict(m Classifier, x []float32, batch int) ([]int, error) {
	if err := CheckModel(m); err != nil {
		return nil, err
	}
	s := m.Spec()
	n, err := s.BatchLen(x)
	if err != nil {
		return nil, err
	}
	if batch <= 0 {
		batch = 256
	}
	e := s.ExampleSize()
	pred := make([]int, 0, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		z, err := m.Logits(x[lo*e : hi*e])
		if err != nil {
			return nil, err
		}
		for i := range hi - lo {
			pred = append(pred, Argmax(z[i*s.Classes:(i+1)*s.Classes]))
		}
	}
	return pred, nil
}

// Accuracy returns the fraction of examples of x that m classifies as y.
func Accuracy(m Classifier, x []float32, y []int, batch int) (float64, error) {
	if err := CheckModel(m); err != nil {
		return 0, err
	}
	if _, err := m.Spec().CheckInput(x, y); err != nil {
		return 0, err
	}
	pred, err := Predict(m, x, batch)
	if err != nil {
		return 0, err
	}
	c := 0
	for i, p := range pred {
		if p == y[i] {
			c++
		}
	}
	return float64(c) / float64(len(y)), nil
}

// Progress returns a hook that writes one line to w every `every` steps and
// at the end of each epoch: epoch, step, learning rate, running mean loss and
// accuracy, and throughput.
func Progress(w io.Writer, every int) Hook {
	if every <= 0 {
		every = 50
	}
	var t0 time.Time
	var loss float64
	var correct, seen int
	return HookFuncs{After: func(_ context.Context, s *Step) error {
		if s.Iter == 0 {
			t0, loss, correct, seen = time.Now(), 0, 0, 0
		}
		for _, l := range s.Out.Losses {
			loss += float64(l)
		}
		correct += countCorrect(s.Out.Logits, s.Net.Spec().Classes, s.Y)
		seen += len(s.Y)
		if (s.Iter+1)%every == 0 || s.Iter+1 == s.Iters {
			el := time.Since(t0)
			fmt.Fprintf(w, "epoch %d step %d/%d lr %.4g loss %.4f acc %.4f %.0f img/s\n",
				s.Epoch+1, s.Iter+1, s.Iters, s.LR, loss/float64(seen), float64(correct)/float64(seen),
				float64(seen)/el.Seconds())
		}
		return nil
	}}
}
