package nn

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, build := range []func(*rand.Rand) (*Network, error){
		MNISTCNN,
		func(r *rand.Rand) (*Network, error) {
			return NewNetwork("tiny-resnet", [3]int{3, 8, 8}, r, Conv("stem", 4, 3, 1, 1, false),
				Residual("units.0", 6, 2, 0.1), BatchNorm("bn"), LeakyReLU(0.1), GlobalAvgPool(), Dense("fc", 10))
		},
	} {
		a, err := build(rand.New(rand.NewPCG(1, 2)))
		if err != nil {
			t.Fatal(err)
		}
		// Change running statistics so that they must travel too.
		for _, p := range a.Params() {
			if p.Kind == BNMean {
				p.Data[0] = 0.25
			}
		}
		path := filepath.Join(t.TempDir(), "w.safetensors")
		if err := a.SaveFile(path, map[string]string{"note": "test"}); err != nil {
			t.Fatal(err)
		}
		b, _ := build(rand.New(rand.NewPCG(9, 9)))
		meta, err := b.LoadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if meta["note"] != "test" || meta["network"] != a.Name() {
			t.Errorf("metadata %v", meta)
		}
		x := randSlice(rand.New(rand.NewPCG(3, 3)), 2*a.Spec().ExampleSize(), 0, 1)
		za, _ := a.Logits(x)
		zb, _ := b.Logits(x)
		if !slices.Equal(za, zb) {
			t.Errorf("%s: logits differ after a round trip", a.Name())
		}
	}
}

func TestLoadMismatch(t *testing.T) {
	a, _ := MNISTCNN(rand.New(rand.NewPCG(1, 1)))
	sub, _ := SubstituteCNN(rand.New(rand.NewPCG(1, 1)))
	var buf bytes.Buffer
	if err := sub.Save(&buf, nil); err != nil {
		t.Fatal(err)
	}
	before := append([]float32(nil), a.Params()[0].Data...)
	_, err := a.Load(&buf)
	if !errors.Is(err, ErrWeights) {
		t.Fatalf("loading another architecture: %v, want ErrWeights", err)
	}
	if !slices.Equal(before, a.Params()[0].Data) {
		t.Error("a failed load changed the weights")
	}
	if _, err := a.Load(bytes.NewReader([]byte{1, 2, 3})); err == nil {
		t.Error("truncated file loaded without error")
	}
}
