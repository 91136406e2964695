package nn

import (
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// TestGradEngineAdd checks gradEngine.Add against the standard engine's:
// bit for bit (each is one float32 addition) in the cases it handles itself
// (a reuse tensor, in place), on a size split across the workers and with
// NaN and infinities among the values; and that the other cases (no reuse,
// float64, mismatched shapes) give the standard engine's results or errors.
func TestGradEngineAdd(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	const n = 1<<16 + 3 // two workers' worth of kernel.ParallelRange, and a ragged end
	shape := tensor.Shape{3, n}
	vals := func() []float32 {
		v := randSlice(r, 3*n, -10, 10)
		v[5], v[7], v[n] = float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))
		return v
	}
	av, bv := vals(), vals()
	dense := func(v []float32) *tensor.Dense {
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), v...)))
	}
	same := func(name string, got, want tensor.Tensor) {
		t.Helper()
		g, w := got.Data().([]float32), want.Data().([]float32)
		if len(g) != len(w) {
			t.Fatalf("%s: %d values, want %d", name, len(g), len(w))
		}
		for i := range g {
			if math.Float32bits(g[i]) != math.Float32bits(w[i]) && !(g[i] != g[i] && w[i] != w[i]) {
				t.Fatalf("%s: [%d] = %v, standard engine %v", name, i, g[i], w[i])
			}
		}
	}
	var std G.StandardEngine
	var adds atomic.Uint64
	fast := gradEngine{adds: &adds}

	// Into a reuse tensor.
	reuse, reuseStd := dense(make([]float32, 3*n)), dense(make([]float32, 3*n))
	got, err := fast.Add(dense(av), dense(bv), tensor.WithReuse(reuse))
	if err != nil {
		t.Fatal(err)
	}
	want, err := std.Add(dense(av), dense(bv), tensor.WithReuse(reuseStd))
	if err != nil {
		t.Fatal(err)
	}
	if got != tensor.Tensor(reuse) {
		t.Errorf("result is not the reuse tensor")
	}
	same("reuse", got, want)

	// In place.
	a := dense(av)
	if got, err = fast.Add(a, dense(bv), tensor.UseUnsafe()); err != nil {
		t.Fatal(err)
	}
	if got != tensor.Tensor(a) {
		t.Errorf("unsafe result is not a")
	}
	same("unsafe", got, want)
	if d := adds.Load(); d != 2 {
		t.Errorf("%d additions took the parallel path, want 2", d)
	}

	// Handed to the standard engine.
	before := adds.Load()
	if got, err = fast.Add(dense(av), dense(bv)); err != nil {
		t.Fatal(err)
	}
	same("new tensor", got, want)
	a64 := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2}))
	b64 := tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{0.5, 4}))
	r64 := tensor.New(tensor.WithShape(2), tensor.Of(tensor.Float64))
	if got, err = fast.Add(a64, b64, tensor.WithReuse(r64)); err != nil {
		t.Fatal(err)
	}
	if v := got.Data().([]float64); v[0] != 1.5 || v[1] != 6 {
		t.Errorf("float64 sum %v, want [1.5 6]", v)
	}
	other := tensor.New(tensor.WithShape(3, n-1), tensor.Of(tensor.Float32))
	_, errFast := fast.Add(dense(av), other, tensor.WithReuse(dense(make([]float32, 3*n))))
	_, errStd := std.Add(dense(av), other, tensor.WithReuse(dense(make([]float32, 3*n))))
	if (errFast == nil) != (errStd == nil) || errFast == nil {
		t.Errorf("mismatched shapes: error %v, standard engine %v", errFast, errStd)
	}
	if d := adds.Load() - before; d != 0 {
		t.Errorf("%d additions took the parallel path, want 0", d)
	}
}

// TestGradEngineInNetwork checks that the wide ResNet-32's training and
// input gradients are the same bit for bit with the tape machines on
// gradEngine and on Gorgonia's standard engine, and that gradEngine's
// parallel additions ran (the residual units' inputs have two consumers).
func TestGradEngineInNetwork(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	const n = 2
	x := randSlice(r, n*3*32*32, 0, 1)
	y := []int{4, 9}
	run := func(e tensor.Engine) ([]float32, *StepOutput) {
		net, err := WideResNet32(1, rand.New(rand.NewPCG(6, 6)))
		if err != nil {
			t.Fatal(err)
		}
		net.opts.engine = e
		igrad, _, err := net.InputGrad(x, y, CrossEntropy{})
		if err != nil {
			t.Fatal(err)
		}
		step, err := net.Gradients(x, y, CrossEntropy{})
		if err != nil {
			t.Fatal(err)
		}
		return igrad, step
	}
	var adds atomic.Uint64
	g1, s1 := run(gradEngine{adds: &adds})
	if adds.Load() == 0 {
		t.Errorf("no addition took the parallel path")
	}
	g0, s0 := run(G.StandardEngine{})
	sameValues(t, "input gradient", "standard engine", g1, g0)
	for i, p := range s1.Params {
		sameValues(t, p.Name, "standard engine", s1.Grads[i], s0.Grads[i])
	}
}
