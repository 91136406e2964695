package lipschitz

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"

	"github.com/robustq/robustq/nn"
)

// ConvOperator is a 2-D convolution as a linear map A: R^{in×H×W} →
// R^{out×Ho×Wo} (row-major, channels first), with the kernel, stride and zero
// padding of one conv layer, in float64:
//
//	(A x)[o,r,s] = Σ_{c,i,j} w[o,c,i,j] · x[c, r·stride−pad+i, s·stride−pad+j]
//
// where x is zero outside the image. Ho = (H+2·pad−kh)/stride + 1 and likewise
// Wo. It holds scratch space, so one ConvOperator must not be used by two
// goroutines at once.
type ConvOperator struct {
	out, in, kh, kw int
	geom            nn.ConvGeometry
	ho, wo          int
	w               []float64 // out×(in·kh·kw), row-major
	col             []float64 // (in·kh·kw)×(ho·wo) scratch, allocated on first use

	// rows[i] and cols[j] are the ranges of output rows and columns whose
	// receptive field puts tap (i, j) inside the image.
	rows, cols []span
}

var _ Operator = (*ConvOperator)(nil)

// span is the half-open index range [lo, hi).
type span struct{ lo, hi int }

// NewConvOperator returns the convolution operator of the conv weight p
// (Kind nn.ConvWeight, shape (out, in, kh, kw), geometry p.Conv). The weights
// are copied. It returns an error for a nil, malformed or non-finite weight,
// or a missing or invalid geometry.
func NewConvOperator(p *nn.Param) (*ConvOperator, error) {
	if err := checkParam(p); err != nil {
		return nil, err
	}
	if p.Kind != nn.ConvWeight {
		return nil, fmt.Errorf("%w: NewConvOperator of %s %q, want %s", ErrKind, p.Kind, p.Name, nn.ConvWeight)
	}
	return newConvOperator(p.Shape, *p.Conv, toFloat64(p.Data)), nil
}

// newConvOperator builds the operator from a validated shape and geometry
// and float64 weights, which it keeps.
func newConvOperator(shape []int, g nn.ConvGeometry, w []float64) *ConvOperator {
	a := &ConvOperator{out: shape[0], in: shape[1], kh: shape[2], kw: shape[3], geom: g, w: w}
	a.ho, a.wo = g.OutSize(a.kh, a.kw)
	a.rows = make([]span, a.kh)
	for i := range a.rows {
		a.rows[i] = validRange(i-g.Padding, g.Stride, g.InHeight, a.ho)
	}
	a.cols = make([]span, a.kw)
	for j := range a.cols {
		a.cols[j] = validRange(j-g.Padding, g.Stride, g.InWidth, a.wo)
	}
	return a
}

// validRange returns the output indices t in [0, nOut) with
// 0 <= t·stride + off < n: the outputs for which a tap at offset off reads
// inside an input of length n.
func validRange(off, stride, n, nOut int) span {
	lo := 0
	if off < 0 {
		lo = min(nOut, (-off+stride-1)/stride) // ceil(-off / stride)
	}
	hi := 0
	if n-1-off >= 0 {
		hi = min(nOut, (n-1-off)/stride+1) // floor((n-1-off) / stride) + 1
	}
	return span{lo, max(lo, hi)}
}

// Dims returns the output length out·Ho·Wo and the input length in·H·W.
func (a *ConvOperator) Dims() (r, c int) {
	return a.out * a.ho * a.wo, a.in * a.geom.InHeight * a.geom.InWidth
}

// OutSize returns the spatial size Ho×Wo of the output.
func (a *ConvOperator) OutSize() (h, w int) { return a.ho, a.wo }

// Apply sets dst = A·x: the convolution of the image x (in, H, W) into dst
// (out, Ho, Wo). It panics if a length is wrong.
func (a *ConvOperator) Apply(dst, x []float64) {
	r, c := a.Dims()
	if len(dst) != r || len(x) != c {
		panic(fmt.Sprintf("lipschitz: ConvOperator.Apply: len(dst) = %d, len(x) = %d, want %d and %d", len(dst), len(x), r, c))
	}
	k, p := a.in*a.kh*a.kw, a.ho*a.wo
	col := a.colBuffer()
	a.im2col(col, x)
	// dst (out×P) = W (out×K) · col (K×P).
	blas64.Gemm(blas.NoTrans, blas.NoTrans, 1,
		blas64.General{Rows: a.out, Cols: k, Stride: k, Data: a.w},
		blas64.General{Rows: k, Cols: p, Stride: p, Data: col},
		0, blas64.General{Rows: a.out, Cols: p, Stride: p, Data: dst})
}

// ApplyTranspose sets dst = Aᵀ·y, the transposed convolution of y
// (out, Ho, Wo) into dst (in, H, W) with the same stride and padding: each
// output value is spread back over the input positions it read, with the same
// weights. Inputs that no output reads (those the stride skips, at the bottom
// and right border) get zero. It panics if a length is wrong.
func (a *ConvOperator) ApplyTranspose(dst, y []float64) {
	r, c := a.Dims()
	if len(dst) != c || len(y) != r {
		panic(fmt.Sprintf("lipschitz: ConvOperator.ApplyTranspose: len(dst) = %d, len(y) = %d, want %d and %d", len(dst), len(y), c, r))
	}
	k, p := a.in*a.kh*a.kw, a.ho*a.wo
	col := a.colBuffer()
	// col (K×P) = Wᵀ (K×out) · y (out×P).
	blas64.Gemm(blas.Trans, blas.NoTrans, 1,
		blas64.General{Rows: a.out, Cols: k, Stride: k, Data: a.w},
		blas64.General{Rows: a.out, Cols: p, Stride: p, Data: y},
		0, blas64.General{Rows: k, Cols: p, Stride: p, Data: col})
	a.col2im(dst, col)
}

func (a *ConvOperator) colBuffer() []float64 {
	if a.col == nil {
		a.col = make([]float64, a.in*a.kh*a.kw*a.ho*a.wo)
	}
	return a.col
}

// im2col writes the receptive fields of x into col, a (in·kh·kw)×(Ho·Wo)
// matrix: row (c, i, j), column (r, s) holds x[c, r·stride−pad+i,
// s·stride−pad+j], or zero where that falls in the padding.
func (a *ConvOperator) im2col(col, x []float64) {
	h, w, s, pad := a.geom.InHeight, a.geom.InWidth, a.geom.Stride, a.geom.Padding
	p := a.ho * a.wo
	clear(col)
	for c := range a.in {
		xc := x[c*h*w : (c+1)*h*w]
		for i := range a.kh {
			rs := a.rows[i]
			for j := range a.kw {
				cs := a.cols[j]
				row := col[((c*a.kh+i)*a.kw+j)*p:][:p]
				for r := rs.lo; r < rs.hi; r++ {
					src := xc[(r*s-pad+i)*w:][:w]
					dst := row[r*a.wo:][:a.wo]
					ix := cs.lo*s - pad + j
					for t := cs.lo; t < cs.hi; t++ {
						dst[t] = src[ix]
						ix += s
					}
				}
			}
		}
	}
}

// col2im sets dst (in, H, W) to the adjoint of im2col applied to col: every
// entry of col is added to the input position it was read from.
func (a *ConvOperator) col2im(dst, col []float64) {
	h, w, s, pad := a.geom.InHeight, a.geom.InWidth, a.geom.Stride, a.geom.Padding
	p := a.ho * a.wo
	clear(dst)
	for c := range a.in {
		xc := dst[c*h*w : (c+1)*h*w]
		for i := range a.kh {
			rs := a.rows[i]
			for j := range a.kw {
				cs := a.cols[j]
				row := col[((c*a.kh+i)*a.kw+j)*p:][:p]
				for r := rs.lo; r < rs.hi; r++ {
					xr := xc[(r*s-pad+i)*w:][:w]
					src := row[r*a.wo:][:a.wo]
					ix := cs.lo*s - pad + j
					for t := cs.lo; t < cs.hi; t++ {
						xr[ix] += src[t]
						ix += s
					}
				}
			}
		}
	}
}

// InfNorm returns the ∞→∞ operator norm of A: the largest, over output
// channels o and output positions (r, s), of Σ |w[o,c,i,j]| over the channels
// c and the taps (i, j) that read inside the image at (r, s).
func (a *ConvOperator) InfNorm() float64 {
	k := a.in * a.kh * a.kw
	taps := make([]float64, a.kh*a.kw) // Σ_c |w[o,c,i,j]| for one o
	best := 0.0
	for o := range a.out {
		clear(taps)
		wo := a.w[o*k : (o+1)*k]
		for c := range a.in {
			for t, v := range wo[c*a.kh*a.kw : (c+1)*a.kh*a.kw] {
				taps[t] += math.Abs(v)
			}
		}
		for r := range a.ho {
			for s := range a.wo {
				sum := 0.0
				for i := range a.kh {
					if rs := a.rows[i]; r < rs.lo || r >= rs.hi {
						continue
					}
					for j := range a.kw {
						if cs := a.cols[j]; s >= cs.lo && s < cs.hi {
							sum += taps[i*a.kw+j]
						}
					}
				}
				best = max(best, sum)
			}
		}
	}
	return best
}

// reshapedSpectral returns the largest singular value of the out×(in·kh·kw)
// weight matrix.
func (a *ConvOperator) reshapedSpectral() (float64, error) {
	return largestSingular(a.out, a.in*a.kh*a.kw, append([]float64(nil), a.w...))
}
