package data

import (
	"bytes"
	"errors"
	"testing"
)

// sentinels lists every error a decoder may wrap for bad content.
var sentinels = []error{ErrFormat, ErrTruncated, ErrTooLarge, ErrLabel, ErrMismatch}

func checkClassified(t *testing.T, err error) {
	t.Helper()
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return
		}
	}
	t.Fatalf("error %q wraps no sentinel", err)
}

func FuzzDecodeMNIST(f *testing.F) {
	pix, lab := synthMNIST(2)
	img := idxImages(mnistImageMagic, 2, 28, 28, pix)
	labels := idxLabels(mnistLabelMagic, 2, lab)
	f.Add(img, labels)
	f.Add(gz(f, img), gz(f, labels))
	f.Add(idxImages(mnistImageMagic, 0, 28, 28, nil), idxLabels(mnistLabelMagic, 0, nil))
	f.Add(img[:100], labels)
	f.Add(img, idxLabels(mnistLabelMagic, 2, []byte{1, 10}))
	f.Add(idxImages(mnistImageMagic, 1<<31, 28, 28, pix), idxLabels(mnistLabelMagic, 1<<31, lab))
	f.Fuzz(func(t *testing.T, img, labels []byte) {
		d, err := DecodeMNIST(bytes.NewReader(img), bytes.NewReader(labels))
		if err != nil {
			checkClassified(t, err)
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("decoded dataset invalid: %v", err)
		}
		if d.Len() > MaxMNISTExamples || d.ExampleSize() != 784 {
			t.Fatalf("decoded %d examples of size %d", d.Len(), d.ExampleSize())
		}
		// Raw (not gzipped) input: the decoded values are the file's bytes.
		if len(img) > 16 && img[0] == 0 && len(labels) > 8 && labels[0] == 0 {
			for i, v := range d.X {
				if v != float32(img[16+i])/255 {
					t.Fatalf("pixel %d = %v, file byte %d", i, v, img[16+i])
				}
			}
			for i, y := range d.Y {
				if y != int(labels[8+i]) {
					t.Fatalf("label %d = %d, file byte %d", i, y, labels[8+i])
				}
			}
		}
	})
}

func FuzzDecodeCIFAR10(f *testing.F) {
	f.Add(cifarRecords(0, []byte{3}))
	f.Add(cifarRecords(1, []byte{0, 9}))
	f.Add(cifarRecords(2, []byte{4, 5})[:cifarRecord+17])
	f.Add(cifarRecords(0, []byte{10}))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := DecodeCIFAR10(bytes.NewReader(in))
		if err != nil {
			checkClassified(t, err)
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("decoded dataset invalid: %v", err)
		}
		if d.Len()*cifarRecord != len(in) {
			t.Fatalf("decoded %d records from %d bytes", d.Len(), len(in))
		}
		for i := range d.Len() {
			rec := in[i*cifarRecord : (i+1)*cifarRecord]
			x, y := d.At(i)
			if y != int(rec[0]) {
				t.Fatalf("record %d: label %d, file byte %d", i, y, rec[0])
			}
			for k, v := range x {
				if v != float32(rec[1+k])/255 {
					t.Fatalf("record %d pixel %d = %v, file byte %d", i, k, v, rec[1+k])
				}
			}
		}
	})
}

// FuzzReadCIFAR10Archive feeds tar and tar.gz archives to the archive
// reader of ReadCIFAR10, for the test split. Its seeds hold whole records,
// so that mutations reach the record decoder, the duplicate-member check
// and the gzip trailer.
func FuzzReadCIFAR10Archive(f *testing.F) {
	one := []tarMember{{name: "cifar-10-batches-bin/test_batch.bin", body: cifarRecords(0, []byte{3, 7})}}
	f.Add(tarBytes(f, one))
	f.Add(gz(f, tarBytes(f, one)))
	f.Add(gz(f, tarBytes(f, synthArchive())))
	f.Add(gz(f, tarBytes(f, append(one, one...))))
	f.Add(tarBytes(f, []tarMember{{name: "test_batch.bin", body: cifarRecords(1, []byte{10})}}))
	names, _ := cifarBatchNames(SplitTest)
	f.Fuzz(func(t *testing.T, in []byte) {
		d, err := Limits{}.decodeCIFARArchive(bytes.NewReader(in), "fuzz.tar.gz", names, "cifar10-test")
		if err != nil {
			if !errors.Is(err, ErrNotFound) {
				checkClassified(t, err)
			}
			return
		}
		if err := d.Validate(); err != nil {
			t.Fatalf("decoded dataset invalid: %v", err)
		}
		if d.Len() == 0 {
			t.Fatal("decoded an empty test split")
		}
	})
}
