package pipeline

import (
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/robustq/robustq/nn"
)

// tinyRegimes are two regimes of a small network; the second starts from
// the first. They are never trained here.
func tinyRegimes(recipe string) []Regime {
	build := func(r *rand.Rand) (*nn.Network, error) {
		return nn.NewNetwork("tiny", [3]int{1, 4, 4}, r, nn.Flatten(), nn.Dense("fc", 3))
	}
	return []Regime{
		{Key: "a", Label: "Orig.", Recipe: recipe, New: build, Epochs: 1},
		{Key: "b", Label: "F.L.", Recipe: "fl", New: build, Epochs: 1, From: "a"},
	}
}

func TestPublishAndLoad(t *testing.T) {
	dir := t.TempDir()
	rs := tinyRegimes("std")
	nets := map[string]*nn.Network{}
	for _, r := range rs {
		n, err := r.New(rand.New(rand.NewPCG(1, uint64(len(r.Key)+len(nets)))))
		if err != nil {
			t.Fatal(err)
		}
		nets[r.Key] = n
	}
	if err := Publish(dir, rs, nets, map[string]TrainTime{}); err != nil {
		t.Fatal(err)
	}
	got, _, err := trainAll(t.Context(), filepath.Join(dir, "cache"), dir, 9, nil, rs, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		if !slices.Equal(got[r.Key].Params()[0].Data, nets[r.Key].Params()[0].Data) {
			t.Errorf("%s: the loaded weights differ from the published ones", r.Label)
		}
	}
	// A changed file fails its hash; a changed recipe finds no model.
	m, err := ReadManifest(dir)
	if err != nil || len(m) != 2 {
		t.Fatalf("manifest %v, %v", m, err)
	}
	if _, _, err := trainAll(t.Context(), filepath.Join(dir, "cache"), dir, 9, nil, tinyRegimes("other"), io.Discard); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("another recipe: error %v, want ErrNotExist", err)
	}
	p := filepath.Join(dir, m[0].File)
	b, _ := os.ReadFile(p)
	b[len(b)-1] ^= 1
	os.WriteFile(p, b, 0o644)
	if _, _, err := trainAll(t.Context(), filepath.Join(dir, "cache"), dir, 9, nil, rs, io.Discard); err == nil {
		t.Error("a damaged published model loaded")
	}
}
