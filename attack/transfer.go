package attack

import (
	"context"
	"fmt"
	"math"
	"sync"

	"github.com/robustq/robustq/nn"
)

// Transfer is a black-box transfer attack: it crafts examples with Attack
// on the substitute model Source and returns them unchanged for evaluation
// on the model under attack, whose gradients it never uses (Papernot et al.
// 2017). Source must have the target's Spec.
type Transfer struct {
	// Source is the substitute model the examples are crafted on.
	Source nn.Model
	// Attack crafts the examples on Source.
	Attack Attack
}

// Ensemble is the worst case of several attacks: an example survives only if
// it survives every one. Perturb runs the attacks in order and returns, per
// example, the output of the first attack that makes the model (the one under
// attack) mispredict the label, or the last attack's output where none does.
// Attacks after the point where every example is fooled are skipped.
type Ensemble struct {
	// Attacks are run in order; at least one is needed.
	Attacks []Attack
}

var (
	_ Attack = Transfer{}
	_ Attack = Ensemble{}
)

// Name returns "transfer-" followed by the crafting attack's name.
func (t Transfer) Name() string {
	if t.Attack == nil {
		return "transfer"
	}
	return "transfer-" + t.Attack.Name()
}

// Threat returns the crafting attack's threat with Access Transferred.
func (t Transfer) Threat() Threat {
	if t.Attack == nil {
		return Threat{Access: Transferred, Eps: float32(math.Inf(1))}
	}
	th := t.Attack.Threat()
	th.Access = Transferred
	return th
}

// Perturb implements Attack. m is used only for its Spec.
func (t Transfer) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if nn.CheckModel(t.Source) != nil || t.Attack == nil || nn.CheckModel(m) != nil {
		return nil, fmt.Errorf("%w: Transfer needs a Source, an Attack and a target model", ErrParam)
	}
	if s, ts := t.Source.Spec(), m.Spec(); s != ts {
		return nil, fmt.Errorf("%w: transfer source spec %+v differs from target spec %+v", ErrParam, s, ts)
	}
	return t.Attack.Perturb(ctx, t.Source, x, y)
}

// Name returns "ensemble(" and the members' names, comma-separated, ")".
func (e Ensemble) Name() string {
	s := "ensemble("
	for i, a := range e.Attacks {
		if i > 0 {
			s += ","
		}
		s += a.Name()
	}
	return s + ")"
}

// Threat returns the most informed member Access, the first member's Norm,
// the largest member Eps when all members share that norm (+Inf otherwise),
// and the smallest Bounds containing every member's.
func (e Ensemble) Threat() Threat {
	if len(e.Attacks) == 0 {
		return Threat{Access: Random, Eps: 0}
	}
	th := e.Attacks[0].Threat()
	th.Bounds = th.Bounds.resolved()
	for _, a := range e.Attacks[1:] {
		t := a.Threat()
		th.Access = min(th.Access, t.Access)
		if t.Norm != th.Norm {
			th.Eps = float32(math.Inf(1))
		} else {
			th.Eps = max(th.Eps, t.Eps)
		}
		b := t.Bounds.resolved()
		th.Bounds.Min = min(th.Bounds.Min, b.Min)
		th.Bounds.Max = max(th.Bounds.Max, b.Max)
	}
	return th
}

// Perturb implements Attack.
func (e Ensemble) Perturb(ctx context.Context, m nn.Classifier, x []float32, y []int) ([]float32, error) {
	if len(e.Attacks) == 0 {
		return nil, fmt.Errorf("%w: empty Ensemble", ErrParam)
	}
	th := e.Threat()
	p, err := setupUnbounded(ctx, m, x, y, th.Bounds, Linf, nil)
	if err != nil {
		return nil, err
	}
	out := p.start()
	done := make([]bool, p.n)
	for _, a := range e.Attacks {
		if allTrue(done) {
			break
		}
		adv, err := a.Perturb(ctx, m, x, y)
		if err != nil {
			return nil, err
		}
		if len(adv) != len(x) {
			return nil, fmt.Errorf("%w: %s returned %d values for %d", ErrModel, a.Name(), len(adv), len(x))
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		z, err := p.logits(m, adv)
		if err != nil {
			return nil, err
		}
		for i, f := range p.fooled(z) {
			if done[i] {
				continue
			}
			copy(out[i*p.d:(i+1)*p.d], adv[i*p.d:(i+1)*p.d])
			done[i] = f
		}
	}
	p.project(out)
	return out, nil
}

// lockedModel serialises calls to a model that is not safe for concurrent use.
type lockedModel struct {
	m  nn.Model
	mu *sync.Mutex
}

func (l lockedModel) Spec() nn.Spec { return l.m.Spec() }

func (l lockedModel) Logits(x []float32) ([]float32, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.Logits(x)
}

func (l lockedModel) InputGrad(x []float32, y []int, loss nn.Loss) ([]float32, []float32, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.m.InputGrad(x, y, loss)
}

// localize returns a copy of a that a worker other than the first may run
// concurrently with the others: the Source of every Transfer inside a is
// cloned when it is a Cloner (first worker: kept) and otherwise wrapped so
// that calls on it are serialised with mu.
func localize(a Attack, first bool, mu *sync.Mutex) Attack {
	switch t := a.(type) {
	case renamed:
		return renamed{localize(t.Attack, first, mu), t.name}
	case Ensemble:
		c := Ensemble{Attacks: make([]Attack, len(t.Attacks))}
		for i, m := range t.Attacks {
			c.Attacks[i] = localize(m, first, mu)
		}
		return c
	case Transfer:
		if t.Source == nil {
			return t
		}
		if c, ok := t.Source.(Cloner); ok {
			if !first {
				t.Source = c.CloneModel()
			}
		} else {
			t.Source = lockedModel{t.Source, mu}
		}
		if t.Attack != nil {
			t.Attack = localize(t.Attack, first, mu)
		}
		return t
	}
	return a
}
