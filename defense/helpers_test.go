package defense

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// blobs returns n examples of shape 1×h×w in `classes` Gaussian clusters:
// class c has a centre drawn uniformly in [0.25, 0.75]^(h·w), and each
// example is the centre plus N(0, sigma²) noise per value, clipped to [0, 1].
// The centres come from seed alone and the noise from (seed, noise), so
// data sets with the same seed and different noise are train and test
// splits of one problem.
func blobs(n, classes, h, w int, sigma float64, seed, noise uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 1))
	d := h * w
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = 0.25 + 0.5*r.Float64()
		}
	}
	ds := &data.Dataset{Name: "blobs", Channels: 1, Height: h, Width: w, Classes: classes}
	r = rand.New(rand.NewPCG(seed, 100+noise))
	for i := range n {
		c := i % classes
		for j := range d {
			ds.X = append(ds.X, float32(min(max(centres[c][j]+sigma*r.NormFloat64(), 0), 1)))
		}
		ds.Y = append(ds.Y, c)
	}
	return ds
}

// robustToy is the two-class problem of Tsipras et al. (2019, "Robustness
// may be at odds with accuracy"), moved into [0, 1]: with s = ±1 for class
// 1/0, value 0 is 0.5 + 0.25·s with probability 0.9 and 0.5 − 0.25·s
// otherwise (robust but only 90% reliable), and values 1…weak are
// 0.5 + 0.1·s + N(0, 0.1²), clipped (each weakly predictive, together
// almost perfectly so). Under an L∞ attack of radius 0.15 > 0.1 the weak
// values can be made to point the other way, while value 0 keeps a gap
// of 0.25 > 0.15.
func robustToy(n, weak int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, 2))
	ds := &data.Dataset{Name: "robust-toy", Channels: 1, Height: 1, Width: weak + 1, Classes: 2}
	for i := range n {
		y := i % 2
		s := float64(2*y - 1)
		x0 := 0.5 + 0.25*s
		if r.Float64() >= 0.9 {
			x0 = 0.5 - 0.25*s
		}
		ds.X = append(ds.X, float32(x0))
		for range weak {
			ds.X = append(ds.X, float32(min(max(0.5+0.1*s+0.1*r.NormFloat64(), 0), 1)))
		}
		ds.Y = append(ds.Y, y)
	}
	return ds
}

// mlp returns Flatten – Dense(hidden) – ReLU – Dense(classes) for inputs
// 1×h×w, or a linear model Flatten – Dense(classes) when hidden is 0.
func mlp(t testing.TB, h, w, hidden, classes int, seed uint64) *nn.Network {
	t.Helper()
	layers := []nn.Layer{nn.Flatten()}
	if hidden > 0 {
		layers = append(layers, nn.Dense("fc1", hidden), nn.ReLU())
	}
	layers = append(layers, nn.Dense("out", classes))
	net, err := nn.NewNetwork("mlp", [3]int{1, h, w}, rand.New(rand.NewPCG(seed, 3)), layers...)
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// trainStd trains net with Adam on ds and fails the test on error.
func trainStd(t testing.TB, net *nn.Network, ds *data.Dataset, epochs int, lr float64) {
	t.Helper()
	_, err := Standard{Config: nn.TrainConfig{Epochs: epochs, BatchSize: 32, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(lr), Seed: 7}}.
		Train(context.Background(), net, ds)
	if err != nil {
		t.Fatal(err)
	}
}

func accuracy(t testing.TB, m nn.Classifier, ds *data.Dataset) float64 {
	t.Helper()
	a, err := nn.Accuracy(m, ds.X, ds.Y, 0)
	if err != nil {
		t.Fatal(err)
	}
	return a
}
