package data

import (
	"archive/tar"
	"compress/flate"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"math/rand/v2"
)

// Sentinel errors. Every error caused by the content of the input, and every
// argument error, wraps one of them; test with errors.Is. Errors from the
// operating system (a file that cannot be opened or read) are returned with
// a "data: " prefix and the original error kept in the chain.
var (
	// ErrFormat reports input that is not in the expected file format: a
	// wrong magic number, wrong image dimensions, a size that is not a whole
	// number of records, trailing bytes, or a corrupt archive.
	ErrFormat = errors.New("data: malformed input")
	// ErrTruncated reports input that ends before the data its header (or
	// its record structure) promises.
	ErrTruncated = errors.New("data: truncated input")
	// ErrTooLarge reports a count or size above the package's limits
	// (MaxMNISTExamples, MaxCIFAR10Records, Limits).
	ErrTooLarge = errors.New("data: size exceeds limit")
	// ErrLabel reports a label outside [0, Classes) in an input file.
	ErrLabel = errors.New("data: label out of range")
	// ErrMismatch reports an image file and a label file that hold different
	// numbers of examples.
	ErrMismatch = errors.New("data: image and label counts differ")
	// ErrNotFound reports a data file or folder that could not be found.
	ErrNotFound = errors.New("data: not found")
	// ErrSplit reports a split name other than SplitTrain or SplitTest.
	ErrSplit = errors.New("data: unknown split")
	// ErrInvalid reports a Dataset whose fields are inconsistent (see
	// Dataset.Validate).
	ErrInvalid = errors.New("data: invalid dataset")
)

// Split names accepted by LoadMNIST, ReadMNISTDir and ReadCIFAR10.
const (
	SplitTrain = "train" // the training set
	SplitTest  = "test"  // the test set
)

// Dataset is an in-memory image classification data set.
//
// Images are stored in NCHW order in one float32 slice: example i is
// X[i*ExampleSize() : (i+1)*ExampleSize()], channel-major, each channel a
// Height×Width image in row-major order. Pixels lie in [0, 1]. Y holds one
// label in [0, Classes) per example. Validate checks these invariants.
type Dataset struct {
	// Name identifies the data set in reports, for example "mnist-train".
	Name string
	// Channels, Height and Width give the shape of one image.
	Channels, Height, Width int
	// Classes is the number of classes; labels lie in [0, Classes).
	Classes int
	// X holds the pixels of all examples, len(X) == Len()*ExampleSize().
	X []float32
	// Y holds the labels, one per example.
	Y []int
}

// Len returns the number of examples, len(d.Y).
func (d *Dataset) Len() int { return len(d.Y) }

// ExampleSize returns the number of float32 values in one example,
// Channels*Height*Width.
func (d *Dataset) ExampleSize() int { return d.Channels * d.Height * d.Width }

// At returns example i as a sub-slice of d.X (not a copy) and its label.
// It panics if i is out of range.
func (d *Dataset) At(i int) (x []float32, y int) {
	if i < 0 || i >= d.Len() {
		panic(fmt.Sprintf("data: At index %d out of range [0, %d)", i, d.Len()))
	}
	s := d.ExampleSize()
	return d.X[i*s : (i+1)*s : (i+1)*s], d.Y[i]
}

// Subset returns a new Dataset holding copies of the examples at the given
// positions, in the order given; an index may repeat. It panics if an index
// is out of range.
func (d *Dataset) Subset(idx []int) *Dataset {
	s := d.ExampleSize()
	out := &Dataset{
		Name:     d.Name,
		Channels: d.Channels, Height: d.Height, Width: d.Width,
		Classes: d.Classes,
		X:       make([]float32, len(idx)*s),
		Y:       make([]int, len(idx)),
	}
	for j, i := range idx {
		if i < 0 || i >= d.Len() {
			panic(fmt.Sprintf("data: Subset index %d out of range [0, %d)", i, d.Len()))
		}
		copy(out.X[j*s:(j+1)*s], d.X[i*s:(i+1)*s])
		out.Y[j] = d.Y[i]
	}
	return out
}

// Head returns a copy of the first n examples, or of all of them when
// n > Len(). It panics if n < 0.
func (d *Dataset) Head(n int) *Dataset {
	if n < 0 {
		panic(fmt.Sprintf("data: Head of negative length %d", n))
	}
	n = min(n, d.Len())
	s := d.ExampleSize()
	out := &Dataset{
		Name:     d.Name,
		Channels: d.Channels, Height: d.Height, Width: d.Width,
		Classes: d.Classes,
		X:       make([]float32, n*s),
		Y:       make([]int, n),
	}
	copy(out.X, d.X[:n*s])
	copy(out.Y, d.Y[:n])
	return out
}

// ClassCounts returns the number of examples of each class, a slice of
// length Classes. Labels outside [0, Classes) are not counted; Validate
// reports them.
func (d *Dataset) ClassCounts() []int {
	counts := make([]int, max(d.Classes, 0))
	for _, y := range d.Y {
		if y >= 0 && y < len(counts) {
			counts[y]++
		}
	}
	return counts
}

// Validate reports whether d satisfies the package invariants: positive
// dimensions and class count, len(X) == Len()*ExampleSize(), every label in
// [0, Classes), and every pixel finite and in [0, 1]. The error wraps
// ErrInvalid and names the first offending field or element.
func (d *Dataset) Validate() error {
	if d.Channels <= 0 || d.Height <= 0 || d.Width <= 0 {
		return fmt.Errorf("%w: image shape %dx%dx%d (CxHxW) must be positive", ErrInvalid, d.Channels, d.Height, d.Width)
	}
	if d.Classes <= 0 {
		return fmt.Errorf("%w: Classes = %d must be positive", ErrInvalid, d.Classes)
	}
	// Check the example size and total length without overflowing int.
	s := int64(d.Channels)
	for _, v := range []int{d.Height, d.Width} {
		if s > math.MaxInt32/int64(v) {
			return fmt.Errorf("%w: image shape %dx%dx%d is too large", ErrInvalid, d.Channels, d.Height, d.Width)
		}
		s *= int64(v)
	}
	n := int64(len(d.Y))
	if int64(len(d.X))%s != 0 || int64(len(d.X))/s != n {
		return fmt.Errorf("%w: len(X) = %d, want Len()*ExampleSize() = %d*%d", ErrInvalid, len(d.X), n, s)
	}
	for i, y := range d.Y {
		if y < 0 || y >= d.Classes {
			return fmt.Errorf("%w: label Y[%d] = %d outside [0, %d)", ErrInvalid, i, y, d.Classes)
		}
	}
	for i, v := range d.X {
		// The negated test also rejects NaN.
		if !(v >= 0 && v <= 1) {
			return fmt.Errorf("%w: pixel X[%d] = %v (example %d) outside [0, 1]", ErrInvalid, i, v, int64(i)/s)
		}
	}
	return nil
}

// Batch is one mini-batch of a Dataset.
type Batch struct {
	// X holds the batch's images in NCHW order, len(X) == len(Y)*ExampleSize().
	X []float32
	// Y holds the batch's labels.
	Y []int
	// Index holds the position in the Dataset of each example in the batch.
	Index []int
}

// Len returns the number of examples in the batch.
func (b Batch) Len() int { return len(b.Y) }

// Batches returns an iterator over mini-batches of batchSize examples; the
// last batch holds the remainder and may be smaller. With a nil rng the
// examples come in order; otherwise every range over the returned sequence
// draws a fresh permutation from rng (a Fisher-Yates shuffle), so the same
// seed gives the same order and successive epochs over one rng differ.
//
// The iterator owns the batch buffers and reuses them: a Batch is valid only
// until the next iteration step, so copy what must outlive it. Changing a
// Batch never changes d. Each range over the sequence allocates its buffers
// once; the steps themselves do not allocate.
//
// It panics if batchSize < 1 or if len(d.X) != d.Len()*d.ExampleSize().
func (d *Dataset) Batches(batchSize int, rng *rand.Rand) iter.Seq[Batch] {
	if batchSize < 1 {
		panic(fmt.Sprintf("data: Batches with batch size %d < 1", batchSize))
	}
	s := d.ExampleSize()
	n := d.Len()
	if len(d.X) != n*s {
		panic(fmt.Sprintf("data: Batches on inconsistent dataset: len(X) = %d, want %d*%d", len(d.X), n, s))
	}
	return func(yield func(Batch) bool) {
		if n == 0 {
			return
		}
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		if rng != nil {
			for i := n - 1; i > 0; i-- {
				j := rng.IntN(i + 1)
				order[i], order[j] = order[j], order[i]
			}
		}
		bs := min(batchSize, n)
		xbuf := make([]float32, bs*s)
		ybuf := make([]int, bs)
		for start := 0; start < n; start += bs {
			m := min(bs, n-start)
			idx := order[start : start+m : start+m]
			for j, i := range idx {
				copy(xbuf[j*s:(j+1)*s], d.X[i*s:(i+1)*s])
				ybuf[j] = d.Y[i]
			}
			if !yield(Batch{X: xbuf[:m*s], Y: ybuf[:m], Index: idx}) {
				return
			}
		}
	}
}

// unitScale returns the table mapping a byte pixel b to float32(b)/255.
func unitScale() [256]float32 {
	var t [256]float32
	for b := range t {
		t[b] = float32(b) / 255
	}
	return t
}

// initialChunk is the first buffer size used when reading data of a size that
// is not yet confirmed by bytes actually read.
const initialChunk = 64 << 10

// readExact reads exactly n bytes from r. The buffer grows (doubling, capped
// at n) only as data arrives, so a lying size costs at most about twice the
// bytes actually present. A short read returns an error wrapping
// ErrTruncated; what names the data in messages.
func readExact(r io.Reader, n int64, what string) ([]byte, error) {
	buf := make([]byte, 0, min(n, initialChunk))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(2*int64(cap(buf)), n))
			copy(nb, buf)
			buf = nb
		}
		m, err := io.ReadFull(r, buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: %s: got %d of %d bytes", ErrTruncated, what, len(buf), n)
		}
		if err != nil {
			return nil, wrapRead(err, what)
		}
	}
	return buf, nil
}

// readAtMost reads r to EOF and fails with ErrTooLarge once more than limit
// bytes arrive. The buffer grows only as data arrives.
func readAtMost(r io.Reader, limit int64, what string) ([]byte, error) {
	buf := make([]byte, 0, min(limit+1, initialChunk))
	for {
		if len(buf) == cap(buf) {
			nb := make([]byte, len(buf), min(2*int64(cap(buf)), limit+1))
			copy(nb, buf)
			buf = nb
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > limit {
			return nil, fmt.Errorf("%w: %s: more than %d bytes", ErrTooLarge, what, limit)
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, wrapRead(err, what)
		}
	}
}

// expectEOF reports an error unless r is at its end. Reading to the end also
// lets a gzip reader verify its checksum.
func expectEOF(r io.Reader, what string) error {
	var b [1]byte
	n, err := io.ReadFull(r, b[:])
	if n > 0 {
		return fmt.Errorf("%w: %s: trailing data after the last record", ErrFormat, what)
	}
	if err == io.EOF {
		return nil
	}
	return wrapRead(err, what)
}

// wrapRead wraps an error met while reading what: an unexpected EOF wraps
// ErrTruncated, a corrupt gzip or tar stream ErrFormat, and anything else
// (an operating system error) only gets the package prefix. The original
// error stays in the chain.
func wrapRead(err error, what string) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %s: %w", ErrTruncated, what, err)
	case errors.As(err, &corrupt), errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader),
		errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrFieldTooLong):
		return fmt.Errorf("%w: %s: %w", ErrFormat, what, err)
	}
	return fmt.Errorf("data: reading %s: %w", what, err)
}
