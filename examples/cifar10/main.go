// Command cifar10 reproduces the CIFAR-10 half of "Improving Adversarial
// Robustness in Weight-quantized Neural Networks" with the wide ResNet-32,
// through the same pipeline as examples/mnist:
//
//	go run ./examples/cifar10 -data path/to/cifar-10-binary.tar.gz
//
// -data is the official cifar-10-binary.tar.gz or its extracted
// cifar-10-batches-bin/ folder; it defaults to $ROBUSTQ_CIFAR10. -width sets the ResNet's width factor
// (10 is the paper's 46M-parameter model; the profiles that run on a
// 2-core machine use 1). -adv-epochs and -adv-steps train Adv. for another
// number of epochs than the profile's, or with PGD of that many steps
// instead of FGSM with random start (each a model of its own in the cache,
// and in the report's Adv. rows). Models are checkpointed after every epoch
// and a rerun resumes from the last checkpoint. -publish writes the trained
// models with a manifest of their hashes (results/cifar10/models holds the
// paper profile's), and -load evaluates published models without training:
//
//	go run ./examples/cifar10 -profile paper -load results/cifar10/models
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
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
	var o options
	flag.StringVar(&o.data, "data", os.Getenv(data.CIFAR10Env), "cifar-10-binary.tar.gz or cifar-10-batches-bin/ (default $"+data.CIFAR10Env+")")
	flag.StringVar(&o.profile, "profile", "quick", "quick, paper, or smoke (seconds, for tests)")
	flag.IntVar(&o.width, "width", 1, "wide ResNet-32 width factor (10 = the paper's model)")
	flag.StringVar(&o.cache, "cache", "cache/cifar10", "folder for trained models and checkpoints")
	flag.StringVar(&o.out, "out", "out/cifar10", "folder for the report, tables and figures (the committed ones were written with -out results/cifar10)")
	flag.Uint64Var(&o.seed, "seed", 1, "seed for weights, shuffling, augmentation and attacks")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the run to this file (go tool pprof)")
	flag.StringVar(&o.load, "load", "", "evaluate the models published in this folder (e.g. results/cifar10/models) instead of training")
	flag.StringVar(&o.publish, "publish", "", "after training, publish the models in this folder with a manifest of their SHA-256")
	flag.IntVar(&o.adv.epochs, "adv-epochs", 0, "epochs of Adv.'s adversarial training (0: the profile's, as Orig.)")
	flag.IntVar(&o.adv.steps, "adv-steps", 0, "PGD steps of Adv.'s training examples, step min(ε/2, 2ε/steps) (0 or 1: FGSM with random start)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := pipeline.WithCPUProfile(*cpuProfile, func() error { return run(ctx, o) })
	if err != nil {
		fmt.Fprintln(os.Stderr, "cifar10:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	data, profile string
	width         int
	adv           advOptions
	cache, out    string
	seed          uint64
	load, publish string
}

// advOptions are the -adv-* flags: Adv.'s epochs (0 for the profile's) and
// PGD steps (0 or 1 for FGSM with random start).
type advOptions struct{ epochs, steps int }

// budget is how much training a profile affords.
type budget struct {
	trainImages int // 0 = all 50,000
	epochs      int // Orig., and Adv. unless -adv-epochs is set
	subEpochs   int
	flRounds    int
	flSample    int
}

// advRegime returns Adv.'s epochs, its PGD steps (1 is FGSM with random
// start) and the name of its regime, which says the attack and, when they
// differ from Orig.'s, the epochs: another recipe is another model, cached
// apart, and a profile's cached Adv. stays valid under other flags.
func (b budget) advRegime(o advOptions) (epochs, steps int, name string) {
	epochs, steps = b.epochs, max(o.steps, 1)
	if o.epochs != 0 {
		epochs = o.epochs
	}
	name = "adv-fgsmrs"
	if steps > 1 {
		name = fmt.Sprintf("adv-pgd%d", steps)
	}
	if epochs != b.epochs {
		name += fmt.Sprintf("-e%d", epochs)
	}
	return epochs, steps, name
}

// advExamples are Adv.'s training examples at ε 8/255: FGSM with random
// start (step 10/255, Wong et al. 2020) for one step, otherwise PGD with a
// random start and steps of min(ε/2, 2ε/steps): two or more steps can cross
// the ε-ball from a random start, and more steps are smaller, at most 2ε in
// all.
func advExamples(steps int, seed uint64) defense.AdvExamples {
	const eps = 8.0 / 255
	if steps <= 1 {
		return defense.AdvExamples{Fast: true, Eps: eps, Seed: seed}
	}
	return defense.AdvExamples{Eps: eps, Steps: steps, Step: min(eps/2, 2*eps/float32(steps)), Seed: seed}
}

func budgetFor(profile string) budget {
	switch profile {
	case "smoke":
		return budget{trainImages: 200, epochs: 1, subEpochs: 1, flRounds: 1, flSample: 20}
	case "paper":
		return budget{epochs: 15, subEpochs: 5, flRounds: 3, flSample: 5000}
	default:
		return budget{trainImages: 10000, epochs: 1, subEpochs: 1, flRounds: 1, flSample: 1000}
	}
}

func run(ctx context.Context, o options) error {
	path, profile, width, adv, cache, out, seed := o.data, o.profile, o.width, o.adv, o.cache, o.out, o.seed
	prof, err := pipeline.CIFAR10Profile(profile)
	if err != nil {
		return err
	}
	if width < 1 {
		return fmt.Errorf("width %d, want ≥ 1", width)
	}
	if adv.epochs < 0 {
		return fmt.Errorf("-adv-epochs %d, want ≥ 0", adv.epochs)
	}
	if adv.steps < 0 {
		return fmt.Errorf("-adv-steps %d, want ≥ 0", adv.steps)
	}
	if path == "" {
		return fmt.Errorf("no CIFAR-10: pass -data or set %s to the official cifar-10-binary.tar.gz", data.CIFAR10Env)
	}
	train, err := data.ReadCIFAR10(path, data.SplitTrain)
	if err != nil {
		return err
	}
	test, err := data.ReadCIFAR10(path, data.SplitTest)
	if err != nil {
		return err
	}
	b := budgetFor(profile)
	_, _, advName := b.advRegime(adv)
	if b.trainImages > 0 {
		train = train.Head(b.trainImages)
	}
	key := func(name string) string { return fmt.Sprintf("%s-w%d-%s-s%d", profile, width, name, seed) }
	exp := &pipeline.Experiment{
		Name:       "cifar10",
		Title:      fmt.Sprintf("CIFAR-10 (wide ResNet-32, w = %d)", width),
		Command:    strings.TrimSpace("go run ./examples/cifar10 " + strings.Join(os.Args[1:], " ")),
		Train:      train,
		Test:       test,
		Regimes:    regimes(seed, width, b, adv, key),
		Rows:       []string{key("orig"), key(advName), key("fl2")},
		Substitute: key("sub"),
		// The last residual unit's convolutions and the FC layer.
		MuLayers:     quant.Layers{"units.14.c1", "units.14.c2", "fc"},
		MuNote:       "μ-law on the last residual unit (units.14) and the FC layer, as in the paper",
		TableNumbers: [2]int{3, 4},
		LipFigure:    4,
		TargetClean:  0.88,
		PaperOrigQ:   0.4792,
		LipLayers: func(layer string) bool {
			return strings.HasPrefix(layer, "units.13.") || strings.HasPrefix(layer, "units.14.") || layer == "fc"
		},
		// Adv.'s PGD accuracy on its own training images tells underfitting
		// (capacity) from overfitting.
		TrainSetCheck: key(advName),
		CapacityNote: "Madry et al. (2018) found that capacity limits adversarial training: a network too small for the " +
			"task fits neither its adversarial training examples nor new ones, while a large one fits the training " +
			"examples and may overfit them. A PGD accuracy on the training images close to the test images' (Table 3) " +
			"is the first regime. The paper's w = 10 network (46M parameters) builds and runs here but does not train " +
			"on 2 cores.",
		Profile: prof,
		Cache:   cache,
		Models:  o.load,
		Publish: o.publish,
		Out:     out,
		Seed:    seed,
		Log:     os.Stdout,
	}
	return exp.Run(ctx)
}

// augment is the standard CIFAR-10 augmentation (random crop of the image
// padded by 4 pixels, horizontal flip) as a training hook.
func augment() nn.Hook {
	var buf []float32
	return nn.HookFuncs{Before: func(_ context.Context, s *nn.Step) error {
		if len(buf) != len(s.X) {
			buf = make([]float32, len(s.X))
		}
		spec := s.Net.Spec()
		if err := data.CropFlip(buf, s.X, len(s.Y), spec.Channels, spec.Height, spec.Width, 4, s.Rng); err != nil {
			return err
		}
		s.X = buf
		return nil
	}}
}

func regimes(seed uint64, width int, b budget, adv advOptions, key func(string) string) []pipeline.Regime {
	// progress names the model on every line.
	progress := func(label string) nn.Hook { return nn.Progress(pipeline.Prefix(os.Stdout, label+": "), 20) }
	resnet := func(r *rand.Rand) (*nn.Network, error) { return nn.WideResNet32(width, r) }
	sgd := func() nn.Optimizer { return &nn.SGD{Momentum: 0.9, Nesterov: true, WeightDecay: 5e-4} }
	advEpochs, advSteps, advName := b.advRegime(adv)
	advEx := advExamples(advSteps, seed)
	advDesc := "FGSM with random start (Wong et al. 2020; ε 8/255, step 10/255), not PGD, for the time budget"
	if advSteps > 1 {
		advDesc = fmt.Sprintf("PGD-%d with a random start (ε 8/255, step %.3g/255)", advSteps, advEx.Step*255)
	}
	trainDesc := fmt.Sprintf("%d training images", 50000)
	if b.trainImages > 0 {
		trainDesc = fmt.Sprintf("the first %d training images", b.trainImages)
	}
	return []pipeline.Regime{
		{Key: key("orig"), Label: "Orig.", New: resnet, Epochs: b.epochs,
			Recipe: fmt.Sprintf("standard training on %s, %d epoch(s), batch 128, SGD (Nesterov momentum 0.9, weight decay 5e-4) "+
				"with a one-cycle learning rate (max 0.1), random crop (pad 4) and flip", trainDesc, b.epochs),
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
				_, err := defense.Standard{Config: nn.TrainConfig{Epochs: b.epochs, StartEpoch: start, BatchSize: 128,
					Optimizer: sgd(), LR: nn.OneCycleLR(0.1), Seed: seed,
					Hooks: append([]nn.Hook{augment(), progress("Orig.")}, hooks...)}}.Train(ctx, net, ds)
				return err
			}},
		{Key: key(advName), Label: "Adv.", New: resnet, Epochs: advEpochs,
			Recipe: fmt.Sprintf("adversarial training with %s; otherwise as Orig. (%s, %d epoch(s))", advDesc, trainDesc, advEpochs),
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
				_, err := defense.Adversarial{
					Config: nn.TrainConfig{Epochs: advEpochs, StartEpoch: start, BatchSize: 128, Optimizer: sgd(),
						LR: nn.OneCycleLR(0.1), Seed: seed, Hooks: append([]nn.Hook{augment(), progress("Adv.")}, hooks...)},
					Examples: advEx,
				}.Train(ctx, net, ds)
				return err
			}},
		{Key: key("fl2"), Label: "F.L.", New: resnet, Epochs: b.flRounds, From: key("orig"),
			Recipe: fmt.Sprintf("feedback learning (defense.FeedbackLearning) from Orig.: %d round(s), each measuring the L2 "+
				"distance to the boundary of %d training examples along their loss gradient, its sign and a random direction, "+
				"generating %d examples at α ∈ [0.5, 1.5) times it in per-class shares inversely proportional to the class "+
				"medians, and retraining 1 epoch on them plus as many clean examples with SGD (momentum 0.9) at 0.01",
				b.flRounds, b.flSample, 2*b.flSample),
			Train: pipeline.FeedbackTrain(defense.FeedbackLearning{Rounds: b.flRounds, Sample: b.flSample, Seed: seed,
				Distance:     defense.DistanceConfig{Seed: seed},
				NewOptimizer: func() nn.Optimizer { return &nn.SGD{Momentum: 0.9} },
				Config:       nn.TrainConfig{LR: nn.ConstantLR(0.01), BatchSize: 128, Seed: seed, Hooks: []nn.Hook{progress("F.L.")}},
			}, pipeline.Prefix(os.Stdout, "F.L.: "))},
		{Key: key("sub"), Label: "Substitute", New: substitute, Epochs: b.subEpochs,
			Recipe: fmt.Sprintf("a small plain CNN (conv3×3×32–pool–conv3×3×64–pool–FC256–FC10), %s, %d epoch(s), Adam one-cycle (max 2e-3), augmentation", trainDesc, b.subEpochs),
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
				_, err := defense.Standard{Config: nn.TrainConfig{Epochs: b.subEpochs, StartEpoch: start, BatchSize: 128,
					Optimizer: &nn.Adam{}, LR: nn.OneCycleLR(2e-3), Seed: seed,
					Hooks: append([]nn.Hook{augment(), progress("Substitute")}, hooks...)}}.Train(ctx, net, ds)
				return err
			}},
	}
}

// substitute is the black-box substitute: another architecture than the ResNet.
func substitute(r *rand.Rand) (*nn.Network, error) {
	return nn.NewNetwork("cifar-substitute", [3]int{3, 32, 32}, r,
		&nn.ConvLayer{Name: "conv1", Out: 32, Kernel: 3, Padding: 1, Bias: true}, nn.ReLU(), nn.MaxPool(2, 2),
		&nn.ConvLayer{Name: "conv2", Out: 64, Kernel: 3, Padding: 1, Bias: true}, nn.ReLU(), nn.MaxPool(2, 2),
		nn.Flatten(), nn.Dense("fc1", 256), nn.ReLU(), nn.Dense("fc2", 10))
}
