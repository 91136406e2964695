package defense

import (
	"context"
	"fmt"
	"math"

	gblas "gonum.org/v1/gonum/blas"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/internal/blas"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// DefaultBeta is the weight of the Lipschitz regulariser when
// Lipschitz.Beta is zero. It is our choice, not a value taken from a paper:
// small enough not to dominate the mean cross-entropy of a network of a few
// layers. Tune it for your network (Penalty reports the term's value).
const DefaultBeta = 3e-4

// Lipschitz is an nn.Hook that adds the gradient of the orthogonality
// regulariser of defensive quantization (Lin, Gan and Han 2019, after
// Parseval networks)
//
//	R(W) = β/2 · Σ_layers ‖WᵀW − I‖²_F
//
// to the gradients of the chosen weights in BeforeUpdate, before the
// optimizer step. It pushes every layer's singular values towards 1, so that
// the layers' Lipschitz constants stay near 1 and small input perturbations
// (or quantization noise) are not amplified. A dense weight is the out×in
// matrix W; a convolution weight (out, in, kh, kw) is reshaped into the
// out×(in·kh·kw) matrix.
//
// The gradient is ∇_W R = 2β·W(WᵀW − I) (from dR = β·tr((WᵀW − I)(dWᵀW +
// WᵀdW)) = 2β·tr((WᵀW − I)WᵀdW), as WᵀW − I is symmetric). Since
// W(WᵀW − I) = (WWᵀ − I)W, the hook computes it with the smaller Gram
// matrix of the two, WWᵀ (out×out) when out < in·kh·kw and WᵀW otherwise;
// the two penalties ‖WᵀW − I_m‖² and ‖WWᵀ − I_out‖² differ only by the
// constant m − out, so the gradient is the same. The products run in
// float32 (internal/blas) and cost about 4·out·m·min(out, m) operations per
// weight per step: 13 GFLOP for the 1024×3136 fc1 of nn.MNISTCNN, the
// largest term there.
//
// nn's gradients are those of the mean loss over the batch; the hook adds
// ∇R once per step, so the objective minimised is mean loss + R.
//
// Defensive quantization as published also quantizes activations; robustq
// quantizes weights only, so the baseline here is the regulariser, optionally
// combined with weight QAT (see DefensiveQuantization).
type Lipschitz struct {
	// Beta is β > 0; 0 means DefaultBeta (3e-4). Negative, NaN or Inf is an
	// error.
	Beta float64
	// Selector chooses the weights to regularise; nil means quant.Weights()
	// (every conv and dense weight). Only conv and dense weights may be
	// chosen.
	Selector quant.Selector
}

var _ nn.BeforeUpdater = Lipschitz{}

func (l Lipschitz) beta() (float64, error) {
	b := l.Beta
	if b == 0 {
		b = DefaultBeta
	}
	if !(b > 0) || math.IsInf(b, 1) {
		return 0, fmt.Errorf("%w: Lipschitz.Beta = %v, want a finite β > 0", ErrParam, l.Beta)
	}
	return b, nil
}

// chosen returns the weights of params the regulariser acts on.
func (l Lipschitz) chosen(params []*nn.Param) ([]bool, error) {
	sel := l.Selector
	if sel == nil {
		sel = quant.Weights()
	}
	c, err := sel.Select(params)
	if err != nil {
		return nil, fmt.Errorf("defense: Lipschitz: %w", err)
	}
	if len(c) != len(params) {
		return nil, fmt.Errorf("defense: Lipschitz selector returned %d answers for %d parameters: %w",
			len(c), len(params), quant.ErrSelect)
	}
	for i, p := range params {
		if c[i] && !p.Kind.IsWeight() {
			return nil, fmt.Errorf("defense: Lipschitz regulariser on %q of kind %v, want a conv or dense weight: %w",
				p.Name, p.Kind, quant.ErrSelect)
		}
	}
	return c, nil
}

// matrixDims returns W's shape as an out×m matrix.
func matrixDims(p *nn.Param) (out, m int, err error) {
	if err := checkParam(p); err != nil {
		return 0, 0, err
	}
	if len(p.Shape) < 2 {
		return 0, 0, fmt.Errorf("defense: weight %q has shape %v, want rank ≥ 2: %w", p.Name, p.Shape, nn.ErrShape)
	}
	return p.Shape[0], len(p.Data) / p.Shape[0], nil
}

// orthoGram returns the smaller Gram matrix of the out×m matrix w minus the
// identity, G − I (r×r, r = min(out, m)), and whether it is WWᵀ.
func orthoGram(w []float32, out, m int) (g []float32, r int, left bool) {
	if out < m {
		r, left = out, true
		g = make([]float32, r*r)
		blas.Sgemm(gblas.NoTrans, gblas.Trans, out, out, m, 1, w, m, w, m, 0, g, r) // W Wᵀ
	} else {
		r = m
		g = make([]float32, r*r)
		blas.Sgemm(gblas.Trans, gblas.NoTrans, m, m, out, 1, w, m, w, m, 0, g, r) // Wᵀ W
	}
	for i := range r {
		g[i*r+i]--
	}
	return g, r, left
}

// penalty returns ‖WᵀW − I_m‖²_F for the out×m matrix w (without β/2).
func penalty(w []float32, out, m int) float64 {
	g, r, _ := orthoGram(w, out, m)
	var s float64
	for _, v := range g {
		s += float64(v) * float64(v)
	}
	return s + float64(m-r) // with WWᵀ: ‖WᵀW − I_m‖² = ‖WWᵀ − I_out‖² + (m − out)
}

// addGrad adds 2β·W(WᵀW − I) to grad, both out×m row-major.
func addGrad(grad, w []float32, out, m int, beta float64) {
	g, r, left := orthoGram(w, out, m)
	a := float32(2 * beta)
	if left {
		blas.Sgemm(gblas.NoTrans, gblas.NoTrans, out, m, out, a, g, r, w, m, 1, grad, m) // (WWᵀ − I) W
	} else {
		blas.Sgemm(gblas.NoTrans, gblas.NoTrans, out, m, m, a, w, m, g, r, 1, grad, m) // W (WᵀW − I)
	}
}

// Penalty returns R = β/2·Σ‖WᵀW − I‖²_F over the weights of params the
// regulariser chooses (in float32 products, summed in float64).
func (l Lipschitz) Penalty(params []*nn.Param) (float64, error) {
	beta, err := l.beta()
	if err != nil {
		return 0, err
	}
	c, err := l.chosen(params)
	if err != nil {
		return 0, err
	}
	var s float64
	for i, p := range params {
		if !c[i] {
			continue
		}
		out, m, err := matrixDims(p)
		if err != nil {
			return 0, err
		}
		s += penalty(p.Data, out, m)
	}
	return beta / 2 * s, nil
}

// BeforeUpdate implements nn.BeforeUpdater: it adds ∇R to s.Out.Grads for the
// chosen weights among s.Out.Params.
func (l Lipschitz) BeforeUpdate(_ context.Context, s *nn.Step) error {
	if s == nil || s.Out == nil {
		return fmt.Errorf("%w: Lipschitz hook called without step output", ErrNil)
	}
	if err := l.AddGradient(s.Out.Params, s.Out.Grads); err != nil {
		return fmt.Errorf("defense: step %d: %w", s.Global, err)
	}
	return nil
}

// AddGradient adds ∇R = 2β·W(WᵀW − I) to grads[i] for each chosen weight
// params[i]. It is what BeforeUpdate does.
func (l Lipschitz) AddGradient(params []*nn.Param, grads [][]float32) error {
	beta, err := l.beta()
	if err != nil {
		return err
	}
	if len(grads) != len(params) {
		return fmt.Errorf("defense: %d gradients for %d parameters: %w", len(grads), len(params), nn.ErrShape)
	}
	c, err := l.chosen(params)
	if err != nil {
		return err
	}
	for i, p := range params {
		if !c[i] {
			continue
		}
		out, m, err := matrixDims(p)
		if err != nil {
			return err
		}
		if len(grads[i]) != len(p.Data) {
			return fmt.Errorf("defense: gradient of %q has %d values, want %d: %w", p.Name, len(grads[i]), len(p.Data), nn.ErrShape)
		}
		addGrad(grads[i], p.Data, out, m, beta)
	}
	return nil
}

// DefensiveQuantization is the defensive-quantization baseline: nn.Train
// with Config and the Lipschitz regulariser hook, optionally with weight QAT
// (which runs first, so the regulariser acts on the full-precision weights
// that the optimizer updates).
type DefensiveQuantization struct {
	// Config configures nn.Train; its zero value is nn's default.
	Config nn.TrainConfig
	// Lipschitz configures the regulariser; its zero value is β = 3e-4 on
	// every conv and dense weight.
	Lipschitz Lipschitz
	// QAT, if not nil, trains with weight quantization in the loop.
	QAT *QAT
}

var _ Trainer = DefensiveQuantization{}

// Train implements Trainer.
func (t DefensiveQuantization) Train(ctx context.Context, net nn.Trainable, ds *data.Dataset) (nn.TrainResult, error) {
	if _, err := t.Lipschitz.beta(); err != nil {
		return nn.TrainResult{}, err
	}
	return runTrain(ctx, net, ds, t.Config, t.QAT, t.Lipschitz)
}
