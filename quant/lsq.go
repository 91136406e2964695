package quant

import (
	"fmt"
	"math"

	"github.com/robustq/robustq/nn"
)

// Backward is an optional interface of a Quantizer: the gradient rule of
// its straight-through estimator, and the training of parameters of its
// own. STE.Backward (and so defense.QAT) calls it once per training step,
// after the backward pass, with p holding its full-precision values again
// and grad the gradient of the loss with respect to its quantized values.
// It changes grad in place into the gradient applied to p.Data, and may
// update the quantizer's own parameters by one gradient step of size lr.
// A quantizer without it gets the plain estimator: grad unchanged.
type Backward interface {
	Backward(p *nn.Param, grad []float32, lr float64) error
}

// LSQ is learned step size quantization (Esser et al. 2020, "Learned step
// size quantization"): symmetric uniform levels s·{−Qn, …, Qp}, Qn = 2^(k−1)
// and Qp = 2^(k−1) − 1, with a step s per tensor that training learns:
//
//	Q(w) = s·clamp(round(w/s), −Qn, Qp).
//
// The first Quantize of a tensor sets its step to 2·mean|w|/√Qp, LSQ's
// initialisation. Backward applies
// LSQ's gradients: the straight-through estimator for w inside the range
// and zero outside, and for s
//
//	∂L/∂s = g·Σ_i ∂L/∂Q_i · (round(w_i/s) − w_i/s inside, −Qn or Qp outside),
//
// scaled by g = 1/√(N·Qp) for N values, then s −= lr·∂L/∂s (plain gradient
// descent with the training step's learning rate, not the network's
// optimizer). Use a pointer: an *LSQ holds the learned steps, one per
// parameter name, and is not safe for concurrent use. Steps reports them.
type LSQ struct {
	// Bits is the bit width k, 2..16. Zero means DefaultBits (3).
	Bits int

	steps map[string]float64
}

var (
	_ Quantizer = (*LSQ)(nil)
	_ Backward  = (*LSQ)(nil)
	_ Exporter  = (*LSQ)(nil)
)

// String describes the quantizer, e.g. "lsq 3-bit per-tensor learned step".
func (q *LSQ) String() string {
	bits := q.Bits
	if bits == 0 {
		bits = DefaultBits
	}
	return fmt.Sprintf("lsq %d-bit per-tensor learned step", bits)
}

// Steps returns a copy of the learned steps, by parameter name.
func (q *LSQ) Steps() map[string]float64 {
	out := make(map[string]float64, len(q.steps))
	for k, v := range q.steps {
		out[k] = v
	}
	return out
}

// levels returns Qn and Qp.
func (q *LSQ) levels() (qn, qp float64, err error) {
	bits, err := resolveBits(q.Bits, 2, "lsq")
	if err != nil {
		return 0, 0, err
	}
	half := float64(int(1) << (bits - 1))
	return half, half - 1, nil
}

// step returns p's step, setting it from p's values the first time.
func (q *LSQ) step(p *nn.Param, qp float64) float64 {
	if s, ok := q.steps[p.Name]; ok {
		return s
	}
	if q.steps == nil {
		q.steps = map[string]float64{}
	}
	sum := 0.0
	for _, v := range p.Data {
		sum += math.Abs(float64(v))
	}
	s := 2 * sum / float64(len(p.Data)) / math.Sqrt(qp)
	if s == 0 {
		s = 1
	}
	q.steps[p.Name] = s
	return s
}

// Quantize implements Quantizer.
func (q *LSQ) Quantize(p *nn.Param) ([]float32, error) {
	qn, qp, err := q.levels()
	if err != nil {
		return nil, err
	}
	if err := checkParam(p); err != nil {
		return nil, err
	}
	s := q.step(p, qp)
	out := make([]float32, len(p.Data))
	for i, v := range p.Data {
		out[i] = float32(s * max(-qn, min(qp, math.Round(float64(v)/s))))
	}
	return out, nil
}

// Backward implements Backward: see the type's documentation.
func (q *LSQ) Backward(p *nn.Param, grad []float32, lr float64) error {
	qn, qp, err := q.levels()
	if err != nil {
		return err
	}
	if err := checkParam(p); err != nil {
		return err
	}
	if len(grad) != len(p.Data) {
		return fmt.Errorf("quant: LSQ gradient of %q has %d values for %d: %w", p.Name, len(grad), len(p.Data), nn.ErrShape)
	}
	s := q.step(p, qp)
	var ds float64
	for i, v := range p.Data {
		x := float64(v) / s
		g := float64(grad[i])
		switch {
		case x < -qn:
			ds += g * -qn
			grad[i] = 0
		case x > qp:
			ds += g * qp
			grad[i] = 0
		default:
			ds += g * (math.Round(x) - x)
		}
	}
	ds /= math.Sqrt(float64(len(p.Data)) * qp)
	if ns := s - lr*ds; ns > 0 && !math.IsInf(ns, 0) {
		q.steps[p.Name] = ns
	}
	return nil
}

// Export implements Exporter: codes round(w/s) clamped to −Qn..Qp, with the
// current step as the scale.
func (q *LSQ) Export(p *nn.Param) (Integer, error) {
	qn, qp, err := q.levels()
	if err != nil {
		return Integer{}, err
	}
	if err := checkParam(p); err != nil {
		return Integer{}, err
	}
	s := q.step(p, qp)
	codes := make([]int32, len(p.Data))
	for i, v := range p.Data {
		codes[i] = int32(max(-qn, min(qp, math.Round(float64(v)/s))))
	}
	bits, _ := resolveBits(q.Bits, 2, "lsq")
	return Integer{Name: p.Name, Shape: append([]int(nil), p.Shape...), Bits: bits, Codes: codes, Scales: []float64{s}}, nil
}
