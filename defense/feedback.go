package defense

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// FeedbackLearning is our reconstruction of feedback learning (the paper's
// "F.L.", Song, Wang and Li 2019). The original algorithm is not published
// in enough detail to reproduce; what is known is that it retrains a
// pre-trained model on generated examples that push the decision boundaries
// away from the data, with per-class proportions set from measured margins
// to correct the "inter-class inequality" of those margins. This type
// implements that idea as follows, and every choice below is ours.
//
// Starting from a trained network, each round
//
//  1. measures, on a fixed random subset of Sample training examples chosen
//     once, the distance of every correctly classified example to the
//     decision boundary (BoundaryDistances with Distance: the minimum over
//     the gradient direction and random directions, by bisection);
//  2. takes each class's median distance and gives the class a share of
//     the round's generated examples inversely proportional to it
//     (ClassShares), so the classes with the narrowest margins get the most;
//  3. generates Generate examples inside the gap: for a class, a random
//     measured example x of it whose prediction changed within MaxDist, at
//     distance r along unit direction u, gives x' = clip(x + α·r·u, 0, 1)
//     with α ~ U[AlphaMin, AlphaMax) and x's true label; examples whose
//     prediction never changed are not used, and a class with none gets no
//     share;
//  4. fine-tunes the network with nn.Train on the generated examples plus
//     clean training examples drawn at random, the generated ones making up
//     the fraction Mix of the fine-tuning set;
//  5. reports per-class distance statistics (OnRound and the result).
//
// After the last round the distances are measured once more (without
// fine-tuning) and reported as a final Round with Final set, so the effect
// of the last fine-tuning is visible.
//
// The zero value runs 3 rounds on a subset of up to 1,000 examples.
type FeedbackLearning struct {
	// Rounds is the number of generate-and-fine-tune rounds; 0 means 3.
	Rounds int
	// Sample is the number of training examples measured each round (a
	// subset drawn once, without replacement); 0 means min(1000, ds.Len()).
	Sample int
	// Generate is the number of examples generated per round; 0 means the
	// number of examples measured.
	Generate int
	// AlphaMin and AlphaMax bound α, the fraction of the distance to the
	// boundary at which examples are generated: 0 means 0.5 and 1. They
	// need 0 < AlphaMin < AlphaMax ≤ 1.
	AlphaMin, AlphaMax float64
	// Mix is the fraction of generated examples in the fine-tuning set, in
	// (0, 1]; the rest are clean training examples. 0 means 0.5.
	Mix float64
	// Distance configures the boundary-distance estimate. Round r uses
	// Distance.Seed + r for its random directions.
	Distance DistanceConfig
	// Config configures each round's fine-tuning. Its zero value is nn's
	// default except that a nil LR means ConstantLR(0.001) here (a
	// fine-tuning rate); Epochs 0 means one epoch per round. Round r
	// shuffles with Config.Seed + r. Its Hooks report progress.
	Config nn.TrainConfig
	// QAT, if not nil, fine-tunes with quantization in the loop; distances
	// are always measured on the full-precision network.
	QAT *QAT
	// Seed seeds the subset, the choice of source examples, α and the clean
	// examples mixed in.
	Seed uint64
	// OnRound, if not nil, is called after each round (and the final
	// measurement) with its report; an error stops the run and is returned.
	OnRound func(Round) error
}

var _ Trainer = FeedbackLearning{}

// ClassDistance is one class's distance statistics in a Round.
type ClassDistance struct {
	// Class is the label.
	Class int
	// Measured is the number of correctly classified examples of the class
	// in the subset, and Crossed how many of them changed prediction within
	// MaxDist.
	Measured, Crossed int
	// Median and Mean are over the Measured examples (an example that
	// never changed counts as MaxDist); NaN when Measured is 0.
	Median, Mean float64
	// Share is the class's fraction of the generated examples and Generated
	// their number (zero for the final measurement).
	Share     float64
	Generated int
}

// Round reports one round of FeedbackLearning.
type Round struct {
	// Round is 0-based. Final marks the measurement after the last round,
	// which generates and fine-tunes nothing.
	Round int
	Final bool
	// Sampled is the subset's size and Correct how many of it the network
	// classified correctly before this round's fine-tuning.
	Sampled, Correct int
	// Median is the median distance over all correctly classified examples
	// of the subset (NaN when there are none).
	Median float64
	// Classes holds the statistics of each class, indexed by label.
	Classes []ClassDistance
	// Generated is the number of examples generated, and FineTune the size
	// of the fine-tuning set.
	Generated, FineTune int
	// Train summarises the round's fine-tuning.
	Train nn.TrainResult
}

// FLResult is the outcome of FeedbackLearning.Run.
type FLResult struct {
	// Rounds holds one report per round and, last, the final measurement.
	Rounds []Round
	// Train merges the fine-tuning runs: the total of Steps and Duration,
	// and the epochs' loss and accuracy in order.
	Train nn.TrainResult
}

type flCfg struct {
	rounds, sample, generate int
	aLo, aHi, mix            float64
}

func (f FeedbackLearning) resolve(n int) (flCfg, error) {
	c := flCfg{rounds: f.Rounds, sample: f.Sample, generate: f.Generate, aLo: f.AlphaMin, aHi: f.AlphaMax, mix: f.Mix}
	if c.rounds < 0 || c.sample < 0 || c.generate < 0 {
		return c, fmt.Errorf("%w: FeedbackLearning Rounds %d, Sample %d, Generate %d", ErrParam, f.Rounds, f.Sample, f.Generate)
	}
	if c.rounds == 0 {
		c.rounds = 3
	}
	if c.sample == 0 {
		c.sample = 1000
	}
	c.sample = min(c.sample, n)
	if c.generate == 0 {
		c.generate = c.sample
	}
	if c.aLo == 0 {
		c.aLo = 0.5
	}
	if c.aHi == 0 {
		c.aHi = 1
	}
	if !(c.aLo > 0 && c.aLo < c.aHi && c.aHi <= 1) {
		return c, fmt.Errorf("%w: FeedbackLearning α range [%v, %v), want 0 < AlphaMin < AlphaMax ≤ 1", ErrParam, c.aLo, c.aHi)
	}
	if c.mix == 0 {
		c.mix = 0.5
	}
	if !(c.mix > 0 && c.mix <= 1) {
		return c, fmt.Errorf("%w: FeedbackLearning Mix %v, want (0, 1]", ErrParam, f.Mix)
	}
	return c, nil
}

// Train implements Trainer: it runs Run and returns the merged training
// summary.
func (f FeedbackLearning) Train(ctx context.Context, net *nn.Network, ds *data.Dataset) (nn.TrainResult, error) {
	res, err := f.Run(ctx, net, ds)
	if res == nil {
		return nn.TrainResult{}, err
	}
	return res.Train, err
}

// Run runs feedback learning on net, which should already be trained, and
// returns every round's report. On an error (or cancellation) it returns
// the rounds completed so far with the error; net then holds the weights
// of the last completed fine-tuning step.
func (f FeedbackLearning) Run(ctx context.Context, net *nn.Network, ds *data.Dataset) (*FLResult, error) {
	if net == nil || ds == nil {
		return nil, fmt.Errorf("%w: feedback learning needs a network and a data set", ErrNil)
	}
	if err := ds.Validate(); err != nil {
		return nil, fmt.Errorf("defense: %w", err)
	}
	spec := net.Spec()
	if ds.Len() == 0 {
		return nil, fmt.Errorf("%w: feedback learning on an empty data set", ErrParam)
	}
	if ds.Channels != spec.Channels || ds.Height != spec.Height || ds.Width != spec.Width || ds.Classes > spec.Classes {
		return nil, fmt.Errorf("defense: data %dx%dx%d with %d classes for network %v: %w",
			ds.Channels, ds.Height, ds.Width, ds.Classes, spec, nn.ErrShape)
	}
	c, err := f.resolve(ds.Len())
	if err != nil {
		return nil, err
	}
	if _, err := f.Distance.resolve(spec); err != nil {
		return nil, err
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(f.Seed, 0xfeedbac))
	sub := ds.Subset(rng.Perm(ds.Len())[:c.sample])
	res := &FLResult{}
	for r := 0; r <= c.rounds; r++ {
		final := r == c.rounds
		dc := f.Distance
		dc.Seed += uint64(r)
		b, err := estimateBoundary(ctx, net, sub.X, sub.Y, dc)
		if err != nil {
			return res, err
		}
		rep := roundStats(b, sub.Y, spec.Classes)
		rep.Round, rep.Final = r, final
		if !final {
			gx, gy, err := generate(b, sub, &rep, c.generate, c.aLo, c.aHi, rng)
			if err != nil {
				return res, err
			}
			ft := fineTuneSet(ds, gx, gy, c.mix, rng)
			rep.Generated, rep.FineTune = len(gy), ft.Len()
			cfg := f.Config
			if cfg.LR == nil {
				cfg.LR = nn.ConstantLR(0.001)
			}
			cfg.Seed += uint64(r)
			tr, err := runTrain(ctx, net, ft, cfg, f.QAT)
			rep.Train = tr
			res.Train.Steps += tr.Steps
			res.Train.EpochLoss = append(res.Train.EpochLoss, tr.EpochLoss...)
			res.Train.EpochAccuracy = append(res.Train.EpochAccuracy, tr.EpochAccuracy...)
			if err != nil {
				res.Train.Duration = time.Since(start)
				return res, err
			}
		}
		res.Rounds = append(res.Rounds, rep)
		if f.OnRound != nil {
			if err := f.OnRound(rep); err != nil {
				res.Train.Duration = time.Since(start)
				return res, err
			}
		}
	}
	res.Train.Duration = time.Since(start)
	return res, nil
}

// roundStats summarises the distances of a subset with labels y.
func roundStats(b *boundary, y []int, classes int) Round {
	rep := Round{Sampled: len(y), Classes: make([]ClassDistance, classes)}
	per := make([][]float64, classes)
	var all []float64
	for i, label := range y {
		if !b.correct[i] {
			continue
		}
		per[label] = append(per[label], b.dist[i])
		all = append(all, b.dist[i])
		if b.crossed[i] {
			rep.Classes[label].Crossed++
		}
	}
	rep.Correct = len(all)
	rep.Median = median(all)
	for c := range rep.Classes {
		cd := &rep.Classes[c]
		cd.Class, cd.Measured = c, len(per[c])
		cd.Median, cd.Mean = median(per[c]), mean(per[c])
	}
	return rep
}

// median returns the median of v (the mean of the middle two for an even
// count), NaN for an empty v. v is not modified.
func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	h := len(s) / 2
	if len(s)%2 == 1 {
		return s[h]
	}
	return (s[h-1] + s[h]) / 2
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	var s float64
	for _, a := range v {
		s += a
	}
	return s / float64(len(v))
}

// ClassShares returns each class's share of the generated examples from
// the classes' median distances to the boundary: share_c = (1/m_c) /
// Σ_j (1/m_j), inversely proportional to the median, over the classes
// whose median is a number; a NaN median (a class with nothing measured)
// gets share 0. The shares sum to 1. It returns an error wrapping ErrParam
// when a median is zero, negative or infinite, or every median is NaN.
func ClassShares(medians []float64) ([]float64, error) {
	shares := make([]float64, len(medians))
	var sum float64
	for c, m := range medians {
		if math.IsNaN(m) {
			continue
		}
		if !(m > 0) || math.IsInf(m, 1) {
			return nil, fmt.Errorf("%w: median distance %v of class %d, want a finite positive value", ErrParam, m, c)
		}
		shares[c] = 1 / m
		sum += shares[c]
	}
	if sum == 0 {
		return nil, fmt.Errorf("%w: no class has a median distance", ErrParam)
	}
	for c := range shares {
		shares[c] /= sum
	}
	return shares, nil
}

// apportion splits total into integer counts proportional to shares (which
// sum to 1) by the largest-remainder method, so the counts sum to total.
func apportion(shares []float64, total int) []int {
	counts := make([]int, len(shares))
	rem := make([]float64, len(shares))
	left := total
	for c, s := range shares {
		q := s * float64(total)
		counts[c] = int(math.Floor(q))
		rem[c] = q - float64(counts[c])
		left -= counts[c]
	}
	order := make([]int, len(shares))
	for c := range order {
		order[c] = c
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for i := 0; left > 0 && i < len(order); i++ {
		if shares[order[i]] > 0 {
			counts[order[i]]++
			left--
		}
	}
	return counts
}

// generate draws the round's examples (step 3) and fills the shares and
// counts of rep. Classes without a source example (one whose prediction
// changed) get no share.
func generate(b *boundary, sub *data.Dataset, rep *Round, total int, aLo, aHi float64, rng *rand.Rand) ([]float32, []int, error) {
	d := sub.ExampleSize()
	src := make([][]int, len(rep.Classes))
	for i, label := range sub.Y {
		if b.crossed[i] {
			src[label] = append(src[label], i)
		}
	}
	med := make([]float64, len(rep.Classes))
	for c := range med {
		med[c] = math.NaN()
		if len(src[c]) > 0 {
			med[c] = rep.Classes[c].Median
		}
	}
	shares, err := ClassShares(med)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: feedback learning round %d: no correctly classified example changed prediction within MaxDist %v",
			ErrNoBoundary, rep.Round, b.maxDist)
	}
	counts := apportion(shares, total)
	gx := make([]float32, 0, total*d)
	gy := make([]int, 0, total)
	for c, cnt := range counts {
		rep.Classes[c].Share, rep.Classes[c].Generated = shares[c], cnt
		for range cnt {
			i := src[c][rng.IntN(len(src[c]))]
			alpha := aLo + (aHi-aLo)*rng.Float64()
			gx = appendGap(gx, sub.X[i*d:(i+1)*d], b.dir[i*d:(i+1)*d], alpha*b.dist[i])
			gy = append(gy, c)
		}
	}
	return gx, gy, nil
}

// appendGap appends clip(x + t·u, 0, 1) to dst.
func appendGap(dst, x, u []float32, t float64) []float32 {
	for v, a := range x {
		dst = append(dst, float32(min(max(float64(a)+t*float64(u[v]), 0), 1)))
	}
	return dst
}

// fineTuneSet returns the generated examples plus clean examples of ds
// drawn at random so that the generated ones are the fraction mix of the
// whole (clean examples are drawn without replacement while ds has enough).
func fineTuneSet(ds *data.Dataset, gx []float32, gy []int, mix float64, rng *rand.Rand) *data.Dataset {
	nClean := int(math.Round(float64(len(gy)) * (1 - mix) / mix))
	var idx []int
	for len(idx) < nClean {
		p := rng.Perm(ds.Len())
		idx = append(idx, p[:min(len(p), nClean-len(idx))]...)
	}
	clean := ds.Subset(idx)
	return &data.Dataset{
		Name: ds.Name + "-feedback", Channels: ds.Channels, Height: ds.Height, Width: ds.Width, Classes: ds.Classes,
		X: append(slices.Clone(gx), clean.X...), Y: append(slices.Clone(gy), clean.Y...),
	}
}
