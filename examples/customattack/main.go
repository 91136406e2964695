// Command customattack shows how to write an attack of your own: R+FGSM
// (Tramèr et al. 2018), a random step followed by one gradient-sign step,
// built on the attack package's toolkit and evaluated next to the built-in
// FGSM and PGD. main_test.go runs the conformance suite on it. It runs in
// well under a minute on 2 cores:
//
//	go run ./examples/customattack
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// RFGSM is R+FGSM: from x, a step of Alpha in a random sign direction, then
// a step of Eps − Alpha along the sign of the loss gradient, projected into
// the L∞ Eps-ball and the [0, 1] bounds.
type RFGSM struct {
	Eps, Alpha float32
	Seed       uint64
}

// Name implements attack.Attack.
func (a RFGSM) Name() string { return "r+fgsm" }

// Threat implements attack.Attack.
func (a RFGSM) Threat() attack.Threat {
	return attack.Threat{Access: attack.Gradient, Norm: attack.Linf, Eps: a.Eps}
}

// Perturb implements attack.Attack.
func (a RFGSM) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	th := a.Threat()
	if _, err := th.Check(ctx, m, x, y); err != nil { // the package's own validation
		return nil, err
	}
	if a.Alpha < 0 || a.Alpha > a.Eps {
		return nil, fmt.Errorf("%w: Alpha %v, want 0..Eps", attack.ErrParam, a.Alpha)
	}
	gm, ok := m.(nn.Model)
	if !ok {
		return nil, fmt.Errorf("%w: %T", attack.ErrNoGradient, m)
	}
	d := m.Spec().ExampleSize()
	adv := append([]float32(nil), x...)
	// One random stream per example: its output does not depend on the batch.
	for i, rng := range attack.ExampleRNGs(a.Seed, x, d) {
		for j := i * d; j < (i+1)*d; j++ {
			adv[j] += a.Alpha * float32(2*rng.IntN(2)-1)
		}
	}
	if err := th.Project(adv, x, d); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	g, _, err := gm.InputGrad(adv, y, nn.CrossEntropy{})
	if err != nil {
		return nil, err
	}
	for j, v := range g {
		switch {
		case v > 0:
			adv[j] += a.Eps - a.Alpha
		case v < 0:
			adv[j] -= a.Eps - a.Alpha
		}
	}
	// Exact projection: a plain clamp to x ± ε can land one float32 ulp
	// outside the ball, which the Evaluator rejects.
	return adv, th.Project(adv, x, d)
}

func main() {
	ctx := context.Background()
	train, err := data.LoadMNIST(data.SplitTrain)
	if err != nil {
		log.Fatal(err)
	}
	test, err := data.LoadMNIST(data.SplitTest)
	if err != nil {
		log.Fatal(err)
	}
	net, err := nn.MNISTCNN(rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		log.Fatal(err)
	}
	if _, err := nn.Train(ctx, net, train.Head(5000), nn.TrainConfig{
		Epochs: 2, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(1e-3), Seed: 1,
	}); err != nil {
		log.Fatal(err)
	}
	rep, err := attack.Evaluator{
		Attacks: []attack.Attack{
			attack.FGSM{Eps: 0.1},
			RFGSM{Eps: 0.1, Alpha: 0.05, Seed: 1},
			attack.PGD{Eps: 0.1, Steps: 20, RandomStart: true, Seed: 1},
		},
		N:     200,
		Label: "MNIST CNN, 2 epochs on 5,000 images",
	}.Run(ctx, net, test.X, test.Y)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(rep.Markdown())
}
