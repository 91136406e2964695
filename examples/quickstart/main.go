// Command quickstart is the smallest robustq program worth copying: it
// trains a CNN on 5,000 MNIST images, quantizes its weights to 4 bits, and
// measures both models under PGD with the Evaluator. It needs no download
// and runs in well under a minute on 2 cores:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

func main() {
	ctx := context.Background()
	train, err := data.LoadMNIST(data.SplitTrain) // ships with a Go module
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
	_, err = nn.Train(ctx, net, train.Head(5000), nn.TrainConfig{
		Epochs: 2, Optimizer: &nn.Adam{}, LR: nn.ConstantLR(1e-3), Seed: 1,
	})
	if err != nil {
		log.Fatal(err)
	}

	// 4 bits per weight, one scale per output channel; biases stay float32.
	q4, err := quant.Apply(net, quant.Linear{Bits: 4, PerChannel: true}, nil)
	if err != nil {
		log.Fatal(err)
	}

	// PGD at ε 0.1 with the cross-entropy and with the CW margin loss,
	// on the first 200 test images.
	eval := attack.Evaluator{
		Attacks: []attack.Attack{
			attack.PGD{Eps: 0.1, Steps: 20, RandomStart: true, Seed: 1},
			attack.PGD{Eps: 0.1, Steps: 20, RandomStart: true, Seed: 1, Loss: nn.CWMargin{}},
		},
		N: 200,
	}
	for _, m := range []struct {
		label string
		model nn.Model
	}{{"float32", net}, {"4-bit", q4}} {
		eval.Label = m.label
		rep, err := eval.Run(ctx, m.model, test.X, test.Y)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(rep.Markdown())
	}
}
