package main

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/robustq/robustq/nn"
)

const devData = "../../../shared/data/cifar-10-binary.tar.gz"

// The whole pipeline on the smoke profile with the w = 1 ResNet: 200
// training images, a few attacked images, every table and figure.
func TestSmokeProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("reads CIFAR-10 and trains small models; skipped under -short")
	}
	if _, err := os.Stat(devData); err != nil {
		t.Skipf("CIFAR-10 not found at %s", devData)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := run(context.Background(), devData, "smoke", 1, 0, filepath.Join(dir, "cache"), out, 1); err != nil {
		t.Fatal(err)
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
	// The Madry et al. model has about 46M parameters (DESIGN.md); with 1×1
	// projection shortcuts this one has 46.2M.
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

// -adv-epochs names another Adv. regime only when it changes the epochs, so
// that the profile's cached Adv. stays valid; negative values are refused
// before any data is read.
func TestAdvEpochs(t *testing.T) {
	paper := budgetFor("paper")
	for _, tc := range []struct {
		flag, epochs int
		name         string
	}{{0, 15, "adv-fgsmrs"}, {15, 15, "adv-fgsmrs"}, {30, 30, "adv-fgsmrs-e30"}} {
		b := paper
		b.advEpochs = tc.flag
		if e, n := b.adv(); e != tc.epochs || n != tc.name {
			t.Errorf("-adv-epochs %d: %d epochs, %q; want %d, %q", tc.flag, e, n, tc.epochs, tc.name)
		}
	}
	err := run(context.Background(), "no such file", "paper", 1, -1, t.TempDir(), t.TempDir(), 1)
	if err == nil || !strings.Contains(err.Error(), "-adv-epochs") {
		t.Errorf("-adv-epochs -1: %v", err)
	}
}
