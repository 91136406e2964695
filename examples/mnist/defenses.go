package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/examples/internal/pipeline"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
	"gonum.org/v1/gonum/stat"
)

// model is a network with its name in the tables.
type model struct {
	label string
	net   *nn.Network
}

// checkDefenses measures whether each trainer reached its purpose, on the
// MNIST test set: Adv. under PGD-40 (ε 0.3) against Orig.; F.L. against
// Orig. (clean and 3-bit accuracy, PGD-40 and FGSM at ε 0.1, the median
// distance to the decision boundary); and clean
// accuracy of 3-bit quantization-aware training against 3-bit post-training
// quantization of Orig. only, if not empty, names the models to check
// (Adv., F.L., QAT 3-bit), and only those and the ones they start from are
// trained. It writes defenses.md (defenses-paper.md for the paper profile)
// to out and prints it.
func checkDefenses(ctx context.Context, ms models, profile, command, cache, out string, seed uint64, only string, train, test *data.Dataset) error {
	smoke := profile == "smoke"
	// Test images attacked with PGD-40, and measured for boundary distance.
	nPGD, nDist := 1000, 1000
	if smoke {
		nPGD, nDist = 20, 20
	}
	qatKey := "qat3-from-" + ms.orig
	rs := append(ms.regimes, pipeline.Regime{
		Key: qatKey, Label: "QAT 3-bit", New: nn.MNISTCNN, Epochs: 1, From: ms.orig,
		Recipe: "quantization-aware training (STE, 3-bit linear per-tensor weights) from Orig., 1 epoch, Adam at 5e-4",
		Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			_, err := defense.Standard{QAT: &defense.QAT{Quantizer: quant.Linear{Bits: 3}},
				Config: nn.TrainConfig{Epochs: 1, StartEpoch: start, BatchSize: batch, Optimizer: &nn.Adam{},
					LR: nn.ConstantLR(5e-4), Seed: seed, Hooks: append([]nn.Hook{nn.Progress(pipeline.Prefix(os.Stdout, "QAT 3-bit: "), 100)}, hooks...)}}.Train(ctx, net, ds)
			return err
		}})
	rs, err := selectRegimes(rs, only)
	if err != nil {
		return err
	}
	nets, took, err := pipeline.TrainAll(ctx, cache, seed, train, rs, os.Stdout)
	if err != nil {
		return err
	}
	orig, adv, fl, qat := nets[ms.orig], nets[ms.adv], nets[ms.fl], nets[qatKey]

	var b strings.Builder
	fmt.Fprintf(&b, "# MNIST: does each defense do its job?\n\n")
	fmt.Fprintf(&b, "Command: `%s` (seed %d), GEMM %s, %s.\n\n", command, seed, nn.GEMMBackend(), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Models (this profile's, from the cache when trained before):\n\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "- %s: %s.\n", r.Label, r.Recipe)
	}
	b.WriteString("\n")
	if adv != nil {
		if err := checkAdv(ctx, &b, orig, adv, test, nPGD, seed); err != nil {
			return err
		}
	}
	if fl != nil {
		if err := checkFL(ctx, &b, orig, fl, took[ms.fl], test, nPGD, nDist, seed); err != nil {
			return err
		}
	}
	if qat != nil {
		if err := checkQAT(&b, orig, qat, rs[len(rs)-1].Recipe, test); err != nil {
			return err
		}
	}
	fmt.Print(b.String())
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	name := "defenses.md"
	if profile == "paper" {
		name = "defenses-paper.md"
	}
	return pipeline.WriteFileAtomic(filepath.Join(out, name), []byte(b.String()))
}

// checkAdv writes Adv.'s accuracy under PGD-40 at ε 0.3 next to Orig.'s.
func checkAdv(ctx context.Context, b *strings.Builder, orig, adv *nn.Network, test *data.Dataset, nPGD int, seed uint64) error {

	t0 := time.Now()
	pgd := attack.PGD{Eps: 0.3, Step: 0.01, Steps: 40, RandomStart: true, Seed: seed}
	fmt.Fprintf(b, "## Adversarial training under PGD-40\n\n")
	fmt.Fprintf(b, "L∞ PGD, ε 0.3, step 0.01, 40 steps, one random start, cross-entropy, on the first %d test images.\n\n", nPGD)
	fmt.Fprintf(b, "| model | clean | PGD-40 accuracy | robust (correct clean and attacked) |\n| --- | --- | --- | --- |\n")
	for _, m := range []model{{"Orig.", orig}, {"Adv.", adv}} {
		fmt.Printf("PGD-40 on %s, %d images\n", m.label, nPGD)
		rep, err := attack.Evaluator{Attacks: []attack.Attack{pgd}, N: nPGD, Batch: 50, Workers: 2}.Run(ctx, m.net, test.X, test.Y)
		if err != nil {
			return err
		}
		r := rep.Groups[0].Rows[0]
		fmt.Fprintf(b, "| %s | %.2f%% | %.2f%% | %.2f%% |\n", m.label, 100*rep.Clean, 100*r.AdvAccuracy, 100*r.Robust)
	}
	fmt.Fprintf(b, "\nTook %s.\n\n", time.Since(t0).Round(time.Second))
	return nil
}

// checkFL writes F.L.'s clean and 3-bit accuracy, accuracy under PGD-40
// and FGSM at ε 0.1, and boundary distances next to Orig.'s.
func checkFL(ctx context.Context, b *strings.Builder, orig, fl *nn.Network, took pipeline.TrainTime, test *data.Dataset, nPGD, nDist int, seed uint64) error {
	t0 := time.Now()
	sub := test.Head(nDist)
	cfg := defense.DistanceConfig{Seed: seed}
	q3 := quant.Uniform{Bits: 3}
	fmt.Fprintf(b, "## Feedback learning against Orig.\n\n")
	fmt.Fprintf(b, "F.L. trained in %s (all runs). Clean accuracy on all %d test images, with float weights and with every "+
		"weight quantized by %s; PGD-40 (ε 0.1, step 0.01, random start, cross-entropy) and FGSM (ε 0.1) on the first %d; "+
		"the L2 distance to the decision boundary of the first %d, searched along the CW-margin gradient and 3 random directions "+
		"(defense.BoundaryDistances defaults), median over the images the model classifies correctly.\n\n",
		took, test.Len(), q3, nPGD, nDist)
	fmt.Fprintf(b, "| model | clean | clean, 3-bit | PGD-40 ε 0.1 | FGSM ε 0.1 | correct of %d | median distance | mean distance |\n"+
		"| --- | --- | --- | --- | --- | --- | --- | --- |\n", nDist)
	for _, m := range []model{{"Orig.", orig}, {"F.L.", fl}} {
		fmt.Printf("F.L. check: %s\n", m.label)
		accF, err := nn.Accuracy(m.net, test.X, test.Y, 200)
		if err != nil {
			return err
		}
		q, err := quant.Apply(m.net, q3, nil)
		if err != nil {
			return err
		}
		accQ, err := nn.Accuracy(q, test.X, test.Y, 200)
		if err != nil {
			return err
		}
		rep, err := attack.Evaluator{Attacks: []attack.Attack{
			attack.PGD{Eps: 0.1, Step: 0.01, Steps: 40, RandomStart: true, Seed: seed}, attack.FGSM{Eps: 0.1},
		}, N: nPGD, Batch: 50, Workers: 2}.Run(ctx, m.net, test.X, test.Y)
		if err != nil {
			return err
		}
		rows := rep.Groups[0].Rows
		d, err := defense.BoundaryDistances(ctx, m.net, sub.X, sub.Y, cfg)
		if err != nil {
			return err
		}
		// BoundaryDistances gives 0 to the images the model misclassifies
		// and a positive distance to the others.
		var ok []float64
		for _, v := range d {
			if v > 0 {
				ok = append(ok, v)
			}
		}
		fmt.Fprintf(b, "| %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %d | %.4f | %.4f |\n", m.label, 100*accF, 100*accQ,
			100*rows[0].AdvAccuracy, 100*rows[1].AdvAccuracy, len(ok), median(ok), stat.Mean(ok, nil))
	}
	fmt.Fprintf(b, "\nTook %s.\n\n", time.Since(t0).Round(time.Second))
	return nil
}

// checkQAT writes the clean accuracy of 3-bit QAT next to 3-bit
// post-training quantization of Orig.
func checkQAT(b *strings.Builder, orig, qat *nn.Network, recipe string, test *data.Dataset) error {
	fmt.Fprintf(b, "## Quantization-aware training at 3 bits\n\n")
	fmt.Fprintf(b, "Clean accuracy on all %d test images; every conv and dense weight quantized to 3-bit linear "+
		"per-tensor levels (quant.Linear{Bits: 3}), biases float. QAT: %s.\n\n", test.Len(), recipe)
	fmt.Fprintf(b, "| model | float weights | 3-bit weights |\n| --- | --- | --- |\n")
	for _, m := range []model{{"Orig. (post-training quantization)", orig}, {"QAT 3-bit", qat}} {
		q, err := quant.Apply(m.net, quant.Linear{Bits: 3}, nil)
		if err != nil {
			return err
		}
		accF, err := nn.Accuracy(m.net, test.X, test.Y, 200)
		if err != nil {
			return err
		}
		accQ, err := nn.Accuracy(q, test.X, test.Y, 200)
		if err != nil {
			return err
		}
		fmt.Fprintf(b, "| %s | %.2f%% | %.2f%% |\n", m.label, 100*accF, 100*accQ)
	}
	return nil
}

// median is the middle value of v, the mean of the middle two for an even
// count (as defense.FeedbackLearning reports it), NaN for an empty v (as
// stat.Mean).
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}
