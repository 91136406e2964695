package pipeline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/nn"
)

// Precomputed is an attack whose examples were crafted once, ahead of time
// (on a substitute model, or by a model-independent noise draw), so that
// every row of a table is evaluated on the same examples without crafting
// them again. Perturb looks each example up by its content.
type Precomputed struct {
	name   string
	threat attack.Threat
	adv    map[uint64][]float32
	size   int
}

var _ attack.Attack = (*Precomputed)(nil)

func exampleKey(x []float32) uint64 {
	h := fnv.New64a()
	var b [4]byte
	for _, v := range x {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	return h.Sum64()
}

// Precompute runs a on m over x in batches and stores the results under name.
func Precompute(ctx context.Context, name string, a attack.Attack, m nn.Classifier, x []float32, y []int, batch int) (*Precomputed, error) {
	e := m.Spec().ExampleSize()
	p := &Precomputed{name: name, threat: a.Threat(), adv: map[uint64][]float32{}, size: e}
	for lo := 0; lo < len(y); lo += batch {
		hi := min(lo+batch, len(y))
		adv, err := a.Perturb(ctx, m, x[lo*e:hi*e], y[lo:hi])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		for i := range hi - lo {
			p.adv[exampleKey(x[(lo+i)*e:(lo+i+1)*e])] = adv[i*e : (i+1)*e]
		}
	}
	return p, nil
}

// Name implements attack.Attack.
func (p *Precomputed) Name() string { return p.name }

// Threat implements attack.Attack: the threat of the attack that crafted the examples.
func (p *Precomputed) Threat() attack.Threat { return p.threat }

// Perturb implements attack.Attack. It fails for an example that was not precomputed.
func (p *Precomputed) Perturb(_ context.Context, _ nn.Classifier, x []float32, _ []int) ([]float32, error) {
	out := make([]float32, len(x))
	for i := 0; i*p.size < len(x); i++ {
		adv, ok := p.adv[exampleKey(x[i*p.size:(i+1)*p.size])]
		if !ok {
			return nil, fmt.Errorf("%s: example %d was not precomputed", p.name, i)
		}
		copy(out[i*p.size:], adv)
	}
	return out, nil
}

// precomputeCached is Precompute, saved to path (safetensors, written
// atomically) and loaded from there by a later run, so that a resumed run
// does not craft the transfer examples again. path must name everything
// the examples depend on (see transferKey); a file that does not hold
// exactly one tensor of len(x) values is computed again.
//
// It also returns the seconds the crafting took, recorded in the file, so
// that a resumed run can still add up the cost from an empty cache.
func precomputeCached(ctx context.Context, path, name string, a attack.Attack, m nn.Classifier, x []float32, y []int, batch int, log io.Writer) (*Precomputed, float64, error) {
	e := m.Spec().ExampleSize()
	ts, meta, err := nn.ReadTensorsFile(path)
	switch {
	case err == nil && len(ts) == 1 && len(ts[0].Data) == len(x):
		p := &Precomputed{name: name, threat: a.Threat(), adv: map[uint64][]float32{}, size: e}
		for i := 0; i*e < len(x); i++ {
			p.adv[exampleKey(x[i*e:(i+1)*e])] = ts[0].Data[i*e : (i+1)*e]
		}
		sec, _ := strconv.ParseFloat(meta["seconds"], 64)
		return p, sec, nil
	case err == nil:
		fmt.Fprintf(log, "%s: cached examples %s do not match the images; crafting them again\n", name, path)
	case !errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(log, "%s: cached examples %s are unreadable (%v); crafting them again\n", name, path, err)
	}
	t0 := time.Now()
	p, err := Precompute(ctx, name, a, m, x, y, batch)
	if err != nil {
		return nil, 0, err
	}
	sec := time.Since(t0).Seconds()
	adv := make([]float32, 0, len(x))
	for i := 0; i*e < len(x); i++ {
		adv = append(adv, p.adv[exampleKey(x[i*e:(i+1)*e])]...)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, 0, err
	}
	t := nn.Tensor{Name: "adv", Shape: []int{len(y), e}, Data: adv}
	if err := nn.WriteTensorsFile(path, []nn.Tensor{t}, map[string]string{"attack": name, "seconds": strconv.FormatFloat(sec, 'g', -1, 64)}); err != nil {
		return nil, 0, err
	}
	return p, 0, nil
}

// transferKey names precomputed examples: the profile (every attack
// setting and the image count), the seed, the attack's name, the weights of
// the model they were crafted on and the images themselves.
func transferKey(p Profile, seed uint64, name string, m *nn.Network, x []float32) string {
	return fmt.Sprintf("%s-s%d-%s-%016x-%016x", profileKey(p), seed, fileName(name), weightsHash(m), exampleKey(x))
}
