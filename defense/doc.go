// Package defense trains networks under the regimes the paper compares and
// transforms trained weights: standard training ("Orig."), Madry et al.'s
// adversarial training ("Adv."), feedback learning
// ("F.L."), quantization-aware training, the Lipschitz regulariser of
// defensive quantization, and the μ-law weight mapping ("+mu").
//
// # Overview
//
// Every regime is an nn.Hook plus a thin Trainer that runs nn.Train with it,
// so regimes can be used as they come or combined by hand in one
// nn.TrainConfig.Hooks list:
//
//   - Standard: plain nn.Train.
//   - Adversarial with the AdvExamples hook: each batch (or the fraction
//     Ratio of it) is replaced by L∞ PGD examples crafted on the current
//     network (ε 0.3, step 0.01, 40 steps, random start by default), or by
//     Wong et al.'s FGSM with random start (Fast).
//   - FeedbackLearning: Song, Wang and Li's (2019) feedback loop as the
//     quantization paper describes it (we could not read the 2019 paper
//     itself): measure each example's distance to the decision boundary,
//     give the classes with narrow margins more of the generated examples,
//     generate examples at and beyond the measured distance with their true
//     labels, retrain, repeat. Its documentation says which choices are
//     ours. BoundaryDistances, the distance estimate that drives it (along
//     GradientDirection, SignDirection, PathDirection or RandomDirection), is
//     exported for reports on test sets.
//   - QAT: a hook that trains with Q(W) in the forward and backward passes
//     and applies the update to W (straight-through estimator, quant.STE).
//     Every Trainer takes an optional *QAT.
//   - DefensiveQuantization with the Lipschitz hook: adds the gradient of
//     β/2·Σ‖WᵀW − I‖²_F over conv and dense weights (Lin, Gan and Han 2019;
//     weights only, as robustq does not quantize activations).
//
// Mapping transforms chosen weight tensors of a trained network; MuLaw is the
// paper's F(x) = sgn(x)·ln(1+μ|x|)/ln(1+μ), applied to the weights
// themselves (weights outside [−1, 1] are an error) or, with MuMaxAbs, to
// weights scaled by their max|w|.
// ApplyMapping returns a mapped copy; quantize it afterwards with
// quant.Apply ("+mu (Q)": map, then quantize).
//
// Progress is reported as everywhere in robustq, through a function called
// after each unit of work whose error stops the job: the training hooks
// (nn.Progress in TrainConfig.Hooks) and FeedbackLearning.OnRound.
//
// # Example
//
//	madry := defense.Adversarial{Config: nn.TrainConfig{Epochs: 10, Optimizer: &nn.Adam{}}} // PGD-40 at ε 0.3
//	_, err := madry.Train(ctx, net, train)
//	mu, err := defense.ApplyMapping(net, defense.MuLaw{}, quant.LastLayers(1)) // "+mu"
//
// # Invariants
//
//   - Trainers return with full-precision weights in the network, also
//     after QAT and also after an error or cancellation (the QAT hook's
//     Restore runs); quantize with quant.Apply for evaluation.
//   - Every trainer checks its context before each step and model call and
//     returns ctx.Err() when cancelled, with the weights of the last
//     completed step.
//   - Runs are reproducible: training shuffles with TrainConfig.Seed, the
//     adversarial hook draws its choices and random starts from (Seed, step
//     number), feedback learning from its Seed and Distance.Seed, and
//     BoundaryDistances gives example i the random directions of the stream
//     (Seed, i) whatever the batch size.
//   - Adversarial examples lie within ε (L∞) of the clean batch and in the
//     input bounds; unreplaced examples are bit-identical to the clean ones.
//   - ApplyMapping never modifies its input network; Map never modifies its
//     parameter.
//   - Bad input (NaN weights or inputs, negative counts or radii, ratios
//     out of range, μ ≤ 0, nil arguments, selections that choose nothing)
//     returns an error starting with "defense: " that wraps ErrParam,
//     ErrNil, ErrNoBoundary, quant.ErrSelect, nn.ErrShape, nn.ErrNonFinite
//     or nn.ErrLabel; nothing panics.
//   - Hyperparameters are exported fields whose zero values are documented
//     defaults. There is no package-level mutable state.
package defense
