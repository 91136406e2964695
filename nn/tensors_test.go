package nn

import (
	"bytes"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

func TestTensorsRoundTrip(t *testing.T) {
	in := []Tensor{
		{Name: "logits", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, 1e-30, -7}},
		{Name: "adv", Shape: []int{1, 1, 2, 2}, Data: []float32{0, 0.25, 0.5, 1}},
	}
	meta := map[string]string{"model": "mnist-cnn"}
	var buf bytes.Buffer
	if err := WriteTensors(&buf, in, meta); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "t.safetensors")
	if err := WriteTensorsFile(path, in, meta); err != nil {
		t.Fatal(err)
	}
	fromFile, _, err := ReadTensorsFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got, gotMeta, err := ReadTensors(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if gotMeta["model"] != "mnist-cnn" || gotMeta["data_sha256"] == "" {
		t.Errorf("metadata %v, want the model and a checksum", gotMeta)
	}
	// Sorted by name: adv, logits.
	for _, ts := range [][]Tensor{got, fromFile} {
		if len(ts) != 2 || ts[0].Name != "adv" || ts[1].Name != "logits" ||
			!slices.Equal(ts[1].Data, in[0].Data) || !slices.Equal(ts[0].Shape, in[1].Shape) {
			t.Errorf("read %+v, want the written tensors sorted by name", ts)
		}
	}
	// One flipped bit in the data is caught by the checksum.
	b := bytes.Clone(buf.Bytes())
	b[len(b)-1] ^= 0x40
	if _, _, err := ReadTensors(bytes.NewReader(b)); !errors.Is(err, ErrWeights) {
		t.Errorf("damaged data: error %v, want ErrWeights", err)
	}
	if err := WriteTensors(&buf, []Tensor{{Name: "x", Shape: []int{3}, Data: []float32{1}}}, nil); err == nil {
		t.Error("a shape that disagrees with its data was written")
	}
}
