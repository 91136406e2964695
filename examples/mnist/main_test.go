package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The whole pipeline on the smoke profile: tiny training runs on 600 MNIST
// images, a few attacked images, every table, figure and the verdict.
func TestSmokeProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("trains small models on real MNIST; skipped under -short")
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := run(context.Background(), "smoke", filepath.Join(dir, "cache"), out, 1, false, ""); err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Table 1", "Table 2", "Table A", "Figure 1", "Figure 3", "Verdict", "Adv.+mu (Q)", "(chosen)", "mu-law(255)-maxabs"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	for _, f := range []string{"table1_whitebox.csv", "table2_blackbox.csv", "tableA_adaptive.csv", "figure1_bits.csv",
		"figure1_bits.png", "figure3_lipschitz.csv", "figure3_lipschitz.png"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s missing or empty: %v", f, err)
		}
	}
	// A second run loads every model and every row from the cache.
	if err := run(context.Background(), "smoke", filepath.Join(dir, "cache"), out, 1, false, ""); err != nil {
		t.Fatal(err)
	}
	// The defense check reuses the cached models and adds a QAT one.
	if err := run(context.Background(), "smoke", filepath.Join(dir, "cache"), out, 1, true, ""); err != nil {
		t.Fatal(err)
	}
	md, err := os.ReadFile(filepath.Join(out, "defenses.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PGD-40", "| Adv. |", "| F.L. |", "| QAT 3-bit |", "FGSM ε 0.1", "median distance"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("defenses.md lacks %q", want)
		}
	}
	// -models limits the check to F.L. (and Orig., which it starts from).
	if err := run(context.Background(), "smoke", filepath.Join(dir, "cache"), out, 1, true, "F.L."); err != nil {
		t.Fatal(err)
	}
	md, err = os.ReadFile(filepath.Join(out, "defenses.md"))
	if err != nil {
		t.Fatal(err)
	}
	if s := string(md); !strings.Contains(s, "| F.L. |") || strings.Contains(s, "| Adv. |") || strings.Contains(s, "QAT") {
		t.Errorf("defenses.md with -models F.L.:\n%s", s)
	}
	if err := trainModels(context.Background(), "smoke", filepath.Join(dir, "cache"), 1, "Nobody"); err == nil {
		t.Error("-models naming no model: no error")
	}
}
