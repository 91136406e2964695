package main

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/attack/attacktest"
	"github.com/robustq/robustq/nn"
)

// RFGSM passes the suite every attack must: bounds and ball, unchanged
// inputs, determinism, cancellation, rejection of bad input, and outputs
// that do not depend on the rest of the batch.
func TestRFGSMConforms(t *testing.T) {
	m := attacktest.NewLinear(nn.Spec{Channels: 1, Height: 5, Width: 5, Classes: 4}, rand.New(rand.NewPCG(1, 2)))
	x, y, err := attacktest.Batch(m, 8, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	a := RFGSM{Eps: 0.1, Alpha: 0.05, Seed: 7}
	attacktest.Check(t, a, m, x, y)
	attacktest.CheckBatchIndependence(t, a, m, x, y)
}

// On a linear model whose loss gradient has one sign everywhere, R+FGSM
// with Alpha 0 is FGSM.
func TestRFGSMWithoutRandomStepIsFGSM(t *testing.T) {
	m := attacktest.NewLinear(nn.Spec{Channels: 1, Height: 3, Width: 3, Classes: 3}, rand.New(rand.NewPCG(5, 6)))
	x, y, err := attacktest.Batch(m, 4, rand.New(rand.NewPCG(7, 8)))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := RFGSM{Eps: 0.05}.Perturb(t.Context(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := attack.FGSM{Eps: 0.05}.Perturb(t.Context(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ours {
		if ours[i] != theirs[i] {
			t.Fatalf("value %d: R+FGSM %v, FGSM %v", i, ours[i], theirs[i])
		}
	}
	if _, err := (RFGSM{Eps: 0.05, Alpha: 0.1}).Perturb(t.Context(), m, x, y); !errors.Is(err, attack.ErrParam) {
		t.Errorf("Alpha > Eps: error %v, want ErrParam", err)
	}
}
