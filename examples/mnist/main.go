// Command mnist reproduces the MNIST half of "Improving Adversarial
// Robustness in Weight-quantized Neural Networks" (Song, Fallon, Li) and
// then shows what its attacks miss. Run it from the module root:
//
//	go run ./examples/mnist                 # quick profile (the default), about 10 minutes on 2 cores
//	go run ./examples/mnist -profile paper  # the paper's recipes, 1,000 attacked images (hours)
//	go run ./examples/mnist -check-defenses # does each defense do its job? (defenses.md)
//
// The profiles train different recipes (see mnistModels): the quick one's
// Adv. is Orig. fine-tuned by one epoch of 2-step PGD, the paper one's is
// trained from scratch by 10 epochs of 10-step PGD (Madry-style).
//
// It trains (or loads from -cache) the Orig., Adv. and F.L. models and a
// substitute for black-box attacks, builds the 3-bit (Q), +mu and +mu (Q)
// variants, runs the paper's white-box and black-box attacks and the
// adaptive ones, and writes tables, figures and a verdict on the paper's
// claims to -out (default out/mnist). Trained models are checkpointed after
// every epoch (F.L.: every round), so an interrupted run resumes, and a
// second run only evaluates what is missing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/examples/internal/pipeline"
	"github.com/robustq/robustq/quant"
)

func main() {
	profile := flag.String("profile", "quick", "quick, paper, or smoke (seconds, for tests)")
	cache := flag.String("cache", "cache/mnist", "folder for trained models and checkpoints")
	out := flag.String("out", "out/mnist", "folder for the report, tables and figures (the committed ones were written with -out results/mnist)")
	seed := flag.Uint64("seed", 1, "seed for weights, shuffling and attacks")
	trainOnly := flag.Bool("train-only", false, "train (or load) the models and stop")
	only := flag.String("models", "", "with -train-only or -check-defenses, a comma-separated list of the models to train or check "+
		"(Orig., F.L., Adv., Substitute, QAT 3-bit), with the ones they start from; empty means all")
	checkDef := flag.Bool("check-defenses", false, "instead of the paper's tables, measure whether each defense does its job "+
		"(Adv. under PGD-40, F.L.'s boundary distances, 3-bit QAT against post-training quantization) and write defenses.md")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := pipeline.WithCPUProfile(*cpuProfile, func() error {
		if *trainOnly {
			return trainModels(ctx, *profile, *cache, *seed, *only)
		}
		return run(ctx, *profile, *cache, *out, *seed, *checkDef, *only)
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "mnist:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, profile, cache, out string, seed uint64, checkDef bool, only string) error {
	prof, err := pipeline.MNISTProfile(profile)
	if err != nil {
		return err
	}
	train, err := data.LoadMNIST(data.SplitTrain)
	if err != nil {
		return err
	}
	test, err := data.LoadMNIST(data.SplitTest)
	if err != nil {
		return err
	}
	smoke := profile == "smoke"
	if smoke {
		train = train.Head(600)
	}
	ms := mnistModels(seed, profile)
	exp := &pipeline.Experiment{
		Name:         "mnist",
		Title:        "MNIST",
		Command:      strings.TrimSpace("go run ./examples/mnist " + strings.Join(os.Args[1:], " ")),
		Train:        train,
		Test:         test,
		Regimes:      ms.regimes,
		Rows:         []string{ms.orig, ms.adv, ms.fl},
		Substitute:   ms.sub,
		MuLayers:     quant.LastLayers(1),
		MuNote:       "μ-law on the last layer (fc2), as in the paper",
		TableNumbers: [2]int{1, 2},
		LipFigure:    3,
		TargetClean:  0.99,
		PaperOrigQ:   0.9897,
		Profile:      prof,
		Cache:        cache,
		Out:          out,
		Seed:         seed,
		Log:          os.Stdout,
	}
	if checkDef {
		return checkDefenses(ctx, ms, profile, exp.Command, cache, out, seed, only, train, test)
	}
	return exp.Run(ctx)
}

// trainModels trains (or loads) the profile's models whose labels are in
// the comma-separated list only (all when empty), and the models they
// start from.
func trainModels(ctx context.Context, profile, cache string, seed uint64, only string) error {
	train, err := data.LoadMNIST(data.SplitTrain)
	if err != nil {
		return err
	}
	if profile == "smoke" {
		train = train.Head(600)
	}
	rs, err := selectRegimes(mnistModels(seed, profile).regimes, only)
	if err != nil {
		return err
	}
	_, _, err = pipeline.TrainAll(ctx, cache, seed, train, rs, os.Stdout)
	return err
}

// selectRegimes returns the regimes whose labels are in the comma-separated
// list only, with the ones they start from, in order; all of them when only
// is empty.
func selectRegimes(rs []pipeline.Regime, only string) ([]pipeline.Regime, error) {
	if only == "" {
		return rs, nil
	}
	want := map[string]bool{}
	for _, l := range strings.Split(only, ",") {
		want[strings.TrimSpace(l)] = true
	}
	keep := map[string]bool{}
	for i := len(rs) - 1; i >= 0; i-- {
		if want[rs[i].Label] || keep[rs[i].Key] {
			keep[rs[i].Key] = true
			if rs[i].From != "" {
				keep[rs[i].From] = true
			}
		}
	}
	var sel []pipeline.Regime
	for _, r := range rs {
		if keep[r.Key] {
			sel = append(sel, r)
		}
	}
	if len(sel) == 0 {
		return nil, fmt.Errorf("-models %q names no model", only)
	}
	return sel, nil
}
