package quant

import (
	"fmt"
	"strings"

	"github.com/robustq/robustq/nn"
)

// Selector chooses which parameters of a network to quantize.
type Selector interface {
	// Select returns, for params in network order, which ones to quantize:
	// a slice of len(params) where true means quantize. It does not modify
	// params. It returns an error (wrapping ErrSelect) when the selection
	// cannot be made, e.g. for a layer name that is not in params.
	Select(params []*nn.Param) ([]bool, error)
}

// ParamFunc adapts a per-parameter predicate to a Selector: a parameter is
// chosen when the function returns true. A nil parameter is an error.
type ParamFunc func(p *nn.Param) bool

var _ Selector = (*ParamFunc)(nil)

// Select applies f to each parameter.
func (f ParamFunc) Select(params []*nn.Param) ([]bool, error) {
	chosen := make([]bool, len(params))
	for i, p := range params {
		if p == nil {
			return nil, fmt.Errorf("%w: parameter %d is nil", ErrNil, i)
		}
		chosen[i] = f(p)
	}
	return chosen, nil
}

// Weights returns the default Selector: every conv and dense weight
// (Kind.IsWeight). Biases and batch-norm parameters stay in full precision,
// as in the paper.
func Weights() Selector { return ParamFunc(func(p *nn.Param) bool { return p.Kind.IsWeight() }) }

// Layers selects the conv and dense weights of the named layers (Param.Layer);
// their biases and batch-norm parameters stay in full precision. A name
// that owns no weight in the network is an error, so a typo cannot silently
// leave a layer unquantized.
type Layers []string

var _ Selector = (*Layers)(nil)

// Select chooses the weight parameters whose Layer is in l.
func (l Layers) Select(params []*nn.Param) ([]bool, error) {
	want := make(map[string]bool, len(l))
	for _, name := range l {
		want[name] = false
	}
	chosen := make([]bool, len(params))
	for i, p := range params {
		if p == nil {
			return nil, fmt.Errorf("%w: parameter %d is nil", ErrNil, i)
		}
		if _, ok := want[p.Layer]; ok && p.Kind.IsWeight() {
			chosen[i] = true
			want[p.Layer] = true
		}
	}
	var missing []string
	for _, name := range l { // in the caller's order, for a stable message
		if !want[name] {
			missing = append(missing, fmt.Sprintf("%q", name))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: no conv or dense weight in layer(s) %s", ErrSelect, strings.Join(missing, ", "))
	}
	return chosen, nil
}

// LastLayers selects the weights of the last n weight layers: the layers
// that own a conv or dense weight, ordered by where their first weight
// appears in the parameter list (network order, input to output).
// LastLayers(1) is the output layer. n must be between 1 and the number of
// weight layers.
type LastLayers int

var _ Selector = (*LastLayers)(nil)

// Select chooses the weight parameters of the last n weight layers.
func (n LastLayers) Select(params []*nn.Param) ([]bool, error) {
	var order []string
	seen := make(map[string]bool)
	for i, p := range params {
		if p == nil {
			return nil, fmt.Errorf("%w: parameter %d is nil", ErrNil, i)
		}
		if p.Kind.IsWeight() && !seen[p.Layer] {
			seen[p.Layer] = true
			order = append(order, p.Layer)
		}
	}
	if n < 1 || int(n) > len(order) {
		return nil, fmt.Errorf("%w: LastLayers(%d) with %d weight layers", ErrSelect, int(n), len(order))
	}
	return Layers(order[len(order)-int(n):]).Select(params)
}

// choose runs sel (Weights when nil) and checks its answer.
func choose(params []*nn.Param, sel Selector) ([]bool, error) {
	for i, p := range params {
		if p == nil {
			return nil, fmt.Errorf("%w: parameter %d is nil", ErrNil, i)
		}
	}
	if sel == nil {
		sel = Weights()
	}
	chosen, err := sel.Select(params)
	if err != nil {
		return nil, err
	}
	if len(chosen) != len(params) {
		return nil, fmt.Errorf("%w: selector returned %d answers for %d parameters", ErrSelect, len(chosen), len(params))
	}
	for _, c := range chosen {
		if c {
			return chosen, nil
		}
	}
	return nil, fmt.Errorf("%w: selector chose none of %d parameters", ErrSelect, len(params))
}
