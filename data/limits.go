package data

import "fmt"

// DefaultMaxBytes is the largest decoded dataset a reader builds unless
// Limits say otherwise: 1 GiB, room for CIFAR-10's training set (615 MB)
// and MNIST's (190 MB).
const DefaultMaxBytes = 1 << 30

// Limits bound what a reader builds, so that a small hostile file (a gzip
// stream of zeros declaring a million images, say) cannot cost gigabytes.
// The zero Limits applies DefaultMaxBytes; the package-level readers use
// it.
type Limits struct {
	// MaxBytes is the size of the largest dataset a read may build: 4 bytes
	// per pixel and 8 per label. The raw bytes held while reading add at
	// most a quarter. 0 means DefaultMaxBytes.
	MaxBytes int64
}

// maxExamples returns how many examples of the given pixel count fit in l.
func (l Limits) maxExamples(pixels int) int64 {
	b := l.MaxBytes
	if b <= 0 {
		b = DefaultMaxBytes
	}
	return b / (4*int64(pixels) + 8)
}

// check reports ErrTooLarge when n examples of the given pixel count do not
// fit in l; what names the data.
func (l Limits) check(n int64, pixels int, what string) error {
	if limit := l.maxExamples(pixels); n > limit {
		return fmt.Errorf("%w: %s: %d examples take %d bytes decoded, over the limit of %d examples (raise data.Limits.MaxBytes)",
			ErrTooLarge, what, n, n*(4*int64(pixels)+8), limit)
	}
	return nil
}
