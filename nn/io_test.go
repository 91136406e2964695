package nn

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/robustq/robustq/internal/safetensors"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	for _, build := range []func(*rand.Rand) (*Network, error){
		MNISTCNN,
		func(r *rand.Rand) (*Network, error) {
			return NewNetwork("tiny-resnet", [3]int{3, 8, 8}, r, &ConvLayer{Name: "stem", Out: 4, Kernel: 3, Padding: 1},
				&ResidualUnit{Name: "units.0", Out: 6, Stride: 2, Slope: 0.1}, BatchNorm("bn"), LeakyReLU(0.1), GlobalAvgPool(), Dense("fc", 10))
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

func TestLoadHostileHeaderAllocatesLittle(t *testing.T) {
	a, _ := MNISTCNN(rand.New(rand.NewPCG(1, 1)))
	header := func(h string) []byte {
		return append(binary.LittleEndian.AppendUint64(nil, uint64(len(h))), h...)
	}
	// Each stream sends its header and 8 MiB of data, far less than the
	// header claims; the network's names and shapes reject each one before
	// any data is read.
	body := make([]byte, 8<<20)
	conv := a.Params()[0]
	for name, h := range map[string][]byte{
		// An unknown 256 MiB tensor.
		"unknown name": header(`{"junk":{"dtype":"F32","shape":[67108864],"data_offsets":[0,268435456]}}`),
		// A known name claiming 2^40 elements.
		"huge shape": header(fmt.Sprintf(`{%q:{"dtype":"F32","shape":[1099511627776],"data_offsets":[0,4398046511104]}}`, conv.Name)),
	} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := a.Load(io.MultiReader(bytes.NewReader(h), bytes.NewReader(body)))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrWeights) {
				t.Fatalf("error %v, want ErrWeights", err)
			}
			// 2 MiB: room for the parser's bookkeeping; reading the data
			// sent would allocate at least the body's 8 MiB.
			if n := after.TotalAlloc - before.TotalAlloc; n > 2<<20 {
				t.Errorf("allocated %d bytes before rejecting the header", n)
			}
		})
	}
}

func TestLoadListsEveryProblem(t *testing.T) {
	a, _ := MNISTCNN(rand.New(rand.NewPCG(1, 1)))
	ts := a.tensors()
	ts[0] = safetensors.Tensor{Name: "extra", Shape: []int{1}, Data: []float32{1}} // drops ts[0], adds one
	ts[2].Shape = []int{len(ts[2].Data)}                                           // flattened: wrong shape
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	_, err := a.Load(&buf)
	if !errors.Is(err, ErrWeights) {
		t.Fatalf("error %v, want ErrWeights", err)
	}
	for _, want := range []string{`unexpected tensor "extra"`, a.Params()[2].Name + " has shape", `missing tensor "` + a.Params()[0].Name} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
