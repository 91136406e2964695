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
func Cached(ctx context.Context, dir string, net *nn.Network, ds *data.Dataset, job Job, log io.Writer) (*nn.Network, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	final := filepath.Join(dir, job.Key+".safetensors")
	if _, err := net.LoadFile(final); err == nil {
		fmt.Fprintf(log, "%s: loaded from %s\n", job.Key, final)
		return net, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(log, "%s: ignoring unusable cache file (%v)\n", job.Key, err)
	}
	start := 0
	for e := job.Epochs - 1; e >= 1; e-- {
		p := checkpointPath(dir, job.Key, e)
		if _, err := net.LoadFile(p); err == nil {
			start = e
			fmt.Fprintf(log, "%s: resuming after epoch %d from %s\n", job.Key, e, p)
			break
		}
	}
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
			return err
		}
		fmt.Fprintf(log, "%s: optimizer state restored from %s\n", job.Key, p)
		return nil
	}}
	save := nn.HookFuncs{After: func(_ context.Context, s *nn.Step) error {
		if s.Iter+1 != s.Iters {
			return nil
		}
		meta := map[string]string{"epoch": strconv.Itoa(s.Epoch + 1)}
		if err := s.Net.SaveFile(checkpointPath(dir, job.Key, s.Epoch+1), meta); err != nil {
			return err
		}
		if opt, ok := s.Optimizer.(nn.StatefulOptimizer); ok {
			return nn.SaveOptimizerFile(optimizerPath(dir, job.Key, s.Epoch+1), opt, meta)
		}
		return nil
	}}
	if err := job.Train(ctx, net, ds, start, []nn.Hook{restore, save}); err != nil {
		return nil, fmt.Errorf("%s: %w", job.Key, err)
	}
	if err := net.SaveFile(final, map[string]string{"key": job.Key}); err != nil {
		return nil, err
	}
	// The finished model supersedes its checkpoints.
	matches, _ := filepath.Glob(filepath.Join(dir, job.Key+".epoch*.safetensors"))
	for _, m := range matches {
		if strings.HasPrefix(filepath.Base(m), job.Key+".epoch") {
			os.Remove(m)
		}
	}
	return net, nil
}

func checkpointPath(dir, key string, epoch int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.epoch%d.safetensors", key, epoch))
}

// optimizerPath is where the optimizer's state after epoch is saved (the
// finished model's cleanup removes it with the checkpoints).
func optimizerPath(dir, key string, epoch int) string {
	return filepath.Join(dir, fmt.Sprintf("%s.epoch%d.optim.safetensors", key, epoch))
}
