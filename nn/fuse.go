package nn

import (
	G "gorgonia.org/gorgonia"
)

// imageObserver is handed a kernel's result one image at a time, as soon as
// each image is final and while it is still in cache. A batch norm reads
// the per-(image, channel) sums it needs that way instead of in a pass of
// its own over the whole batch: on ResNet-32 those passes were about 6% of
// a training step (go test -bench TrainStep/resnet -cpuprofile: sums16 and
// sumsMasked16).
type imageObserver interface {
	// start is called before the kernel writes any of out.
	start(out []float32)
	// image is called once per image n with its values, from any worker.
	image(n int, img []float32)
	// finish is called once every image of out has been handed over.
	finish(out []float32)
}

// runSums holds a pair of float64 sums per run of values (an image's
// channel), and which data they are of.
type runSums struct {
	pairs []float64
	// of is the first value of the data the pairs were computed from by an
	// observer, nil when they are not (yet) from one.
	of *float32
}

// reset sizes s for runs runs and forgets what it was of.
func (s *runSums) reset(runs int) {
	if len(s.pairs) != 2*runs {
		s.pairs = make([]float64, 2*runs)
	}
	s.of = nil
}

// holdsFor reports whether an observer filled s from d and forgets it: an
// observer's sums are used once, by the pass that follows the kernel that
// wrote d, so a later pass never sees sums of values since overwritten.
func (s *runSums) holdsFor(d []float32) bool {
	ok := len(d) > 0 && s.of == &d[0]
	s.of = nil
	return ok
}

// runSumsObserver fills s by calling fill for every image.
type runSumsObserver struct {
	s    *runSums
	runs int
	fill func(n int, img []float32)
}

func (o *runSumsObserver) start([]float32)            { o.s.reset(o.runs) }
func (o *runSumsObserver) image(n int, img []float32) { o.fill(n, img) }
func (o *runSumsObserver) finish(out []float32)       { o.s.of = &out[0] }

// fuseBatchNormSums makes training graphs fuse the batch norms' sums into
// the kernels around them (fuseBatchNormKernels); tests turn it off to
// compare.
var fuseBatchNormSums = true

// fuseBatchNormKernels turns on the observers of a training graph's batch
// norms: each takes its forward sums from the kernel that writes its input,
// and its backward sums from the kernel that writes the gradient of its
// output, where those are convolutions. Fusion changes no value:
// the sums are the same float64 computations on the same runs (a batch
// norm checks that an observer's sums are of the very data it was given,
// and makes its own pass otherwise).
//
// The backward sums need the gradient to come from one kernel: the batch
// norm's output must have exactly one consumer among the forward
// operations (two, like the input of a projection shortcut, have their
// gradients added by Gorgonia into a buffer no kernel observes).
func fuseBatchNormKernels(g *G.ExprGraph) {
	consumers := map[*G.Node][]*G.Node{}
	for _, n := range g.AllNodes() {
		if op, ok := n.Op().(*gop); ok && op.grad >= 0 {
			continue // a gradient op reads values; it adds nothing to their gradients
		}
		for it := g.From(n.ID()); it.Next(); {
			in := it.Node().(*G.Node)
			consumers[in] = append(consumers[in], n)
		}
	}
	forwardKernel := func(n *G.Node) kernel {
		if n == nil {
			return nil
		}
		if op, ok := n.Op().(*gop); ok && op.grad < 0 {
			return op.k
		}
		return nil
	}
	for _, n := range g.AllNodes() {
		bn, ok := forwardKernel(n).(*batchNormKernel)
		if !ok || !bn.training {
			continue
		}
		if p, ok := forwardKernel(firstInput(g, n)).(*convKernel); ok && p.observer == nil {
			p.observer = bn.statsObserver()
		}
		if cs := consumers[n]; len(cs) == 1 {
			if c, ok := forwardKernel(cs[0]).(*convKernel); ok && firstInput(g, cs[0]) == n {
				c.gradObserver = bn.gradsObserver()
			}
		}
	}
}

// firstInput returns n's first input node, or nil.
func firstInput(g *G.ExprGraph, n *G.Node) *G.Node {
	it := g.From(n.ID())
	if !it.Next() {
		return nil
	}
	return it.Node().(*G.Node)
}
