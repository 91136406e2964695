package attack_test

import (
	"slices"
	"testing"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/nn"
)

// AutoAttack's accuracy is exactly the worst case over its attacks: each
// is independent of the rest of its batch, so running them on the whole
// batch gives, per example, the outputs AutoAttack got on its subsets.
func TestAutoAttackIsTheWorstCase(t *testing.T) {
	m := linear(11, img)
	x, y := batch(t, m, 40, 11)
	for _, aa := range []attack.AutoAttack{
		{Eps: 0.04, Steps: 8, Targets: 3, Queries: 40, Seed: 2},
		{Norm: attack.L2, Eps: 0.3, Steps: 8, Targets: 3, Queries: 40, Seed: 2},
	} {
		t.Run(aa.Name(), func(t *testing.T) {
			k := img.Classes
			z, _ := m.Logits(x)
			zAA, _ := m.Logits(perturb(t, aa, m, x, y))
			robust := make([]bool, len(y))
			for i := range y {
				robust[i] = nn.Argmax(z[i*k:(i+1)*k]) == y[i]
			}
			names := []string{}
			for _, a := range aa.Attacks(k) {
				names = append(names, a.Name())
				za, _ := m.Logits(perturb(t, a, m, x, y))
				for i := range y {
					robust[i] = robust[i] && nn.Argmax(za[i*k:(i+1)*k]) == y[i]
				}
			}
			got := make([]bool, len(y))
			fooledSome, keptSome := false, false
			for i := range y {
				got[i] = nn.Argmax(zAA[i*k:(i+1)*k]) == y[i]
				fooledSome = fooledSome || (!got[i] && nn.Argmax(z[i*k:(i+1)*k]) == y[i])
				keptSome = keptSome || got[i]
			}
			if !slices.Equal(got, robust) {
				t.Errorf("correct after AutoAttack %v, want the worst case over %v: %v", got, names, robust)
			}
			// The radius must leave both outcomes, or the test shows nothing.
			if !fooledSome || !keptSome {
				t.Errorf("ε %v fools %v and keeps %v; pick a radius that does some of each", aa.Eps, fooledSome, keptSome)
			}
		})
	}
}

func TestRanked(t *testing.T) {
	z := []float32{0.1, 0.9, 0.5, 0.5, -1, 2, 0, 0, 0, 0}
	got := attack.Ranked(2)(z, []int{0, 1}, 5)
	if !slices.Equal(got, []int{2, 1}) { // ties: lowest index first
		t.Errorf("Ranked(2) = %v, want [2 1]", got)
	}
	if got := attack.Ranked(99)(z[:5], []int{0}, 5); got[0] != 4 {
		t.Errorf("Ranked(99) = %v, want the smallest logit's class 4", got)
	}
}

// The L2 Square Attack's tiling copes with images smaller than its 5×5
// grid of squares.
func TestSquareL2TinyImages(t *testing.T) {
	for _, spec := range []nn.Spec{{Channels: 1, Height: 1, Width: 2, Classes: 2}, {Channels: 3, Height: 4, Width: 3, Classes: 4}} {
		m := linear(3, spec)
		x, y := batch(t, m, 5, 3)
		const eps float32 = 0.3
		adv := perturb(t, attack.Square{Norm: attack.L2, Eps: eps, Queries: 20, Seed: 1}, m, x, y)
		d := spec.ExampleSize()
		for i := range y {
			if dist := attack.Distance(attack.L2, adv[i*d:(i+1)*d], x[i*d:(i+1)*d]); dist > float64(eps) {
				t.Errorf("%+v: example %d at L2 distance %v", spec, i, dist)
			}
		}
	}
}
