package quant

import (
	"fmt"
	"reflect"

	"github.com/robustq/robustq/nn"
)

// ApplyParams returns deep copies of all of params, in the same order, with
// the parameters chosen by sel replaced by their quantized values under q.
// params is not modified. A nil sel means Weights(): every conv and dense
// weight. It returns an error for a nil q, a nil parameter, a selection that
// fails or chooses nothing (ErrSelect), or a parameter q rejects.
func ApplyParams(params []*nn.Param, q Quantizer, sel Selector) ([]*nn.Param, error) {
	chosen, err := choose(params, sel)
	if err != nil {
		return nil, err
	}
	vals, err := quantizeChosen(params, chosen, q)
	if err != nil {
		return nil, err
	}
	out := make([]*nn.Param, len(params))
	for i, p := range params {
		out[i] = p.Clone()
		if vals[i] != nil {
			copy(out[i].Data, vals[i])
		}
	}
	return out, nil
}

// quantizeChosen returns Q(p.Data) for the chosen params and nil for the others.
func quantizeChosen(params []*nn.Param, chosen []bool, q Quantizer) ([][]float32, error) {
	if q == nil {
		return nil, fmt.Errorf("%w: quantizer is nil", ErrNil)
	}
	vals := make([][]float32, len(params))
	for i, p := range params {
		if !chosen[i] {
			continue
		}
		v, err := q.Quantize(p)
		if err != nil {
			return nil, err
		}
		if len(v) != len(p.Data) {
			return nil, fmt.Errorf("quant: %v returned %d values for parameter %q of %d: %w",
				q, len(v), p.Name, len(p.Data), nn.ErrShape)
		}
		vals[i] = v
	}
	return vals, nil
}

// Model is what Apply needs of a model: its parameters, live (writing
// their Data changes the model), and a deep copy. *nn.Network is one; a
// model type of the user's own can be another.
type Model[M any] interface {
	Params() []*nn.Param
	Clone() M
}

var _ Model[*nn.Network] = (*nn.Network)(nil)

// Apply returns a quantized copy of net: a Clone whose parameters chosen by
// sel hold their quantized values under q. net itself is not modified and
// keeps its full-precision weights. A nil sel means Weights(): every conv
// and dense weight, while biases and batch-norm parameters stay in float32,
// as in the paper. It returns an error for a nil net or q, a selection that
// fails or chooses nothing (ErrSelect), or a parameter q rejects.
func Apply[M Model[M]](net M, q Quantizer, sel Selector) (M, error) {
	var zero M
	if isNil(net) {
		return zero, fmt.Errorf("%w: model is nil", ErrNil)
	}
	chosen, err := choose(net.Params(), sel)
	if err != nil {
		return zero, err
	}
	vals, err := quantizeChosen(net.Params(), chosen, q)
	if err != nil {
		return zero, err
	}
	c := net.Clone()
	ps := c.Params()
	if len(ps) != len(vals) {
		return zero, fmt.Errorf("quant: clone of %T has %d parameters, the original %d: %w",
			net, len(ps), len(vals), nn.ErrShape)
	}
	for i, p := range ps {
		if vals[i] != nil {
			copy(p.Data, vals[i]) // in place: the clone's graphs read Data
		}
	}
	return c, nil
}

// isNil reports whether v is nil or a nil pointer, map, slice or func.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch r := reflect.ValueOf(v); r.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Interface:
		return r.IsNil()
	}
	return false
}
