package nn

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/robustq/robustq/internal/safetensors"
)

// StatefulOptimizer is an Optimizer whose state (momentum buffers, moment
// estimates and their step counts) can be saved with a checkpoint and
// restored, so that training resumed from the checkpoint takes the same
// steps as a run that was never interrupted. SGD and Adam implement it.
type StatefulOptimizer interface {
	Optimizer
	// State returns a copy of the state: one slice per buffer, named
	// "<buffer>/<parameter name>".
	State() map[string][]float32
	// SetState replaces the state by s (as State returned it). It is
	// checked against the parameters on the next Step, which returns an
	// error when a buffer names no parameter or has another length.
	SetState(s map[string][]float32) error
}

var (
	_ StatefulOptimizer = (*SGD)(nil)
	_ StatefulOptimizer = (*Adam)(nil)
)

// State implements StatefulOptimizer: "velocity/<name>" per parameter that
// has taken a step with momentum.
func (o *SGD) State() map[string][]float32 {
	s := map[string][]float32{}
	for p, v := range o.velocity {
		s["velocity/"+p.Name] = slices.Clone(v)
	}
	for k, v := range o.pending {
		s[k] = slices.Clone(v)
	}
	return s
}

// SetState implements StatefulOptimizer.
func (o *SGD) SetState(s map[string][]float32) error {
	if err := checkStateNames(s, "velocity"); err != nil {
		return err
	}
	o.velocity, o.pending = nil, cloneState(s)
	return nil
}

// restore moves the pending state onto params, on the first Step after
// SetState.
func (o *SGD) restore(params []*Param) error {
	if o.pending == nil {
		return nil
	}
	o.velocity = map[*Param][]float32{}
	err := takeState(o.pending, params, "velocity", func(p *Param, v []float32) { o.velocity[p] = v })
	o.pending = nil
	if err != nil {
		o.velocity = nil
	}
	return err
}

// State implements StatefulOptimizer: "adam.m/<name>", "adam.v/<name>"
// and the step count "adam.t/<name>" (one value) per parameter.
func (o *Adam) State() map[string][]float32 {
	s := map[string][]float32{}
	for p, m := range o.m {
		s["adam.m/"+p.Name] = slices.Clone(m)
		s["adam.v/"+p.Name] = slices.Clone(o.v[p])
		s["adam.t/"+p.Name] = []float32{float32(o.t[p])}
	}
	for k, v := range o.pending {
		s[k] = slices.Clone(v)
	}
	return s
}

// SetState implements StatefulOptimizer.
func (o *Adam) SetState(s map[string][]float32) error {
	if err := checkStateNames(s, "adam.m", "adam.v", "adam.t"); err != nil {
		return err
	}
	for k, v := range s {
		if name, ok := strings.CutPrefix(k, "adam.t/"); ok {
			if len(v) != 1 || v[0] < 1 || v[0] != float32(int(v[0])) || v[0] > 1<<24 {
				return fmt.Errorf("%w: Adam step count of %s: %v", ErrWeights, name, v)
			}
		}
	}
	o.m, o.v, o.t, o.pending = nil, nil, nil, cloneState(s)
	return nil
}

func (o *Adam) restore(params []*Param) error {
	if o.pending == nil {
		return nil
	}
	pending := o.pending
	o.pending = nil
	if err := o.take(pending, params); err != nil {
		o.m, o.v, o.t = nil, nil, nil
		return err
	}
	return nil
}

// take installs the buffers of pending (consumed) on params.
func (o *Adam) take(pending map[string][]float32, params []*Param) error {
	o.m, o.v, o.t = map[*Param][]float32{}, map[*Param][]float32{}, map[*Param]int{}
	steps := map[string][]float32{}
	for k, v := range pending {
		if name, ok := strings.CutPrefix(k, "adam.t/"); ok {
			steps[name] = v
			delete(pending, k)
		}
	}
	err := errors.Join(
		takeState(pending, params, "adam.m", func(p *Param, v []float32) { o.m[p] = v }),
		takeState(pending, params, "adam.v", func(p *Param, v []float32) { o.v[p] = v }))
	if err != nil {
		return err
	}
	for p := range o.m {
		t, ok := steps[p.Name]
		if _, hasV := o.v[p]; !ok || !hasV {
			return fmt.Errorf("%w: Adam state of %s is incomplete", ErrWeights, p.Name)
		}
		o.t[p] = int(t[0])
		delete(steps, p.Name)
	}
	if len(steps) > 0 || len(o.v) != len(o.m) {
		return fmt.Errorf("%w: Adam state is incomplete (step counts without moments: %v)", ErrWeights, slices.Sorted(maps.Keys(steps)))
	}
	return nil
}

func cloneState(s map[string][]float32) map[string][]float32 {
	c := make(map[string][]float32, len(s))
	for k, v := range s {
		c[k] = slices.Clone(v)
	}
	return c
}

// checkStateNames rejects buffer names other than "<kind>/<name>" for the
// given kinds, and non-finite values.
func checkStateNames(s map[string][]float32, kinds ...string) error {
	for _, k := range slices.Sorted(maps.Keys(s)) {
		kind, name, ok := strings.Cut(k, "/")
		if !ok || name == "" || !slices.Contains(kinds, kind) {
			return fmt.Errorf("%w: optimizer state %q, want <%s>/<parameter>", ErrWeights, k, strings.Join(kinds, "|"))
		}
		for _, v := range s[k] {
			if v != v || v > 3.4e38 || v < -3.4e38 {
				return fmt.Errorf("%w: optimizer state %q holds a non-finite value", ErrWeights, k)
			}
		}
	}
	return nil
}

// takeState hands each buffer "<kind>/<name>" of pending to set with the
// parameter of that name, removing it from pending; a buffer of another
// length or naming no parameter is an error.
func takeState(pending map[string][]float32, params []*Param, kind string, set func(*Param, []float32)) error {
	byName := make(map[string]*Param, len(params))
	for _, p := range params {
		byName[p.Name] = p
	}
	var problems []string
	for _, k := range slices.Sorted(maps.Keys(pending)) {
		name, ok := strings.CutPrefix(k, kind+"/")
		if !ok {
			continue
		}
		v := pending[k]
		switch p := byName[name]; {
		case p == nil:
			problems = append(problems, fmt.Sprintf("%s names no trained parameter", k))
		case len(v) != len(p.Data):
			problems = append(problems, fmt.Sprintf("%s has %d values, parameter %d", k, len(v), len(p.Data)))
		default:
			set(p, v)
		}
		delete(pending, k)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: optimizer state: %s", ErrWeights, strings.Join(problems, "; "))
	}
	return nil
}

// SaveOptimizerFile writes o's state to path in the safetensors format,
// atomically (a temporary file renamed into place), with the metadata
// given.
func SaveOptimizerFile(path string, o StatefulOptimizer, metadata map[string]string) error {
	s := o.State()
	ts := make([]safetensors.Tensor, 0, len(s))
	for _, k := range slices.Sorted(maps.Keys(s)) {
		ts = append(ts, safetensors.Tensor{Name: k, Shape: []int{len(s[k])}, Data: s[k]})
	}
	meta := map[string]string{"content": "optimizer state"}
	maps.Copy(meta, metadata)
	meta[safetensors.ChecksumKey] = safetensors.Checksum(ts)
	return safetensors.WriteFile(path, ts, meta)
}

// LoadOptimizerFile reads a state written by SaveOptimizerFile into o (see
// StatefulOptimizer.SetState) and returns the file's metadata.
func LoadOptimizerFile(path string, o StatefulOptimizer) (map[string]string, error) {
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, readError(err)
	}
	s := make(map[string][]float32, len(ts))
	for _, t := range ts {
		s[t.Name] = t.Data
	}
	if err := o.SetState(s); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return meta, nil
}
