package pipeline

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

func tiny(rng *rand.Rand) (*nn.Network, error) {
	return nn.NewNetwork("tiny", [3]int{1, 4, 4}, rng, nn.Flatten(), nn.Dense("fc", 3))
}

// A regime with From starts from its source's trained weights, not from its
// own initial ones; one whose source has other parameters is an error.
func TestTrainAllStartsFromSource(t *testing.T) {
	ds := &data.Dataset{X: make([]float32, 2*16), Y: []int{0, 1}, Channels: 1, Height: 4, Width: 4, Classes: 3}
	noop := func(context.Context, *nn.Network, *data.Dataset, int, []nn.Hook) error { return nil }
	regimes := []Regime{
		{Key: "a", New: tiny, Epochs: 1, Train: noop},
		{Key: "b", New: tiny, Epochs: 1, Train: noop, From: "a"},
	}
	nets, _, err := TrainAll(context.Background(), t.TempDir(), 1, ds, regimes, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// TrainAll seeds each regime's initial weights by its key, so they
	// differ unless b was started from a.
	if a, b := nets["a"].Param("fc.weight").Data, nets["b"].Param("fc.weight").Data; !slices.Equal(a, b) {
		t.Error("b does not start from a's weights")
	}
	other := func(rng *rand.Rand) (*nn.Network, error) {
		return nn.NewNetwork("other", [3]int{1, 4, 4}, rng, nn.Flatten(), nn.Dense("fc", 5))
	}
	regimes[1].New = other
	if _, _, err := TrainAll(context.Background(), t.TempDir(), 1, ds, regimes, io.Discard); !errors.Is(err, nn.ErrShape) {
		t.Errorf("source with other shapes: %v, want nn.ErrShape", err)
	}
}

// A regime whose recipe changes, or whose source model changes, is trained
// again instead of loaded; an unchanged one is loaded.
func TestTrainAllKeysByRecipe(t *testing.T) {
	ds := &data.Dataset{X: make([]float32, 2*16), Y: []int{0, 1}, Channels: 1, Height: 4, Width: 4, Classes: 3}
	trained := map[string]int{}
	count := func(key string) TrainFunc {
		return func(context.Context, *nn.Network, *data.Dataset, int, []nn.Hook) error { trained[key]++; return nil }
	}
	regimes := func(recipeA, recipeB string) []Regime {
		return []Regime{
			{Key: "a", Recipe: recipeA, New: tiny, Epochs: 1, Train: count("a")},
			{Key: "b", Recipe: recipeB, New: tiny, Epochs: 1, Train: count("b"), From: "a"},
		}
	}
	dir := t.TempDir()
	for _, step := range []struct {
		a, b         string
		wantA, wantB int // cumulative trainings
	}{
		{"r1", "s1", 1, 1},
		{"r1", "s1", 1, 1}, // unchanged: both loaded
		{"r1", "s2", 1, 2}, // b's recipe changed
		{"r2", "s2", 2, 3}, // a's recipe changed, so b starts from another model
	} {
		if _, _, err := TrainAll(context.Background(), dir, 1, ds, regimes(step.a, step.b), io.Discard); err != nil {
			t.Fatal(err)
		}
		if trained["a"] != step.wantA || trained["b"] != step.wantB {
			t.Errorf("recipes %s, %s: trained a %d and b %d times, want %d and %d", step.a, step.b, trained["a"], trained["b"], step.wantA, step.wantB)
		}
	}
}
