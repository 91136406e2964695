package defense

import (
	"context"
	"fmt"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// Trainer trains a model on a data set under one regime (standard,
// adversarial, feedback learning, defensive quantization): an *nn.Network,
// or any nn.Trainable of the user's own. Implementations
// are configuration values; they run nn.Train with hooks, so progress is
// reported through the nn.Hook values in their nn.TrainConfig (nn.Progress,
// for one) and every run is reproducible from the configured seeds.
type Trainer interface {
	// Train trains net in place on ds and returns the summary of the run.
	// It checks ctx before every step and returns ctx.Err() once cancelled,
	// with the weights of the last completed step in net. After Train
	// returns, net holds full-precision weights, even when the regime
	// trains with quantization in the loop (QAT): quantize it afterwards
	// with quant.Apply.
	Train(ctx context.Context, net nn.Trainable, ds *data.Dataset) (nn.TrainResult, error)
}

// Standard is ordinary training (the paper's "Orig."): nn.Train with
// Config, optionally with quantization-aware training.
type Standard struct {
	// Config configures nn.Train; its zero value is nn's default (one
	// epoch, batch 128, SGD with momentum 0.9, learning rate 0.01).
	Config nn.TrainConfig
	// QAT, if not nil, trains with quantization in the loop (its hook runs
	// before Config.Hooks).
	QAT *QAT
}

var _ Trainer = Standard{}

// Train implements Trainer.
func (t Standard) Train(ctx context.Context, net nn.Trainable, ds *data.Dataset) (nn.TrainResult, error) {
	return runTrain(ctx, net, ds, t.Config, t.QAT)
}

// runTrain runs nn.Train with the QAT hook (if any) and the regime's hooks
// in front of cfg.Hooks, without changing the caller's slice, and makes sure
// that the full-precision weights are back when it returns.
func runTrain(ctx context.Context, net nn.Trainable, ds *data.Dataset, cfg nn.TrainConfig, q *QAT, regime ...nn.Hook) (res nn.TrainResult, err error) {
	if nn.CheckModel(net) != nil || ds == nil {
		return res, fmt.Errorf("%w: training needs a network and a data set", ErrNil)
	}
	hooks := make([]nn.Hook, 0, len(regime)+len(cfg.Hooks)+1)
	if q != nil {
		if q.Active() {
			return res, fmt.Errorf("%w: QAT hook holds quantized weights of another run; call Restore", ErrParam)
		}
		hooks = append(hooks, q)
		defer func() {
			// A step that failed between quantize and restore leaves Q(W)
			// in the network; put W back.
			if rerr := q.Restore(); rerr != nil && err == nil {
				err = rerr
			}
		}()
	}
	hooks = append(hooks, regime...)
	hooks = append(hooks, cfg.Hooks...)
	cfg.Hooks = hooks
	return nn.Train(ctx, net, ds, cfg)
}
