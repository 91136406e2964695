// Package robustq measures and improves the adversarial robustness of
// weight-quantized neural networks, in pure Go.
//
// It reproduces "Improving Adversarial Robustness in Weight-quantized Neural
// Networks" (Song, Fallon, Li) on MNIST and CIFAR-10, and goes past it with
// the adaptive attacks that tell real robustness from gradient masking.
//
// # Overview
//
// A typical experiment trains a network (package nn), quantizes its weights
// to k bits (quant), attacks it white-box and black-box (attack), compares
// defenses (defense) and measures what quantization did to each layer
// (lipschitz). Package data reads MNIST, which ships with a Go module and
// needs no download, and CIFAR-10 from the official binary release.
//
// # Threat model
//
// Inputs are images with values in [0,1]. An attacker may change each input
// within an ε-ball around it: ‖δ‖∞ ≤ ε (each pixel moves at most ε) or
// ‖δ‖₂ ≤ ε, and the result stays in [0,1]. White-box attacks see the
// model's weights and gradients; score-based black-box attacks (Square) see
// only its logits; transfer attacks see neither and craft their examples on
// a separately trained substitute model. The defender controls training and
// the weights; quantization and weight mapping happen after (or, for
// quantization-aware training, during) training, and activations stay float.
//
// # Glossary
//
//   - ε (eps): the attacker's budget, the radius of the ball above.
//   - ℓp: the norm that measures perturbations, p = ∞ or 2.
//   - bits (k): the weight bit width; linear k-bit quantization maps each
//     weight to one of at most 2^k evenly spaced levels.
//   - (Q): a model whose conv and dense weights were quantized after training.
//   - +mu: the μ-law map F(x) = sgn(x)·ln(1+μ|x|)/ln(1+μ), μ = 255, applied to
//     the weights of the last layers after training.
//   - Orig., Adv., F.L.: standard, Madry adversarial and feedback-learning training.
//   - robust accuracy: the fraction of examples still classified correctly
//     after an attack; clean accuracy is the same without one.
//   - gradient masking: a model whose loss gradients are zero or useless,
//     so gradient attacks fail without the model being robust.
//
// # Packages
//
//   - nn: the Model interface, layers on Gorgonia autodiff, the MNIST CNN and
//     wide ResNet-32, losses (cross-entropy, CW margin, DLR), training,
//     safetensors weights.
//   - quant: k-bit quantizers, post-training quantization of a network,
//     straight-through-estimator support for quantization-aware training.
//   - attack: FGSM, BIM, PGD, MIM, CW-L2, noise, APGD, Square, transfer, and
//     an evaluator that reports robust accuracy and masking diagnostics.
//   - defense: training regimes and the μ-law weight mapping.
//   - lipschitz: operator norms of weight errors, layer by layer.
//   - data: MNIST and CIFAR-10 readers, batching, seeded shuffling.
//   - examples/mnist, examples/cifar10: the paper's experiments.
//   - examples/quickstart, examples/customattack: two short programs to copy,
//     one that trains, quantizes and attacks a model, one that writes an
//     attack of its own and checks it with attack/attacktest.
//
// # Example
//
//	net, err := nn.MNISTCNN(rand.New(rand.NewPCG(1, 1)))
//	_, err = nn.Train(ctx, net, train, nn.TrainConfig{Epochs: 2, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(1e-3)})
//	q3, err := quant.Apply(net, quant.Uniform{Bits: 3}, nil)
//	rep, err := attack.Evaluator{Attacks: []attack.Attack{attack.PGD{Eps: 0.3}}}.Run(ctx, q3, test.X, test.Y)
//	fmt.Print(rep.Markdown())
package robustq
