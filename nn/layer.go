package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/robustq/robustq/nn/internal/kernel"
)

// Layer is one step of a network: a convolution, an activation, a residual
// unit. Layers are built with the constructors of this package (Conv, Dense,
// ReLU, …) and composed with NewNetwork; the interface is sealed, and a
// layer of the user's own is a Func (its forward and backward passes on
// float32 slices).
type Layer interface {
	// setup checks the input shape (C,H,W) or (F), creates the layer's
	// parameters under prefix and returns the output shape.
	setup(s *setup, in []int) (out []int, err error)
	// build adds the layer to a graph.
	build(b *builder, x *G.Node) (*G.Node, error)
}

// setup collects the parameters of a network under construction.
type setup struct {
	rng    *rand.Rand
	params []*Param
	names  map[string]bool
}

func (s *setup) param(layer, role string, kind Kind, shape ...int) (*Param, error) {
	name := layer + "." + role
	if layer == "" {
		return nil, fmt.Errorf("nn: a %v parameter needs a layer name", kind)
	}
	if s.names[name] {
		return nil, fmt.Errorf("nn: duplicate parameter name %q", name)
	}
	s.names[name] = true
	p := &Param{Name: name, Layer: layer, Kind: kind, Shape: shape}
	p.Data = make([]float32, p.Len())
	s.params = append(s.params, p)
	return p, nil
}

// uniform fills d from U(−bound, bound), PyTorch's default for conv and
// dense layers with bound = 1/√fan_in.
func (s *setup) uniform(d []float32, bound float64) {
	for i := range d {
		d[i] = float32((2*s.rng.Float64() - 1) * bound)
	}
}

// builder adds layers to one graph. Layers are shared between a network and
// its clones, so they name their parameters and the builder resolves the
// names against the network being built.
type builder struct {
	g        *G.ExprGraph
	training bool
	opts     graphOptions
	nodes    map[string]*G.Node
	params   map[string]*Param
	// running lists the batch norms' kernels with their running statistics.
	running []runningStats
}

// runningStats is a batch norm's kernel and the parameters that hold its
// running statistics, handed to it before every run (their storage may
// have been replaced since the last).
type runningStats struct {
	k              *kernel.BatchNorm
	mean, variance *Param
}

func (b *builder) node(p *Param) *G.Node { return b.nodes[p.Name] }

// own returns the building network's parameter named like p.
func (b *builder) own(p *Param) *Param { return b.params[p.Name] }

// ConvLayer is a 2-D convolution (cross-correlation, zero padding) with an
// optional bias, Out filters of size Kernel×Kernel; weight shape (Out, In,
// Kernel, Kernel). Use it as a literal:
//
//	&nn.ConvLayer{Name: "conv1", Out: 32, Kernel: 5, Padding: 2, Bias: true}
type ConvLayer struct {
	Name        string
	Out, Kernel int
	// Stride is the step between windows; 0 means 1. Padding is the zeros
	// added on each side.
	Stride, Padding int
	Bias            bool
	weight, bias    *Param
}

func (l *ConvLayer) setup(s *setup, in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%w: conv %q needs (C,H,W) input, got %v", ErrShape, l.Name, in)
	}
	if l.Stride == 0 {
		l.Stride = 1
	}
	if l.Out < 1 || l.Kernel < 1 || l.Stride < 1 || l.Padding < 0 {
		return nil, fmt.Errorf("nn: conv %q: out %d, kernel %d, stride %d, padding %d", l.Name, l.Out, l.Kernel, l.Stride, l.Padding)
	}
	geo := ConvGeometry{InHeight: in[1], InWidth: in[2], Stride: l.Stride, Padding: l.Padding}
	oh, ow := geo.OutSize(l.Kernel, l.Kernel)
	if oh < 1 || ow < 1 {
		return nil, fmt.Errorf("%w: conv %q: kernel %d larger than padded input %v", ErrShape, l.Name, l.Kernel, in)
	}
	var err error
	if l.weight, err = s.param(l.Name, "weight", ConvWeight, l.Out, in[0], l.Kernel, l.Kernel); err != nil {
		return nil, err
	}
	l.weight.Conv = &geo
	bound := 1 / math.Sqrt(float64(in[0]*l.Kernel*l.Kernel))
	s.uniform(l.weight.Data, bound)
	if l.Bias {
		if l.bias, err = s.param(l.Name, "bias", Bias, l.Out); err != nil {
			return nil, err
		}
		s.uniform(l.bias.Data, bound)
	}
	return []int{l.Out, oh, ow}, nil
}

func (l *ConvLayer) build(b *builder, x *G.Node) (*G.Node, error) { return l.buildResidual(b, x, nil) }

// buildResidual builds the layer on x plus the residual s (nil: none),
// which must have the layer's output shape, in one kernel. A residual
// needs a layer without bias.
func (l *ConvLayer) buildResidual(b *builder, x, s *G.Node) (*G.Node, error) {
	if l.Bias && s != nil {
		return nil, fmt.Errorf("nn: conv %q: a residual needs a layer without bias", l.Name)
	}
	// Training graphs compute the filter gradient from the same input.
	cfg := kernel.ConvConfig{Stride: l.Stride, Pad: l.Padding, Bias: l.Bias, Residual: s != nil, KeepPadded: b.training}
	k, err := kernel.NewConv(x.Shape(), l.weight.Shape, cfg, b.opts.kernels)
	if err != nil {
		return nil, err
	}
	switch {
	case s != nil:
		if out := tensor.Shape(k.OutShape()); !out.Eq(s.Shape()) {
			return nil, fmt.Errorf("%w: conv %q gives %v, residual %v", ErrShape, l.Name, out, s.Shape())
		}
		return apply(k, x, b.node(l.weight), s)
	case l.Bias:
		return apply(k, x, b.node(l.weight), b.node(l.bias))
	}
	return apply(k, x, b.node(l.weight))
}

// DenseLayer is a fully connected layer y = W·x + b, W of shape (Out, In).
type DenseLayer struct {
	Name         string
	Out          int
	Bias         bool
	weight, bias *Param
}

// Dense returns a fully connected layer with out outputs and a bias.
func Dense(name string, out int) *DenseLayer { return &DenseLayer{Name: name, Out: out, Bias: true} }

func (l *DenseLayer) setup(s *setup, in []int) ([]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("%w: dense %q needs a flat input, got %v (add Flatten)", ErrShape, l.Name, in)
	}
	if l.Out < 1 {
		return nil, fmt.Errorf("nn: dense %q with %d outputs", l.Name, l.Out)
	}
	var err error
	if l.weight, err = s.param(l.Name, "weight", DenseWeight, l.Out, in[0]); err != nil {
		return nil, err
	}
	bound := 1 / math.Sqrt(float64(in[0]))
	s.uniform(l.weight.Data, bound)
	if l.Bias {
		if l.bias, err = s.param(l.Name, "bias", Bias, l.Out); err != nil {
			return nil, err
		}
		s.uniform(l.bias.Data, bound)
	}
	return []int{l.Out}, nil
}

func (l *DenseLayer) build(b *builder, x *G.Node) (*G.Node, error) {
	k, err := kernel.NewDense(x.Shape(), l.weight.Shape, l.Bias)
	if err != nil {
		return nil, err
	}
	if l.Bias {
		return apply(k, x, b.node(l.weight), b.node(l.bias))
	}
	return apply(k, x, b.node(l.weight))
}

type activation struct{ slope float32 }

// ReLU returns max(x, 0), with derivative 0 at 0 as in PyTorch.
func ReLU() Layer { return activation{} }

// LeakyReLU returns x for x > 0 and slope·x otherwise.
func LeakyReLU(slope float32) Layer { return activation{slope: slope} }

func (a activation) setup(_ *setup, in []int) ([]int, error) { return in, nil }
func (a activation) build(b *builder, x *G.Node) (*G.Node, error) {
	return apply(kernel.NewLeakyReLU(x.Shape(), a.slope, b.opts.kernels), x)
}

type pool struct {
	k, stride int
	max       bool
	global    bool
}

// MaxPool returns k×k max pooling with the given stride and no padding.
func MaxPool(k, stride int) Layer { return pool{k: k, stride: stride, max: true} }

// AvgPool returns k×k average pooling with the given stride and no padding.
func AvgPool(k, stride int) Layer { return pool{k: k, stride: stride} }

// GlobalAvgPool averages each channel over its whole spatial extent and
// returns a flat (C) output.
func GlobalAvgPool() Layer { return pool{global: true} }

func (p pool) setup(_ *setup, in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%w: pooling needs (C,H,W) input, got %v", ErrShape, in)
	}
	if p.global {
		return []int{in[0]}, nil
	}
	if p.k < 1 || p.stride < 1 || p.k > in[1] || p.k > in[2] {
		return nil, fmt.Errorf("%w: pooling window %d stride %d on %v", ErrShape, p.k, p.stride, in)
	}
	return []int{in[0], (in[1]-p.k)/p.stride + 1, (in[2]-p.k)/p.stride + 1}, nil
}

func (p pool) build(b *builder, x *G.Node) (*G.Node, error) {
	s := x.Shape()
	if p.global {
		k, err := kernel.NewPool(s, s[2], s[3], 1, false, b.opts.kernels)
		if err != nil {
			return nil, err
		}
		y, err := apply(k, x)
		if err != nil {
			return nil, err
		}
		return apply(kernel.NewReshape([]int{s[0], s[1]}), y)
	}
	k, err := kernel.NewPool(s, p.k, p.k, p.stride, p.max, b.opts.kernels)
	if err != nil {
		return nil, err
	}
	return apply(k, x)
}

type flatten struct{}

// Flatten turns (C,H,W) examples into flat (C·H·W) vectors, in row-major order.
func Flatten() Layer { return flatten{} }

func (flatten) setup(_ *setup, in []int) ([]int, error) {
	n := 1
	for _, d := range in {
		n *= d
	}
	return []int{n}, nil
}
func (flatten) build(_ *builder, x *G.Node) (*G.Node, error) {
	s := x.Shape()
	return apply(kernel.NewReshape([]int{s[0], s.TotalSize() / s[0]}), x)
}

// BatchNormLayer normalises each channel with batch statistics in training
// and running statistics in evaluation (PyTorch's BatchNorm2d semantics).
type BatchNormLayer struct {
	Name string
	// Momentum of the running statistics; 0 means 0.1.
	Momentum float64
	// Eps is added to the variance; 0 means 1e-5.
	Eps                         float64
	gamma, beta, mean, variance *Param
}

// BatchNorm returns a batch-norm layer with PyTorch's defaults.
func BatchNorm(name string) *BatchNormLayer { return &BatchNormLayer{Name: name} }

func (l *BatchNormLayer) setup(s *setup, in []int) ([]int, error) {
	if len(in) != 3 && len(in) != 1 {
		return nil, fmt.Errorf("%w: batch norm %q on %v", ErrShape, l.Name, in)
	}
	c := in[0]
	var err error
	for _, p := range []struct {
		dst  **Param
		role string
		kind Kind
		init float32
	}{{&l.gamma, "weight", BNScale, 1}, {&l.beta, "bias", BNShift, 0}, {&l.mean, "running_mean", BNMean, 0}, {&l.variance, "running_var", BNVar, 1}} {
		if *p.dst, err = s.param(l.Name, p.role, p.kind, c); err != nil {
			return nil, err
		}
		for i := range (*p.dst).Data {
			(*p.dst).Data[i] = p.init
		}
	}
	return in, nil
}

func (l *BatchNormLayer) build(b *builder, x *G.Node) (*G.Node, error) {
	return l.buildWith(b, x, nil)
}

// buildWith builds the layer, followed by the activation act in the same
// kernel when act is not nil (its slope must be ≥ 0).
func (l *BatchNormLayer) buildWith(b *builder, x *G.Node, act *activation) (*G.Node, error) {
	m, eps := l.Momentum, l.Eps
	if m == 0 {
		m = 0.1
	}
	if eps == 0 {
		eps = 1e-5
	}
	mean, variance := b.own(l.mean), b.own(l.variance)
	cfg := kernel.BatchNormConfig{Training: b.training, Momentum: m, Eps: eps, RunMean: mean.Data, RunVar: variance.Data}
	if act != nil {
		cfg.Act, cfg.Slope = true, act.slope
	}
	k, err := kernel.NewBatchNorm(x.Shape(), cfg, b.opts.kernels)
	if err != nil {
		return nil, err
	}
	b.running = append(b.running, runningStats{k: k, mean: mean, variance: variance})
	return apply(k, x, b.node(l.gamma), b.node(l.beta))
}

// ResidualUnit is the pre-activation residual unit of the Madry et al.
// CIFAR-10 wide ResNet: h = lrelu(bn1(x)); s = x, or a 1×1 projection of h
// when the shape changes; out = conv2(lrelu(bn2(conv1(h)))) + s.
// Convolutions are 3×3 without bias; conv1 has the unit's stride. Use it as
// a literal:
//
//	&nn.ResidualUnit{Name: "units.5", Out: 32, Stride: 2, Slope: 0.1}
type ResidualUnit struct {
	Name string
	Out  int
	// Stride is conv1's and the projection's; 0 means 1.
	Stride int
	// Slope is the leaky ReLUs' negative slope.
	Slope    float32
	bn1, bn2 *BatchNormLayer
	c1, c2   *ConvLayer
	short    *ConvLayer
}

func (u *ResidualUnit) setup(s *setup, in []int) ([]int, error) {
	if len(in) != 3 {
		return nil, fmt.Errorf("%w: residual unit %q needs (C,H,W) input, got %v", ErrShape, u.Name, in)
	}
	if u.Stride == 0 {
		u.Stride = 1
	}
	u.bn1 = BatchNorm(u.Name + ".bn1")
	u.c1 = &ConvLayer{Name: u.Name + ".c1", Out: u.Out, Kernel: 3, Stride: u.Stride, Padding: 1}
	u.bn2 = BatchNorm(u.Name + ".bn2")
	u.c2 = &ConvLayer{Name: u.Name + ".c2", Out: u.Out, Kernel: 3, Padding: 1}
	if u.Stride != 1 || in[0] != u.Out {
		u.short = &ConvLayer{Name: u.Name + ".short", Out: u.Out, Kernel: 1, Stride: u.Stride}
	}
	// PyTorch's module order: bn1, c1, bn2, c2, short.
	h, err := u.bn1.setup(s, in)
	if err != nil {
		return nil, err
	}
	mid, err := u.c1.setup(s, h)
	if err != nil {
		return nil, err
	}
	if _, err = u.bn2.setup(s, mid); err != nil {
		return nil, err
	}
	out, err := u.c2.setup(s, mid)
	if err != nil {
		return nil, err
	}
	if u.short != nil {
		if _, err = u.short.setup(s, h); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (u *ResidualUnit) build(b *builder, x *G.Node) (*G.Node, error) {
	act := LeakyReLU(u.Slope)
	h, err := chain(b, x, u.bn1, act)
	if err != nil {
		return nil, err
	}
	short := x
	if u.short != nil {
		if short, err = u.short.build(b, h); err != nil {
			return nil, err
		}
	}
	if h, err = chain(b, h, u.c1, u.bn2, act); err != nil {
		return nil, err
	}
	if b.opts.unfusedResidualAdd {
		if h, err = u.c2.build(b, h); err != nil {
			return nil, err
		}
		return apply(kernel.NewAdd(h.Shape(), b.opts.kernels), h, short)
	}
	// conv2 adds the shortcut itself (kernel.ConvConfig.Residual).
	return u.c2.buildResidual(b, h, short)
}

// chain builds layers in turn on x. A batch norm followed by a ReLU or leaky
// ReLU with a slope ≥ 0 becomes one kernel (kernel.BatchNormConfig.Act): the
// results are the same bit for bit, with one pass over the activations
// instead of two each way, and one activation tensor less to hold.
func chain(b *builder, x *G.Node, layers ...Layer) (*G.Node, error) {
	var err error
	for i := 0; i < len(layers); i++ {
		if bn, ok := layers[i].(*BatchNormLayer); ok && !b.opts.unfusedBNAct && i+1 < len(layers) {
			if act, ok := layers[i+1].(activation); ok && act.slope >= 0 {
				if x, err = bn.buildWith(b, x, &act); err != nil {
					return nil, err
				}
				i++
				continue
			}
		}
		if x, err = layers[i].build(b, x); err != nil {
			return nil, err
		}
	}
	return x, nil
}
