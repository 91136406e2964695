package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/examples/internal/pipeline"
	"github.com/robustq/robustq/nn"
)

// The whole pipeline on the smoke profile with the w = 1 ResNet: 200
// training images, a few attacked images, every table and figure.
func TestSmokeProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("reads CIFAR-10 and trains small models; skipped under -short")
	}
	devData := os.Getenv(data.CIFAR10Env)
	if devData == "" {
		t.Skipf("set %s to the official cifar-10-binary.tar.gz to run this test", data.CIFAR10Env)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	models := filepath.Join(dir, "models")
	if err := run(context.Background(), options{data: devData, profile: "smoke", width: 1, cache: filepath.Join(dir, "cache"), out: out, seed: 1, publish: models}); err != nil {
		t.Fatal(err)
	}
	// The published models evaluate without the cache and give the same report.
	first, err := os.ReadFile(filepath.Join(out, "table3_whitebox.csv"))
	if err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2")
	if err := run(context.Background(), options{data: devData, profile: "smoke", width: 1, cache: filepath.Join(dir, "empty-cache"), out: out2, seed: 1, load: models}); err != nil {
		t.Fatal(err)
	}
	second, err := os.ReadFile(filepath.Join(out2, "table3_whitebox.csv"))
	if err != nil || string(first) != string(second) {
		t.Errorf("table 3 from the published models differs from the trained run's (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(out, "table4_blackbox.csv")); err != nil {
		t.Error(err)
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Table 3", "Table 4", "Table A", "Figure 1", "Figure 4", "units.14", "Verdict"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

// The paper's w = 10 model must build and run a forward pass.
func TestPaperWidthForward(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the 46M-parameter model; skipped under -short")
	}
	net, err := nn.WideResNet32(10, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	// Madry et al.'s model has about 46M parameters; with 1×1 projection
	// shortcuts this one has 46.2M.
	if n := net.NumParams(); n < 45e6 || n > 47e6 {
		t.Errorf("%d parameters, want about 46M", n)
	}
	z, err := net.Logits(make([]float32, 2*3*32*32))
	if err != nil {
		t.Fatal(err)
	}
	if len(z) != 20 {
		t.Errorf("%d logits for 2 images", len(z))
	}
}

// -adv-epochs and -adv-steps name another Adv. regime only when they change
// the recipe, so that the profile's cached Adv. stays valid; negative values
// are refused before any data is read.
func TestAdvRegime(t *testing.T) {
	for _, tc := range []struct {
		profile       string
		flags         advOptions
		epochs, steps int
		name          string
	}{
		{"paper", advOptions{}, 15, 1, "adv-fgsmrs"},
		{"paper", advOptions{epochs: 15}, 15, 1, "adv-fgsmrs"},
		{"paper", advOptions{steps: 2}, 15, 2, "adv-pgd2"},
		{"paper", advOptions{epochs: 30, steps: 1}, 30, 1, "adv-fgsmrs-e30"},
		{"paper", advOptions{steps: 1}, 15, 1, "adv-fgsmrs"},
		{"paper", advOptions{epochs: 10, steps: 7}, 10, 7, "adv-pgd7-e10"},
		{"quick", advOptions{}, 1, 1, "adv-fgsmrs"},
	} {
		if e, s, n := budgetFor(tc.profile).advRegime(tc.flags); e != tc.epochs || s != tc.steps || n != tc.name {
			t.Errorf("%+v: %d epochs, %d steps, %q; want %d, %d, %q", tc.flags, e, s, n, tc.epochs, tc.steps, tc.name)
		}
	}
	for _, tc := range []struct {
		flags advOptions
		want  string
	}{{advOptions{epochs: -1}, "-adv-epochs"}, {advOptions{steps: -1}, "-adv-steps"}} {
		err := run(context.Background(), options{data: "no such file", profile: "paper", width: 1, adv: tc.flags, cache: t.TempDir(), out: t.TempDir(), seed: 1})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v", tc.flags, err)
		}
	}
}

// The training examples: FGSM with random start for one step; PGD with
// steps of ε/2 up to 4 steps, then of 2ε/steps (advExamples' rule).
func TestAdvExamples(t *testing.T) {
	const eps = float32(8.0 / 255)
	if ex := advExamples(1, 3); !ex.Fast || ex.Eps != eps || ex.Seed != 3 {
		t.Errorf("1 step: %+v", ex)
	}
	for _, tc := range []struct {
		steps int
		step  float32
	}{{2, eps / 2}, {4, eps / 2}, {8, eps / 4}} {
		ex := advExamples(tc.steps, 3)
		if ex.Fast || ex.Eps != eps || ex.Steps != tc.steps || ex.Step != tc.step || ex.NoRandomStart || ex.Seed != 3 {
			t.Errorf("%d steps: %+v, want step %v", tc.steps, ex, tc.step)
		}
	}
}

// The models committed under results/cifar10/models load, match the
// SHA-256 their manifest records, and are the ones this code's paper
// profile would train (their cache keys), so -load can evaluate them.
func TestPublishedModels(t *testing.T) {
	const dir = "../../results/cifar10/models"
	manifest, err := pipeline.ReadManifest(dir)
	if errors.Is(err, fs.ErrNotExist) {
		t.Skipf("no models published in %s yet", dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	const seed = 1
	b := budgetFor("paper")
	key := func(name string) string { return fmt.Sprintf("%s-w%d-%s-s%d", "paper", 1, name, seed) }
	rs := regimes(seed, 1, b, advOptions{}, key)
	keys := pipeline.CacheKeys(rs)
	for _, r := range rs {
		found := false
		for _, m := range manifest {
			found = found || m.CacheKey == keys[r.Key]
		}
		if !found {
			t.Errorf("%s: no published model with this code's cache key %s", r.Label, keys[r.Key])
			continue
		}
		net, err := r.New(rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := pipeline.LoadPublished(dir, keys[r.Key], net); err != nil {
			t.Errorf("%s: %v", r.Label, err)
		}
	}
}
