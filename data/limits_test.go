package data

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"
)

// perExample returns the decoded bytes Limits counts for one example of
// the given pixel count: 4 per pixel and 8 for the label.
func perExample(pixels int) int64 { return 4*int64(pixels) + 8 }

func TestLimitsMNIST(t *testing.T) {
	pix, lab := synthMNIST(3)
	img, labels := idxImages(mnistImageMagic, 3, 28, 28, pix), idxLabels(mnistLabelMagic, 3, lab)
	for _, c := range []struct {
		max  int64
		want error
	}{
		{3 * perExample(784), nil},
		{3*perExample(784) - 1, ErrTooLarge},
	} {
		d, err := Limits{MaxBytes: c.max}.DecodeMNIST(bytes.NewReader(img), bytes.NewReader(labels))
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("MaxBytes %d: error %v, want %v", c.max, err, c.want)
		}
		if err == nil && d.Len() != 3 {
			t.Errorf("MaxBytes %d: %d examples, want 3", c.max, d.Len())
		}
	}
}

func TestDefaultLimitsRejectHugeMNISTHeader(t *testing.T) {
	// A gzip stream of zeros declaring 2^20 images is under a megabyte
	// compressed and 3.3 GB decoded: the header alone must be rejected,
	// before a pixel is read.
	const n = 1 << 20
	img := gz(t, idxImages(mnistImageMagic, n, 28, 28, make([]byte, 4096)))
	labels := gz(t, idxLabels(mnistLabelMagic, n, make([]byte, n)))
	var err error
	got := allocDuring(func() {
		_, err = DecodeMNIST(bytes.NewReader(img), bytes.NewReader(labels))
	})
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	// 1 MiB: the gzip and bufio readers; reading the labels alone would
	// take 9 MiB.
	if got > 1<<20 {
		t.Errorf("allocated %d bytes, want at most %d", got, 1<<20)
	}
}

func TestLimitsCIFAR10(t *testing.T) {
	// The synthetic release's test split holds 3 records; its training
	// split 9.
	root := t.TempDir()
	folder := filepath.Join(root, "cifar-10-batches-bin")
	writeCIFARDir(t, folder)
	tgz := writeFile(t, filepath.Join(root, "cifar-10-binary.tar.gz"), gz(t, tarBytes(t, synthArchive())))
	stream := synthCIFARFile(5)
	for _, c := range []struct {
		split string
		n     int64
	}{{SplitTest, 3}, {SplitTrain, 9}} {
		for _, src := range []string{folder, tgz} {
			for _, max := range []int64{c.n * perExample(cifarPixels), c.n*perExample(cifarPixels) - 1} {
				d, err := Limits{MaxBytes: max}.ReadCIFAR10(src, c.split)
				fits := max >= c.n*perExample(cifarPixels)
				if fits && (err != nil || int64(d.Len()) != c.n) {
					t.Errorf("%s %s, MaxBytes %d: error %v, want %d examples", filepath.Base(src), c.split, max, err, c.n)
				}
				if !fits && !errors.Is(err, ErrTooLarge) {
					t.Errorf("%s %s, MaxBytes %d: error %v, want ErrTooLarge", filepath.Base(src), c.split, max, err)
				}
			}
		}
	}
	if _, err := (Limits{MaxBytes: 3 * perExample(cifarPixels)}).DecodeCIFAR10(bytes.NewReader(stream)); err != nil {
		t.Errorf("stream of 3 records within the limit: %v", err)
	}
	if _, err := (Limits{MaxBytes: 2 * perExample(cifarPixels)}).DecodeCIFAR10(bytes.NewReader(stream)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("stream of 3 records over the limit: %v, want ErrTooLarge", err)
	}
}
