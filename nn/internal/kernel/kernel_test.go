package kernel

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func randSlice(r *rand.Rand, n int, lo, hi float32) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = lo + (hi-lo)*r.Float32()
	}
	return s
}

// volume is the number of values of a tensor of shape s.
func volume(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// naiveConv is the definition of PyTorch's Conv2d (cross-correlation, zero
// padding) in float64, the reference for the im2col+GEMM kernel.
func naiveConv(x, w, b []float32, n, c, h, wd, o, kh, kw, stride, pad int) []float64 {
	oh, ow := (h+2*pad-kh)/stride+1, (wd+2*pad-kw)/stride+1
	out := make([]float64, n*o*oh*ow)
	for in := range n {
		for oc := range o {
			for oy := range oh {
				for ox := range ow {
					var s float64
					if b != nil {
						s = float64(b[oc])
					}
					for ic := range c {
						for i := range kh {
							for j := range kw {
								iy, ix := oy*stride-pad+i, ox*stride-pad+j
								if iy < 0 || iy >= h || ix < 0 || ix >= wd {
									continue
								}
								s += float64(x[((in*c+ic)*h+iy)*wd+ix]) * float64(w[((oc*c+ic)*kh+i)*kw+j])
							}
						}
					}
					out[((in*o+oc)*oh+oy)*ow+ox] = s
				}
			}
		}
	}
	return out
}

// maxAbsDiff returns max |a−b| and max |b|.
func maxAbsDiff(a []float32, b []float64) (diff, scale float64) {
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff, scale
}

// convCases are the odd shapes the conv kernel is checked on: batch 1,
// strides 2 and 3, padding 0-2, channel counts that are not multiples of 8,
// non-square inputs and kernels, and the stride-1 shapes that take the fast
// paths (the input gradient as a convolution, the shifted-copy im2col).
var convCases = []struct {
	name                               string
	n, c, h, w, o, kh, kw, stride, pad int
	bias                               bool
}{
	{"batch1 3x3 pad1", 1, 3, 7, 5, 5, 3, 3, 1, 1, true},
	{"stride2 pad2 5x5", 2, 5, 9, 8, 7, 5, 5, 2, 2, false},
	{"stride3 no pad", 3, 2, 10, 11, 3, 3, 3, 3, 0, true},
	{"1x1 stride2", 2, 9, 6, 6, 13, 1, 1, 2, 0, false},
	{"1x1 stride1", 2, 5, 3, 4, 3, 1, 1, 1, 0, true},
	{"kernel = input", 1, 4, 4, 4, 2, 4, 4, 1, 0, true},
	{"3x3 no pad", 2, 3, 6, 7, 4, 3, 3, 1, 0, false},
	{"3x1 pad1: wider output", 2, 3, 5, 4, 2, 3, 1, 1, 1, false},
	{"1x3 pad1: same width, taller output", 1, 2, 4, 5, 3, 1, 3, 1, 1, true},
	{"5x5 pad2 on 3x3: window wider than the image", 1, 2, 3, 3, 2, 5, 5, 1, 2, false},
	{"7x7 pad3 on 2x2: column shifts of the whole width", 1, 2, 2, 2, 2, 7, 7, 1, 3, false},
	{"mnist conv1 shape: col2im input gradient", 2, 1, 28, 28, 32, 5, 5, 1, 2, true},
	{"mnist conv2 shape", 2, 32, 14, 14, 64, 5, 5, 1, 2, true},
	{"16 filters: 8x16 tiles", 3, 4, 8, 8, 16, 3, 3, 1, 1, false},
	{"32 wide: output rows in place", 2, 3, 3, 32, 10, 3, 3, 1, 1, false},
	{"48 filters: 8x32 and 8x16 tiles", 3, 3, 6, 6, 48, 3, 3, 1, 1, true},
	{"16 wide, no bias: wide output, then compacted", 2, 3, 5, 16, 10, 3, 3, 1, 1, false},
	{"stride2 pad1 3x3 on odd width", 2, 3, 9, 7, 4, 3, 3, 2, 1, false},
	{"stride2 pad3 7x7: columns wholly outside", 1, 2, 4, 5, 3, 7, 7, 2, 3, true},
}

// convTolerance is the allowed max |error| of a float32 sum of K products of
// values in [−1,1] against its float64 value. The worst case is about
// K·2⁻²⁴ ≈ K·6e-8 times Σ|terms| (Higham); these sums of random-sign terms
// stay far below it, and max(1e-5, K·1e-7) relative to the largest value
// (and at least 1e-5 absolute) is used.
func convTolerance(k, scale float64) float64 {
	return 1e-5 * math.Max(1, k/100) * math.Max(scale, 1)
}

// forEachConvPath runs f with stride-1 convolutions forced through im2col
// and through the implicit GEMM in turn (on every GEMM backend; the
// implicit GEMM copies the rows where the assembly kernels do not run), and
// im2col and the implicit GEMM once more with the AVX2 loops and with the
// Go loops where assembly loops would otherwise run.
func forEachConvPath(t *testing.T, f func(t *testing.T, o Options)) {
	for _, p := range []struct {
		name string
		o    Options
	}{{"im2col", Options{ConvPath: ConvIm2col}}, {"implicit", Options{ConvPath: ConvImplicit}},
		{"implicit-dots", Options{ConvPath: ConvImplicitDots}}, {"implicit-taps", Options{ConvPath: ConvImplicitTaps}},
		{"im2col-avx2", Options{ConvPath: ConvIm2col, Loops: LoopsAVX2}},
		{"implicit-avx2", Options{ConvPath: ConvImplicit, Loops: LoopsAVX2}},
		{"im2col-go", Options{ConvPath: ConvIm2col, Loops: LoopsGo}}} {
		if p.o.Loops != LoopsAuto && p.o.vec() == (Options{}).vec() {
			continue // the same loops as the default's
		}
		t.Run(p.name, func(t *testing.T) { f(t, p.o) })
	}
}

// The conv kernel against its definition.
func TestConvKernelMatchesDefinition(t *testing.T) {
	forEachConvPath(t, testConvForward)
}

func testConvForward(t *testing.T, o Options) {
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(3, 4))
			x := randSlice(r, tc.n*tc.c*tc.h*tc.w, -1, 1)
			w := randSlice(r, tc.o*tc.c*tc.kh*tc.kw, -1, 1)
			var b []float32
			in := [][]float32{x, w}
			if tc.bias {
				b = randSlice(r, tc.o, -1, 1)
				in = append(in, b)
			}
			k, err := NewConv([]int{tc.n, tc.c, tc.h, tc.w}, []int{tc.o, tc.c, tc.kh, tc.kw}, ConvConfig{Stride: tc.stride, Pad: tc.pad, Bias: tc.bias}, o)
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, volume(k.OutShape()))
			if err := k.Forward(out, in); err != nil {
				t.Fatal(err)
			}
			want := naiveConv(x, w, b, tc.n, tc.c, tc.h, tc.w, tc.o, tc.kh, tc.kw, tc.stride, tc.pad)
			if len(want) != len(out) {
				t.Fatalf("output size %d, want %d", len(out), len(want))
			}
			diff, scale := maxAbsDiff(out, want)
			kk := float64(tc.c * tc.kh * tc.kw)
			if diff > convTolerance(kk, scale) {
				t.Errorf("max |error| %.3g (outputs up to %.3g, K = %v)", diff, scale, kk)
			}
		})
	}
}

// The conv kernel's input and filter gradients against the adjoint of its
// definition, in float64: dx[n,c,iy,ix] and dw[o,c,i,j] collect
// dOut[n,o,oy,ox] times w[o,c,i,j] and x[n,c,iy,ix] over every pair that the
// forward sum multiplies. Tolerances as in the forward test, with K the
// number of terms of each gradient sum.
func TestConvKernelBackwardMatchesDefinition(t *testing.T) {
	forEachConvPath(t, testConvBackward)
}

func testConvBackward(t *testing.T, o Options) {
	for _, tc := range convCases {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, 8))
			x := randSlice(r, tc.n*tc.c*tc.h*tc.w, -1, 1)
			w := randSlice(r, tc.o*tc.c*tc.kh*tc.kw, -1, 1)
			k, err := NewConv([]int{tc.n, tc.c, tc.h, tc.w}, []int{tc.o, tc.c, tc.kh, tc.kw}, ConvConfig{Stride: tc.stride, Pad: tc.pad}, o)
			if err != nil {
				t.Fatal(err)
			}
			g := randSlice(r, volume(k.OutShape()), -1, 1)
			dx, dw := make([]float64, len(x)), make([]float64, len(w))
			for n := range tc.n {
				for o := range tc.o {
					for oy := range k.oh {
						for ox := range k.ow {
							gv := float64(g[((n*tc.o+o)*k.oh+oy)*k.ow+ox])
							for c := range tc.c {
								for i := range tc.kh {
									for j := range tc.kw {
										iy, ix := oy*tc.stride-tc.pad+i, ox*tc.stride-tc.pad+j
										if iy < 0 || iy >= tc.h || ix < 0 || ix >= tc.w {
											continue
										}
										xi, wi := ((n*tc.c+c)*tc.h+iy)*tc.w+ix, ((o*tc.c+c)*tc.kh+i)*tc.kw+j
										dx[xi] += gv * float64(w[wi])
										dw[wi] += gv * float64(x[xi])
									}
								}
							}
						}
					}
				}
			}
			in := [][]float32{x, w}
			gotX, gotW := make([]float32, len(x)), make([]float32, len(w))
			if err := k.Backward(0, gotX, in, nil, g); err != nil {
				t.Fatal(err)
			}
			if err := k.Backward(1, gotW, in, nil, g); err != nil {
				t.Fatal(err)
			}
			if diff, scale := maxAbsDiff(gotX, dx); diff > convTolerance(float64(tc.o*tc.kh*tc.kw), scale) {
				t.Errorf("input gradient: max |error| %.3g (values up to %.3g)", diff, scale)
			}
			if diff, scale := maxAbsDiff(gotW, dw); diff > convTolerance(float64(tc.n*k.oh*k.ow), scale) {
				t.Errorf("filter gradient: max |error| %.3g (values up to %.3g)", diff, scale)
			}
			// A second pass reuses the partial sums: it must not add to them.
			again := make([]float32, len(w))
			if err := k.Backward(1, again, in, nil, g); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(again, gotW) {
				t.Errorf("filter gradient differs on a second call")
			}
		})
	}
}

// TestConvKeptPaddedPlanes checks that a kernel keeping its forward pass's
// padded planes (ConvConfig.KeepPadded, training graphs) computes the filter gradient
// bit for bit as one that pads each image again (same partial sums over the
// same values), and that it pads afresh when asked about another input than
// the forward pass had.
func TestConvKeptPaddedPlanes(t *testing.T) {
	forEachConvPath(t, func(t *testing.T, o Options) {
		for _, tc := range convCases {
			t.Run(tc.name, func(t *testing.T) {
				r := rand.New(rand.NewPCG(5, 6))
				x := randSlice(r, tc.n*tc.c*tc.h*tc.w, -1, 1)
				other := randSlice(r, len(x), -1, 1)
				w := randSlice(r, tc.o*tc.c*tc.kh*tc.kw, -1, 1)
				xs, ws := []int{tc.n, tc.c, tc.h, tc.w}, []int{tc.o, tc.c, tc.kh, tc.kw}
				cfg := ConvConfig{Stride: tc.stride, Pad: tc.pad}
				fresh, err := NewConv(xs, ws, cfg, o)
				if err != nil {
					t.Fatal(err)
				}
				cfg.KeepPadded = true
				kept, _ := NewConv(xs, ws, cfg, o)
				g := randSlice(r, volume(fresh.OutShape()), -1, 1)
				out := make([]float32, len(g))
				want, got := make([]float32, len(w)), make([]float32, len(w))
				if err := fresh.Backward(1, want, [][]float32{x, w}, nil, g); err != nil {
					t.Fatal(err)
				}
				if err := kept.Forward(out, [][]float32{x, w}); err != nil {
					t.Fatal(err)
				}
				if kept.implicitForward() != (kept.paddedFor == &x[0]) {
					t.Fatalf("implicit forward %v, planes kept for x %v", kept.implicitForward(), kept.paddedFor == &x[0])
				}
				if err := kept.Backward(1, got, [][]float32{x, w}, nil, g); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("filter gradient from the kept planes differs")
				}
				// The planes now hold another input: x must be padded again.
				if err := kept.Forward(out, [][]float32{other, w}); err != nil {
					t.Fatal(err)
				}
				if err := kept.Backward(1, got, [][]float32{x, w}, nil, g); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Errorf("filter gradient for x after a forward pass on another input differs")
				}
			})
		}
	})
}

// TestConvFilterGradAcrossPaths runs the filter gradient of one kernel
// through the stride-1 paths in turn (their partial sums have different
// sizes: dWᵀ with padded columns for tiles, dW otherwise) and compares each
// with the definition's float64 value, tolerance as in
// TestConvKernelBackwardMatchesDefinition.
func TestConvFilterGradAcrossPaths(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	const n, c, h, o = 3, 3, 6, 40
	k, err := NewConv([]int{n, c, h, h}, []int{o, c, 3, 3}, ConvConfig{Stride: 1, Pad: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	x, w := randSlice(r, n*c*h*h, -1, 1), randSlice(r, o*c*9, -1, 1)
	g := randSlice(r, volume(k.OutShape()), -1, 1)
	want := make([]float64, len(w))
	for b := range n {
		for oc := range o {
			for oy := range h {
				for ox := range h {
					gv := float64(g[((b*o+oc)*h+oy)*h+ox])
					for ic := range c {
						for i := range 3 {
							for j := range 3 {
								iy, ix := oy-1+i, ox-1+j
								if iy >= 0 && iy < h && ix >= 0 && ix < h {
									want[((oc*c+ic)*3+i)*3+j] += gv * float64(x[((b*c+ic)*h+iy)*h+ix])
								}
							}
						}
					}
				}
			}
		}
	}
	for _, p := range []ConvPath{ConvImplicit, ConvImplicitDots, ConvIm2col, ConvImplicit} {
		k.opts.ConvPath = p // the same kernel, its buffers sized by the paths before
		got := make([]float32, len(w))
		if err := k.Backward(1, got, [][]float32{x, w}, nil, g); err != nil {
			t.Fatal(err)
		}
		if diff, scale := maxAbsDiff(got, want); diff > convTolerance(float64(n*h*h), scale) {
			t.Errorf("path %d: max |error| %.3g (values up to %.3g)", p, diff, scale)
		}
	}
}

// Pooling and batch norm against their definitions.
func TestPoolAndNormMatchDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	const n, c, h, w = 2, 3, 7, 6
	x := randSlice(r, n*c*h*w, -2, 2)
	for _, tc := range []struct {
		name      string
		k, stride int
		max       bool
	}{{"max 2/2", 2, 2, true}, {"max 3/2", 3, 2, true}, {"avg 2/2", 2, 2, false}, {"avg 3/1", 3, 1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := NewPool([]int{n, c, h, w}, tc.k, tc.k, tc.stride, tc.max, Options{})
			if err != nil {
				t.Fatal(err)
			}
			out := make([]float32, volume(k.OutShape()))
			k.Forward(out, [][]float32{x})
			oh, ow := (h-tc.k)/tc.stride+1, (w-tc.k)/tc.stride+1
			for p := range n * c {
				for oy := range oh {
					for ox := range ow {
						best, sum := math.Inf(-1), 0.0
						for i := range tc.k {
							for j := range tc.k {
								v := float64(x[(p*h+oy*tc.stride+i)*w+ox*tc.stride+j])
								best, sum = math.Max(best, v), sum+v
							}
						}
						want := sum / float64(tc.k*tc.k)
						if tc.max {
							want = best
						}
						// Max pooling is exact; the float32 mean of ≤ 9 values in [−2,2] is within 1e-6.
						if got := float64(out[(p*oh+oy)*ow+ox]); math.Abs(got-want) > 1e-6 {
							t.Fatalf("output (%d,%d,%d) = %v, want %v", p, oy, ox, got, want)
						}
					}
				}
			}
		})
	}
	t.Run("batch norm training", func(t *testing.T) {
		mean, variance := make([]float32, c), []float32{1, 1, 1}
		k, _ := NewBatchNorm([]int{n, c, h, w}, BatchNormConfig{Training: true, Momentum: 0.1, Eps: 1e-5, RunMean: mean, RunVar: variance}, Options{})
		gamma, beta := []float32{0.5, 1, 2}, []float32{0, -1, 3}
		out := make([]float32, len(x))
		k.Forward(out, [][]float32{x, gamma, beta})
		for ch := range c {
			var s, q float64
			m := float64(n * h * w)
			for i := range n {
				for _, v := range x[(i*c+ch)*h*w : (i*c+ch+1)*h*w] {
					s += float64(v)
				}
			}
			mu := s / m
			for i := range n {
				for _, v := range x[(i*c+ch)*h*w : (i*c+ch+1)*h*w] {
					q += (float64(v) - mu) * (float64(v) - mu)
				}
			}
			for i := range n {
				for j, v := range x[(i*c+ch)*h*w : (i*c+ch+1)*h*w] {
					want := float64(gamma[ch])*(float64(v)-mu)/math.Sqrt(q/m+1e-5) + float64(beta[ch])
					// float32 outputs of size ≲ 10: 1e-5 covers their rounding.
					if got := out[(i*c+ch)*h*w+j]; math.Abs(float64(got)-want) > 1e-5 {
						t.Fatalf("channel %d: %v, want %v", ch, got, want)
					}
				}
			}
			// PyTorch's running update with momentum 0.1 and the unbiased variance.
			if got, want := float64(mean[ch]), 0.1*mu; math.Abs(got-want) > 1e-6 {
				t.Errorf("running mean %v, want %v", got, want)
			}
			if got, want := float64(variance[ch]), 0.9+0.1*q/(m-1); math.Abs(got-want) > 1e-6 {
				t.Errorf("running variance %v, want %v", got, want)
			}
		}
	})
}

// Batch norm's forward pass and all three gradients in training mode against
// the two-pass float64 definition, on a channel centred at 0 and one whose
// mean is 1000 times its standard deviation (where a one-pass variance in
// float32 would lose every digit). The float32 input itself is only known
// to half an ulp, 2⁻²⁴·|x|; the kernel rounds a few values of size up to
// |x|·|γ|/σ, so the tolerance is 8·2⁻²⁴·(max|x|/σ·|γ|·max|dy| + 1) for the
// outputs and the input gradient, and 8·2⁻²⁴·(Σ|terms| + 1) for the sums.
func TestBatchNormMatchesDefinition(t *testing.T) {
	forEachLoops(t, testBatchNormMatchesDefinition)
}

// forEachLoops runs f with each set of elementwise loops the CPU runs:
// the default, then AVX2 and Go where they differ from it.
func forEachLoops(t *testing.T, f func(t *testing.T, o Options)) {
	t.Run("default", func(t *testing.T) { f(t, Options{}) })
	for _, l := range []struct {
		name string
		o    Options
	}{{"avx2", Options{Loops: LoopsAVX2}}, {"go", Options{Loops: LoopsGo}}} {
		if l.o.vec() != (Options{}).vec() {
			t.Run(l.name, func(t *testing.T) { f(t, l.o) })
		}
	}
}

func testBatchNormMatchesDefinition(t *testing.T, o Options) {
	const n, c, h, w = 3, 2, 4, 5
	hw, m := h*w, float64(n*h*w)
	r := rand.New(rand.NewPCG(9, 10))
	offset, spread := []float64{0, 1000}, []float64{1, 1}
	x := make([]float32, n*c*hw)
	for i := range x {
		ch := i / hw % c
		x[i] = float32(offset[ch] + spread[ch]*r.NormFloat64())
	}
	dy := randSlice(r, len(x), -1, 1)
	gamma, beta := []float32{0.5, 2}, []float32{0.25, -1}
	cfg := BatchNormConfig{Training: true, Momentum: 0.1, Eps: 1e-5, RunMean: make([]float32, c), RunVar: []float32{1, 1}}
	k, err := NewBatchNorm([]int{n, c, h, w}, cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	in := [][]float32{x, gamma, beta}
	out, dx := make([]float32, len(x)), make([]float32, len(x))
	dGamma, dBeta := make([]float32, c), make([]float32, c)
	if err := k.Forward(out, in); err != nil {
		t.Fatal(err)
	}
	for i, d := range [][]float32{dx, dGamma, dBeta} {
		if err := k.Backward(i, d, in, out, dy); err != nil {
			t.Fatal(err)
		}
	}
	const u = 8.0 / (1 << 24)
	for ch := range c {
		idx := func(yield func(int) bool) {
			for b := range n {
				for j := range hw {
					if !yield((b*c+ch)*hw + j) {
						return
					}
				}
			}
		}
		var s, q, maxX float64
		for i := range idx {
			s += float64(x[i])
			maxX = math.Max(maxX, math.Abs(float64(x[i])))
		}
		mu := s / m
		for i := range idx {
			q += (float64(x[i]) - mu) * (float64(x[i]) - mu)
		}
		sigma := math.Sqrt(q/m + 1e-5)
		var sdy, sdyx, absDy, absDyx float64
		for i := range idx {
			xh := (float64(x[i]) - mu) / sigma
			sdy, sdyx = sdy+float64(dy[i]), sdyx+float64(dy[i])*xh
			absDy, absDyx = absDy+math.Abs(float64(dy[i])), absDyx+math.Abs(float64(dy[i])*xh)
		}
		g := float64(gamma[ch])
		tolOut := u * (maxX/sigma*math.Abs(g) + math.Abs(float64(beta[ch])) + 1)
		for i := range idx {
			xh := (float64(x[i]) - mu) / sigma
			if want := g*xh + float64(beta[ch]); math.Abs(float64(out[i])-want) > tolOut {
				t.Fatalf("channel %d (mean %g): output %v, want %v (tolerance %.2g)", ch, offset[ch], out[i], want, tolOut)
			}
			want := g / sigma * (float64(dy[i]) - sdy/m - xh*sdyx/m)
			if math.Abs(float64(dx[i])-want) > tolOut {
				t.Fatalf("channel %d (mean %g): input gradient %v, want %v (tolerance %.2g)", ch, offset[ch], dx[i], want, tolOut)
			}
		}
		if math.Abs(float64(dGamma[ch])-sdyx) > u*(absDyx+1) || math.Abs(float64(dBeta[ch])-sdy) > u*(absDy+1) {
			t.Errorf("channel %d (mean %g): dγ, dβ = %v, %v; want %v, %v", ch, offset[ch], dGamma[ch], dBeta[ch], sdyx, sdy)
		}
	}
}

// The elementwise kernels split long tensors across goroutines; on a tensor
// long enough to be split (and an odd length, so the ranges are unequal),
// every element must still follow the definition exactly, including 0, -0
// and NaN inputs.
func TestElementwiseKernelsOnLongTensors(t *testing.T) {
	forEachLoops(t, testElementwiseKernelsOnLongTensors)
}

func testElementwiseKernelsOnLongTensors(t *testing.T, o Options) {
	const n = 3<<15 + 7
	rng := rand.New(rand.NewPCG(5, 5))
	x, y, g := make([]float32, n), make([]float32, n), make([]float32, n)
	for i := range x {
		x[i], y[i], g[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()), float32(rng.NormFloat64())
	}
	x[0], x[1], x[n-1] = 0, float32(math.Copysign(0, -1)), float32(math.NaN())
	same := func(a, b float32) bool { return a == b || (a != a && b != b) }
	for _, slope := range []float32{0, 0.1} {
		k := NewLeakyReLU([]int{n}, slope, o)
		out, dIn := make([]float32, n), make([]float32, n)
		if err := k.Forward(out, [][]float32{x}); err != nil {
			t.Fatal(err)
		}
		if err := k.Backward(0, dIn, [][]float32{x}, out, g); err != nil {
			t.Fatal(err)
		}
		for i, v := range x {
			want, wantD := v, g[i]
			if !(v > 0) { // PyTorch: slope below and at 0
				want, wantD = slope*v, slope*g[i]
			}
			if !same(out[i], want) || !same(dIn[i], wantD) {
				t.Fatalf("slope %g, x[%d] = %g: got %g, %g; want %g, %g", slope, i, v, out[i], dIn[i], want, wantD)
			}
		}
	}
	k := NewAdd([]int{n}, o)
	out, dIn := make([]float32, n), make([]float32, n)
	if err := k.Forward(out, [][]float32{x, y}); err != nil {
		t.Fatal(err)
	}
	if err := k.Backward(0, dIn, [][]float32{x, y}, out, g); err != nil {
		t.Fatal(err)
	}
	for i := range x {
		if !same(out[i], x[i]+y[i]) || dIn[i] != g[i] {
			t.Fatalf("add at %d: got %g, %g; want %g, %g", i, out[i], dIn[i], x[i]+y[i], g[i])
		}
	}
}

// The unrolled 2×2 max pooling keeps the general loop's choices exactly:
// the first maximum in row-major order wins ties (that is where the
// gradient goes), a later NaN never wins, a NaN first in its window stays.
func TestMaxPool2MatchesGeneralLoop(t *testing.T) {
	const n, c, h, w = 2, 3, 9, 8 // odd height: the last row is dropped
	r := rand.New(rand.NewPCG(8, 1))
	x := make([]float32, n*c*h*w)
	for i := range x {
		x[i] = float32(r.IntN(3)) // many ties
		if r.IntN(10) == 0 {
			x[i] = float32(math.NaN())
		}
	}
	k, err := NewPool([]int{n, c, h, w}, 2, 2, 2, true, Options{})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, volume(k.OutShape()))
	if err := k.Forward(out, [][]float32{x}); err != nil {
		t.Fatal(err)
	}
	for p := range n * c {
		for oy := range k.oh {
			for ox := range k.ow {
				best, bi := float32(0), -1
				for i := range 2 {
					for j := range 2 {
						idx := (p*h+2*oy+i)*w + 2*ox + j
						if v := x[idx]; bi < 0 || v > best {
							best, bi = v, idx
						}
					}
				}
				o := (p*k.oh+oy)*k.ow + ox
				if got := out[o]; !(got == best || (got != got && best != best)) || int(k.argmax[o]) != bi {
					t.Fatalf("window (%d,%d,%d): got %v at %d, want %v at %d", p, oy, ox, got, k.argmax[o], best, bi)
				}
			}
		}
	}
}

// TestConstructorsRejectBadShapes checks that the constructors' errors wrap
// ErrShape and name shapes as nn's tensors print them.
func TestConstructorsRejectBadShapes(t *testing.T) {
	for _, tc := range []struct {
		name, want string
		err        error
	}{
		{"conv channels", "conv input (2, 3, 8, 8) with kernel (4, 2, 3, 3)",
			second(NewConv([]int{2, 3, 8, 8}, []int{4, 2, 3, 3}, ConvConfig{Stride: 1}, Options{}))},
		{"conv no output", "conv of (1, 1, 2, 2) by (1, 1, 5, 5) with stride 1, padding 0 has no output",
			second(NewConv([]int{1, 1, 2, 2}, []int{1, 1, 5, 5}, ConvConfig{Stride: 1}, Options{}))},
		{"conv stride 0", "stride 0",
			second(NewConv([]int{1, 1, 4, 4}, []int{1, 1, 3, 3}, ConvConfig{}, Options{}))},
		{"dense", "dense input (2, 5) with weight (3, 4)", second(NewDense([]int{2, 5}, []int{3, 4}, true))},
		{"pool", "pooling (1, 2, 3, 3) with window 4x4", second(NewPool([]int{1, 2, 3, 3}, 4, 4, 1, true, Options{}))},
		{"batch norm rank", "batch norm input (2, 3, 4)",
			second(NewBatchNorm([]int{2, 3, 4}, BatchNormConfig{RunMean: make([]float32, 3), RunVar: make([]float32, 3)}, Options{}))},
		{"batch norm channels", "batch norm over 2 channels, input (2, 3)",
			second(NewBatchNorm([]int{2, 3}, BatchNormConfig{RunMean: make([]float32, 2), RunVar: make([]float32, 2)}, Options{}))},
	} {
		if !errors.Is(tc.err, ErrShape) || !strings.Contains(fmt.Sprint(tc.err), tc.want) {
			t.Errorf("%s: error %v, want ErrShape naming %q", tc.name, tc.err, tc.want)
		}
	}
}

func second[T any](_ T, err error) error { return err }
