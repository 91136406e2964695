package quant

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/robustq/robustq/nn"
)

// toyParams returns the parameter list of a small conv net in network
// order: conv1 (weight, bias), bn1 (scale, shift, mean, var), conv2
// (weight only), fc1 (weight, bias), fc2 (weight, bias).
func toyParams() []*nn.Param {
	v := func(n int, base float32) []float32 {
		d := make([]float32, n)
		for i := range d {
			d[i] = base + float32(i%5)*0.1 - 0.2
		}
		return d
	}
	conv := func(name string, shape []int) *nn.Param {
		p := newParam(name, nn.ConvWeight, shape, v(shape[0]*shape[1]*shape[2]*shape[3], 0))
		p.Conv = &nn.ConvGeometry{InHeight: 6, InWidth: 6, Stride: 1, Padding: 1}
		return p
	}
	return []*nn.Param{
		conv("conv1.weight", []int{2, 1, 3, 3}),
		newParam("conv1.bias", nn.Bias, []int{2}, v(2, 0.01)),
		newParam("bn1.weight", nn.BNScale, []int{2}, v(2, 1)),
		newParam("bn1.bias", nn.BNShift, []int{2}, v(2, 0)),
		newParam("bn1.running_mean", nn.BNMean, []int{2}, v(2, 0.3)),
		newParam("bn1.running_var", nn.BNVar, []int{2}, v(2, 1)),
		conv("conv2.weight", []int{3, 2, 3, 3}),
		newParam("fc1.weight", nn.DenseWeight, []int{4, 12}, v(48, 0.05)),
		newParam("fc1.bias", nn.Bias, []int{4}, v(4, 0)),
		newParam("fc2.weight", nn.DenseWeight, []int{10, 4}, v(40, -0.05)),
		newParam("fc2.bias", nn.Bias, []int{10}, v(10, 0)),
	}
}

// names returns the names of the chosen params.
func names(params []*nn.Param, chosen []bool) []string {
	var out []string
	for i, c := range chosen {
		if c {
			out = append(out, params[i].Name)
		}
	}
	return out
}

func TestSelectors(t *testing.T) {
	ps := toyParams()
	tests := []struct {
		name string
		sel  Selector
		want []string
	}{
		{"weights", Weights(), []string{"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}},
		{"layers", Layers{"fc2", "conv1"}, []string{"conv1.weight", "fc2.weight"}},
		{"last 1", LastLayers(1), []string{"fc2.weight"}},
		{"last 2", LastLayers(2), []string{"fc1.weight", "fc2.weight"}},
		{"last 4", LastLayers(4), []string{"conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"}},
		{"func biases", ParamFunc(func(p *nn.Param) bool { return p.Kind == nn.Bias }),
			[]string{"conv1.bias", "fc1.bias", "fc2.bias"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chosen, err := tt.sel.Select(ps)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, names(ps, chosen)); d != "" {
				t.Errorf("(-want +got)\n%s", d)
			}
		})
	}
}

// badSelector answers with the wrong number of entries.
type badSelector struct{}

func (badSelector) Select(ps []*nn.Param) ([]bool, error) { return make([]bool, len(ps)+1), nil }

func TestSelectorErrors(t *testing.T) {
	ps := toyParams()
	withNil := append(toyParams(), nil)
	tests := []struct {
		name   string
		params []*nn.Param
		sel    Selector
		want   error
		msg    string
	}{
		{"unknown layer", ps, Layers{"fc1", "fc3", "bn1"}, ErrSelect, `"fc3", "bn1"`},
		{"last 0", ps, LastLayers(0), ErrSelect, "LastLayers(0)"},
		{"last 5 of 4", ps, LastLayers(5), ErrSelect, "4 weight layers"},
		{"nothing chosen", ps, Layers{}, ErrSelect, "none"},
		{"wrong length", ps, badSelector{}, ErrSelect, "answers"},
		{"nil param", withNil, nil, ErrNil, "parameter 11"},
		{"nil param func", withNil, Layers{"fc1"}, ErrNil, "parameter 11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := choose(tt.params, tt.sel)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}
