package attack_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/attack/attacktest"
	"github.com/robustq/robustq/nn"
)

// TestProjectExact checks Project's promise on values where the naive clamp
// x ± ε rounds outside the ball in float32.
func TestProjectExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	const d, n = 64, 32
	x := make([]float32, d*n)
	for i := range x {
		x[i] = rng.Float32()
	}
	for _, th := range []attack.Threat{
		{Norm: attack.Linf, Eps: 0.1},
		{Norm: attack.Linf, Eps: 0.3, Bounds: attack.Bounds{Min: -1, Max: 1}},
		{Norm: attack.L2, Eps: 1.5},
		{Norm: attack.Linf, Eps: float32(math.Inf(1))},
	} {
		adv := make([]float32, len(x))
		naiveOutside := 0
		for i := range adv {
			adv[i] = x[i] + float32(rng.NormFloat64())
			if th.Norm == attack.Linf && !math.IsInf(float64(th.Eps), 1) {
				// The clamp a user writes first.
				c := min(max(adv[i], x[i]-th.Eps), x[i]+th.Eps)
				if math.Abs(float64(c)-float64(x[i])) > float64(th.Eps) {
					naiveOutside++
				}
			}
		}
		adv[3] = float32(math.NaN())
		if err := th.Project(adv, x, d); err != nil {
			t.Fatalf("%+v: %v", th, err)
		}
		lo, hi, _ := th.Bounds.Range()
		for i := 0; i < len(x); i += d {
			if dist := attack.Distance(th.Norm, adv[i:i+d], x[i:i+d]); dist > float64(th.Eps) {
				t.Errorf("%+v: example %d at distance %v", th, i/d, dist)
			}
		}
		for i, v := range adv {
			if v < lo || v > hi || v != v {
				t.Fatalf("%+v: value %d is %v, bounds [%v, %v]", th, i, v, lo, hi)
			}
		}
		if adv[3] != x[3] {
			t.Errorf("%+v: NaN became %v, want the clean value %v", th, adv[3], x[3])
		}
		// The test is meaningful only if the naive clamp fails somewhere.
		if th.Norm == attack.Linf && th.Eps == 0.1 && naiveOutside == 0 {
			t.Errorf("no value where the naive clamp leaves the ball; pick other inputs")
		}
	}
}

func TestProjectErrors(t *testing.T) {
	x := []float32{0.5, 0.5}
	for _, c := range []struct {
		th   attack.Threat
		adv  []float32
		d    int
		want error
	}{
		{attack.Threat{Eps: -1}, []float32{0, 0}, 2, attack.ErrEps},
		{attack.Threat{Eps: float32(math.NaN())}, []float32{0, 0}, 2, attack.ErrEps},
		{attack.Threat{Eps: 0.1, Norm: attack.Norm(7)}, []float32{0, 0}, 2, attack.ErrParam},
		{attack.Threat{Eps: 0.1, Bounds: attack.Bounds{Min: 1, Max: 0}}, []float32{0, 0}, 2, attack.ErrParam},
		{attack.Threat{Eps: 0.1}, []float32{0}, 2, nn.ErrShape},
		{attack.Threat{Eps: 0.1}, []float32{0, 0}, 3, nn.ErrShape},
	} {
		if err := c.th.Project(c.adv, x, c.d); !errors.Is(err, c.want) {
			t.Errorf("%+v, %d values, size %d: error %v, want %v", c.th, len(c.adv), c.d, err, c.want)
		}
	}
}

func TestThreatCheck(t *testing.T) {
	m := attacktest.NewLinear(nn.Spec{Channels: 1, Height: 2, Width: 2, Classes: 3}, rand.New(rand.NewPCG(1, 2)))
	x, y := []float32{0, 0.5, 1, 0.25, 0.1, 0.2, 0.3, 0.4}, []int{0, 2}
	th := attack.Threat{Norm: attack.Linf, Eps: 0.1}
	if n, err := th.Check(context.Background(), m, x, y); err != nil || n != 2 {
		t.Fatalf("valid call: %d, %v; want 2, nil", n, err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		th   attack.Threat
		m    nn.Classifier
		x    []float32
		y    []int
		want error
	}{
		{"cancelled", cancelled, th, m, x, y, context.Canceled},
		{"nil model", context.Background(), th, nil, x, y, nn.ErrNilModel},
		{"negative eps", context.Background(), attack.Threat{Eps: -0.1}, m, x, y, attack.ErrEps},
		{"out of bounds", context.Background(), th, m, []float32{0, 0.5, 1.5, 0, 0, 0, 0, 0}, y, attack.ErrBounds},
		{"bad label", context.Background(), th, m, x, []int{0, 3}, nn.ErrLabel},
		{"short input", context.Background(), th, m, x[:7], y, nn.ErrShape},
	} {
		if _, err := c.th.Check(c.ctx, c.m, c.x, c.y); !errors.Is(err, c.want) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
	if _, err := (attack.Threat{Eps: float32(math.Inf(1))}).Check(context.Background(), m, x, y); err != nil {
		t.Errorf("unbounded threat: %v", err)
	}
}

func TestExampleRNGsIgnoreTheBatch(t *testing.T) {
	const d = 4
	a := []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}
	b := []float32{0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.7, 0.8} // example 1 of a, second here too
	ra, rb := attack.ExampleRNGs(7, a, d), attack.ExampleRNGs(7, b, d)
	if len(ra) != 2 || len(rb) != 2 {
		t.Fatalf("%d and %d generators, want 2", len(ra), len(rb))
	}
	if ra[1].Uint64() != rb[1].Uint64() {
		t.Error("the same example in two batches drew different numbers")
	}
	if ra[0].Uint64() == rb[0].Uint64() {
		t.Error("different examples drew the same number")
	}
	if attack.ExampleRNGs(7, a, d)[0].Uint64() == attack.ExampleRNGs(8, a, d)[0].Uint64() {
		t.Error("two seeds drew the same number")
	}
}

// The example's user-written attack passes the conformance suite.
func TestUserAttackConforms(t *testing.T) {
	m := attacktest.NewLinear(nn.Spec{Channels: 1, Height: 4, Width: 4, Classes: 3}, rand.New(rand.NewPCG(3, 4)))
	x, y, err := attacktest.Batch(m, 6, rand.New(rand.NewPCG(5, 6)))
	if err != nil {
		t.Fatal(err)
	}
	attacktest.Check(t, signNoise{Eps: 0.1, Seed: 2}, m, x, y)
}
