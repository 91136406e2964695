package kernel

import (
	"fmt"
	"slices"
	"sync"

	"gonum.org/v1/gonum/blas"

	rqblas "github.com/robustq/robustq/internal/blas"
)

// gemm is the matrix multiply under every conv and dense kernel:
// C = alpha·op(A)·op(B) + beta·C, row-major, through internal/blas: robustq's
// AVX-512 or AVX2 kernels where the CPU has them, else OpenBLAS when the
// machine has it (found at run time), else gonum's pure Go. The kernels split work
// across goroutines themselves, so OpenBLAS is set to one thread per call on
// first use.
var gemm gemmer

type gemmer struct{}

var gemmOnce sync.Once

// Sgemm is rqblas.Sgemm.
func (gemmer) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmOnce.Do(func() { rqblas.SetThreads(1) })
	rqblas.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// pack prepares op(A) in p for several products with gemm's settings (one
// OpenBLAS thread per call): a layer's filters, once per batch instead of
// once per image.
func (gemmer) pack(p *rqblas.PackedA, tA blas.Transpose, m, k int, a []float32, lda int) {
	gemmOnce.Do(func() { rqblas.SetThreads(1) })
	p.Pack(tA, m, k, 1, a, lda)
}

// Conv is a 2-D cross-correlation (PyTorch's Conv2d) with zero padding
// and an optional bias: inputs x (N,C,H,W), w (O,C,KH,KW)[, b (O)], or
// with a residual instead of the bias, [s (N,O,OH,OW)].
type Conv struct {
	n, c, h, w  int
	o, kh, kw   int
	stride, pad int
	oh, ow      int
	bias        bool
	opts        Options
	vec         vec
	cols        [][]float32 // per-worker im2col buffers

	// For stride 1 the input gradient is itself a convolution: of the
	// output gradient, padded by KH−1−pad, with the filters flipped and
	// their channel axes swapped. dataGrad is that convolution and flipped
	// its filters; nil until the first backward pass needs them.
	dataGrad *Conv
	flipped  []float32

	// The filters as the GEMMs use them, packed once per batch: for the
	// forward pass, and transposed for the col2im input gradient.
	packedW, packedWT rqblas.PackedA

	// The implicit GEMM (see implicit): each image is copied into a
	// zero-padded plane of hp×wp per channel (padded, per worker; the
	// borders are never written, so they stay zero), whose shifts by the
	// offsets rows are the rows of im2col's matrix over the padded width;
	// wide holds the output over that width (nWide = oh·wp positions, the
	// last kw−1 of each row outside the image), and wideGrad the output
	// gradient spread over the same positions (zero outside).
	hp, wp, nWide int
	rows          rqblas.Rows
	padded, wide  [][]float32
	wideGrad      [][]float32
	// For the filter gradient by tiles (filterGradTiles): the output
	// gradient transposed over the wide positions, its o channels padded to
	// a multiple of 16, per worker.
	gradT [][]float32

	// keepPadded (ConvConfig.KeepPadded) makes an implicit forward pass
	// keep every image's padded planes (paddedBatch, for the input whose
	// first value is at paddedFor), so that the filter gradient reads them
	// instead of padding each image again. Kernels without it pad into
	// per-worker space.
	keepPadded  bool
	paddedBatch []float32
	paddedFor   *float32

	// colMasks is im2col's layout for the assembly loops (planeMasks).
	colMasks *im2colMasks

	// observer, when set, is handed the forward result an image at a time
	// (imageObserver), and gradObserver the gradient with respect to x.
	observer, gradObserver imageObserver

	// residual is ConvConfig.Residual.
	residual bool
}

// PassesGradient implements PassKernel: the gradient with respect to the
// residual is the output's.
func (k *Conv) PassesGradient(i int) bool { return k.residual && i == 2 }

// finishImage adds image n of the residual s, if any, to image n of the
// result and hands it to the observer, if any.
func (k *Conv) finishImage(n int, img, s []float32) {
	if s != nil {
		k.vec.add(img, img, s[n*len(img):(n+1)*len(img)])
	}
	if k.observer != nil {
		k.observer.image(n, img)
	}
}

// filterGradChunks is the number of ranges of images whose filter-gradient
// partial sums are computed apart (parallelChunks) and then added in order:
// a fixed number, so that the filter gradient, and the weights trained
// with it, are the same bit for bit whatever GOMAXPROCS is. Sixteen ranges
// of 8 images at batch 128 leave a worker waiting at most one range's time
// for the other at the end.
const filterGradChunks = 16

// implicit reports whether the convolution's filter gradient runs as an
// implicit GEMM: it reads the rows of im2col's matrix as shifted windows of
// the zero-padded image instead of copies (im2col copies every input value
// KH·KW times), at the price of kw−1 wasted positions per output row. Only
// for stride 1, and by default only with the assembly kernels, which read
// such rows in place (other backends would copy them anyway); there either
// as 8×32 tiles (filterGradTiles) or as dot products where those are long
// enough (rqblas.DotMinK positions).
func (k *Conv) implicit() bool {
	if k.stride != 1 {
		return false
	}
	switch k.opts.ConvPath {
	case ConvIm2col:
		return false
	case ConvImplicit, ConvImplicitDots, ConvImplicitTaps:
		return true
	}
	return rqblas.Kernels() && (k.filterGradTiles() || k.filterGradTaps() || k.oh*(k.w+2*k.pad) >= rqblas.DotMinK)
}

// filterGradTiles reports whether the implicit filter gradient runs as
// dWᵀ = P·Gᵀ in 8×32 tiles (rqblas.SgemmRowsA: P the implicit im2col matrix,
// G the output gradient) rather than as dot products of the rows of G and P
// (rqblas.SgemmRowsT). Tiles need o > 16: with 16 filters they are 8×16,
// too narrow, and lose to dot products (BenchmarkConvPaths, ".../dw").
func (k *Conv) filterGradTiles() bool {
	switch k.opts.ConvPath {
	case ConvImplicit, ConvImplicitTaps:
		return true
	case ConvImplicitDots:
		return false
	}
	return rqblas.Kernels() && k.o > 16
}

// filterGradTaps reports whether the implicit filter gradient of a layer
// with at most 16 filters runs as dWᵀ = P·Gᵀ through rqblas.SgemmRowsA3,
// which loads each value of the padded image once for three neighbouring
// filter taps: 3-wide kernels only, where it beats the 8×16 tiles by half
// again (BenchmarkConvPaths, ".../dw").
func (k *Conv) filterGradTaps() bool {
	if k.stride != 1 || k.o > 16 || k.kw != 3 {
		return false
	}
	switch k.opts.ConvPath {
	case ConvImplicitTaps:
		return true
	case ConvAuto:
		return rqblas.Kernels()
	}
	return false
}

// rowsInPlace reports whether the implicit forward pass writes its output
// in place, one product per output row (whose windows start oy·wp into the
// padded planes), instead of over the wide positions followed by a copy
// that drops the kw−1 columns past each row: where output rows are a
// multiple of the kernels' 32-column tiles wide (ResNet's 32×32 layers) and
// there is no bias to add.
func (k *Conv) rowsInPlace() bool { return k.ow%32 == 0 && !k.bias }

// implicitForward reports whether the forward pass runs as an implicit GEMM
// too. There it also pays a row-by-row copy of the image into the padded
// planes and of the wide output back, short copies that cost more than the
// im2col copies they replace on small images with small kernels: it is
// faster for ResNet's 32×32 and MNIST's layers, slower for ResNet's 16×16
// and 8×8, and KH·KW·OW ≥ 256 separates the two (BenchmarkConvPaths).
func (k *Conv) implicitForward() bool {
	if !k.implicit() {
		return false
	}
	return k.opts.ConvPath != ConvAuto || k.kh*k.kw*k.ow >= 256
}

// ConvConfig is how a convolution is applied, besides its shapes.
type ConvConfig struct {
	// Stride (at least 1) and Pad, the zero padding on each side, are
	// PyTorch's Conv2d stride and padding.
	Stride, Pad int
	// Bias adds a third input b (O) to every output of its channel.
	Bias bool
	// Residual adds a third input s (N,O,OH,OW) to the result, image by
	// image while it is in cache, rather than by a pass of its own over the
	// batch (BenchmarkTrainStep/resnet32-w1 in nn). The gradient with
	// respect to s is dOut (PassesGradient). Not with Bias.
	Residual bool
	// KeepPadded makes an implicit forward pass keep every image's padded
	// planes for the filter gradient of the same input: for training graphs.
	KeepPadded bool
}

// NewConv returns the convolution of inputs of shape x (N,C,H,W) by
// filters of shape w (O,C,KH,KW).
func NewConv(x, w []int, cfg ConvConfig, o Options) (*Conv, error) {
	if len(x) != 4 || len(w) != 4 || x[1] != w[1] {
		return nil, fmt.Errorf("%w: conv input %v with kernel %v", ErrShape, dims(x), dims(w))
	}
	if cfg.Bias && cfg.Residual {
		return nil, fmt.Errorf("nn: conv with both a bias and a residual")
	}
	stride, pad := cfg.Stride, cfg.Pad
	k := &Conv{n: x[0], c: x[1], h: x[2], w: x[3], o: w[0], kh: w[2], kw: w[3], stride: stride, pad: pad, bias: cfg.Bias,
		residual: cfg.Residual, keepPadded: cfg.KeepPadded, opts: o, vec: o.vec()}
	if stride >= 1 {
		k.oh = (k.h+2*pad-k.kh)/stride + 1
		k.ow = (k.w+2*pad-k.kw)/stride + 1
	}
	if stride < 1 || pad < 0 || k.oh < 1 || k.ow < 1 {
		return nil, fmt.Errorf("%w: conv of %v by %v with stride %d, padding %d has no output", ErrShape, dims(x), dims(w), stride, pad)
	}
	return k, nil
}

// dataGradKernel returns the convolution that computes the input gradient,
// or nil when the stride or padding rule it out or when it would not pay
// (then col2im is used). Its im2col copies O·KH·KW rows where col2im adds
// C·KH·KW; with more than twice as many output as input channels (MNIST's
// first layer: 1 → 32) the copies and a GEMM with M = C lose
// (BenchmarkInputGrad/mnist-cnn).
func (k *Conv) dataGradKernel() *Conv {
	// A non-square kernel would need different paddings for the two axes.
	if k.stride != 1 || k.kh != k.kw || k.pad > k.kh-1 || k.o > 2*k.c {
		return nil
	}
	if k.dataGrad == nil {
		// With stride 1 its output, oh + 2(KH−1−pad) − KH + 1, is the input's h.
		k.dataGrad = &Conv{n: k.n, c: k.o, h: k.oh, w: k.ow, o: k.c, kh: k.kh, kw: k.kw, stride: 1,
			pad: k.kh - 1 - k.pad, oh: k.h, ow: k.w, opts: k.opts, vec: k.vec}
		k.flipped = make([]float32, k.o*k.c*k.kh*k.kw)
	}
	return k.dataGrad
}

// flipFilters writes w (O,C,KH,KW) into k.flipped as (C,O,KH,KW) with both
// spatial axes reversed: the filters of dataGrad.
func (k *Conv) flipFilters(w []float32) {
	kk := k.kh * k.kw
	for o := range k.o {
		for c := range k.c {
			src := w[(o*k.c+c)*kk:][:kk]
			dst := k.flipped[(c*k.o+o)*kk:][:kk]
			for i, v := range src {
				dst[kk-1-i] = v
			}
		}
	}
}

// Name implements Kernel.
func (k *Conv) Name() string { return "conv2d" }

// OutShape implements Kernel.
func (k *Conv) OutShape() []int { return []int{k.n, k.o, k.oh, k.ow} }

// Differentiable implements Kernel.
func (k *Conv) Differentiable() []bool {
	if k.bias || k.residual {
		return []bool{true, true, true}
	}
	return []bool{true, true}
}

func (k *Conv) colLen() int { return k.c * k.kh * k.kw * k.oh * k.ow }

// prepare allocates the per-worker scratch buffers once; the parallel loops
// then only index them.
func (k *Conv) prepare() {
	workers := min(maxWorkers(), k.n)
	if k.implicit() {
		k.prepareImplicit(workers)
	}
	if !k.implicitForward() {
		k.prepareCols(workers)
	}
}

// prepareCols allocates the im2col buffers and computes im2col's layout,
// before the workers that share them start.
func (k *Conv) prepareCols(workers int) {
	k.planeMasks()
	for len(k.cols) < workers {
		k.cols = append(k.cols, make([]float32, k.colLen()))
	}
}

// prepareImplicit sets up the implicit GEMM's geometry and buffers.
func (k *Conv) prepareImplicit(workers int) {
	if k.rows.Len() == 0 {
		k.hp, k.wp = k.h+2*k.pad, k.w+2*k.pad
		k.nWide = k.oh * k.wp
		rows := make([]int, 0, k.c*k.kh*k.kw)
		for c := range k.c {
			for i := range k.kh {
				for j := range k.kw {
					rows = append(rows, (c*k.hp+i)*k.wp+j)
				}
			}
		}
		k.rows = rqblas.NewRows(rows)
	}
	for len(k.padded) < workers {
		k.padded = append(k.padded, make([]float32, k.paddedLen()))
	}
	if k.keepPadded && k.implicitForward() && k.paddedBatch == nil {
		k.paddedBatch = make([]float32, k.n*k.paddedLen())
	}
	for k.implicitForward() && !k.rowsInPlace() && len(k.wide) < workers {
		k.wide = append(k.wide, make([]float32, k.o*k.nWide))
	}
}

// paddedLen is the length of one image's padded planes: the last row's
// window ends kw−1 values past the last plane, and SgemmRowsA3
// (filterGradTaps) reads up to 2 values further.
func (k *Conv) paddedLen() int { return k.c*k.hp*k.wp + k.kw + 1 }

// paddedImage returns image n of x in the padded planes: those the forward
// pass kept when it ran on the same input, else a fresh copy in worker wk's
// space.
func (k *Conv) paddedImage(x []float32, n, wk int) []float32 {
	if k.paddedFor == &x[0] {
		return k.paddedBatch[n*k.paddedLen():][:k.paddedLen()]
	}
	chw := k.c * k.h * k.w
	k.padImage(x[n*chw:(n+1)*chw], k.padded[wk])
	return k.padded[wk]
}

// padImage copies image x (C,H,W) into the interior of the padded planes.
func (k *Conv) padImage(x, padded []float32) {
	for c := range k.c {
		k.vec.copyRows(padded[(c*k.hp+k.pad)*k.wp+k.pad:], x[c*k.h*k.w:], k.h, k.w, k.wp)
	}
}

func (k *Conv) colBuffer(w int) []float32 { return k.cols[w] }

// transposeGrad writes one image's output gradient d (O,OH,OW) into gt
// over the wide positions, position-major: gt[(oy·wp + ox)·o16 + oc] =
// d[oc,oy,ox]; the rest of gt (columns past each row, channels past o) is
// left as it is, zero. Eight channels at a time, so that each position gets
// eight consecutive values, one cache line's worth of stores instead of
// eight: about twice as fast as a channel at a time.
//
// With AVX-512, blocks of 16 channels by 16 positions go through
// transpose16: 16 positions of one output row, or 8 of two rows where the
// rows are 8 wide. With AVX2, blocks of 8 by 8 positions of one output row
// go through transpose8.
func (k *Conv) transposeGrad(gt, d []float32, o16 int) {
	ohw := k.oh * k.ow
	oc := 0
	if k.vec.avx512 && (k.ow%16 == 0 || k.ow == 8 && k.oh%2 == 0) {
		for ; oc+16 <= k.o; oc += 16 {
			dc := d[oc*ohw : (oc+16)*ohw]
			for p := 0; p < ohw; p += 16 {
				oy, ox := p/k.ow, p%k.ow
				at := (oy*k.wp+ox)*o16 + oc
				at8 := at + 8*o16 // the next 8 positions of this row
				if k.ow == 8 {
					at8 = ((oy+1)*k.wp)*o16 + oc // the first 8 of the next row
				}
				_ = gt[at+7*o16+15]
				_ = gt[at8+7*o16+15]
				_ = dc[15*ohw+p+15]
				transpose16(&gt[at], &gt[at8], o16, &dc[p], ohw)
			}
		}
	}
	if k.vec.avx2 && k.ow%8 == 0 {
		for ; oc+8 <= k.o; oc += 8 {
			dc := d[oc*ohw : (oc+8)*ohw]
			for p := 0; p < ohw; p += 8 {
				at := (p/k.ow*k.wp+p%k.ow)*o16 + oc
				_ = gt[at+7*o16+7]
				_ = dc[7*ohw+p+7]
				transpose8(&gt[at], o16, &dc[p], ohw)
			}
		}
	}
	for ; oc+8 <= k.o; oc += 8 {
		d0, d1, d2, d3 := d[oc*ohw:][:ohw], d[(oc+1)*ohw:][:ohw], d[(oc+2)*ohw:][:ohw], d[(oc+3)*ohw:][:ohw]
		d4, d5, d6, d7 := d[(oc+4)*ohw:][:ohw], d[(oc+5)*ohw:][:ohw], d[(oc+6)*ohw:][:ohw], d[(oc+7)*ohw:][:ohw]
		for oy := range k.oh {
			for ox := range k.ow {
				p := oy*k.ow + ox
				dst := gt[(oy*k.wp+ox)*o16+oc:][:8]
				dst[0], dst[1], dst[2], dst[3] = d0[p], d1[p], d2[p], d3[p]
				dst[4], dst[5], dst[6], dst[7] = d4[p], d5[p], d6[p], d7[p]
			}
		}
	}
	for ; oc < k.o; oc++ {
		for oy := range k.oh {
			for ox, v := range d[(oc*k.oh+oy)*k.ow:][:k.ow] {
				gt[(oy*k.wp+ox)*o16+oc] = v
			}
		}
	}
}

// partialSums lends count buffers of size values for filter-gradient
// partial sums (the filter gradient by tiles sums dWᵀ with its columns
// padded, the other paths dW), to be handed back by returnSums. The
// buffers are shared by all kernels rather than kept by each: a graph runs
// one kernel at a time, so one set serves all its convolutions (sixteen
// buffers per convolution of a wide ResNet with w = 10 would hold about
// 2 GB).
func partialSums(count, size int) [][]float32 {
	sumBuffers.Lock()
	defer sumBuffers.Unlock()
	bufs := make([][]float32, 0, count)
	free := sumBuffers.free[:0]
	for _, b := range sumBuffers.free {
		if len(bufs) < count && cap(b) >= size {
			bufs = append(bufs, b[:size])
		} else {
			free = append(free, b)
		}
	}
	sumBuffers.free = free
	for len(bufs) < count {
		bufs = append(bufs, make([]float32, size))
	}
	return bufs
}

// returnSums hands back buffers lent by partialSums. Of the free ones it
// keeps the largest maxFreeSums.
func returnSums(bufs [][]float32) {
	const maxFreeSums = 4 * filterGradChunks
	sumBuffers.Lock()
	defer sumBuffers.Unlock()
	sumBuffers.free = append(sumBuffers.free, bufs...)
	if len(sumBuffers.free) > maxFreeSums {
		slices.SortFunc(sumBuffers.free, func(a, b []float32) int { return cap(b) - cap(a) })
		clear(sumBuffers.free[maxFreeSums:])
		sumBuffers.free = sumBuffers.free[:maxFreeSums]
	}
}

var sumBuffers struct {
	sync.Mutex
	free [][]float32
}

// im2col lays out the receptive fields of image x (C,H,W) as the columns of
// col, a (C·KH·KW)×(OH·OW) matrix: with AVX-512 or AVX2 one channel at a
// time by masked loads (width-keeping convolutions) or gathers (the
// others), under the table of planeMasks; otherwise row by row with copies.
func (k *Conv) im2col(x, col []float32) {
	ohw, hw := k.oh*k.ow, k.h*k.w
	for c := range k.c {
		xc := x[c*hw : (c+1)*hw]
		if k.vec.im2colChannel(col[c*k.kh*k.kw*ohw:], xc, k.planeMasks()) {
			continue
		}
		for i := range k.kh {
			for j := range k.kw {
				row := col[((c*k.kh+i)*k.kw+j)*ohw:][:ohw]
				if k.sameWidth() {
					k.shiftCopy(row, xc, i-k.pad, j-k.pad)
					continue
				}
				// The columns ox whose ix + ox·stride lies in the image, the
				// same for every output row; zeros on either side.
				ix := j - k.pad
				lo, hi := 0, 0
				if ix < 0 {
					lo = (-ix + k.stride - 1) / k.stride
				}
				if last := k.w - 1 - ix; last >= 0 {
					hi = min(k.ow, last/k.stride+1)
				}
				for oy := range k.oh {
					iy := oy*k.stride - k.pad + i
					dst := row[oy*k.ow : (oy+1)*k.ow]
					if iy < 0 || iy >= k.h || lo >= hi {
						clear(dst)
						continue
					}
					src := xc[iy*k.w : (iy+1)*k.w]
					clear(dst[:lo])
					if k.stride == 1 {
						copy(dst[lo:hi], src[ix+lo:ix+hi])
					} else {
						for ox, x := lo, ix+lo*k.stride; ox < hi; ox, x = ox+1, x+k.stride {
							dst[ox] = src[x]
						}
					}
					clear(dst[hi:])
				}
			}
		}
	}
}

// im2colMasks lays out im2col's rows for one channel plane as the assembly
// loops of im2colChannel read them: row r = i·KW + j holds, at the
// positions q whose input lies in the image (where bit q mod 16 of
// masks[r·nv + q/16] is set), the input value src[offs[r] + q] for
// sameWidth convolutions or src[idx[r·nv·16 + q]] for the others, and 0 at
// the other positions.
type im2colMasks struct {
	n, nv    int // OH·OW positions per row, ⌈n/16⌉ vectors
	planeLen int // H·W
	offs     []int
	idx      []int32 // nil for sameWidth convolutions
	masks    []uint16
}

// planeMasks returns the kernel's im2colMasks, computed on first use.
func (k *Conv) planeMasks() *im2colMasks {
	if k.colMasks != nil {
		return k.colMasks
	}
	n := k.oh * k.ow
	p := &im2colMasks{n: n, nv: (n + 15) / 16, planeLen: k.h * k.w}
	for i := range k.kh {
		for j := range k.kw {
			dy, dx := i-k.pad, j-k.pad
			p.offs = append(p.offs, dy*k.w+dx)
			for v := range p.nv {
				var m uint16
				for l := range 16 {
					q := 16*v + l
					iy, ix := q/k.ow*k.stride+dy, q%k.ow*k.stride+dx
					in := q < n && iy >= 0 && iy < k.h && ix >= 0 && ix < k.w
					if in {
						m |= 1 << l
					}
					if !k.sameWidth() {
						at := int32(0)
						if in {
							at = int32(iy*k.w + ix)
						}
						p.idx = append(p.idx, at)
					}
				}
				p.masks = append(p.masks, m)
			}
		}
	}
	k.colMasks = p
	return p
}

// sameWidth reports whether the convolution has stride 1 and keeps the
// width (OW = W), so that one row of im2col is the image shifted by a
// constant offset, with the wrapped-around columns zeroed.
func (k *Conv) sameWidth() bool { return k.stride == 1 && k.ow == k.w }

// shiftCopy fills row (OH·OW) with the image plane xc (H·W) shifted by dy
// rows and dx columns, zero outside the image: row[oy·W+ox] = xc[(oy+dy)·W +
// ox+dx]. It is one contiguous copy plus the zeroing of |dx| columns, instead
// of a short copy per output row; a shift by the whole width or more leaves
// only zeros. Only for sameWidth convolutions.
func (k *Conv) shiftCopy(row, xc []float32, dy, dx int) {
	w := k.w
	oyLo, oyHi := max(0, -dy), min(k.oh, k.h-dy)
	if oyLo >= oyHi || dx <= -w || dx >= w {
		clear(row)
		return
	}
	clear(row[:oyLo*w])
	clear(row[oyHi*w:])
	// row[q] = xc[q+off] for q in [oyLo·W, oyHi·W), clipped to the plane;
	// the clipped ends are wrapped-around columns, zeroed below.
	off := dy*w + dx
	q0, q1 := max(oyLo*w, -off), min(oyHi*w, len(xc)-off)
	copy(row[q0:q1], xc[q0+off:q1+off])
	// Plain stores: |dx| is a few elements, too short for a clear call.
	switch {
	case dx < 0:
		for oy := oyLo; oy < oyHi; oy++ {
			for i := range -dx {
				row[oy*w+i] = 0
			}
		}
	case dx > 0:
		for oy := oyLo; oy < oyHi; oy++ {
			for i := range dx {
				row[(oy+1)*w-dx+i] = 0
			}
		}
	}
}

// col2im adds the columns of col back into the image dx (C,H,W), the adjoint of im2col.
func (k *Conv) col2im(col, dx []float32) {
	ohw := k.oh * k.ow
	for c := range k.c {
		dc := dx[c*k.h*k.w : (c+1)*k.h*k.w]
		for i := range k.kh {
			for j := range k.kw {
				row := col[((c*k.kh+i)*k.kw+j)*ohw:][:ohw]
				for oy := range k.oh {
					iy := oy*k.stride - k.pad + i
					if iy < 0 || iy >= k.h {
						continue
					}
					dst := dc[iy*k.w : (iy+1)*k.w]
					src := row[oy*k.ow : (oy+1)*k.ow]
					ix := j - k.pad
					if k.stride == 1 {
						// A contiguous run, without per-element bounds tests.
						lo, hi := max(0, -ix), min(k.ow, k.w-ix)
						if lo < hi {
							d := dst[ix+lo : ix+hi]
							for o, v := range src[lo:hi] {
								d[o] += v
							}
						}
						continue
					}
					for ox, v := range src {
						if x := ix + ox*k.stride; x >= 0 && x < k.w {
							dst[x] += v
						}
					}
				}
			}
		}
	}
}

// Forward implements Kernel.
func (k *Conv) Forward(out []float32, in [][]float32) error {
	x, w := in[0], in[1]
	chw, ohw, ckk := k.c*k.h*k.w, k.oh*k.ow, k.c*k.kh*k.kw
	k.prepare()
	gemm.pack(&k.packedW, blas.NoTrans, k.o, ckk, w, ckk)
	if k.observer != nil {
		k.observer.start(out)
		defer k.observer.finish(out)
	}
	var res []float32
	if k.residual {
		res = in[2]
	}
	if k.implicitForward() {
		var b []float32
		if k.bias {
			b = in[2]
		}
		k.paddedFor = nil
		parallelEach(k.n, func(wk, lo, hi int) {
			for n := lo; n < hi; n++ {
				padded := k.padded[wk]
				if k.keepPadded {
					padded = k.paddedBatch[n*k.paddedLen():][:k.paddedLen()]
				}
				k.padImage(x[n*chw:(n+1)*chw], padded)
				o := out[n*k.o*ohw : (n+1)*k.o*ohw]
				if k.rowsInPlace() {
					for oy := range k.oh {
						k.packedW.SgemmRows(k.ow, padded[oy*k.wp:], k.rows, 0, o[oy*k.ow:], ohw)
					}
					k.finishImage(n, o, res)
					continue
				}
				wide := k.wide[wk]
				k.packedW.SgemmRows(k.nWide, padded, k.rows, 0, wide, k.nWide)
				// Keep the first ow of every wp columns, adding the bias.
				for oc := range k.o {
					for oy := range k.oh {
						dst := o[(oc*k.oh+oy)*k.ow:][:k.ow]
						copy(dst, wide[oc*k.nWide+oy*k.wp:][:k.ow])
						if b != nil {
							k.vec.scaleShift(dst, dst, 1, b[oc]) // dst·1 + b: exact product, one rounding
						}
					}
				}
				k.finishImage(n, o, res)
			}
		})
		if k.keepPadded {
			k.paddedFor = &x[0]
		}
		return nil
	}
	parallelEach(k.n, func(wk, lo, hi int) {
		col := k.colBuffer(wk)
		for n := lo; n < hi; n++ {
			k.im2col(x[n*chw:(n+1)*chw], col)
			o := out[n*k.o*ohw : (n+1)*k.o*ohw]
			k.packedW.Sgemm(blas.NoTrans, ohw, col, ohw, 0, o, ohw)
			if k.bias {
				b := in[2]
				for oc := range k.o {
					run := o[oc*ohw : (oc+1)*ohw]
					k.vec.scaleShift(run, run, 1, b[oc])
				}
			}
			k.finishImage(n, o, res)
		}
	})
	return nil
}

// Backward implements Kernel.
func (k *Conv) Backward(i int, dIn []float32, in [][]float32, _, dOut []float32) error {
	x, w := in[0], in[1]
	chw, ohw, ckk := k.c*k.h*k.w, k.oh*k.ow, k.c*k.kh*k.kw
	k.prepare()
	switch i {
	case 0:
		if t := k.dataGradKernel(); t != nil {
			// A convolution of dOut: im2col's contiguous copies and a GEMM
			// with K = O·KH·KW instead of K = O followed by col2im's
			// scattered adds.
			k.flipFilters(w)
			t.observer = k.gradObserver
			return t.Forward(dIn, [][]float32{dOut, k.flipped})
		}
		// Otherwise col = Wᵀ·dOut_n, then col2im.
		k.prepareCols(min(maxWorkers(), k.n))
		clear(dIn)
		gemm.pack(&k.packedWT, blas.Trans, ckk, k.o, w, ckk)
		if k.gradObserver != nil {
			k.gradObserver.start(dIn)
			defer k.gradObserver.finish(dIn)
		}
		parallelEach(k.n, func(wk, lo, hi int) {
			col := k.colBuffer(wk)
			for n := lo; n < hi; n++ {
				d := dIn[n*chw : (n+1)*chw]
				k.packedWT.Sgemm(blas.NoTrans, ohw, dOut[n*k.o*ohw:], ohw, 0, col, ohw)
				k.col2im(col, d)
				if k.gradObserver != nil {
					k.gradObserver.image(n, d)
				}
			}
		})
	case 1: // filter: Σ_n dOut_n · col_nᵀ, partial sums per range of images.
		workers := min(maxWorkers(), k.n)
		chunks := min(filterGradChunks, k.n)
		if taps := k.filterGradTaps(); taps || k.implicit() && k.filterGradTiles() {
			// dWᵀ = Σ_n P_n·G_nᵀ: P_n the implicit im2col matrix (ckk
			// rows, shifted windows of the padded image, read in place),
			// G_nᵀ the output gradient over the wide positions, transposed
			// (nWide × o16, zero outside the image and past o). The
			// partial sums are dWᵀ's, ckk × o16.
			o16 := (k.o + 15) &^ 15
			partial := partialSums(chunks, ckk*o16)
			defer returnSums(partial)
			// The rows of Gᵀ past nWide stay zero, as SgemmRowsA3 needs.
			gtRows := k.nWide
			if taps {
				gtRows = rqblas.TapRows(k.nWide)
			}
			for w := range workers {
				if w == len(k.gradT) {
					k.gradT = append(k.gradT, nil)
				}
				if len(k.gradT[w]) < gtRows*o16 { // new, or from the tiles path (fewer rows)
					k.gradT[w] = make([]float32, gtRows*o16)
				}
			}
			parallelChunks(k.n, chunks, func(wk, j, lo, hi int) {
				gt, acc := k.gradT[wk], partial[j]
				for n := lo; n < hi; n++ {
					padded := k.paddedImage(x, n, wk)
					k.transposeGrad(gt, dOut[n*k.o*ohw:(n+1)*k.o*ohw], o16)
					beta := float32(1)
					if n == lo {
						beta = 0
					}
					if taps {
						rqblas.SgemmRowsA3(ckk, k.nWide, padded, k.rows, gt, beta, acc)
					} else {
						rqblas.SgemmRowsA(ckk, o16, k.nWide, padded, k.rows, gt, o16, beta, acc, o16)
					}
				}
			})
			addInOrder(partial)
			for r := range ckk {
				for oc, v := range partial[0][r*o16:][:k.o] {
					dIn[oc*ckk+r] = v
				}
			}
			return nil
		}
		partial := partialSums(chunks, len(dIn))
		defer returnSums(partial)
		if k.implicit() {
			for len(k.wideGrad) < workers {
				k.wideGrad = append(k.wideGrad, make([]float32, k.o*k.nWide))
			}
			parallelChunks(k.n, chunks, func(wk, j, lo, hi int) {
				g, acc := k.wideGrad[wk], partial[j]
				clear(acc)
				for n := lo; n < hi; n++ {
					padded := k.paddedImage(x, n, wk)
					// dOut over the wide positions; the kw−1 columns past
					// each row stay zero, so the windows there add nothing.
					d := dOut[n*k.o*ohw : (n+1)*k.o*ohw]
					for oc := range k.o {
						for oy := range k.oh {
							copy(g[oc*k.nWide+oy*k.wp:][:k.ow], d[(oc*k.oh+oy)*k.ow:][:k.ow])
						}
					}
					rqblas.SgemmRowsT(k.o, ckk, k.nWide, 1, g, k.nWide, padded, k.rows, 1, acc, ckk)
				}
			})
		} else {
			parallelChunks(k.n, chunks, func(wk, j, lo, hi int) {
				col := k.colBuffer(wk)
				acc := partial[j]
				clear(acc)
				for n := lo; n < hi; n++ {
					k.im2col(x[n*chw:(n+1)*chw], col)
					gemm.Sgemm(blas.NoTrans, blas.Trans, k.o, ckk, ohw, 1, dOut[n*k.o*ohw:], ohw, col, ohw, 1, acc, ckk)
				}
			})
		}
		addInOrder(partial)
		copy(dIn, partial[0])
	case 2:
		if k.residual {
			copy(dIn, dOut)
			return nil
		}
		// bias: Σ over batch and positions, per channel in image order,
		// channels across the workers.
		parallelEach(k.o, func(_, lo, hi int) {
			for oc := lo; oc < hi; oc++ {
				var sum float32
				for n := range k.n {
					var s float32
					for _, v := range dOut[(n*k.o+oc)*ohw : (n*k.o+oc+1)*ohw] {
						s += v
					}
					sum += s
				}
				dIn[oc] = sum
			}
		})
	}
	return nil
}
