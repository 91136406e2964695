package pipeline

import (
	"context"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"time"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// Regime is one trained model of the experiment: how to build and train it.
type Regime struct {
	// Key names the model; its cache files are named by the key and a hash
	// of the recipe (CacheKey).
	Key string
	// Label is the name in tables ("Orig.", "Adv.", "F.L.", "Substitute").
	Label string
	// Recipe describes the training for the report.
	Recipe string
	// New builds the untrained network.
	New func(rng *rand.Rand) (*nn.Network, error)
	// Epochs is the number of checkpointed epochs (1 for a run that cannot resume).
	Epochs int
	// Train trains net from its current weights: New's initial ones, or the
	// From regime's trained ones.
	Train TrainFunc
	// From names the regime whose trained model this one starts from ("" for
	// none): TrainAll copies its weights into the new network first.
	From string
}

// TrainAll trains or loads every regime in order (a regime's From must come
// before it) and returns the networks by key, with the training time of each
// over all the runs that trained it (recorded in the cached files).
func TrainAll(ctx context.Context, cache string, seed uint64, ds *data.Dataset, regimes []Regime, log io.Writer) (map[string]*nn.Network, map[string]TrainTime, error) {
	return trainAll(ctx, cache, "", seed, ds, regimes, log)
}

// trainAll is TrainAll, loading every model from the published folder
// instead when published is not empty (see LoadPublished).
func trainAll(ctx context.Context, cache, published string, seed uint64, ds *data.Dataset, regimes []Regime, log io.Writer) (map[string]*nn.Network, map[string]TrainTime, error) {
	nets := map[string]*nn.Network{}
	took := map[string]TrainTime{}
	keys := CacheKeys(regimes)
	for _, r := range regimes {
		net, err := r.New(InitRNG(seed, r.Key))
		if err != nil {
			return nil, nil, err
		}
		if published != "" {
			m, err := LoadPublished(published, keys[r.Key], net)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", r.Label, err)
			}
			fmt.Fprintf(log, "%s: loaded %s (SHA-256 %s…)\n", r.Label, m.File, m.SHA256[:12])
			nets[r.Key], took[r.Key] = net, TrainTime{Took: time.Duration(m.TrainSeconds * float64(time.Second))}
			continue
		}
		if r.From != "" {
			from := nets[r.From]
			if from == nil {
				return nil, nil, fmt.Errorf("regime %s starts from %s, which is not trained before it", r.Key, r.From)
			}
			// A checkpoint or finished model in the cache overwrites these.
			if err := copyWeights(net, from); err != nil {
				return nil, nil, fmt.Errorf("regime %s starts from %s: %w", r.Key, r.From, err)
			}
		}
		trained, t, err := Cached(ctx, cache, net, ds, Job{Key: keys[r.Key], Epochs: r.Epochs, Train: r.Train}, log)
		if err != nil {
			return nil, nil, err
		}
		trained.ReleaseGraphs() // the training graphs are the largest; evaluation builds its own
		nets[r.Key] = trained
		took[r.Key] = t
	}
	return nets, took, nil
}

// CacheKey names the regime's cache files: its Key and a hash of its
// Recipe, Epochs and the cache key of the model it starts from (from, ""
// for none), so that a model trained by another recipe, or from another
// model, is never loaded in its place.
func (r Regime) CacheKey(from string) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s|%d|%s", r.Recipe, r.Epochs, from)
	return fmt.Sprintf("%s-%08x", r.Key, h.Sum32())
}

// InitRNG is the generator of a regime's initial weights: the stream
// (seed, FNV-1a hash of its key), so that a model depends on its key and
// seed only, not on the other regimes of the list.
func InitRNG(seed uint64, key string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(key))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// copyWeights copies every parameter of src into dst, which must have the
// same parameter names and sizes.
func copyWeights(dst, src *nn.Network) error {
	for _, p := range dst.Params() {
		q := src.Param(p.Name)
		if q == nil || len(q.Data) != len(p.Data) {
			return fmt.Errorf("%w: parameter %s has no match of %d values", nn.ErrShape, p.Name, len(p.Data))
		}
		copy(p.Data, q.Data)
	}
	return nil
}

// Row is one model row of the paper's tables: a trained model, possibly
// mapped and/or quantized.
type Row struct {
	// Label is the row's name, e.g. "Adv.+mu (Q)".
	Label string
	// Base is the regime key of the trained model it derives from.
	Base              string
	Quantized, Mapped bool
	Net               *nn.Network
}

// Variants returns the four rows of a trained model: as trained, (Q) with
// weights quantized by q, +mu with the μ-law mapping (F on the weights
// themselves) on the layers sel chooses, and +mu (Q), mapped then quantized.
func Variants(label, base string, net *nn.Network, q quant.Quantizer, mu quant.Selector) ([]Row, error) {
	qn, err := quant.Apply(net, q, nil)
	if err != nil {
		return nil, err
	}
	mn, err := defense.ApplyMapping(net, defense.MuLaw{}, mu)
	if err != nil {
		return nil, err
	}
	mqn, err := quant.Apply(mn, q, nil)
	if err != nil {
		return nil, err
	}
	return []Row{
		{Label: label, Base: base, Net: net},
		{Label: label + " (Q)", Base: base, Quantized: true, Net: qn},
		{Label: label + "+mu", Base: base, Mapped: true, Net: mn},
		{Label: label + "+mu (Q)", Base: base, Mapped: true, Quantized: true, Net: mqn},
	}, nil
}
