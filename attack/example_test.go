package attack_test

import (
	"context"
	"fmt"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/attack/attacktest"
	"github.com/robustq/robustq/nn"
)

// twoByTwo is the 2-class linear model logits = (x0 − x1, x1 − x0).
func twoByTwo() *attacktest.Linear {
	return &attacktest.Linear{
		Shape: nn.Spec{Channels: 1, Height: 1, Width: 2, Classes: 2},
		W:     []float32{1, -1, -1, 1},
		B:     []float32{0, 0},
	}
}

// FGSM moves each input by ε against the weights of the true class: here
// x0 down and x1 up, which flips the prediction.
func ExampleFGSM() {
	m := twoByTwo()
	x := []float32{0.6, 0.4} // logits (0.2, −0.2): class 0
	adv, err := attack.FGSM{Eps: 0.15}.Perturb(context.Background(), m, x, []int{0})
	if err != nil {
		fmt.Println(err)
		return
	}
	z, _ := m.Logits(adv)
	fmt.Printf("adversarial %.2f, logits %.2f\n", adv, z)
	// Output: adversarial [0.45 0.55], logits [-0.10 0.10]
}

// PGD with a targeted rule: push every example to the class after its label.
func ExamplePGD_targeted() {
	m := twoByTwo()
	x := []float32{0.6, 0.4, 0.3, 0.7}
	y := []int{0, 1}
	a := attack.PGD{Eps: 0.3, Steps: 10, Target: attack.NextClass}
	adv, err := a.Perturb(context.Background(), m, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	z, _ := m.Logits(adv)
	fmt.Printf("%s: adversarial %.2f, logits %.2f\n", a.Name(), adv, z)
	// Output: pgd-linf-ce-targeted: adversarial [0.30 0.70 0.60 0.40], logits [-0.40 0.40 0.20 -0.20]
}

// The Evaluator runs a suite over a data set. Of two examples with logit
// gaps 0.4 and 0.8, FGSM with ε = 0.15 (which closes a gap by 4ε = 0.6)
// fools the first only; its perturbation has L∞ norm 0.15 and L2 norm
// 0.15·√2.
func ExampleEvaluator() {
	m := twoByTwo()
	x := []float32{0.6, 0.4, 0.3, 0.7}
	y := []int{0, 1}
	rep, err := attack.Evaluator{
		Attacks: []attack.Attack{attack.FGSM{Eps: 0.15}, attack.Uniform{Eps: 0.15, Seed: 1}},
	}.Run(context.Background(), m, x, y)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(rep.Markdown())
	// Output:
	// 2 examples, clean accuracy 100.00%.
	//
	// Diagnostics: exactly zero cross-entropy input gradient 0.00%; float32 softmax probability of exactly 1 0.00%.
	//
	// | attack | access | norm | ε | robust acc. | adv. acc. | mean L∞ | mean L2 |
	// |---|---|---|---:|---:|---:|---:|---:|
	// | fgsm-ce | gradient | linf | 0.15 | 50.00% | 50.00% | 0.1500 | 0.2121 |
	// | uniform | random | linf | 0.15 | 100.00% | 100.00% | – | – |
	// | **worst case** | gradient | linf | 0.15 | 50.00% | 50.00% | – | – |
	//
	// robust acc.: classified correctly both clean and under the attack (AutoAttack's "robust accuracy"); adv. acc.: classified correctly on the attack's outputs, whatever the clean prediction (the "accuracy under attack" of many papers); mean L∞ and L2: the perturbation of the examples the attack fooled.
}

// signNoise is a user-written attack: a random sign per value, scaled to ε.
// Threat.Check, ExampleRNGs and Threat.Project do the plumbing, so it stays
// in its ball exactly and gives each example the same output in any batch.
type signNoise struct {
	Eps  float32
	Seed uint64
}

func (a signNoise) Name() string { return "sign-noise" }

func (a signNoise) Threat() attack.Threat {
	return attack.Threat{Access: attack.Random, Norm: attack.Linf, Eps: a.Eps}
}

func (a signNoise) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	th := a.Threat()
	if _, err := th.Check(ctx, m, x, y); err != nil {
		return nil, err
	}
	d := m.Spec().ExampleSize()
	adv := append([]float32(nil), x...)
	for i, rng := range attack.ExampleRNGs(a.Seed, x, d) {
		for j := i * d; j < (i+1)*d; j++ {
			adv[j] += a.Eps * float32(2*rng.IntN(2)-1)
		}
	}
	return adv, th.Project(adv, x, d)
}

// A user-defined attack built on the package's toolkit.
func ExampleThreat_Project() {
	m := twoByTwo()
	x := []float32{0.6, 0.4, 0.05, 0.95}
	adv, err := signNoise{Eps: 0.1, Seed: 1}.Perturb(context.Background(), m, x, []int{0, 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	for i := 0; i < len(x); i += 2 {
		fmt.Printf("L∞ distance %.2f, within [0, 1]: %v\n", attack.Distance(attack.Linf, adv[i:i+2], x[i:i+2]),
			min(adv[i], adv[i+1]) >= 0 && max(adv[i], adv[i+1]) <= 1)
	}
	// Output:
	// L∞ distance 0.10, within [0, 1]: true
	// L∞ distance 0.10, within [0, 1]: true
}
