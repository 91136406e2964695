package pipeline

import "fmt"

// Profile sets how much an experiment computes: how many test images, and
// the attacks' budgets. Every table states the profile it came from.
type Profile struct {
	Name string
	// NClean test images give the clean accuracy column; NFigure the points
	// of the bit-width figure; NAttack the attacked images (the first ones
	// of the test set).
	NClean, NFigure, NAttack int
	// Bits is the quantization of the (Q) rows; SweepBits the bit widths of Figure 1.
	Bits      int
	SweepBits []int
	// Batch is the evaluation batch size and Workers the goroutines evaluating.
	Batch, Workers int

	// FGSM weak, medium and strong radii.
	FGSM [3]float32
	// Eps, Step and Steps configure PGD, BIM and MIM (L∞) and the adaptive PGDs.
	Eps, Step float32
	Steps     int
	// CW-L2: Adam steps per binary-search round, rounds, first constant.
	CWSteps, CWBinary int
	CWConst, CWLR     float32
	// APGDSteps and SquareQueries are the adaptive attacks' budgets.
	APGDSteps, SquareQueries int
	// Sigma is the Gaussian noise's standard deviation; uniform noise uses Eps.
	Sigma float32
	// LipIters caps the power iterations of each conv operator norm; 0
	// means lipschitz's default (500).
	LipIters int
	// EarlyStop makes PGD, BIM and MIM stop working on an image once it is
	// misclassified, keeping that adversarial example (AutoAttack's
	// convention; the paper profile's, to make its image count affordable).
	EarlyStop bool
}

// MNISTProfile returns the "quick" or "paper" profile for MNIST. Attack
// settings the paper does not give are ours: FGSM ε 0.1/0.2/0.3; PGD, BIM and
// MIM ε 0.3, step 0.01, 40 steps; CW-L2 with lr 0.01 and a search over c.
func MNISTProfile(name string) (Profile, error) {
	p := Profile{Name: name, Bits: 3, SweepBits: []int{1, 2, 3, 4, 5, 6, 7, 8}, Batch: 50, Workers: 2,
		FGSM: [3]float32{0.1, 0.2, 0.3}, Eps: 0.3, Step: 0.01, Steps: 40, Sigma: 0.3,
		// Adam lr 0.1 rather than CW's 0.01: MNIST pixels sit at 0 or 1, where
		// tanh is flat, and a few hundred steps at 0.01 barely move them.
		CWLR: 0.1}
	switch name {
	case "quick":
		// Budgets cut to fit 20 minutes on 2 cores from an empty cache
		// (results/mnist/README.md gives the measured time).
		p.NClean, p.NFigure, p.NAttack, p.Batch = 10000, 1000, 50, 25
		p.CWSteps, p.CWBinary, p.CWConst = 30, 3, 1
		p.APGDSteps, p.SquareQueries = 40, 300
	case "paper":
		p.NClean, p.NFigure, p.NAttack = 10000, 10000, 1000
		p.CWSteps, p.CWBinary, p.CWConst = 100, 5, 0.1
		p.APGDSteps, p.SquareQueries = 100, 2000
		p.EarlyStop = true
	case "smoke":
		// A few seconds of everything, for the example's own test.
		p.NClean, p.NFigure, p.NAttack, p.Batch = 200, 100, 8, 4
		p.SweepBits = []int{1, 3, 8}
		p.Steps, p.CWSteps, p.CWBinary, p.CWConst = 3, 3, 1, 1
		p.APGDSteps, p.SquareQueries = 5, 10
		p.LipIters = 20
	default:
		return p, fmt.Errorf("unknown profile %q (quick or paper)", name)
	}
	return p, nil
}

// CIFAR10Profile returns the "quick", "paper" or "smoke" profile for
// CIFAR-10. Attack settings are the common CIFAR-10 ones: FGSM ε 2, 4 and
// 8 of 255; PGD, BIM and MIM ε 8/255, step 2/255, 20 steps; CW-L2 with lr
// 0.01 and a search over c.
func CIFAR10Profile(name string) (Profile, error) {
	p := Profile{Name: name, Bits: 3, SweepBits: []int{1, 2, 3, 4, 5, 6, 7, 8}, Batch: 50, Workers: 2,
		FGSM: [3]float32{2.0 / 255, 4.0 / 255, 8.0 / 255}, Eps: 8.0 / 255, Step: 2.0 / 255, Steps: 20, Sigma: 8.0 / 255, CWLR: 0.01}
	switch name {
	case "quick":
		p.NClean, p.NFigure, p.NAttack = 2000, 1000, 20
		p.CWSteps, p.CWBinary, p.CWConst = 30, 2, 0.1
		p.APGDSteps, p.SquareQueries = 20, 200
	case "paper":
		// Sized so that evaluating the published models takes at most 90
		// minutes on 2 cores: 500 attacked images, with iterative attacks
		// that stop on success (results/cifar10/README.md gives the
		// measured times).
		p.NClean, p.NFigure, p.NAttack = 10000, 10000, 500
		p.CWSteps, p.CWBinary, p.CWConst = 30, 3, 0.1
		p.APGDSteps, p.SquareQueries = 40, 500
		p.EarlyStop = true
	case "smoke":
		p.NClean, p.NFigure, p.NAttack, p.Batch = 100, 50, 4, 2
		p.SweepBits = []int{1, 3, 8}
		p.Steps, p.CWSteps, p.CWBinary, p.CWConst = 2, 2, 1, 1
		p.APGDSteps, p.SquareQueries = 3, 5
		p.LipIters = 20
	default:
		return p, fmt.Errorf("unknown profile %q (quick, paper or smoke)", name)
	}
	return p, nil
}
