package nn

import (
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	rqblas "github.com/robustq/robustq/internal/blas"
	"github.com/robustq/robustq/nn/internal/kernel"
)

// GEMMBackend says which matrix multiply the kernels use: "robustq AVX-512
// kernels (Go assembly)", "robustq AVX2+FMA kernels (Go assembly)" (where
// the CPU lacks AVX-512, or ROBUSTQ_BLAS=avx2; the elementwise loops are
// then AVX2 too), "openblas: <path> (<core> kernels)" when OpenBLAS was
// found at run time, or "gonum".
func GEMMBackend() string { return rqblas.Backend() }

// opIDs makes every gop's hash unique, so Gorgonia never merges two
// operations that happen to have the same kernel type and inputs.
var opIDs atomic.Uint64

// gop adapts a kernel.Kernel to Gorgonia's Op and SDOp interfaces: every
// layer of a Network runs through one. Gorgonia does the bookkeeping of
// autodiff (ordering, accumulating the gradients of shared nodes), the
// kernels do the arithmetic; its tape machine runs a forward op before any
// of its gradient ops, in one goroutine, as kernels require. With grad < 0
// it is the forward operation; with grad = i it computes the gradient with
// respect to input i and takes (inputs..., output, dOutput).
type gop struct {
	k        kernel.Kernel
	id       uint64
	inShapes []tensor.Shape
	grad     int
	// out is the result buffer, reused from run to run of the graph: a graph
	// run again allocates nothing here.
	out *tensor.Dense
}

var (
	_ G.SDOp            = (*gop)(nil)
	_ G.UsePreallocDoer = (*gop)(nil)
)

// apply adds kernel k, applied to the inputs, to their graph.
func apply(k kernel.Kernel, inputs ...*G.Node) (*G.Node, error) {
	shapes := make([]tensor.Shape, len(inputs))
	for i, n := range inputs {
		shapes[i] = n.Shape().Clone()
	}
	op := &gop{k: k, id: opIDs.Add(1), inShapes: shapes, grad: -1}
	out, err := G.ApplyOp(op, inputs...)
	if err != nil {
		return nil, fmt.Errorf("nn: building %s: %v", k.Name(), err)
	}
	return out, nil
}

func tensorType(s tensor.Shape) hm.Type {
	if s.IsScalar() {
		return tensor.Float32
	}
	return G.TensorType{Dims: s.Dims(), Of: tensor.Float32}
}

func (o *gop) resultShape() tensor.Shape {
	if o.grad < 0 {
		return tensor.Shape(o.k.OutShape())
	}
	return o.inShapes[o.grad]
}

func (o *gop) Arity() int {
	if o.grad < 0 {
		return len(o.inShapes)
	}
	return len(o.inShapes) + 2
}

func (o *gop) Type() hm.Type {
	ts := make([]hm.Type, 0, len(o.inShapes)+3)
	for _, s := range o.inShapes {
		ts = append(ts, tensorType(s))
	}
	if o.grad >= 0 {
		ts = append(ts, tensorType(tensor.Shape(o.k.OutShape())), tensorType(tensor.Shape(o.k.OutShape())))
	}
	ts = append(ts, tensorType(o.resultShape()))
	return hm.NewFnType(ts...)
}

func (o *gop) InferShape(...G.DimSizer) (tensor.Shape, error) { return o.resultShape().Clone(), nil }
func (o *gop) ReturnsPtr() bool                               { return false }
func (o *gop) CallsExtern() bool                              { return false }
func (o *gop) OverwritesInput() int                           { return -1 }
func (o *gop) WriteHash(h hash.Hash)                          { fmt.Fprintf(h, "robustq.%s#%d/%d", o.k.Name(), o.id, o.grad) }
func (o *gop) Hashcode() uint32 {
	h := fnv.New32a()
	o.WriteHash(h)
	return h.Sum32()
}
func (o *gop) String() string {
	if o.grad < 0 {
		return o.k.Name()
	}
	return fmt.Sprintf("∂%s/∂in%d", o.k.Name(), o.grad)
}

// Do runs the op into a fresh result.
func (o *gop) Do(vals ...G.Value) (G.Value, error) {
	return o.run(nil, vals)
}

// UsePreallocDo runs the op into the result of the previous run, so that a
// graph run again allocates nothing for this op.
func (o *gop) UsePreallocDo(prealloc G.Value, vals ...G.Value) (G.Value, error) {
	return o.run(prealloc, vals)
}

func (o *gop) run(prealloc G.Value, vals []G.Value) (G.Value, error) {
	if len(vals) != o.Arity() {
		return nil, fmt.Errorf("nn: %v got %d inputs, want %d", o, len(vals), o.Arity())
	}
	in := make([][]float32, len(vals))
	for i, v := range vals {
		d, err := valueData(v)
		if err != nil {
			return nil, fmt.Errorf("nn: %v input %d: %w", o, i, err)
		}
		in[i] = d
	}
	shape := o.resultShape()
	var result G.Value
	var out []float32
	if shape.IsScalar() {
		f := G.F32(0)
		result = &f
		out = make([]float32, 1)
	} else {
		dense := o.out
		if p, ok := prealloc.(*tensor.Dense); ok && p.Shape().Eq(shape) && p.Dtype() == tensor.Float32 && !p.IsMaterializable() {
			dense = p
		} else if dense == nil {
			dense = tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape.Clone()...))
			o.out = dense
		}
		result = dense
		out = dense.Data().([]float32)
	}
	var err error
	if o.grad < 0 {
		err = o.k.Forward(out, in)
	} else {
		n := len(o.inShapes)
		err = o.k.Backward(o.grad, out, in[:n], in[n], in[n+1])
	}
	if err != nil {
		return nil, err
	}
	if f, ok := result.(*G.F32); ok {
		*f = G.F32(out[0])
	}
	return result, nil
}

// valueData returns the float32 values of v in row-major order.
func valueData(v G.Value) ([]float32, error) {
	switch t := v.(type) {
	case *G.F32:
		return []float32{float32(*t)}, nil
	case *tensor.Dense:
		if t.Dtype() != tensor.Float32 {
			return nil, fmt.Errorf("dtype %v, want float32", t.Dtype())
		}
		if t.IsMaterializable() || t.RequiresIterator() {
			c := t.Materialize()
			return c.Data().([]float32), nil
		}
		if t.IsScalar() {
			return []float32{t.ScalarValue().(float32)}, nil
		}
		return t.Data().([]float32), nil
	default:
		return nil, fmt.Errorf("unsupported value %T", v)
	}
}

// DiffWRT implements G.SDOp.
func (o *gop) DiffWRT(n int) []bool {
	if o.grad >= 0 {
		return make([]bool, n)
	}
	return o.k.Differentiable()
}

// SymDiff implements G.SDOp: one gradient op per differentiable input. A
// kernel.PassKernel's gradient with respect to a summed input is dOut
// itself, so SymDiff hands Gorgonia dOut's node rather than a gradient op
// that would copy it (the copies show in BenchmarkTrainStep/resnet32-w1
// -cpuprofile as runtime.memmove under the add kernel's Backward).
func (o *gop) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if o.grad >= 0 {
		return nil, fmt.Errorf("nn: second derivatives of %s are not supported", o.k.Name())
	}
	diff := o.k.Differentiable()
	pass, _ := o.k.(kernel.PassKernel)
	ret := make(G.Nodes, len(inputs))
	args := append(append(G.Nodes{}, inputs...), output, grad)
	for i := range inputs {
		if !diff[i] {
			continue
		}
		if pass != nil && pass.PassesGradient(i) && o.inShapes[i].Eq(tensor.Shape(o.k.OutShape())) {
			// Gorgonia's own addition does the same (addDiffExpr); where the
			// gradients of a node add up, it allocates the sum.
			ret[i] = grad
			continue
		}
		g := &gop{k: o.k, id: o.id, inShapes: o.inShapes, grad: i}
		n, err := G.ApplyOp(g, args...)
		if err != nil {
			return nil, fmt.Errorf("nn: differentiating %s: %v", o.k.Name(), err)
		}
		ret[i] = n
	}
	return ret, nil
}
