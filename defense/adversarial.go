package defense

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// Defaults of AdvExamples: Madry et al.'s MNIST setting.
const (
	DefaultAdvEps   = 0.3  // L∞ radius
	DefaultAdvStep  = 0.01 // PGD step size
	DefaultAdvSteps = 40   // PGD iterations
)

// AdvExamples is an nn.Hook that replaces training examples by adversarial
// examples crafted on the current network (in evaluation mode, with its
// current weights: the quantized ones when a QAT hook runs before it), as in
// the adversarial training of Madry et al. (2018): the min-max objective's
// inner maximisation is approximated by L∞ PGD with a random start, and the
// network is trained on its result with the true labels.
//
// With Fast set it uses instead the "FGSM with random start" of Wong, Rice
// and Kolter (2020, "Fast is better than free"): δ ~ U(−ε, ε) per value, one
// signed-gradient step of size α (default 1.25ε), projected onto the ε-ball
// and the input bounds. It costs one gradient per example instead of Steps.
//
// Ratio sets the fraction of each batch that is replaced; the rest stays
// clean (mixed training). Which examples are replaced, and the random starts,
// come from a generator seeded with (Seed, step number), so a run is
// reproducible and independent of other hooks' use of randomness.
//
// Every replaced example lies within Eps of its clean example in L∞ and in
// Bounds (attack.PGD's invariant). BeforeStep never modifies the batch in
// place: it sets s.X to a new slice.
type AdvExamples struct {
	// Eps is the L∞ radius; 0 means DefaultAdvEps (0.3). Negative, NaN or
	// Inf is an error.
	Eps float32
	// Step is the step size; 0 means DefaultAdvStep (0.01) for PGD and
	// 1.25·Eps for Fast.
	Step float32
	// Steps is the number of PGD iterations; 0 means DefaultAdvSteps (40).
	// Fast ignores it (one step).
	Steps int
	// NoRandomStart starts PGD from the clean example instead of a uniform
	// random point of the ball (Madry et al. use the random start, the
	// default). Fast always starts at random.
	NoRandomStart bool
	// Fast selects FGSM with random start instead of PGD.
	Fast bool
	// Ratio is the fraction of each batch replaced, in [0, 1]: the number
	// replaced is round(Ratio·n). 0 means 1 (every example, Madry et al.'s
	// regime); a ratio that rounds to zero examples leaves the batch as it is.
	Ratio float64
	// Loss is the loss the attack ascends; nil means nn.CrossEntropy{}.
	Loss nn.Loss
	// Seed seeds the choice of replaced examples and the random starts.
	Seed uint64
	// Bounds is the valid input range; the zero value is [0, 1].
	Bounds attack.Bounds
	// Warmup is the number of training steps over which ε and the step size
	// grow linearly to Eps and Step: at step t < Warmup both are scaled by
	// (t+1)/Warmup (the ε ramp of Gowal et al. 2018, which gets past the
	// plateau of accuracy near chance that adversarial training at MNIST's
	// ε 0.3 starts with). 0 means no warm-up; negative is an error.
	Warmup int
}

var _ nn.BeforeStepper = AdvExamples{}

// Attack returns the attack the hook runs after its warm-up, with its
// defaults resolved and the given seed, or an error for invalid
// hyperparameters.
func (a AdvExamples) Attack(seed uint64) (attack.PGD, error) {
	eps, step, steps := a.Eps, a.Step, a.Steps
	if eps == 0 {
		eps = DefaultAdvEps
	}
	if !(eps > 0) || math.IsInf(float64(eps), 1) || !(step >= 0) || math.IsInf(float64(step), 1) || steps < 0 || a.Warmup < 0 {
		return attack.PGD{}, fmt.Errorf("%w: adversarial examples with Eps %v, Step %v, Steps %d, Warmup %d", ErrParam, a.Eps, a.Step, a.Steps, a.Warmup)
	}
	p := attack.PGD{Norm: attack.Linf, Eps: eps, Seed: seed, Loss: a.Loss, Bounds: a.Bounds}
	if a.Fast {
		if step == 0 {
			step = 1.25 * eps
		}
		p.Step, p.Steps, p.RandomStart = step, 1, true
		return p, nil
	}
	if step == 0 {
		step = DefaultAdvStep
	}
	if steps == 0 {
		steps = DefaultAdvSteps
	}
	p.Step, p.Steps, p.RandomStart = step, steps, !a.NoRandomStart
	return p, nil
}

func (a AdvExamples) ratio() (float64, error) {
	r := a.Ratio
	if r == 0 {
		r = 1
	}
	if !(r >= 0 && r <= 1) {
		return 0, fmt.Errorf("%w: adversarial Ratio %v, want [0, 1]", ErrParam, a.Ratio)
	}
	return r, nil
}

// BeforeStep implements nn.BeforeStepper: it replaces round(Ratio·n) examples of the
// batch, chosen at random, by adversarial examples.
func (a AdvExamples) BeforeStep(ctx context.Context, s *nn.Step) error {
	if s == nil || s.Net == nil {
		return fmt.Errorf("%w: adversarial step without a network", ErrNil)
	}
	x, err := a.Replace(ctx, s.Net, s.X, s.Y, uint64(s.Global))
	if err != nil {
		return fmt.Errorf("defense: adversarial examples at step %d: %w", s.Global, err)
	}
	s.X = x
	return nil
}

// Replace returns a copy of the batch x in which round(Ratio·n) examples,
// chosen with a generator seeded by (Seed, step), are replaced by
// adversarial examples against m. It is what BeforeStep does at step
// number step (which also sets the warm-up's ε); x and y are not modified.
func (a AdvExamples) Replace(ctx context.Context, m nn.Model, x []float32, y []int, step uint64) ([]float32, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil model", ErrNil)
	}
	ratio, err := a.ratio()
	if err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(a.Seed, step))
	pgd, err := a.Attack(rng.Uint64())
	if err != nil {
		return nil, err
	}
	if step < uint64(a.Warmup) {
		f := float32(step+1) / float32(a.Warmup)
		pgd.Eps, pgd.Step = f*pgd.Eps, f*pgd.Step
	}
	spec := m.Spec()
	n, err := spec.CheckInput(x, y)
	if err != nil {
		return nil, fmt.Errorf("defense: %w", err)
	}
	d := spec.ExampleSize()
	out := append([]float32(nil), x...)
	k := int(math.Round(ratio * float64(n)))
	if k == 0 {
		return out, nil
	}
	idx := rng.Perm(n)[:k]
	sx, sy := x, y
	if k < n {
		sx, sy = make([]float32, 0, k*d), make([]int, 0, k)
		for _, i := range idx {
			sx = append(sx, x[i*d:(i+1)*d]...)
			sy = append(sy, y[i])
		}
	} else {
		idx = nil // all of them, in order
	}
	adv, err := pgd.Perturb(ctx, m, sx, sy)
	if err != nil {
		return nil, err
	}
	if idx == nil {
		return adv, nil
	}
	for j, i := range idx {
		copy(out[i*d:(i+1)*d], adv[j*d:(j+1)*d])
	}
	return out, nil
}

// Adversarial is adversarial training (the paper's "Adv."): nn.Train with
// Config and the AdvExamples hook, optionally with quantization-aware
// training (QAT runs first, so examples are crafted on the quantized
// network).
type Adversarial struct {
	// Config configures nn.Train (epochs, batch, optimizer, schedule, seed,
	// progress hooks); its zero value is nn's default.
	Config nn.TrainConfig
	// Examples configures the adversarial examples; its zero value is PGD
	// with Madry et al.'s MNIST setting (ε 0.3, step 0.01, 40 steps, random
	// start) replacing every example.
	Examples AdvExamples
	// QAT, if not nil, trains with quantization in the loop.
	QAT *QAT
}

var _ Trainer = Adversarial{}

// Train implements Trainer.
func (t Adversarial) Train(ctx context.Context, net nn.Trainable, ds *data.Dataset) (nn.TrainResult, error) {
	if _, err := t.Examples.Attack(0); err != nil {
		return nn.TrainResult{}, err
	}
	if _, err := t.Examples.ratio(); err != nil {
		return nn.TrainResult{}, err
	}
	return runTrain(ctx, net, ds, t.Config, t.QAT, t.Examples)
}
