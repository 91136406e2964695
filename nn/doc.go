// Package nn holds robustq's neural networks: the Model interface that
// attacks and defenses work against, layers and networks built on Gorgonia's
// automatic differentiation, the losses attacks ascend, a training loop,
// and weights in the safetensors format.
//
// # Overview
//
// A Classifier maps a batch of images (NCHW float32 values in [0,1]) to
// logits; a Model also returns the gradient of a per-example Loss with
// respect to its input. Network implements Model for feed-forward networks
// assembled from layers (ConvLayer and ResidualUnit literals, Dense, ReLU,
// LeakyReLU, MaxPool, AvgPool, GlobalAvgPool, BatchNorm, Flatten, Func) with
// NewNetwork, or by the builders MNISTCNN, SubstituteCNN and WideResNet32.
//
// Losses are CrossEntropy, CWMargin and DLR; attacks ascend them. They are
// computed in float32 as a float32 framework would, so that a saturated
// softmax gives exactly zero cross-entropy gradients here too.
//
// Train runs mini-batch training with an Optimizer (SGD, Adam) and a learning
// rate Schedule, and calls Hooks around every step: adversarial training
// replaces the batch, quantization-aware training swaps weights, Progress
// prints. Every long job in robustq reports the same way, through a
// function it calls after each unit of work whose error stops the job:
// training through its hooks (AfterStepper, HookFuncs.After), the attack
// Evaluator through OnProgress, feedback learning through OnRound. Network.Save and Network.Load move weights to and from
// safetensors files with PyTorch's parameter names and layouts;
// SaveOptimizerFile and LoadOptimizerFile do the same for the optimizer's
// state (StatefulOptimizer), so that training resumed from a checkpoint
// with TrainConfig.StartEpoch takes exactly the steps of an uninterrupted
// run.
//
// Each layer's arithmetic is a kernel (convolution by GEMM over im2col's
// matrix, read in place as shifted windows of the padded image where that
// pays; pooling, batch norm, activations, the loss) wrapped in a custom
// Gorgonia operation; Gorgonia orders the operations and accumulates
// gradients. The kernels, their vector loops and their workers live in
// nn/internal/kernel, on plain float32 slices without Gorgonia; this
// package keeps the API and the Gorgonia glue. A batch norm followed by a ReLU or leaky ReLU is one kernel,
// with the pair's results bit for bit; so is a residual unit's second
// convolution with the shortcut's addition; and in training graphs a batch
// norm takes its per-channel sums from the kernels that write its input
// and its output's gradient, image by image while in cache. Batch norm's
// and leaky ReLU's elementwise loops use AVX-512 where the CPU has it, AVX2
// where it has that instead, rounding exactly as their Go versions do; the
// build tag noasm turns all of robustq's assembly off.
// Graphs are built once per batch size and mode and reused, with their
// buffers; evaluation batches are padded to a few bucketed sizes so that
// varying batch sizes reuse graphs.
//
// The GEMM under conv and dense layers is robustq's AVX-512 assembly where
// the CPU has AVX-512, its AVX2+FMA assembly where the CPU has those
// instead, OpenBLAS on older CPUs where the machine has it (found at run
// time, no cgo), and gonum's pure Go otherwise; GEMMBackend says which, and
// the environment variable ROBUSTQ_BLAS overrides the choice ("gonum",
// "openblas", a library's path, or "avx2" for the AVX2 kernels and loops
// on a CPU with AVX-512). The kernels split work over GOMAXPROCS workers
// themselves, goroutines kept from call to call that spin briefly before
// parking (a training step makes a few hundred parallel calls, and waking
// a parked thread costs tens of microseconds), so on first use they set
// OpenBLAS to one thread per call, process-wide.
//
// # Example
//
//	net, err := nn.MNISTCNN(rand.New(rand.NewPCG(1, 1)))
//	train, err := data.LoadMNIST(data.SplitTrain)
//	_, err = nn.Train(ctx, net, train, nn.TrainConfig{Epochs: 2, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(1e-3)})
//	acc, err := nn.Accuracy(net, test.X, test.Y, 0)
//	err = net.SaveFile("mnist.safetensors", nil) // loads into PyTorch too
//
// # Why the contracts live here
//
// The interfaces that attacks, defenses and quantizers program against
// (Classifier, Model, Trainable, Loss, Spec and the errors) are in this
// package, beside the Gorgonia networks, so importing attack links
// Gorgonia. A separate contracts package would spare that to a user whose
// model comes from elsewhere, at the cost of one more public package than
// the design's seven; the contracts stay here until a user needs the
// smaller binary. The compute engine has its own package,
// nn/internal/kernel, which does not import Gorgonia.
//
// # Invariants
//
//   - Parameters are float32 in PyTorch's layouts: conv (out,in,kh,kw), dense
//     (out,in). Param.Data is the live storage; writes change the network.
//   - Logits and InputGrad run in evaluation mode (batch norm uses its
//     running statistics), so an example's outputs do not depend on the rest
//     of its batch. Gradients runs in training mode and updates them.
//   - ReLU's derivative at exactly 0 is 0, as in PyTorch (Gorgonia's Rectify
//     gives 1, which changes input gradients on MNIST's zero background).
//   - The same seed gives the same initial weights, the same shuffling and
//     the same trained weights. Where robustq's GEMM kernels (AVX-512 or
//     AVX2) run they do whatever GOMAXPROCS is: every sum over a batch is made of
//     partial sums over fixed ranges of images, added in a fixed order
//     (TestGradientsIndependentOfWorkers compares 1, 2 and 3 workers bit
//     for bit). On the OpenBLAS and gonum backends they can differ in the
//     last bits from one GOMAXPROCS to another.
//   - A Network is not safe for concurrent use; Clone gives an independent copy.
//   - Bad input (wrong lengths, NaN, labels out of range, mismatched weight
//     files) returns an error wrapping ErrShape, ErrNonFinite, ErrLabel or
//     ErrWeights; nothing panics inside Gorgonia.
package nn
