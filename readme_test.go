package robustq_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/lipschitz"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// readmeSample is the code sample of README.md, kept here so that the
// compiler notices when the API drifts away from it. It is not run (it
// trains on all of MNIST).
func readmeSample(ctx context.Context) error {
	train, _ := data.LoadMNIST(data.SplitTrain)
	test, _ := data.LoadMNIST(data.SplitTest)
	net, _ := nn.MNISTCNN(rand.New(rand.NewPCG(1, 1)))
	_, err := nn.Train(ctx, net, train, nn.TrainConfig{Epochs: 2, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(1e-3)})

	q3, _ := quant.Apply(net, quant.Linear{Bits: 3}, nil) // 3-bit weights, the original untouched
	xAdv, _ := attack.PGD{Eps: 0.3, Step: 0.01, Steps: 40}.Perturb(ctx, q3, test.X[:784*100], test.Y[:100])
	acc, _ := nn.Accuracy(q3, xAdv, test.Y[:100], 0)
	report, _ := lipschitz.Compare(ctx, net, q3, lipschitz.PowerIteration{})
	fmt.Println(acc, report.Markdown())
	return err
}

var _ = readmeSample
