// Package pipeline is the experiment machinery shared by the example
// programs: trained-model caching with per-epoch checkpoints, the model rows
// of the paper's tables, and report writing.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// Trainer trains a network from its current weights, with the given extra hooks.
// StartEpoch resumes a run; the hooks save checkpoints.
type TrainFunc func(ctx context.Context, net *nn.Network, ds *data.Dataset, startEpoch int, hooks []nn.Hook) error

// Job is one model to train or load from the cache.
type Job struct {
	// Key names the cached files: <dir>/<Key>.safetensors when done, and
	// <dir>/<Key>.epoch<N>.safetensors after epoch N.
	Key    string
	Epochs int
	Train  TrainFunc
}

// Cached returns net trained by job, loading the finished model from dir if
// it is there, or resuming from the latest epoch checkpoint. Checkpoints are
// written atomically after every epoch, so an interrupted run loses at most
// the epoch in progress. log receives one line per event.
func Cached(ctx context.Context, dir string, net *nn.Network, ds *data.Dataset, job Job, log io.Writer) (*nn.Network, TrainTime, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, TrainTime{}, err
	}
	removeStaleTemps(dir, job.Key, log)
	final := filepath.Join(dir, job.Key+".safetensors")
	if meta, err := net.LoadFile(final); err == nil {
		fmt.Fprintf(log, "%s: loaded from %s\n", job.Key, final)
		return net, trainTimeOf(meta), nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(log, "%s: ignoring unusable cache file (%v)\n", job.Key, err)
	}
	start := 0
	// The training time of the runs before this one, from the checkpoint
	// resumed (missing in checkpoints of older versions: Partial).
	before := TrainTime{}
	for e := job.Epochs - 1; e >= 1; e-- {
		p := checkpointPath(dir, job.Key, e)
		meta, err := net.LoadFile(p)
		if err == nil {
			start, before = e, trainTimeOf(meta)
			fmt.Fprintf(log, "%s: resuming after epoch %d from %s\n", job.Key, e, p)
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(log, "%s: skipping unusable checkpoint %s (%v)\n", job.Key, p, err)
		}
	}
	t0 := time.Now()
	total := func() TrainTime { return TrainTime{before.Took + time.Since(t0), before.Partial, false} }
	// The optimizer's state (momentum) is saved next to each checkpoint
	// and restored before the first step of a resumed run, which then takes
	// the steps of an uninterrupted one; a checkpoint without it (written
	// by an older version) resumes with a fresh optimizer.
	restore := nn.HookFuncs{Before: func(_ context.Context, s *nn.Step) error {
		opt, ok := s.Optimizer.(nn.StatefulOptimizer)
		if start == 0 || s.Global != start*s.Iters || !ok {
			return nil
		}
		p := optimizerPath(dir, job.Key, start)
		if _, err := nn.LoadOptimizerFile(p, opt); errors.Is(err, fs.ErrNotExist) {
			fmt.Fprintf(log, "%s: no optimizer state at %s, resuming with a fresh optimizer\n", job.Key, p)
			return nil
		} else if err != nil {
			// A damaged file must not block every later run: the run
			// goes on, no longer bit for bit an uninterrupted one.
			fmt.Fprintf(log, "%s: unusable optimizer state %s (%v), resuming with a fresh optimizer\n", job.Key, p, err)
			return nil
		}
		fmt.Fprintf(log, "%s: optimizer state restored from %s\n", job.Key, p)
		return nil
	}}
	save := nn.HookFuncs{After: func(_ context.Context, s *nn.Step) error {
		if s.Iter+1 != s.Iters {
			return nil
		}
		meta := total().meta()
		meta["epoch"] = strconv.Itoa(s.Epoch + 1)
		if err := net.SaveFile(checkpointPath(dir, job.Key, s.Epoch+1), meta); err != nil {
			return err
		}
		if opt, ok := s.Optimizer.(nn.StatefulOptimizer); ok {
			return nn.SaveOptimizerFile(optimizerPath(dir, job.Key, s.Epoch+1), opt, meta)
		}
		return nil
	}}
	if err := job.Train(ctx, net, ds, start, []nn.Hook{restore, &divergenceGuard{}, save}); err != nil {
		return nil, TrainTime{}, fmt.Errorf("%s: %w", job.Key, err)
	}
	took := total()
	meta := took.meta()
	meta["key"] = job.Key
	if err := net.SaveFile(final, meta); err != nil {
		return nil, TrainTime{}, err
	}
	// The finished model supersedes its checkpoints.
	matches, _ := filepath.Glob(filepath.Join(dir, job.Key+".epoch*.safetensors"))
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), job.Key+".epoch") {
			os.Remove(m)
		}
	}
	return net, took, nil
}

// TrainTime is how long a model took to train, over every run that
// contributed to it (a resumed run adds its time to the checkpoint's).
type TrainTime struct {
	Took time.Duration
	// Partial: an earlier run's time was not recorded (a checkpoint or
	// model written by an older version), so Took is a lower bound.
	Partial bool
	// Unknown: no time is recorded at all.
	Unknown bool
}

const trainSecondsKey, trainPartialKey = "train_seconds", "train_seconds_partial"

func (t TrainTime) meta() map[string]string {
	m := map[string]string{trainSecondsKey: strconv.FormatFloat(t.Took.Seconds(), 'f', 1, 64)}
	if t.Partial || t.Unknown {
		m[trainPartialKey] = "true"
	}
	return m
}

// trainTimeOf reads the time recorded in a checkpoint's or model's metadata.
func trainTimeOf(meta map[string]string) TrainTime {
	sec, err := strconv.ParseFloat(meta[trainSecondsKey], 64)
	if err != nil || sec < 0 {
		return TrainTime{Partial: true, Unknown: true}
	}
	return TrainTime{Took: time.Duration(sec * float64(time.Second)), Partial: meta[trainPartialKey] == "true"}
}

// String is the time rounded to the second, "≥ " before a lower bound.
func (t TrainTime) String() string {
	switch {
	case t.Unknown:
		return "not recorded"
	case t.Partial:
		return "≥ " + t.Took.Round(time.Second).String()
	}
	return t.Took.Round(time.Second).String()
}

func checkpointPath(dir, key string, epoch int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.epoch%d.safetensors", key, epoch))
}

// optimizerPath is where the optimizer's state after epoch is saved (the
// finished model's cleanup removes it with the checkpoints).
func optimizerPath(dir, key string, epoch int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.epoch%d.optim.safetensors", key, epoch))
}

// removeStaleTemps deletes the temporary files that an interrupted write of
// key's model, checkpoints or optimizer states left in dir (the atomic
// writes name them ".<file>.tmp-*"); nothing else writes them.
func removeStaleTemps(dir, key string, log io.Writer) {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+key+".*.tmp-*"))
	for _, m := range matches {
		if err := os.Remove(m); err == nil {
			fmt.Fprintf(log, "%s: removed %s, left by an interrupted write\n", key, m)
		}
	}
}

// ErrDiverged reports a training run whose loss or weights exploded; the
// model is not cached.
var ErrDiverged = errors.New("training diverged")

// divergenceGuard stops a run at the end of an epoch whose mean loss is more
// than 10 times that of the run's first epoch, or when a weight's magnitude
// exceeds 1e4 (the trained networks here keep theirs below 10). The
// thresholds are ours; they sit far from any healthy run, since the aim is
// to refuse to cache a wrecked model, not to judge a recipe.
type divergenceGuard struct {
	first, sum float64
	seen       int
	epochs     int
}

func (g *divergenceGuard) AfterStep(_ context.Context, s *nn.Step) error {
	if s.Out != nil {
		for _, l := range s.Out.Losses {
			g.sum += float64(l)
		}
		g.seen += len(s.Out.Losses)
	}
	if s.Iter+1 != s.Iters || g.seen == 0 {
		return nil
	}
	mean := g.sum / float64(g.seen)
	g.sum, g.seen = 0, 0
	g.epochs++
	if g.epochs == 1 {
		g.first = mean
	} else if mean > 10*g.first {
		return fmt.Errorf("%w: epoch %d's mean loss %.4g is more than 10 times the first epoch's %.4g", ErrDiverged, s.Epoch+1, mean, g.first)
	}
	for _, p := range s.Net.Params() {
		for _, v := range p.Data {
			if v > 1e4 || v < -1e4 {
				return fmt.Errorf("%w: epoch %d: weight %s holds %.4g", ErrDiverged, s.Epoch+1, p.Name, v)
			}
		}
	}
	return nil
}
