// Package attack crafts adversarial examples against nn models and evaluates
// robustness under a suite of attacks.
//
// # Overview
//
// An Attack is a plain configuration value with a method
// Perturb(ctx, model, x, y) that returns adversarial examples for a batch.
// The model is passed per call, so one attack value serves any number of
// models, and Perturb needs only an nn.Classifier: gradient attacks
// type-assert nn.Model and fail with ErrNoGradient on a model without input
// gradients, while score-based, transfer and noise attacks run on logits
// alone.
//
//   - White box (Access Gradient): FGSM, BIM, MIM, PGD (L∞ and L2, random
//     start, restarts), APGD (Auto-PGD, L∞ and L2) and CW (Carlini-Wagner L2).
//     Each takes an nn.Loss: nn.CrossEntropy{} (the default), or the margin
//     losses nn.CWMargin{}, nn.DLR{} and nn.DLRTargeted{}, which keep
//     non-zero gradients when a saturated softmax makes the cross-entropy
//     gradient exactly zero.
//   - Black box: Square (score based, L∞ and L2), Transfer (crafted on a substitute
//     model), Gaussian and Uniform noise.
//   - AutoAttack: APGD-CE, APGD-T and Square in sequence, each on the
//     examples still robust (L∞ and L2; its doc says where it differs from
//     the reference).
//   - Ensemble, the worst case of several attacks, and Rename.
//
// Targeted variants take a Target rule (NextClass, LeastLikely, Classes):
// they descend the loss on the target class. Hyperparameters are exported
// fields whose zero values are documented defaults; randomness comes from a
// Seed field, and the same seed and batch give the same output.
//
// The Evaluator runs a list of attacks (and, optionally, a sweep over ε)
// over a data set in batches, concurrently when the model implements
// Cloner, and returns a Report with clean accuracy, robust accuracy and
// perturbation norms per attack, the worst case over attacks, and the
// diagnostics that expose gradient masking: the fraction of examples with
// an exactly zero cross-entropy input gradient, the fraction with a float32
// softmax probability of exactly 1, and warnings when a gradient-free or
// transfer attack beats every white-box attack. Reports render as Markdown
// and CSV.
//
// An attack written outside the package implements Attack with the same
// plumbing as the built-in ones: Threat.Check validates a call before the
// model is touched, ExampleRNGs gives each example its own random stream,
// and Threat.Project puts the output in the ball and bounds exactly (see
// ExampleThreat_Project). Package attacktest holds tiny models with exact
// gradients and a conformance suite that checks any Attack against any
// model.
//
// # Example
//
//	pgd := attack.PGD{Eps: 0.3, Step: 0.01, Steps: 40, RandomStart: true}
//	adv, err := pgd.Perturb(ctx, net, x, y)
//	rep, err := attack.Evaluator{Attacks: []attack.Attack{pgd, attack.Square{Eps: 0.3}}, N: 1000}.Run(ctx, net, x, y)
//	fmt.Print(rep.Markdown())
//
// # Invariants
//
// For every example of every output of every attack in this package, with
// the attack's Threat() t:
//
//   - every value lies in t.Bounds (the zero Bounds is [0, 1]);
//   - Distance(t.Norm, adv, x) ≤ t.Eps, exactly, for the float32 values
//     (computed in float64);
//   - no value is NaN or Inf.
//
// Both hold because every attack passes each iterate and its output through
// one projection helper. Perturb never modifies x, y or the model, rejects
// invalid input with an error (ErrEps, ErrParam, ErrBounds, or errors
// wrapping nn.ErrShape, nn.ErrLabel, nn.ErrNonFinite) before calling the
// model, and returns ctx.Err() when ctx is cancelled, checking it before
// every model call. The Evaluator verifies the first invariant for every
// attack it runs, including attacks from other packages (ErrThreat).
package attack
