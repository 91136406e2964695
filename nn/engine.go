package nn

import (
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/robustq/robustq/nn/internal/kernel"
)

// gradEngine is the tensor engine of every graph's tape machine: Gorgonia's
// standard engine with the addition of two float32 tensors split across
// the workers. Gorgonia sums the gradient contributions of a node with
// several consumers (each residual unit's input) with its own Add op, which
// the standard engine runs on one goroutine while the other cores wait
// (BenchmarkTrainStep/resnet32-w1 -cpuprofile: execution.AddRecvF32).
type gradEngine struct {
	G.StandardEngine
	// adds, when set, counts the additions addFloat32 has done, for tests.
	adds *atomic.Uint64
}

// Add implements tensor.Adder.
func (e gradEngine) Add(a, b tensor.Tensor, opts ...tensor.FuncOpt) (tensor.Tensor, error) {
	if out := addFloat32(a, b, opts); out != nil {
		if e.adds != nil {
			e.adds.Add(1)
		}
		return out, nil
	}
	return e.StandardEngine.Add(a, b, opts...)
}

// addFloat32 sets r = a + b and returns r, where a and b are contiguous
// dense float32 tensors of one shape and opts ask for the result in a
// reuse tensor r of that shape, or in place (r = a). It returns nil, having
// done nothing, in every other case, which the standard engine handles.
// Each sum is the one the standard engine computes, rounded the same way.
func addFloat32(a, b tensor.Tensor, opts []tensor.FuncOpt) tensor.Tensor {
	fo := tensor.ParseFuncOpts(opts...)
	reuse, incr, safe, as := fo.Reuse(), fo.Incr(), fo.Safe(), fo.As()
	if incr != nil || as.Type != nil {
		return nil
	}
	x, ok := flatFloat32(a, nil)
	if !ok {
		return nil
	}
	y, ok := flatFloat32(b, a.Shape())
	if !ok {
		return nil
	}
	var r tensor.Tensor
	z := x
	switch {
	case reuse != nil:
		if z, ok = flatFloat32(reuse, a.Shape()); !ok {
			return nil
		}
		r = reuse
	case !safe:
		r = a
	default:
		return nil
	}
	kernel.ParallelAdd(z, x, y)
	return r
}

// flatFloat32 returns the values of t when it is a dense float32 tensor
// whose values are contiguous in row-major order (and of shape want, unless
// want is nil).
func flatFloat32(t tensor.Tensor, want tensor.Shape) ([]float32, bool) {
	d, ok := t.(*tensor.Dense)
	if !ok || d.Dtype() != tensor.Float32 || d.RequiresIterator() || d.IsMasked() || !d.DataOrder().IsRowMajor() {
		return nil, false
	}
	if want != nil && !d.Shape().Eq(want) {
		return nil, false
	}
	v := d.Float32s()
	return v, len(v) == d.Shape().TotalSize()
}
