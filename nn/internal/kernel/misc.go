package kernel

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/gonum/blas"
)

// Dense is y = x·Wᵀ (+ b): x (N,In), W (Out,In) as in PyTorch, b (Out).
type Dense struct {
	n, in, out int
	bias       bool
}

// NewDense returns the dense layer's kernel for inputs of shape x (N,In)
// and weights of shape w (Out,In), with a bias input or without.
func NewDense(x, w []int, bias bool) (*Dense, error) {
	if len(x) != 2 || len(w) != 2 || x[1] != w[1] {
		return nil, fmt.Errorf("%w: dense input %v with weight %v", ErrShape, dims(x), dims(w))
	}
	return &Dense{n: x[0], in: x[1], out: w[0], bias: bias}, nil
}

// Name implements Kernel.
func (k *Dense) Name() string { return "dense" }

// OutShape implements Kernel.
func (k *Dense) OutShape() []int { return []int{k.n, k.out} }

// Differentiable implements Kernel.
func (k *Dense) Differentiable() []bool {
	if k.bias {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}

// Forward implements Kernel.
func (k *Dense) Forward(out []float32, in [][]float32) error {
	if k.bias {
		b := in[2]
		for r := range k.n {
			copy(out[r*k.out:(r+1)*k.out], b)
		}
	}
	beta := float32(0)
	if k.bias {
		beta = 1
	}
	parallelFor(k.n, func(_, lo, hi int) {
		gemm.Sgemm(blas.NoTrans, blas.Trans, hi-lo, k.out, k.in, 1, in[0][lo*k.in:], k.in, in[1], k.in, beta, out[lo*k.out:], k.out)
	})
	return nil
}

// Backward implements Kernel.
func (k *Dense) Backward(i int, dIn []float32, in [][]float32, _, dOut []float32) error {
	switch i {
	case 0: // dx = dy·W, split by rows of dx
		parallelFor(k.n, func(_, lo, hi int) {
			gemm.Sgemm(blas.NoTrans, blas.NoTrans, hi-lo, k.in, k.out, 1, dOut[lo*k.out:], k.out, in[1], k.in, 0, dIn[lo*k.in:], k.in)
		})
	case 1: // dW = dyᵀ·x, split by rows of dW (columns of dy)
		parallelFor(k.out, func(_, lo, hi int) {
			gemm.Sgemm(blas.Trans, blas.NoTrans, hi-lo, k.in, k.n, 1, dOut[lo:], k.out, in[0], k.in, 0, dIn[lo*k.in:], k.in)
		})
	case 2:
		clear(dIn)
		for r := range k.n {
			for j, v := range dOut[r*k.out : (r+1)*k.out] {
				dIn[j] += v
			}
		}
	}
	return nil
}

// LeakyReLU is max(x, 0) for Slope 0 (ReLU) and x < 0 ? Slope·x : x
// otherwise. The derivative at exactly 0 is Slope (0 for ReLU), as in PyTorch.
type LeakyReLU struct {
	shape []int
	slope float32
	vec   vec
}

// NewLeakyReLU returns leaky ReLU with the given slope (0: ReLU) on
// tensors of shape s.
func NewLeakyReLU(s []int, slope float32, o Options) *LeakyReLU {
	return &LeakyReLU{shape: slices.Clone(s), slope: slope, vec: o.vec()}
}

// Name implements Kernel.
func (k *LeakyReLU) Name() string {
	if k.slope == 0 {
		return "relu"
	}
	return "leaky-relu"
}

// OutShape implements Kernel.
func (k *LeakyReLU) OutShape() []int { return k.shape }

// Differentiable implements Kernel.
func (k *LeakyReLU) Differentiable() []bool { return []bool{true} }

// Forward implements Kernel.
func (k *LeakyReLU) Forward(out []float32, in [][]float32) error {
	x := in[0]
	ParallelRange(len(x), func(lo, hi int) {
		k.vec.leaky(out[lo:hi], x[lo:hi], x[lo:hi], k.slope)
	})
	return nil
}

// Backward implements Kernel.
func (k *LeakyReLU) Backward(_ int, dIn []float32, in [][]float32, _, dOut []float32) error {
	x := in[0]
	ParallelRange(len(x), func(lo, hi int) {
		k.vec.leaky(dIn[lo:hi], dOut[lo:hi], x[lo:hi], k.slope)
	})
	return nil
}

// reluFactor is the derivative at v: 1 where v > 0, the slope (given by
// its bits) elsewhere, NaN included. v·reluFactor(v) is exactly v or slope·v,
// the definition, and the choice between two integers compiles to a
// conditional move: activations' signs are random, so a branch would be
// mispredicted half the time.
func reluFactor(v float32, slope uint32) float32 {
	f := slope
	if v > 0 {
		f = 0x3f800000 // 1.0
	}
	return math.Float32frombits(f)
}

// Add is the elementwise sum of two tensors of one shape: a residual
// unit's output where conv2 does not add the shortcut itself.
type Add struct {
	shape []int
	vec   vec
}

// NewAdd returns the sum of two tensors of shape s.
func NewAdd(s []int, o Options) *Add { return &Add{shape: slices.Clone(s), vec: o.vec()} }

// PassesGradient implements PassKernel.
func (k *Add) PassesGradient(int) bool { return true }

// Name implements Kernel.
func (k *Add) Name() string { return "add" }

// OutShape implements Kernel.
func (k *Add) OutShape() []int { return k.shape }

// Differentiable implements Kernel.
func (k *Add) Differentiable() []bool { return []bool{true, true} }

// Forward implements Kernel.
func (k *Add) Forward(out []float32, in [][]float32) error {
	parallelAdd(k.vec, out, in[0], in[1])
	return nil
}

// Backward implements Kernel.
func (k *Add) Backward(_ int, dIn []float32, _ [][]float32, _, dOut []float32) error {
	ParallelRange(len(dIn), func(lo, hi int) { copy(dIn[lo:hi], dOut[lo:hi]) })
	return nil
}

// ParallelAdd sets dst = a + b (all of one length), split over the workers
// where long enough: the Add kernel's forward pass, for nn's tensor engine.
func ParallelAdd(dst, a, b []float32) { parallelAdd(Options{}.vec(), dst, a, b) }

func parallelAdd(v vec, dst, a, b []float32) {
	ParallelRange(len(dst), func(lo, hi int) {
		v.add(dst[lo:hi], a[lo:hi], b[lo:hi])
	})
}

// Reshape copies its input into another shape of the same volume (flatten).
type Reshape struct{ to []int }

// NewReshape returns the copy of a tensor into shape to.
func NewReshape(to []int) *Reshape { return &Reshape{to: slices.Clone(to)} }

// Name implements Kernel.
func (k *Reshape) Name() string { return "reshape" }

// OutShape implements Kernel.
func (k *Reshape) OutShape() []int { return k.to }

// Differentiable implements Kernel.
func (k *Reshape) Differentiable() []bool { return []bool{true} }

// Forward implements Kernel.
func (k *Reshape) Forward(out []float32, in [][]float32) error {
	copy(out, in[0])
	return nil
}

// Backward implements Kernel.
func (k *Reshape) Backward(_ int, dIn []float32, _ [][]float32, _, dOut []float32) error {
	copy(dIn, dOut)
	return nil
}

// Pool is max or average pooling over k×k windows with a stride and
// no padding, on (N,C,H,W). A window of size H×W with stride 1 is the
// global average pool.
type Pool struct {
	n, c, h, w     int
	kh, kw, stride int
	oh, ow         int
	max            bool
	argmax         []int32 // per output, the flat input index of the maximum
	vec            vec
}

// NewPool returns max pooling (isMax) or average pooling of inputs of
// shape x (N,C,H,W) over kh×kw windows with the given stride.
func NewPool(x []int, kh, kw, stride int, isMax bool, o Options) (*Pool, error) {
	if len(x) != 4 || kh < 1 || kw < 1 || stride < 1 || kh > x[2] || kw > x[3] {
		return nil, fmt.Errorf("%w: pooling %v with window %dx%d, stride %d", ErrShape, dims(x), kh, kw, stride)
	}
	k := &Pool{n: x[0], c: x[1], h: x[2], w: x[3], kh: kh, kw: kw, stride: stride, max: isMax, vec: o.vec()}
	k.oh = (k.h-kh)/stride + 1
	k.ow = (k.w-kw)/stride + 1
	return k, nil
}

// Name implements Kernel.
func (k *Pool) Name() string {
	if k.max {
		return "max-pool"
	}
	return "avg-pool"
}

// OutShape implements Kernel.
func (k *Pool) OutShape() []int { return []int{k.n, k.c, k.oh, k.ow} }

// Differentiable implements Kernel.
func (k *Pool) Differentiable() []bool { return []bool{true} }

// Forward implements Kernel.
func (k *Pool) Forward(out []float32, in [][]float32) error {
	x := in[0]
	if k.max && len(k.argmax) != len(out) {
		k.argmax = make([]int32, len(out))
	}
	if k.max && k.kh == 2 && k.kw == 2 && k.stride == 2 {
		k.maxPool2(out, x)
		return nil
	}
	inv := 1 / float32(k.kh*k.kw)
	parallelFor(k.n*k.c, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			base := p * k.h * k.w
			for oy := range k.oh {
				for ox := range k.ow {
					o := (p*k.oh+oy)*k.ow + ox
					y0, x0 := oy*k.stride, ox*k.stride
					if k.max {
						best, bi := float32(math.Inf(-1)), -1
						for i := range k.kh {
							for j := range k.kw {
								idx := base + (y0+i)*k.w + x0 + j
								// NaN never wins, so bi stays valid only if some value is a number; take the first otherwise.
								if v := x[idx]; v > best || bi < 0 {
									best, bi = v, idx
								}
							}
						}
						out[o], k.argmax[o] = best, int32(bi)
						continue
					}
					var s float32
					for i := range k.kh {
						row := x[base+(y0+i)*k.w+x0:][:k.kw]
						for _, v := range row {
							s += v
						}
					}
					out[o] = s * inv
				}
			}
		}
	})
	return nil
}

// maxPool2 is the forward pass of 2×2 max pooling with stride 2, the
// pooling of the MNIST CNNs, unrolled: the same result and the same argmax
// as the general loop (the first maximum in row-major order wins, NaN never
// replaces a number, a NaN first in its window stays).
func (k *Pool) maxPool2(out, x []float32) {
	parallelFor(k.n*k.c, func(_, lo, hi int) {
		for p := lo; p < hi; p++ {
			base := p * k.h * k.w
			for oy := range k.oh {
				o := out[(p*k.oh+oy)*k.ow:][:k.ow]
				am := k.argmax[(p*k.oh+oy)*k.ow:][:k.ow]
				k.vec.maxPool2Rows(o, am, x, base+2*oy*k.w, k.w)
			}
		}
	})
}

// Backward implements Kernel.
func (k *Pool) Backward(_ int, dIn []float32, _ [][]float32, _, dOut []float32) error {
	clear(dIn)
	if k.max {
		for o, g := range dOut {
			dIn[k.argmax[o]] += g
		}
		return nil
	}
	inv := 1 / float32(k.kh*k.kw)
	for p := range k.n * k.c {
		base := p * k.h * k.w
		for oy := range k.oh {
			for ox := range k.ow {
				g := dOut[(p*k.oh+oy)*k.ow+ox] * inv
				y0, x0 := oy*k.stride, ox*k.stride
				for i := range k.kh {
					row := dIn[base+(y0+i)*k.w+x0:][:k.kw]
					for j := range row {
						row[j] += g
					}
				}
			}
		}
	}
	return nil
}
