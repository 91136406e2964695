package nn

import (
	"fmt"
	"math/rand/v2"
	"slices"

	G "gorgonia.org/gorgonia"
)

// Func is a layer of the user's own, given by its forward and backward
// passes on float32 slices: a batch of n examples in row-major order, each
// of the shape its input has without the batch axis ((C, H, W), or (F)
// after Flatten). It may declare parameters, which the network creates,
// saves, quantizes and trains like its own, named "<Name>.<Role>".
//
// Backward gives the gradient with respect to the input and to each
// parameter by the chain rule from dOut (for a parameter, summed over the
// batch). Forward runs before Backward in each pass, on one goroutine; a
// Func must not keep state between calls other than through its slices.
// Check a Func's gradients against finite differences before training
// with it.
type Func struct {
	// Name prefixes the parameters' names; it is required when there are
	// parameters.
	Name string
	// Params declares the parameters, in the order Forward and Backward
	// receive their values.
	Params []FuncParam
	// Out returns the output shape (without the batch axis) for an input
	// shape.
	Out func(in []int) ([]int, error)
	// Forward writes into out the result for x and the parameters' values.
	Forward func(out, x []float32, n int, params [][]float32) error
	// Backward writes into dx the gradient with respect to x, and into
	// dParams[i] the gradient with respect to params[i], given dOut.
	Backward func(dx []float32, dParams [][]float32, x, out, dOut []float32, n int, params [][]float32) error

	params  []*Param
	in, out []int
}

// FuncParam declares a parameter of a Func.
type FuncParam struct {
	// Role names the parameter within its layer ("weight", "scale").
	Role string
	// Kind says what the parameter is (quant.Weights quantizes DenseWeight
	// and ConvWeight; Bias and the batch-norm kinds stay float).
	Kind  Kind
	Shape []int
	// Init fills the initial values from the network's generator; nil
	// leaves zeros.
	Init func(data []float32, rng *rand.Rand)
}

var _ Layer = (*Func)(nil)

func (f *Func) setup(s *setup, in []int) ([]int, error) {
	if f.Out == nil || f.Forward == nil || f.Backward == nil {
		return nil, fmt.Errorf("nn: Func %q needs Out, Forward and Backward", f.Name)
	}
	out, err := f.Out(slices.Clone(in))
	if err != nil {
		return nil, fmt.Errorf("nn: Func %q on input %v: %w", f.Name, in, err)
	}
	for _, d := range out {
		if d < 1 {
			return nil, fmt.Errorf("%w: Func %q gives output shape %v", ErrShape, f.Name, out)
		}
	}
	f.in, f.out, f.params = slices.Clone(in), slices.Clone(out), nil
	for _, fp := range f.Params {
		p, err := s.param(f.Name, fp.Role, fp.Kind, fp.Shape...)
		if err != nil {
			return nil, err
		}
		if fp.Init != nil {
			fp.Init(p.Data, s.rng)
		}
		f.params = append(f.params, p)
	}
	return out, nil
}

func (f *Func) build(b *builder, x *G.Node) (*G.Node, error) {
	inputs := []*G.Node{x}
	for _, p := range f.params {
		inputs = append(inputs, b.node(p))
	}
	n := x.Shape()[0]
	return apply(&funcKernel{f: f, n: n, shape: append([]int{n}, f.out...)}, inputs...)
}

// funcKernel runs a Func. Backward computes every gradient at its first
// call after a Forward and hands out one per call.
type funcKernel struct {
	f     *Func
	n     int
	shape []int
	grads [][]float32 // [input]: dx, then each parameter's
	valid bool
}

func (k *funcKernel) Name() string    { return "func " + k.f.Name }
func (k *funcKernel) OutShape() []int { return k.shape }

func (k *funcKernel) Differentiable() []bool {
	d := make([]bool, 1+len(k.f.params))
	for i := range d {
		d[i] = true
	}
	return d
}

func (k *funcKernel) Forward(out []float32, in [][]float32) error {
	k.valid = false
	clear(out)
	return k.f.Forward(out, in[0], k.n, in[1:])
}

func (k *funcKernel) Backward(i int, dIn []float32, in [][]float32, out, dOut []float32) error {
	if !k.valid {
		if len(k.grads) != len(in) {
			k.grads = make([][]float32, len(in))
		}
		for j := range in {
			if len(k.grads[j]) != len(in[j]) {
				k.grads[j] = make([]float32, len(in[j]))
			}
			clear(k.grads[j])
		}
		if err := k.f.Backward(k.grads[0], k.grads[1:], in[0], out, dOut, k.n, in[1:]); err != nil {
			return err
		}
		k.valid = true
	}
	copy(dIn, k.grads[i])
	return nil
}
