package nn

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/robustq/robustq/data"
)

// A hook needs only the methods it uses; Train calls each where it has it
// and rejects a value with none of them.
func TestHooksAreOptionalInterfaces(t *testing.T) {
	net, err := NewNetwork("toy", [3]int{1, 1, 2}, rand.New(rand.NewPCG(1, 1)), Flatten(), Dense("fc", 2))
	if err != nil {
		t.Fatal(err)
	}
	ds := &data.Dataset{Name: "toy", Channels: 1, Height: 1, Width: 2, Classes: 2, X: []float32{0, 1, 1, 0}, Y: []int{0, 1}}
	after := &afterOnly{}
	if _, err := Train(context.Background(), net, ds, TrainConfig{Epochs: 3, BatchSize: 1, Hooks: []Hook{after}}); err != nil {
		t.Fatal(err)
	}
	if after.calls != 6 {
		t.Errorf("AfterStep ran %d times, want 6 (3 epochs of 2 steps)", after.calls)
	}
	_, err = Train(context.Background(), net, ds, TrainConfig{Hooks: []Hook{HookFuncs{}, 42}})
	if err == nil || !strings.Contains(err.Error(), "hook 1 (int)") {
		t.Errorf("error %v, want one naming hook 1", err)
	}
}

type afterOnly struct{ calls int }

func (a *afterOnly) AfterStep(context.Context, *Step) error { a.calls++; return nil }
