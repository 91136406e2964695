package nn

import (
	"context"
	"errors"
	"fmt"
	rqblas "github.com/robustq/robustq/internal/blas"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn/internal/kernel"
)

func tinyNet(t *testing.T, seed uint64) *Network {
	t.Helper()
	net, err := NewNetwork("tiny", [3]int{1, 6, 6}, rand.New(rand.NewPCG(seed, seed)),
		&ConvLayer{Name: "conv", Out: 4, Kernel: 3, Padding: 1, Bias: true}, ReLU(), MaxPool(2, 2), Flatten(), Dense("fc", 3))
	if err != nil {
		t.Fatal(err)
	}
	return net
}

func TestBadInput(t *testing.T) {
	net := tinyNet(t, 1)
	good := make([]float32, 2*36)
	nan := slices.Clone(good)
	nan[5] = float32(math.NaN())
	tests := []struct {
		name string
		x    []float32
		y    []int
		want error
	}{
		{"empty", nil, nil, ErrShape},
		{"not a multiple", make([]float32, 37), []int{0}, ErrShape},
		{"NaN", nan, []int{0, 1}, ErrNonFinite},
		{"labels short", good, []int{0}, ErrShape},
		{"label high", good, []int{0, 3}, ErrLabel},
		{"label negative", good, []int{-1, 0}, ErrLabel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := net.InputGrad(tc.x, tc.y, CrossEntropy{}); !errors.Is(err, tc.want) {
				t.Errorf("InputGrad: %v, want %v", err, tc.want)
			}
			if _, err := net.Gradients(tc.x, tc.y, CrossEntropy{}); !errors.Is(err, tc.want) {
				t.Errorf("Gradients: %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := NewNetwork("bad", [3]int{1, 4, 4}, rand.New(rand.NewPCG(1, 1)), &ConvLayer{Name: "c", Out: 2, Kernel: 5, Bias: true}); !errors.Is(err, ErrShape) {
		t.Errorf("kernel larger than input: %v", err)
	}
	if _, err := NewNetwork("bad", [3]int{1, 4, 4}, rand.New(rand.NewPCG(1, 1)), Dense("fc", 3)); !errors.Is(err, ErrShape) {
		t.Errorf("dense on an image: %v", err)
	}
	if _, err := NewNetwork("dup", [3]int{1, 4, 4}, rand.New(rand.NewPCG(1, 1)), Flatten(), Dense("fc", 3), Dense("fc", 3)); err == nil {
		t.Error("duplicate layer names accepted")
	}
}

// The graph cache must see weights written in place and weights whose
// storage was replaced; a clone must be independent.
func TestWeightsAreLive(t *testing.T) {
	net := tinyNet(t, 1)
	x := randSlice(rand.New(rand.NewPCG(2, 2)), 36, 0, 1)
	z0, _ := net.Logits(x)
	clone := net.Clone()
	fc := net.Param("fc.bias")
	fc.Data[0] += 1
	z1, _ := net.Logits(x)
	if z1[0] != z0[0]+1 {
		t.Errorf("in-place bias change: logit %v, want %v", z1[0], z0[0]+1)
	}
	fc.Data = []float32{0, 0, 0}
	z2, _ := net.Logits(x)
	zc, _ := clone.Logits(x)
	if z2[0] == z1[0] && z2[1] == z1[1] {
		t.Error("replaced bias storage not seen")
	}
	if !slices.Equal(zc, z0) {
		t.Error("clone changed with the original")
	}
}

// A batch norm's running statistics are live too: storage replaced after
// the graphs were built is what evaluation reads and training updates.
func TestRunningStatsAreLive(t *testing.T) {
	net, err := NewNetwork("bn", [3]int{2, 5, 5}, rand.New(rand.NewPCG(1, 1)),
		&ConvLayer{Name: "c", Out: 3, Kernel: 3, Padding: 1}, BatchNorm("bn"), ReLU(), GlobalAvgPool(), Dense("fc", 4))
	if err != nil {
		t.Fatal(err)
	}
	x, y := randSlice(rand.New(rand.NewPCG(4, 4)), 2*50, 0, 1), []int{1, 3}
	if _, err := net.Gradients(x, y, CrossEntropy{}); err != nil { // builds the training graph
		t.Fatal(err)
	}
	z0, _ := net.Logits(x)
	mean := net.Param("bn.running_mean")
	old := slices.Clone(mean.Data)
	stale := mean.Data
	mean.Data = []float32{5, 5, 5}
	if z1, _ := net.Logits(x); slices.Equal(z1, z0) {
		t.Error("replaced running mean not seen in evaluation")
	}
	if _, err := net.Gradients(x, y, CrossEntropy{}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(stale, old) {
		t.Error("training updated the running mean's old storage")
	}
	if slices.Equal(mean.Data, []float32{5, 5, 5}) {
		t.Error("training did not update the running mean's new storage")
	}
}

// Batch composition must not change an example's logits in evaluation mode.
func TestBatchIndependence(t *testing.T) {
	net, _ := NewNetwork("bn", [3]int{2, 5, 5}, rand.New(rand.NewPCG(1, 1)),
		&ConvLayer{Name: "c", Out: 3, Kernel: 3, Padding: 1}, BatchNorm("bn"), ReLU(), GlobalAvgPool(), Dense("fc", 4))
	x := randSlice(rand.New(rand.NewPCG(4, 4)), 3*50, 0, 1)
	all, _ := net.Logits(x)
	one, _ := net.Logits(x[50:100])
	if !slices.Equal(all[4:8], one) {
		t.Errorf("example 1 alone %v, in a batch %v", one, all[4:8])
	}
}

// A synthetic, linearly separable problem: class c lights the c-th third of
// the image. Training must fit it, and the same seed must give the same
// weights bit for bit.
func synthetic(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, seed))
	d := &data.Dataset{Name: "stripes", Channels: 1, Height: 6, Width: 6, Classes: 3, X: make([]float32, n*36), Y: make([]int, n)}
	for i := range n {
		c := r.IntN(3)
		d.Y[i] = c
		for p := range 36 {
			v := 0.3 * r.Float32()
			if p/12 == c {
				v += 0.6
			}
			d.X[i*36+p] = v
		}
	}
	return d
}

func TestTrainFitsAndIsReproducible(t *testing.T) {
	ds := synthetic(300, 5)
	var weights [][]float32
	for range 2 {
		net := tinyNet(t, 3)
		res, err := Train(context.Background(), net, ds, TrainConfig{Epochs: 3, BatchSize: 32, Seed: 11,
			Optimizer: &Adam{}, LR: ConstantLR(1e-2)})
		if err != nil {
			t.Fatal(err)
		}
		acc, err := Accuracy(net, ds.X, ds.Y, 64)
		if err != nil {
			t.Fatal(err)
		}
		// The classes are separable by one linear function of the stripe
		// means; a CNN that cannot reach 95% here is broken.
		if acc < 0.95 {
			t.Errorf("training accuracy %.3f after %d steps, want ≥ 0.95", acc, res.Steps)
		}
		weights = append(weights, slices.Clone(net.Param("conv.weight").Data))
	}
	if !slices.Equal(weights[0], weights[1]) {
		t.Error("same seed, different weights")
	}
}

func TestTrainCancelAndNaN(t *testing.T) {
	ds := synthetic(64, 1)
	net := tinyNet(t, 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, net, ds, TrainConfig{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v", err)
	}
	// A learning rate of 1e30 blows the weights up; training must stop with ErrNonFinite.
	_, err := Train(context.Background(), net, ds, TrainConfig{Epochs: 5, BatchSize: 16, LR: ConstantLR(1e30)})
	if !errors.Is(err, ErrNonFinite) {
		t.Errorf("diverging run: %v, want ErrNonFinite", err)
	}
}

// Hooks run in order around every step and can replace the batch.
func TestHooks(t *testing.T) {
	ds := synthetic(40, 1)
	net := tinyNet(t, 1)
	var trace []string
	h := HookFuncs{
		Before: func(_ context.Context, s *Step) error {
			trace = append(trace, "before")
			s.Y = make([]int, len(s.Y)) // everything is class 0
			return nil
		},
		Update: func(_ context.Context, s *Step) error {
			trace = append(trace, "update")
			if s.Out == nil {
				t.Error("no output in BeforeUpdate")
			}
			return nil
		},
		After: func(context.Context, *Step) error { trace = append(trace, "after"); return nil },
	}
	if _, err := Train(context.Background(), net, ds, TrainConfig{BatchSize: 20, Hooks: []Hook{h}, Optimizer: &Adam{}, LR: ConstantLR(0.05)}); err != nil {
		t.Fatal(err)
	}
	want := []string{"before", "update", "after", "before", "update", "after"}
	if !slices.Equal(trace, want) {
		t.Errorf("hook order %v", trace)
	}
}

// Padding to the graph's bucketed batch size must not change any result:
// a batch of 17 (run in a graph of 18) gives each example what it gets alone.
func TestPaddedBatches(t *testing.T) {
	net := tinyNet(t, 2)
	r := rand.New(rand.NewPCG(8, 8))
	const n = 17
	x := randSlice(r, n*36, 0, 1)
	y := make([]int, n)
	for i := range y {
		y[i] = i % 3
	}
	if evalBatch(n) != 18 {
		t.Fatalf("evalBatch(%d) = %d, want 18", n, evalBatch(n))
	}
	z, _ := net.Logits(x)
	g, l, _ := net.InputGrad(x, y, CrossEntropy{})
	if len(z) != 3*n || len(g) != len(x) || len(l) != n {
		t.Fatalf("lengths %d %d %d", len(z), len(g), len(l))
	}
	for i := range n {
		zi, _ := net.Logits(x[i*36 : (i+1)*36])
		gi, li, _ := net.InputGrad(x[i*36:(i+1)*36], y[i:i+1], CrossEntropy{})
		if !slices.Equal(zi, z[i*3:(i+1)*3]) || !slices.Equal(gi, g[i*36:(i+1)*36]) || li[0] != l[i] {
			t.Fatalf("example %d differs alone and in a padded batch", i)
		}
	}
	for _, n := range []int{1, 8, 9, 16, 17, 100, 128, 129, 1000} {
		b := evalBatch(n)
		if b < n || float64(b-n) > 0.125*float64(n) {
			t.Errorf("evalBatch(%d) = %d", n, b)
		}
	}
}

// TestFusedBatchNormActivation checks that the wide ResNet-32 gives the
// same logits, input gradients, losses and parameter gradients, bit for
// bit, with batch norm and leaky ReLU fused into one kernel and as two
// (the fused kernel rounds exactly as the pair does), in both modes.
func TestFusedBatchNormActivation(t *testing.T) {
	sameWithAndWithout(t, func(o *graphOptions) { o.unfusedBNAct = true })
}

// TestFusedResidualAdd checks the same of the residual additions fused into
// the convolutions before them (kernel.ConvConfig.Residual): the sums are
// the same float32 additions.
func TestFusedResidualAdd(t *testing.T) {
	sameWithAndWithout(t, func(o *graphOptions) { o.unfusedResidualAdd = true })
}

// sameValues reports, as a test error naming the first difference, where
// got and want (the other variant's values, named other) differ.
func sameValues(t *testing.T, name, other string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, %s %d", name, len(got), other, len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%s[%d]: %v, %s %v", name, i, got[i], other, want[i])
			return
		}
	}
}

// sameWithAndWithout compares the wide ResNet-32's results with a fusion
// and without it, as unfuse sets.
func sameWithAndWithout(t *testing.T, unfuse func(*graphOptions)) {
	r := rand.New(rand.NewPCG(21, 22))
	const n = 3
	x := randSlice(r, n*3*32*32, 0, 1)
	y := []int{1, 7, 3}
	run := func(on bool) (logits, igrad []float32, step *StepOutput) {
		net, err := WideResNet32(1, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		if !on {
			unfuse(&net.opts)
		}
		if logits, err = net.Logits(x); err != nil {
			t.Fatal(err)
		}
		if igrad, _, err = net.InputGrad(x, y, CrossEntropy{}); err != nil {
			t.Fatal(err)
		}
		if step, err = net.Gradients(x, y, CrossEntropy{}); err != nil {
			t.Fatal(err)
		}
		return logits, igrad, step
	}
	l1, g1, s1 := run(true)
	l0, g0, s0 := run(false)
	sameValues(t, "logits", "unfused", l1, l0)
	sameValues(t, "input gradient", "unfused", g1, g0)
	sameValues(t, "losses", "unfused", s1.Losses, s0.Losses)
	for i, p := range s1.Params {
		sameValues(t, p.Name, "unfused", s1.Grads[i], s0.Grads[i])
	}
}

// TestFusedBatchNormSums checks that the wide ResNet-32's batch norms take
// their sums from the kernels around them (fuseBatchNormKernels) and that
// two training steps give the same losses and gradients, bit for bit, as
// without: the observers compute the same float64 sums of the same runs.
func TestFusedBatchNormSums(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	const n = 3
	x := randSlice(r, n*3*32*32, 0, 1)
	y := []int{4, 0, 9}
	run := func(fuse bool) (steps []*StepOutput, fused int) {
		net, err := WideResNet32(1, rand.New(rand.NewPCG(5, 5)))
		if err != nil {
			t.Fatal(err)
		}
		net.opts.unfusedBNSums = !fuse
		for range 2 {
			step, err := net.Gradients(x, y, CrossEntropy{})
			if err != nil {
				t.Fatal(err)
			}
			steps = append(steps, step)
			for i, p := range step.Params {
				for j := range p.Data {
					p.Data[j] -= 0.05 * step.Grads[i][j]
				}
			}
		}
		for _, gr := range net.graphs {
			for _, node := range gr.g.AllNodes() {
				if op, ok := node.Op().(*gop); ok && op.grad < 0 {
					if bn, ok := op.k.(*kernel.BatchNorm); ok {
						fused += bn.FusedPasses()
					}
				}
			}
		}
		return steps, fused
	}
	on, fusedOn := run(true)
	off, fusedOff := run(false)
	for s := range on {
		sameValues(t, "losses", "unfused", on[s].Losses, off[s].Losses)
		for i, p := range on[s].Params {
			sameValues(t, p.Name, "unfused", on[s].Grads[i], off[s].Grads[i])
		}
	}
	// Per step: 31 batch norms (two per unit, one before the pooling) fuse
	// their forward sums; the backward sums fuse for the 15 bn2 (read only
	// by c2) and the 13 bn1 of units without a projection shortcut; the
	// last batch norm feeds the pooling, which observes nothing.
	const perStep = 31 + 15 + 13
	if fusedOn != 2*perStep || fusedOff != 0 {
		t.Errorf("fused passes: %d with fusion, %d without; want %d and 0", fusedOn, fusedOff, 2*perStep)
	}
}

// TestGradientsIndependentOfWorkers checks that a training step gives the
// same losses and gradients, bit for bit, with 1, 2 and 3 workers: every
// sum over the batch is made of partial sums over fixed ranges of images,
// added in a fixed order (the kernel package's filterGradChunks and
// BatchNorm.channelSums),
// never of per-worker sums.
func TestGradientsIndependentOfWorkers(t *testing.T) {
	if !rqblas.Kernels() {
		t.Skip("holds where robustq's GEMM kernels run; with " + rqblas.Backend() + " the sums can differ in the last bits with GOMAXPROCS")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	r := rand.New(rand.NewPCG(25, 26))
	const n = 20 // more images than filterGradChunks, not a multiple of it
	x := randSlice(r, n*3*32*32, 0, 1)
	y := make([]int, n)
	for i := range y {
		y[i] = r.IntN(10)
	}
	run := func(procs int) *StepOutput {
		runtime.GOMAXPROCS(procs)
		net, err := WideResNet32(1, rand.New(rand.NewPCG(6, 6)))
		if err != nil {
			t.Fatal(err)
		}
		step, err := net.Gradients(x, y, CrossEntropy{})
		if err != nil {
			t.Fatal(err)
		}
		return step
	}
	one := run(1)
	for _, procs := range []int{2, 3} {
		got := run(procs)
		name := fmt.Sprintf("GOMAXPROCS %d", procs)
		sameValues(t, "losses", name, got.Losses, one.Losses)
		for i, p := range got.Params {
			sameValues(t, p.Name, name, got.Grads[i], one.Grads[i])
		}
	}
}

// A graph evicted from the cache is freed, with its buffers, by the next
// collection. Gorgonia gives every tape machine a finalizer (a no-op
// without CUDA), which keeps the machine and everything it references alive
// for extra collections; with callers that vary the batch size, graphs were
// evicted faster than they were freed and the heap grew without bound.
func TestEvictedGraphIsFreed(t *testing.T) {
	net, err := MNISTCNN(rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	gr, err := net.graph(3, modeLogits)
	if err != nil {
		t.Fatal(err)
	}
	// A cleanup on the tape machine itself (an unexported Gorgonia type)
	// runs once the machine is freed, not when a finalizer resurrects it.
	freed := make(chan struct{})
	runtime.AddCleanup((*byte)(reflect.ValueOf(gr.vm).UnsafePointer()), func(c chan struct{}) { close(c) }, freed)
	gr = nil
	for b := 4; b < 4+maxGraphs; b++ {
		if _, err := net.graph(b, modeLogits); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := net.graphs[graphKey{3, modeLogits}]; ok {
		t.Fatal("the first graph was not evicted")
	}
	runtime.GC()
	select {
	case <-freed:
	case <-time.After(2 * time.Second): // cleanups run on their own goroutine
		t.Error("the evicted graph's machine was not freed by a collection")
	}
}

// A weight file robustq wrote fails to load, with ErrWeights, when its data
// is damaged (here: every byte of the last value zeroed); the network keeps
// its weights.
func TestLoadFileDetectsDamage(t *testing.T) {
	net := tinyNet(t, 1)
	p := t.TempDir() + "/w.safetensors"
	if err := net.SaveFile(p, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	clear(b[len(b)-4:])
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	other := tinyNet(t, 2)
	before := slices.Clone(other.Param("fc.weight").Data)
	if _, err := other.LoadFile(p); !errors.Is(err, ErrWeights) {
		t.Errorf("damaged file: %v, want ErrWeights", err)
	}
	if !slices.Equal(before, other.Param("fc.weight").Data) {
		t.Error("a failed load changed the weights")
	}
}

// Batches larger than maxEvalChunk are evaluated in chunks: the results are
// those of the chunks evaluated one by one, and no graph is built for more
// than maxEvalChunk examples, so memory does not grow with the batch.
func TestEvalChunks(t *testing.T) {
	net := tinyNet(t, 3)
	n := 2*maxEvalChunk + 37
	r := rand.New(rand.NewPCG(5, 5))
	x := make([]float32, n*36)
	for i := range x {
		x[i] = r.Float32()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = r.IntN(3)
	}
	z, err := net.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	g, l, err := net.InputGrad(x, y, CrossEntropy{})
	if err != nil {
		t.Fatal(err)
	}
	if len(z) != n*3 || len(g) != len(x) || len(l) != n {
		t.Fatalf("lengths %d %d %d", len(z), len(g), len(l))
	}
	for lo := 0; lo < n; lo += maxEvalChunk {
		hi := min(lo+maxEvalChunk, n)
		zc, _ := net.Logits(x[lo*36 : hi*36])
		gc, lc, _ := net.InputGrad(x[lo*36:hi*36], y[lo:hi], CrossEntropy{})
		if !slices.Equal(zc, z[lo*3:hi*3]) || !slices.Equal(gc, g[lo*36:hi*36]) || !slices.Equal(lc, l[lo:hi]) {
			t.Fatalf("chunk %d..%d differs", lo, hi)
		}
	}
	for k := range net.graphs {
		if k.batch > maxEvalChunk {
			t.Errorf("a graph for %d examples", k.batch)
		}
	}
}

func TestNilModelIsAnError(t *testing.T) {
	var net *Network
	x := make([]float32, 784)
	y := []int{0}
	for name, f := range map[string]func() error{
		"Logits":                 func() error { _, err := net.Logits(x); return err },
		"InputGrad":              func() error { _, _, err := net.InputGrad(x, y, CrossEntropy{}); return err },
		"Gradients":              func() error { _, err := net.Gradients(x, y, CrossEntropy{}); return err },
		"Predict":                func() error { _, err := Predict(net, x, 0); return err },
		"Accuracy":               func() error { _, err := Accuracy(net, x, y, 0); return err },
		"Predict(nil interface)": func() error { _, err := Predict(nil, x, 0); return err },
	} {
		if err := f(); !errors.Is(err, ErrNilModel) {
			t.Errorf("%s on a nil model: error %v, want ErrNilModel", name, err)
		}
	}
}
