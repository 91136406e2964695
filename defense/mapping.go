package defense

import (
	"fmt"
	"math"
	"reflect"

	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// Mapping maps one weight tensor to another of the same shape, such as the
// μ-law compression applied to trained weights before quantization.
type Mapping interface {
	// Map returns the mapped values of p.Data: a new slice of p.Len()
	// values in the same layout. p is not modified. It returns an error
	// for a nil or empty p, a Data length that does not match p.Shape,
	// NaN or Inf values, or an invalid configuration.
	Map(p *nn.Param) ([]float32, error)
	// Name identifies the mapping in reports, e.g. "mu-law(255)".
	Name() string
}

// DefaultMu is the μ of MuLaw when its Mu field is zero: 255, the paper's
// value (and that of 8-bit telephony).
const DefaultMu = 255

// MuLaw is the μ-law compression of weights used by the paper ("+mu"):
//
//	F(x) = sgn(x)·ln(1 + μ|x|) / ln(1 + μ),  x ∈ [−1, 1].
//
// F is odd, strictly increasing, maps [−1, 1] onto itself with F(±1) = ±1
// and F(0) = 0, and raises small magnitudes (F(0.01) ≈ 0.228 for μ = 255).
//
// By default (MuDirect) Map applies F to the weights themselves, as the
// paper writes it ("mapping the weights directly"), and a weight outside
// [−1, 1] is an error. With Scale MuMaxAbs it maps m·F(w/m) with m = max|w|
// over the group (the whole tensor, or one output channel with
// PerChannel), so the largest weight keeps its value and every other moves
// away from zero: a variant of ours that works for any weights. A group of
// zeros stays zero. Arithmetic is in float64, each result rounded to
// float32 once.
type MuLaw struct {
	// Mu is μ > 0; 0 means DefaultMu (255). Negative, NaN or Inf is an error.
	Mu float64
	// Scale says how weights are brought into [−1, 1]; the zero value is
	// MuDirect.
	Scale MuScale
	// PerChannel scales each output channel (axis 0 of a tensor of rank ≥ 2)
	// by its own max|w| with MuMaxAbs; with MuDirect it is an error. False
	// (the default) uses one scale per tensor.
	PerChannel bool
}

// MuScale says how MuLaw brings weights into F's domain [−1, 1].
type MuScale int

const (
	// MuDirect applies F to the weights as they are (the paper's Eq. 3a);
	// a weight outside [−1, 1] is an error wrapping ErrParam.
	MuDirect MuScale = iota
	// MuMaxAbs divides each group by its max|w| before F and multiplies
	// the result back.
	MuMaxAbs
)

var _ Mapping = MuLaw{}

func (m MuLaw) mu() (float64, error) {
	mu := m.Mu
	if mu == 0 {
		mu = DefaultMu
	}
	if !(mu > 0) || math.IsInf(mu, 1) {
		return 0, fmt.Errorf("%w: MuLaw.Mu = %v, want a finite μ > 0", ErrParam, m.Mu)
	}
	return mu, nil
}

// Name returns "mu-law(μ)", with "-maxabs" appended for MuMaxAbs and
// "-per-channel" for PerChannel.
func (m MuLaw) Name() string {
	mu := m.Mu
	if mu == 0 {
		mu = DefaultMu
	}
	s := fmt.Sprintf("mu-law(%g)", mu)
	if m.Scale == MuMaxAbs {
		s += "-maxabs"
	}
	if m.PerChannel {
		s += "-per-channel"
	}
	return s
}

// Compress returns F(x) = sgn(x)·ln(1+μ|x|)/ln(1+μ) for μ = m.Mu (0 means
// DefaultMu). It is meant for x ∈ [−1, 1] but is defined on the whole line;
// it returns NaN for NaN x or an invalid μ.
func (m MuLaw) Compress(x float64) float64 {
	mu, err := m.mu()
	if err != nil {
		return math.NaN()
	}
	return muLaw(x, mu, math.Log1p(mu))
}

func muLaw(x, mu, denom float64) float64 {
	if x < 0 {
		return -math.Log1p(-mu*x) / denom
	}
	return math.Log1p(mu*x) / denom
}

// Map implements Mapping.
func (m MuLaw) Map(p *nn.Param) ([]float32, error) {
	mu, err := m.mu()
	if err != nil {
		return nil, err
	}
	if err := checkParam(p); err != nil {
		return nil, err
	}
	denom := math.Log1p(mu)
	out := make([]float32, len(p.Data))
	switch m.Scale {
	case MuDirect:
		if m.PerChannel {
			return nil, fmt.Errorf("%w: MuLaw PerChannel needs Scale MuMaxAbs", ErrParam)
		}
		for j, v := range p.Data {
			if v < -1 || v > 1 {
				return nil, fmt.Errorf("%w: mu-law of %q: weight %d is %v, outside [−1, 1] (Scale MuMaxAbs scales by max|w|)",
					ErrParam, p.Name, j, v)
			}
			out[j] = float32(muLaw(float64(v), mu, denom))
		}
		return out, nil
	case MuMaxAbs:
	default:
		return nil, fmt.Errorf("%w: unknown MuScale %d", ErrParam, int(m.Scale))
	}
	group := len(p.Data)
	if m.PerChannel && len(p.Shape) >= 2 {
		group = len(p.Data) / p.Shape[0]
	}
	for lo := 0; lo < len(p.Data); lo += group {
		g := p.Data[lo : lo+group]
		var scale float64
		for _, v := range g {
			scale = max(scale, math.Abs(float64(v)))
		}
		if scale == 0 {
			continue // zeros stay zeros
		}
		for j, v := range g {
			out[lo+j] = float32(scale * muLaw(float64(v)/scale, mu, denom))
		}
	}
	return out, nil
}

// checkParam validates a parameter for a Mapping: not nil, not empty, Data
// consistent with Shape, every value finite.
func checkParam(p *nn.Param) error {
	if p == nil {
		return fmt.Errorf("%w: nil parameter", ErrNil)
	}
	n := 1
	for _, d := range p.Shape {
		if d <= 0 {
			return fmt.Errorf("defense: parameter %q has shape %v: %w", p.Name, p.Shape, nn.ErrShape)
		}
		n *= d
	}
	if len(p.Shape) == 0 || n != len(p.Data) {
		return fmt.Errorf("defense: parameter %q has %d values for shape %v: %w", p.Name, len(p.Data), p.Shape, nn.ErrShape)
	}
	for i, v := range p.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("defense: parameter %q value %d is %v: %w", p.Name, i, v, nn.ErrNonFinite)
		}
	}
	return nil
}

// ApplyMapping returns a mapped copy of net: a Clone whose parameters chosen
// by sel hold m.Map of their values; net itself is not modified. A nil sel
// means quant.Weights() (every conv and dense weight); the paper maps only
// the last layers, quant.LastLayers(1) on MNIST. Any quant.Selector works:
// quant.Layers by name, quant.LastLayers, quant.ParamFunc.
//
// Mapping composes with quantization: map, then quantize the result,
//
//	mapped, err := defense.ApplyMapping(net, defense.MuLaw{}, quant.LastLayers(1))
//	q, err := quant.Apply(mapped, quant.Linear{Bits: 3}, nil)
//
// It returns an error for a nil net or m, a selection that fails or chooses
// nothing (wrapping quant.ErrSelect), or a parameter m rejects (NaN weights
// wrap nn.ErrNonFinite).
func ApplyMapping[M quant.Model[M]](net M, m Mapping, sel quant.Selector) (M, error) {
	var zero M
	if isNil(net) || m == nil {
		return zero, fmt.Errorf("%w: ApplyMapping needs a network and a mapping", ErrNil)
	}
	if sel == nil {
		sel = quant.Weights()
	}
	params := net.Params()
	chosen, err := sel.Select(params)
	if err != nil {
		return zero, fmt.Errorf("defense: mapping %s: %w", m.Name(), err)
	}
	if len(chosen) != len(params) {
		return zero, fmt.Errorf("defense: selector returned %d answers for %d parameters: %w",
			len(chosen), len(params), quant.ErrSelect)
	}
	vals := make([][]float32, len(params))
	mapped := false
	for i, p := range params {
		if !chosen[i] {
			continue
		}
		v, err := m.Map(p)
		if err != nil {
			return zero, fmt.Errorf("defense: mapping %s of %q: %w", m.Name(), p.Name, err)
		}
		if len(v) != len(p.Data) {
			return zero, fmt.Errorf("defense: mapping %s returned %d values for %q of %d: %w",
				m.Name(), len(v), p.Name, len(p.Data), nn.ErrShape)
		}
		for j, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return zero, fmt.Errorf("defense: mapping %s gave %v at %d of %q: %w", m.Name(), x, j, p.Name, nn.ErrNonFinite)
			}
		}
		vals[i] = v
		mapped = true
	}
	if !mapped {
		return zero, fmt.Errorf("defense: selector chose none of %d parameters: %w", len(params), quant.ErrSelect)
	}
	c := net.Clone()
	cp := c.Params()
	if len(cp) != len(params) {
		return zero, fmt.Errorf("defense: clone of %T has %d parameters, the original %d: %w",
			net, len(cp), len(params), nn.ErrShape)
	}
	for i, v := range vals {
		if v != nil {
			copy(cp[i].Data, v) // in place: the clone's graphs read Data
		}
	}
	return c, nil
}

// isNil reports whether v is nil or a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}
