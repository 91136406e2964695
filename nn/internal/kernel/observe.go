package kernel

// imageObserver is handed a kernel's result one image at a time, as soon as
// each image is final and while it is still in cache. A batch norm reads
// the per-(image, channel) sums it needs that way instead of in a pass of
// its own over the whole batch (nn's BenchmarkTrainStep/resnet32-w1
// -cpuprofile shows those passes as sums16 and sumsMasked16).
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

// FeedStats makes c, whose result is bn's input, hand bn the sums of its
// forward pass an image at a time, unless c already feeds a batch norm.
// bn checks that the sums it is given are of the very data it normalises,
// and makes its own pass otherwise, so feeding changes no value.
func FeedStats(c *Conv, bn *BatchNorm) {
	if c.observer == nil {
		c.observer = bn.statsObserver()
	}
}

// FeedGradSums makes c, whose input is bn's result and its only consumer,
// hand bn the sums of its backward pass an image at a time, as it writes
// the gradient with respect to that input.
func FeedGradSums(c *Conv, bn *BatchNorm) { c.gradObserver = bn.gradsObserver() }
