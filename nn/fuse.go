package nn

import (
	G "gorgonia.org/gorgonia"

	"github.com/robustq/robustq/nn/internal/kernel"
)

// fuseBatchNormKernels turns on the observers of a training graph's batch
// norms: each takes its forward sums from the kernel that writes its input
// (kernel.FeedStats), and its backward sums from the kernel that writes the
// gradient of its output (kernel.FeedGradSums), where those are
// convolutions, instead of in passes of their own over the batch
// (BenchmarkTrainStep/resnet32-w1). Fusion changes no value: the sums are
// the same float64 computations on the same runs.
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
	forwardKernel := func(n *G.Node) kernel.Kernel {
		if n == nil {
			return nil
		}
		if op, ok := n.Op().(*gop); ok && op.grad < 0 {
			return op.k
		}
		return nil
	}
	for _, n := range g.AllNodes() {
		bn, ok := forwardKernel(n).(*kernel.BatchNorm)
		if !ok || !bn.Training() {
			continue
		}
		if p, ok := forwardKernel(firstInput(g, n)).(*kernel.Conv); ok {
			kernel.FeedStats(p, bn)
		}
		if cs := consumers[n]; len(cs) == 1 {
			if c, ok := forwardKernel(cs[0]).(*kernel.Conv); ok && firstInput(g, cs[0]) == n {
				kernel.FeedGradSums(c, bn)
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
