// Command mnist reproduces the MNIST half of "Improving Adversarial
// Robustness in Weight-quantized Neural Networks" (Song, Fallon, Li) and
// then shows what its attacks miss. Run it from the module root:
//
//	go run ./examples/mnist                 # quick profile (the default)
//	go run ./examples/mnist -profile paper  # more test images, full attack budgets
//	go run ./examples/mnist -check-defenses # does each defense do its job? (defenses.md)
//
// It trains (or loads from -cache) the Orig., Adv. and F.L. models and a
// substitute for black-box attacks, builds the 3-bit (Q), +mu and +mu (Q)
// variants, runs the paper's white-box and black-box attacks and the
// adaptive ones, and writes tables, figures and a verdict on the paper's
// claims to -out. Trained models are checkpointed after every epoch, so an
// interrupted run resumes, and a second run only evaluates.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/examples/internal/pipeline"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

func main() {
	profile := flag.String("profile", "quick", "quick, paper, or smoke (seconds, for tests)")
	cache := flag.String("cache", "cache/mnist", "folder for trained models and checkpoints")
	out := flag.String("out", "results/mnist", "folder for the report, tables and figures")
	seed := flag.Uint64("seed", 1, "seed for weights, shuffling and attacks")
	trainOnly := flag.Bool("train-only", false, "train (or load) the models and stop")
	checkDef := flag.Bool("check-defenses", false, "instead of the paper's tables, measure whether each defense does its job "+
		"(Adv. under PGD-40, F.L.'s boundary distances, 3-bit QAT against post-training quantization) and write defenses.md")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *profile, *cache, *out, *seed, *trainOnly, *checkDef); err != nil {
		fmt.Fprintln(os.Stderr, "mnist:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, profile, cache, out string, seed uint64, trainOnly, checkDef bool) error {
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
	exp := &pipeline.Experiment{
		Name:         "mnist",
		Title:        "MNIST",
		Command:      strings.TrimSpace("go run ./examples/mnist " + strings.Join(os.Args[1:], " ")),
		Train:        train,
		Test:         test,
		Regimes:      regimes(seed, smoke),
		Rows:         []string{exp0Key("orig", seed, smoke), exp0Key("adv-pgd5x3", seed, smoke), exp0Key("fl", seed, smoke)},
		Substitute:   exp0Key("sub", seed, smoke),
		MuLayers:     quant.LastLayers(1),
		MuNote:       "μ-law on the last layer (fc2), as in the paper",
		TableNumbers: [2]int{1, 2},
		LipFigure:    3,
		Profile:      prof,
		Cache:        cache,
		Out:          out,
		Seed:         seed,
		Log:          os.Stdout,
	}
	if checkDef {
		return checkDefenses(ctx, cache, out, seed, smoke, train, test)
	}
	if trainOnly {
		_, _, err := pipeline.TrainAll(ctx, cache, seed, train, exp.Regimes, os.Stdout)
		return err
	}
	return exp.Run(ctx)
}

func exp0Key(name string, seed uint64, smoke bool) string {
	if smoke {
		name = "smoke-" + name
	}
	return fmt.Sprintf("%s-s%d", name, seed)
}

// regimes are the MNIST models: the recipes are part of the report, and each
// key changes with its recipe so that stale cache files are never reused.
// A regime's initial weights depend on its index in the list: add new ones
// at the end.
func regimes(seed uint64, smoke bool) []pipeline.Regime {
	progress := nn.Progress(os.Stdout, 100)
	epochs := func(n int) int {
		if smoke {
			return 1
		}
		return n
	}
	fl := defense.FeedbackLearning{Rounds: 2, Sample: 1000, Generate: 1000}
	prefix := ""
	if smoke {
		fl = defense.FeedbackLearning{Rounds: 1, Sample: 50, Generate: 50}
		prefix = "smoke-"
	}
	std := func(epochs int, lr float64) pipeline.TrainFunc {
		return func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			_, err := defense.Standard{Config: nn.TrainConfig{Epochs: epochs, StartEpoch: start, BatchSize: 128,
				Optimizer: &nn.Adam{}, LR: nn.OneCycleLR(lr), Seed: seed,
				Hooks: append([]nn.Hook{progress}, hooks...)}}.Train(ctx, net, ds)
			return err
		}
	}
	// pgd5 fine-tunes with PGD adversarial training, 5 steps of 0.1 at ε 0.3.
	pgd5 := func(epochs int) pipeline.TrainFunc {
		return func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			_, err := defense.Adversarial{
				Config: nn.TrainConfig{Epochs: epochs, StartEpoch: start, BatchSize: 128, Optimizer: &nn.Adam{},
					LR: nn.OneCycleLR(1e-3), Seed: seed, Hooks: append([]nn.Hook{progress}, hooks...)},
				Examples: defense.AdvExamples{Eps: 0.3, Step: 0.1, Steps: 5, Seed: seed},
			}.Train(ctx, net, ds)
			return err
		}
	}
	return []pipeline.Regime{
		{Key: fmt.Sprintf("%sorig-s%d", prefix, seed), Label: "Orig.", New: nn.MNISTCNN, Epochs: epochs(3), Train: std(epochs(3), 2e-3),
			Recipe: "standard training, 3 epochs, batch 128, Adam with a one-cycle learning rate (max 2e-3)"},
		{Key: fmt.Sprintf("%sadv-fgsmrs-s%d", prefix, seed), Label: "Adv. (FGSM-RS stage)", New: nn.MNISTCNN, Epochs: epochs(3),
			Recipe: "adversarial training with FGSM and random start (Wong et al. 2020; ε 0.3, step 0.375), not Madry's 40-step PGD, " +
				"for the time budget; 3 epochs, batch 128, Adam with a one-cycle learning rate (max 2e-3), every example replaced",
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
				_, err := defense.Adversarial{
					Config: nn.TrainConfig{Epochs: epochs(3), StartEpoch: start, BatchSize: 128, Optimizer: &nn.Adam{},
						LR: nn.OneCycleLR(2e-3), Seed: seed, Hooks: append([]nn.Hook{progress}, hooks...)},
					Examples: defense.AdvExamples{Fast: true, Eps: 0.3, Seed: seed},
				}.Train(ctx, net, ds)
				return err
			}},
		{Key: fmt.Sprintf("%sadv-pgd5-s%d", prefix, seed), Label: "Adv. (PGD-5 stage 1)", New: nn.MNISTCNN, Epochs: 1,
			From: fmt.Sprintf("%sadv-fgsmrs-s%d", prefix, seed),
			Recipe: "Madry-style PGD adversarial training with 5 steps of 0.1 (ε 0.3, random start) instead of 40 of 0.01, " +
				"for the time budget: 1 epoch, batch 128, Adam with a one-cycle learning rate (max 1e-3), starting from the " +
				"FGSM-RS model above, which had overfit to FGSM (0% under PGD-40); it reached 76% under PGD-40 (first 300 test images)",
			Train: pgd5(1)},
		{Key: fmt.Sprintf("%sfl-s%d", prefix, seed), Label: "F.L.", New: nn.MNISTCNN, Epochs: 1, From: fmt.Sprintf("%sorig-s%d", prefix, seed),
			Recipe: "feedback learning (our reconstruction, see defense.FeedbackLearning) from Orig.: 2 rounds, 1,000 measured " +
				"training examples, 1,000 generated per round at α∈[0.5,1) of the boundary distance, fine-tuned 1 epoch on " +
				"generated + clean (half each) for 2 epochs per round with Adam at 5e-4",
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, _ int, _ []nn.Hook) error {
				f := fl
				f.Seed, f.Distance = seed, defense.DistanceConfig{Seed: seed}
				f.Config = nn.TrainConfig{Epochs: 2, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(5e-4), BatchSize: 128, Seed: seed}
				f.OnRound = func(r defense.Round) error {
					fmt.Printf("F.L. round %d (final %v): median boundary distance %.4f over %d correct\n", r.Round, r.Final, r.Median, r.Correct)
					return nil
				}
				_, err := f.Train(ctx, net, ds)
				return err
			}},
		{Key: fmt.Sprintf("%ssub-s%d", prefix, seed), Label: "Substitute", New: nn.SubstituteCNN, Epochs: epochs(2), Train: std(epochs(2), 2e-3),
			Recipe: "the CleverHans basic CNN (another architecture), standard training, 2 epochs, Adam one-cycle (max 2e-3), its own initial weights"},
		{Key: fmt.Sprintf("%sadv-pgd5x3-s%d", prefix, seed), Label: "Adv.", New: nn.MNISTCNN, Epochs: epochs(3),
			From: fmt.Sprintf("%sadv-pgd5-s%d", prefix, seed),
			Recipe: "the PGD-5 stage continued for 3 more epochs with the same attack (ε 0.3, 5 steps of 0.1, random start, " +
				"every example replaced), batch 128, Adam with a new one-cycle learning rate (max 1e-3): in all 3 epochs of " +
				"FGSM-RS and 4 of PGD-5, where Madry et al. train with 40-step PGD for about 83 epochs",
			Train: pgd5(epochs(3))},
	}
}
