package quant

import (
	"fmt"

	"github.com/robustq/robustq/nn"
)

// STE supports quantization-aware training with the straight-through
// estimator: the forward and backward passes see the quantized weights
// Q(W), and the gradient with respect to Q(W) is applied to the full-precision
// weights W, as if dQ/dW were the identity.
//
// One training step is
//
//	s.Quantize(params) // W saved, Data overwritten with Q(W)
//	forward, backward  // gradients with respect to Q(W)
//	s.Restore()        // Data back to W, bit for bit
//	optimizer update   // W −= lr·grad
//
// Restore must come after the backward pass and before the optimizer step.
// Quantize and Restore alternate strictly; calling either out of turn
// returns ErrState and changes nothing. Both write into the existing Data
// slices (never replace them), so a network whose graph holds those slices
// sees the change. Linear, PowerOfTwo and Asymmetric take their scale from
// the current weights, so no weight is clipped and the plain identity
// estimator needs no clipping mask.
//
// The zero value is ready to use: 3-bit linear quantization of every conv
// and dense weight. An STE is not safe for concurrent use.
type STE struct {
	// Quantizer maps each chosen weight to its quantized values. Nil means
	// Linear{} (DefaultBits, per tensor, nearest).
	Quantizer Quantizer
	// Selector chooses the parameters to quantize. Nil means Weights().
	Selector Selector

	params []*nn.Param // changed by the last Quantize; nil when restored
	saved  [][]float32 // their full-precision values; buffers are reused
}

// Quantize saves the full-precision values of the parameters chosen by
// s.Selector and overwrites their Data in place with the quantized values.
// If any chosen parameter cannot be quantized it returns the error and
// leaves every parameter unchanged. It returns ErrState if the previous
// Quantize has not been followed by Restore.
func (s *STE) Quantize(params []*nn.Param) error {
	if s.params != nil {
		return fmt.Errorf("%w: Quantize called twice without Restore", ErrState)
	}
	chosen, err := choose(params, s.Selector)
	if err != nil {
		return err
	}
	q := s.Quantizer
	if q == nil {
		q = Linear{}
	}
	vals, err := quantizeChosen(params, chosen, q)
	if err != nil {
		return err
	}
	n := 0
	for _, v := range vals {
		if v != nil {
			n++
		}
	}
	if cap(s.saved) < n {
		s.saved = append(s.saved[:cap(s.saved)], make([][]float32, n-cap(s.saved))...)
	}
	s.saved = s.saved[:n] // keeps the buffers of earlier steps
	s.params = make([]*nn.Param, 0, n)
	for i, p := range params {
		if vals[i] == nil {
			continue
		}
		k := len(s.params)
		s.saved[k] = append(s.saved[k][:0], p.Data...)
		s.params = append(s.params, p)
		copy(p.Data, vals[i])
	}
	return nil
}

// Restore writes the saved full-precision values back into the Data of the
// parameters the last Quantize changed, bit for bit. It returns ErrState if
// there is nothing to restore, and an error wrapping nn.ErrShape (after
// restoring every other parameter) if a parameter's Data has changed length.
func (s *STE) Restore() error {
	if s.params == nil {
		return fmt.Errorf("%w: Restore called without Quantize", ErrState)
	}
	var err error
	for i, p := range s.params {
		if len(p.Data) != len(s.saved[i]) {
			err = fmt.Errorf("quant: parameter %q has %d values, saved %d: %w",
				p.Name, len(p.Data), len(s.saved[i]), nn.ErrShape)
			continue
		}
		copy(p.Data, s.saved[i])
	}
	s.params = nil
	return err
}

// Backward is Restore for a training step: it writes the full-precision
// values back, then gives the gradient of each parameter the last Quantize
// changed to the quantizer's gradient rule when it implements Backward (a
// clipped estimator's mask, a learned scale's update with learning rate
// lr). params and grads are the step's, as in nn.StepOutput; a quantized
// parameter without a gradient there is skipped.
func (s *STE) Backward(params []*nn.Param, grads [][]float32, lr float64) error {
	quantized := s.params
	if err := s.Restore(); err != nil {
		return err
	}
	b, ok := s.Quantizer.(Backward)
	if !ok {
		return nil
	}
	for _, p := range quantized {
		for i, q := range params {
			if q == p && i < len(grads) {
				if err := b.Backward(p, grads[i], lr); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Active reports whether Quantize has been called and Restore has not yet
// followed: the parameters currently hold quantized values.
func (s *STE) Active() bool { return s.params != nil }
