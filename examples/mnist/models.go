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
	// paperAdv selects Madry-style adversarial training from scratch
	// instead of the quick profile's fine-tuning.
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
// profile's train longer: Orig. 3 epochs, the substitute 2, Adv. from
// scratch by PGD-10 for 10 epochs.
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
	// progress names the model on every line.
	progress := func(label string) nn.Hook { return nn.Progress(pipeline.Prefix(os.Stdout, label+": "), 100) }
	std := func(label string, epochs int, lr float64) pipeline.TrainFunc {
		return func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			_, err := defense.Standard{Config: nn.TrainConfig{Epochs: epochs, StartEpoch: start, BatchSize: batch,
				Optimizer: &nn.Adam{}, LR: nn.OneCycleLR(lr), Seed: seed,
				Hooks: append([]nn.Hook{progress(label)}, hooks...)}}.Train(ctx, net, ds)
			return err
		}
	}
	// adv trains with L∞ adversarial examples at ε 0.3 (ex.Eps), Adam with a
	// one-cycle learning rate of maximum lr.
	adv := func(label string, epochs int, lr float64, ex defense.AdvExamples) pipeline.TrainFunc {
		return func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			ex.Seed = seed
			_, err := defense.Adversarial{
				Config: nn.TrainConfig{Epochs: epochs, StartEpoch: start, BatchSize: batch, Optimizer: &nn.Adam{},
					LR: nn.OneCycleLR(lr), Seed: seed, Hooks: append([]nn.Hook{progress(label)}, hooks...)},
				Examples: ex,
			}.Train(ctx, net, ds)
			return err
		}
	}
	fl, flName := flRecipe(profile)
	fl.Seed, fl.Distance.Seed, fl.Config.Seed = seed, seed, seed
	fl.Config.BatchSize = batch
	fl.Config.Hooks = []nn.Hook{progress("F.L.")}

	// Keys name the recipe's budget, so the profiles' models never share one.
	origName := fmt.Sprintf("orig-e%d", b.origEpochs)
	origKey, flKey := key(origName), key(flName+"-from-"+origName)
	subName, subData := fmt.Sprintf("sub-e%d", b.subEpochs), "all 60,000 training images"
	if b.subImages > 0 {
		subName += fmt.Sprintf("-n%d", b.subImages)
		subData = fmt.Sprintf("the first %d training images", b.subImages)
	}
	subKey := key(subName)
	m := models{orig: origKey, fl: flKey, sub: subKey}
	m.regimes = []pipeline.Regime{
		{Key: origKey, Label: "Orig.", New: nn.MNISTCNN, Epochs: b.origEpochs, Train: std("Orig.", b.origEpochs, 2e-3),
			Recipe: fmt.Sprintf("standard training, %s, batch 128, Adam with a one-cycle learning rate (max 2e-3)", plural(b.origEpochs, "epoch"))},
		{Key: flKey, Label: "F.L.", New: nn.MNISTCNN, Epochs: flRounds(fl), From: origKey,
			Recipe: flDescription(fl), Train: pipeline.FeedbackTrain(fl, pipeline.Prefix(os.Stdout, "F.L.: "))},
		{Key: subKey, Label: "Substitute", New: nn.SubstituteCNN, Epochs: b.subEpochs,
			Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
				if b.subImages > 0 {
					ds = ds.Head(b.subImages)
				}
				return std("Substitute", b.subEpochs, 2e-3)(ctx, net, ds, start, hooks)
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
				return adv("Adv.", 1, 2e-3, defense.AdvExamples{Eps: 0.3, Step: 0.2, Steps: 2, Warmup: steps / 3})(ctx, net, ds, start, hooks)
			}})
		return m
	}
	// Madry et al.'s recipe from scratch with fewer PGD steps and epochs,
	// for the profile's time budget.
	steps := (60000 + batch - 1) / batch
	madry := defense.AdvExamples{Eps: 0.3, Step: 0.075, Steps: advSteps, Warmup: 2 * steps}
	m.adv = key(fmt.Sprintf("adv-madry-pgd%d-e%d", advSteps, advEpochs))
	m.regimes = append(m.regimes, pipeline.Regime{Key: m.adv, Label: "Adv.", New: nn.MNISTCNN, Epochs: advEpochs,
		Recipe: fmt.Sprintf("Madry-style adversarial training from scratch: every example replaced by L∞ PGD at ε 0.3 with a "+
			"random start and %d steps of 0.075 (2.5ε/%d; Madry et al. use 40 of 0.01), ε and step ramped up linearly over "+
			"the first 2 epochs; %d epochs (Madry et al.: about 83), batch 128, Adam with a one-cycle learning rate (max 2e-3)",
			advSteps, advSteps, advEpochs),
		Train: adv("Adv.", advEpochs, 2e-3, madry)})
	return m
}

// advSteps and advEpochs size the paper profile's Madry-style Adv.
const advSteps, advEpochs = 10, 10

// plural writes n and a noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// flRecipe returns the feedback-learning recipe of a profile and a name for
// its cache key. The paper profile's is defense.FeedbackLearning's zero
// value (its documented defaults); the quick profile measures and
// generates half as many examples per round.
func flRecipe(profile string) (defense.FeedbackLearning, string) {
	switch profile {
	case "paper":
		return defense.FeedbackLearning{}, "fl2"
	case "smoke":
		return defense.FeedbackLearning{Rounds: 1, Sample: 50, Generate: 50}, "fl2-smoke"
	}
	return defense.FeedbackLearning{Sample: 5000}, "fl2-n5000"
}

// flRounds is the number of rounds fl runs (its checkpoints).
func flRounds(fl defense.FeedbackLearning) int {
	if fl.Rounds == 0 {
		return 3
	}
	return fl.Rounds
}

// flDescription describes fl for the report.
func flDescription(fl defense.FeedbackLearning) string {
	sample := fl.Sample
	if sample == 0 {
		sample = 10000
	}
	gen := fl.Generate
	if gen == 0 {
		gen = 2 * sample
	}
	return fmt.Sprintf("feedback learning (defense.FeedbackLearning) from Orig.: %d rounds; each measures the L2 distance to the "+
		"boundary of %d training examples along their loss gradient, its sign and a random direction, gives each class a share "+
		"of %d generated examples inversely proportional to its median distance, generates them at α ∈ [0.5, 1.5) times "+
		"the distance with their true labels, and retrains one epoch on them plus as many clean examples (Adam, lr 5e-4)",
		flRounds(fl), sample, gen)
}
