package defense

import (
	"context"
	"fmt"

	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// QAT is an nn.Hook for quantization-aware training with the straight-through
// estimator (quant.STE): before each step's forward pass it overwrites the
// chosen weights with Q(W), and after the backward pass, before the optimizer
// step, it writes the full-precision W back, so that the gradient computed at
// Q(W) updates W.
//
// Put it first among the hooks: hooks after it (an adversarial example hook,
// for one) then see the quantized network, and in BeforeUpdate the
// full-precision weights (the Lipschitz regulariser acts on W).
//
// After training the network holds full-precision weights; quantize it with
// quant.Apply(net, q.Quantizer, q.Selector) for deployment and evaluation.
// If a step fails between the two calls (another hook's error, a NaN loss),
// the network is left holding Q(W): Restore puts W back. The Trainers of
// this package call it for you; call it yourself after nn.Train returns an
// error when you add the hook by hand.
//
// The zero value quantizes every conv and dense weight to 3-bit linear
// levels. A QAT holds state between its calls: use one per training run,
// not concurrently.
type QAT struct {
	// Quantizer maps each chosen weight to its quantized values; nil means
	// quant.Linear{} (3 bits, per tensor, nearest rounding).
	Quantizer quant.Quantizer
	// Selector chooses the weights to quantize; nil means quant.Weights().
	Selector quant.Selector

	ste quant.STE
}

var (
	_ nn.BeforeStepper = (*QAT)(nil)
	_ nn.BeforeUpdater = (*QAT)(nil)
)

// BeforeStep implements nn.BeforeStepper: it writes Q(W) into the chosen weights.
func (q *QAT) BeforeStep(_ context.Context, s *nn.Step) error {
	if s == nil || s.Net == nil {
		return fmt.Errorf("%w: QAT step without a network", ErrNil)
	}
	q.ste.Quantizer, q.ste.Selector = q.Quantizer, q.Selector
	if err := q.ste.Quantize(s.Net.Params()); err != nil {
		return fmt.Errorf("defense: QAT step %d: %w", s.Global, err)
	}
	return nil
}

// BeforeUpdate implements nn.BeforeUpdater: it writes the full-precision W back and
// applies the quantizer's gradient rule (quant.Backward), if it has one, to
// the step's gradients.
func (q *QAT) BeforeUpdate(_ context.Context, s *nn.Step) error {
	var err error
	if s.Out != nil {
		err = q.ste.Backward(s.Out.Params, s.Out.Grads, s.LR)
	} else {
		err = q.ste.Restore()
	}
	if err != nil {
		return fmt.Errorf("defense: QAT step %d: %w", s.Global, err)
	}
	return nil
}

// Active reports whether the network currently holds the quantized weights
// of a step that has not reached BeforeUpdate.
func (q *QAT) Active() bool { return q.ste.Active() }

// Restore writes the full-precision weights back if the hook is active and
// does nothing otherwise.
func (q *QAT) Restore() error {
	if !q.ste.Active() {
		return nil
	}
	if err := q.ste.Restore(); err != nil {
		return fmt.Errorf("defense: QAT restore: %w", err)
	}
	return nil
}
