package nn

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"runtime"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/robustq/robustq/nn/internal/kernel"
)

// Network is a feed-forward classifier built from Layers. It implements
// Model. Its parameters live in Params; graphs are built lazily, one per
// batch size and mode, and reused.
//
// A Network is not safe for concurrent use: give each goroutine its own Clone.
type Network struct {
	name   string
	spec   Spec
	layers []Layer
	params []*Param
	byName map[string]*Param
	graphs map[graphKey]*graph
	clock  uint64 // for least-recently-used eviction of graphs
	opts   graphOptions
}

// graphOptions are choices made when a network builds a graph. The zero
// value is what networks use; tests set the others, before the first
// graph is built, to compare the fused kernels with plain ones bit for bit.
type graphOptions struct {
	kernels            kernel.Options
	unfusedBNAct       bool          // batch norm and its activation as two kernels (chain)
	unfusedResidualAdd bool          // residual additions as kernels of their own (ResidualUnit)
	unfusedBNSums      bool          // batch norms make their own passes for their sums (fuseBatchNormKernels)
	engine             tensor.Engine // the tape machines' engine; nil means gradEngine
}

var _ Model = (*Network)(nil)

// maxGraphs bounds the graph cache; beyond it the least recently used graph
// is dropped.
const maxGraphs = 8

// evalBatch is the graph size used for an evaluation batch of n examples:
// n itself up to 8, else n rounded up to a multiple of 2^(bits(n)−4), so at
// most 12.5% of a batch is padding and callers whose batch sizes vary (the
// last batch of a data set, attacks that drop finished examples) reuse a
// few graphs instead of building one per size. Evaluation examples are
// independent, so padding does not change any result.
func evalBatch(n int) int {
	if n <= 8 {
		return n
	}
	step := 1 << (bits.Len(uint(n)) - 4)
	return (n + step - 1) / step * step
}

// NewNetwork builds a network for inputs of shape in = (C,H,W) from the
// layers, which must end in a flat output of classes values. rng draws the
// initial weights (PyTorch's default: U(±1/√fan_in) for conv and dense
// weights and biases; batch norm γ = 1, β = 0).
func NewNetwork(name string, in [3]int, rng *rand.Rand, layers ...Layer) (*Network, error) {
	if rng == nil {
		return nil, fmt.Errorf("nn: NewNetwork %q: nil *rand.Rand", name)
	}
	if in[0] < 1 || in[1] < 1 || in[2] < 1 {
		return nil, fmt.Errorf("%w: input shape %v", ErrShape, in)
	}
	s := &setup{rng: rng, names: map[string]bool{}}
	shape := in[:]
	var err error
	for i, l := range layers {
		if l == nil {
			return nil, fmt.Errorf("nn: NewNetwork %q: layer %d is nil", name, i)
		}
		if shape, err = l.setup(s, shape); err != nil {
			return nil, fmt.Errorf("nn: NewNetwork %q, layer %d: %w", name, i, err)
		}
	}
	if len(shape) != 1 || shape[0] < 1 {
		return nil, fmt.Errorf("%w: network %q ends in shape %v, want flat logits", ErrShape, name, shape)
	}
	n := &Network{name: name, spec: Spec{Channels: in[0], Height: in[1], Width: in[2], Classes: shape[0]},
		layers: layers, params: s.params}
	n.index()
	return n, nil
}

func (n *Network) index() {
	n.byName = make(map[string]*Param, len(n.params))
	for _, p := range n.params {
		n.byName[p.Name] = p
	}
	n.graphs = map[graphKey]*graph{}
}

// Name returns the name the network was built with.
func (n *Network) Name() string { return n.name }

// Spec implements Classifier.
func (n *Network) Spec() Spec {
	if n == nil {
		return Spec{}
	}
	return n.spec
}

// Params returns the live parameters (including batch-norm running
// statistics) in construction order. Change values in place through Data.
func (n *Network) Params() []*Param { return n.params }

// Param returns the parameter with the given name, or nil.
func (n *Network) Param(name string) *Param { return n.byName[name] }

// ReleaseGraphs drops the graphs the network has compiled (one per batch
// size and mode, each holding its activations and gradients), so that their
// memory can be reclaimed; the next call that needs one builds it again.
// Call it on a network that will sit unused while others run: a model kept
// for a report, or one of many evaluated in turn.
func (n *Network) ReleaseGraphs() { clear(n.graphs) }

// NumParams returns the number of trainable values.
func (n *Network) NumParams() int {
	t := 0
	for _, p := range n.params {
		if p.Kind.Trainable() {
			t += p.Len()
		}
	}
	return t
}

// Clone returns a deep copy of the network: same layers, copied parameters,
// no shared state. The copy can run in another goroutine.
func (n *Network) Clone() *Network {
	c := &Network{name: n.name, spec: n.spec, layers: n.layers, params: make([]*Param, len(n.params)), opts: n.opts}
	for i, p := range n.params {
		c.params[i] = p.Clone()
	}
	c.index()
	return c
}

// graphKey identifies a cached graph.
type graphKey struct {
	batch int
	mode  graphMode
}

type graphMode int

const (
	modeLogits    graphMode = iota // evaluation, forward only
	modeInputGrad                  // evaluation, loss gradient with respect to the input
	modeTrain                      // training, loss gradient with respect to trainable parameters
)

// graph is one compiled Gorgonia graph and its machine.
type graph struct {
	g          *G.ExprGraph
	vm         G.VM
	x          *G.Node
	logits     *G.Node
	loss       *lossKernel
	inGrad     *G.Node
	params     []*Param // in n.params order
	paramNodes []*G.Node
	bound      []*float32 // first element of the data each param node is bound to
	paramGrads []*G.Node  // trainable params only, modeTrain
	trainable  []*Param
	running    []runningStats
	used       uint64 // n.clock at the last use
	pad        []float32
	padY       []int
}

// padded returns x and y extended with zero examples (label 0) to the
// graph's batch size.
func (gr *graph) padded(x []float32, y []int, e int) ([]float32, []int) {
	size := gr.x.Shape()[0]
	if len(x) == size*e {
		return x, y
	}
	if len(gr.pad) != size*e {
		gr.pad, gr.padY = make([]float32, size*e), make([]int, size)
	}
	copy(gr.pad, x)
	clear(gr.pad[len(x):])
	if y != nil {
		copy(gr.padY, y)
		clear(gr.padY[len(y):])
		y = gr.padY
	}
	return gr.pad, y
}

func (n *Network) graph(batch int, mode graphMode) (*graph, error) {
	key := graphKey{batch, mode}
	n.clock++
	if gr, ok := n.graphs[key]; ok {
		gr.used = n.clock
		return gr, nil
	}
	if len(n.graphs) >= maxGraphs {
		var oldest graphKey
		first := true
		for k, g := range n.graphs {
			if first || g.used < n.graphs[oldest].used {
				oldest, first = k, false
			}
		}
		delete(n.graphs, oldest)
	}
	gr, err := n.buildGraph(batch, mode)
	if err != nil {
		return nil, err
	}
	gr.used = n.clock
	n.graphs[key] = gr
	return gr, nil
}

func denseOf(p *Param) *tensor.Dense {
	return tensor.New(tensor.WithShape(p.Shape...), tensor.WithBacking(p.Data))
}

func (n *Network) buildGraph(batch int, mode graphMode) (*graph, error) {
	g := G.NewGraph()
	gr := &graph{g: g, params: n.params}
	b := &builder{g: g, training: mode == modeTrain, opts: n.opts, nodes: map[string]*G.Node{}, params: n.byName}
	for _, p := range n.params {
		node := G.NewTensor(g, tensor.Float32, len(p.Shape), G.WithShape(p.Shape...), G.WithName(p.Name), G.WithValue(denseOf(p)))
		b.nodes[p.Name] = node
		gr.paramNodes = append(gr.paramNodes, node)
		gr.bound = append(gr.bound, &p.Data[0])
	}
	s := n.spec
	gr.x = G.NewTensor(g, tensor.Float32, 4, G.WithShape(batch, s.Channels, s.Height, s.Width), G.WithName("x"))
	h, err := chain(b, gr.x, n.layers...)
	if err != nil {
		return nil, err
	}
	gr.logits = h
	gr.running = b.running
	// The graph runs only what its outputs depend on: differentiating an op
	// makes the gradients of all its inputs, so an input-gradient graph also
	// holds weight gradients, and a training graph the input gradient,
	// which neither needs.
	outputs := G.Nodes{gr.logits}
	if mode != modeLogits {
		gr.loss = &lossKernel{n: batch, k: s.Classes}
		cost, err := apply(gr.loss, h)
		if err != nil {
			return nil, err
		}
		var wrt G.Nodes
		if mode == modeInputGrad {
			wrt = G.Nodes{gr.x}
		} else {
			for i, p := range n.params {
				if p.Kind.Trainable() {
					wrt = append(wrt, gr.paramNodes[i])
					gr.trainable = append(gr.trainable, p)
				}
			}
		}
		grads, err := G.Grad(cost, wrt...)
		if err != nil {
			return nil, fmt.Errorf("nn: differentiating %q: %v", n.name, err)
		}
		if mode == modeInputGrad {
			gr.inGrad = grads[0]
		} else {
			gr.paramGrads = grads
		}
		outputs = append(append(outputs, cost), grads...)
	}
	if mode == modeTrain && !n.opts.unfusedBNSums {
		fuseBatchNormKernels(g)
	}
	var engine tensor.Engine = gradEngine{}
	if n.opts.engine != nil {
		engine = n.opts.engine
	}
	gr.vm = G.NewTapeMachine(g.ExactSubgraphRoots(outputs...), G.WithEngine(engine))
	// Gorgonia sets a finalizer on every tape machine (it does nothing
	// without CUDA), and the machine is part of a reference cycle: Go never
	// frees a cycle that holds a finalizer, so without this line every
	// graph ever built, with its buffers, would stay in memory.
	runtime.SetFinalizer(gr.vm, nil)
	return gr, nil
}

// run binds x (and labels for the loss), rebinds parameters whose storage
// was replaced, and runs the graph.
func (gr *graph) run(x []float32, y []int, loss Loss) error {
	for i, p := range gr.params {
		if len(p.Data) != p.Len() {
			return fmt.Errorf("%w: parameter %s has %d values, shape %v", ErrShape, p.Name, len(p.Data), p.Shape)
		}
		if &p.Data[0] != gr.bound[i] {
			if err := G.Let(gr.paramNodes[i], denseOf(p)); err != nil {
				return fmt.Errorf("nn: rebinding %s: %v", p.Name, err)
			}
			gr.bound[i] = &p.Data[0]
		}
	}
	for _, r := range gr.running {
		r.k.SetRunning(r.mean.Data, r.variance.Data)
	}
	xs := gr.x.Shape()
	if err := G.Let(gr.x, tensor.New(tensor.WithShape(xs.Clone()...), tensor.WithBacking(x))); err != nil {
		return fmt.Errorf("nn: binding input: %v", err)
	}
	if gr.loss != nil {
		gr.loss.labels, gr.loss.loss = y, loss
	}
	gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return fmt.Errorf("nn: running graph: %v", err)
	}
	return nil
}

func nodeData(n *G.Node) ([]float32, error) { return valueData(n.Value()) }

// maxEvalChunk is the largest batch an evaluation graph is built for:
// Logits and InputGrad split larger batches into chunks of this size, so
// their memory does not grow with the batch (examples are independent in
// evaluation mode, so chunking changes no result).
const maxEvalChunk = 256

// Logits implements Classifier. It runs in evaluation mode, on at most
// 256 examples per graph.
func (n *Network) Logits(x []float32) ([]float32, error) {
	if n == nil {
		return nil, ErrNilModel
	}
	batch, err := n.spec.CheckInput(x, nil)
	if err != nil {
		return nil, err
	}
	if batch > maxEvalChunk {
		e := n.spec.ExampleSize()
		out := make([]float32, 0, batch*n.spec.Classes)
		for lo := 0; lo < batch; lo += maxEvalChunk {
			z, err := n.Logits(x[lo*e : min(lo+maxEvalChunk, batch)*e])
			if err != nil {
				return nil, err
			}
			out = append(out, z...)
		}
		return out, nil
	}
	gr, err := n.graph(evalBatch(batch), modeLogits)
	if err != nil {
		return nil, err
	}
	px, _ := gr.padded(x, nil, n.spec.ExampleSize())
	if err := gr.run(px, nil, nil); err != nil {
		return nil, err
	}
	d, err := nodeData(gr.logits)
	if err != nil {
		return nil, err
	}
	return append([]float32(nil), d[:batch*n.spec.Classes]...), nil
}

// InputGrad implements Model. It runs in evaluation mode, on at most 256
// examples per graph.
func (n *Network) InputGrad(x []float32, y []int, loss Loss) (grad, losses []float32, err error) {
	if n == nil {
		return nil, nil, ErrNilModel
	}
	if loss == nil {
		return nil, nil, fmt.Errorf("nn: InputGrad with a nil loss")
	}
	batch, err := n.spec.CheckInput(x, y)
	if err != nil {
		return nil, nil, err
	}
	if batch > maxEvalChunk {
		e := n.spec.ExampleSize()
		grad, losses = make([]float32, 0, len(x)), make([]float32, 0, batch)
		for lo := 0; lo < batch; lo += maxEvalChunk {
			hi := min(lo+maxEvalChunk, batch)
			g, l, err := n.InputGrad(x[lo*e:hi*e], y[lo:hi], loss)
			if err != nil {
				return nil, nil, err
			}
			grad, losses = append(grad, g...), append(losses, l...)
		}
		return grad, losses, nil
	}
	gr, err := n.graph(evalBatch(batch), modeInputGrad)
	if err != nil {
		return nil, nil, err
	}
	px, py := gr.padded(x, y, n.spec.ExampleSize())
	if err := gr.run(px, py, loss); err != nil {
		return nil, nil, err
	}
	d, err := nodeData(gr.inGrad)
	if err != nil {
		return nil, nil, err
	}
	return append([]float32(nil), d[:len(x)]...), append([]float32(nil), gr.loss.losses[:batch]...), nil
}

// Gradients runs one training-mode forward and backward pass (batch norm
// uses and updates batch statistics) and returns the per-example losses, the
// logits and the gradient of the mean loss with respect to each trainable
// parameter, keyed by the parameter. The slices are owned by the network and
// valid until its next call.
func (n *Network) Gradients(x []float32, y []int, loss Loss) (*StepOutput, error) {
	if n == nil {
		return nil, ErrNilModel
	}
	if loss == nil {
		return nil, fmt.Errorf("nn: Gradients with a nil loss")
	}
	batch, err := n.spec.CheckInput(x, y)
	if err != nil {
		return nil, err
	}
	gr, err := n.graph(batch, modeTrain)
	if err != nil {
		return nil, err
	}
	if err := gr.run(x, y, loss); err != nil {
		return nil, err
	}
	out := &StepOutput{Losses: gr.loss.losses, Params: gr.trainable, Grads: make([][]float32, len(gr.trainable))}
	if out.Logits, err = nodeData(gr.logits); err != nil {
		return nil, err
	}
	scale := 1 / float32(batch)
	for i, gn := range gr.paramGrads {
		d, err := nodeData(gn)
		if err != nil {
			return nil, err
		}
		for j := range d {
			d[j] *= scale
		}
		out.Grads[i] = d
	}
	for _, l := range out.Losses {
		if math.IsNaN(float64(l)) || math.IsInf(float64(l), 0) {
			return out, fmt.Errorf("%w: loss %v", ErrNonFinite, l)
		}
	}
	return out, nil
}

// StepOutput is the result of one training-mode pass.
type StepOutput struct {
	// Losses holds the per-example losses.
	Losses []float32
	// Logits holds the training-mode logits, n×Classes.
	Logits []float32
	// Params are the trainable parameters and Grads the gradients of the mean
	// loss with respect to them, in the same order.
	Params []*Param
	Grads  [][]float32
}

// CloneModel returns Clone as a Model, so that evaluators can give each
// worker goroutine its own copy (attack.Cloner).
func (n *Network) CloneModel() Model { return n.Clone() }
