package pipeline

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/nn"
)

// TestCachedResumesExactly interrupts a three-epoch run after its first
// epoch and runs Cached again: the resumed run must end with the weights of
// an uninterrupted one, bit for bit (checkpoint and optimizer state both
// restored), and the finished model must replace the checkpoints.
func TestCachedResumesExactly(t *testing.T) {
	ds := randomTiny(40, 2)
	errStop := errors.New("interrupted")
	job := func(stopAfter int) Job {
		return Job{Key: "k", Epochs: 3, Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			stop := nn.HookFuncs{After: func(_ context.Context, s *nn.Step) error {
				if s.Epoch+1 == stopAfter && s.Iter+1 == s.Iters {
					return errStop
				}
				return nil
			}}
			_, err := nn.Train(ctx, net, ds, nn.TrainConfig{Epochs: 3, StartEpoch: start, BatchSize: 8, Seed: 5,
				Optimizer: &nn.SGD{Momentum: 0.9, Nesterov: true}, LR: nn.OneCycleLR(0.1), Hooks: append(hooks, stop)})
			return err
		}}
	}
	newNet := func() *nn.Network {
		net, err := tiny(rand.New(rand.NewPCG(1, 1)))
		if err != nil {
			t.Fatal(err)
		}
		return net
	}
	straight, _, err := Cached(context.Background(), t.TempDir(), newNet(), ds, job(0), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, _, err := Cached(context.Background(), dir, newNet(), ds, job(1), io.Discard); !errors.Is(err, errStop) {
		t.Fatalf("interrupted run: %v", err)
	}
	for _, f := range []string{"k.epoch1.safetensors", "k.epoch1.optim.safetensors"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("after the interruption: %v", err)
		}
	}
	resumed, took, err := Cached(context.Background(), dir, newNet(), ds, job(0), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The time of both runs: positive, and complete (both recorded it).
	if took.Took <= 0 || took.Partial || took.Unknown {
		t.Errorf("training time %+v, want a complete positive duration", took)
	}
	// Loading the finished model gives the same recorded time.
	if _, again, err := Cached(context.Background(), dir, newNet(), ds, job(0), io.Discard); err != nil || again.String() != took.String() {
		t.Errorf("time of the cached model %v (%v), want %v", again, err, took)
	}
	if !slices.Equal(straight.Param("fc.weight").Data, resumed.Param("fc.weight").Data) {
		t.Error("resumed run ends with other weights than the uninterrupted one")
	}
	left, _ := filepath.Glob(filepath.Join(dir, "k.epoch*"))
	if len(left) > 0 {
		t.Errorf("checkpoints left after the finished model was saved: %v", left)
	}

	// A damaged cache never blocks a run. Interrupt after epoch 2, cut
	// epoch 2's checkpoint and epoch 1's optimizer state, and leave a
	// temporary file as a write killed mid-way does: the next run logs the
	// skipped checkpoint and the unusable state, resumes after epoch 1 with
	// a fresh optimizer, and removes the temporary file.
	dir = t.TempDir()
	if _, _, err := Cached(context.Background(), dir, newNet(), ds, job(2), io.Discard); !errors.Is(err, errStop) {
		t.Fatalf("interrupted run: %v", err)
	}
	for _, f := range []string{"k.epoch2.safetensors", "k.epoch1.optim.safetensors"} {
		p := filepath.Join(dir, f)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b[:len(b)/2], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tmp := filepath.Join(dir, ".k.epoch3.safetensors.tmp-123")
	if err := os.WriteFile(tmp, []byte("half a file"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	if _, _, err := Cached(context.Background(), dir, newNet(), ds, job(0), &log); err != nil {
		t.Fatalf("run over a damaged cache: %v\n%s", err, log.String())
	}
	for _, want := range []string{"skipping unusable checkpoint", "resuming after epoch 1", "unusable optimizer state", "removed"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if _, err := os.Stat(tmp); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("temporary file left: %v", err)
	}
}

// A checkpoint without a recorded time (an older version's) makes the
// total a lower bound, marked as such.
func TestTrainTimeOfOldCheckpoint(t *testing.T) {
	if got := trainTimeOf(map[string]string{"epoch": "3"}); !got.Unknown || got.String() != "not recorded" {
		t.Errorf("no time: %+v %q", got, got)
	}
	resumed := TrainTime{Took: 90 * time.Second, Partial: true}
	if got := trainTimeOf(resumed.meta()); got != resumed || got.String() != "≥ 1m30s" {
		t.Errorf("partial time round trip: %+v %q", got, got)
	}
	if got := trainTimeOf(map[string]string{trainSecondsKey: "-4"}); !got.Unknown {
		t.Errorf("negative time accepted: %+v", got)
	}
}

// Reports and row results are readable like the models (CreateTemp's
// files are 0600).
func TestWriteFileAtomicMode(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.md")
	if err := WriteFileAtomic(p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}
}

// A diverging run (SGD at learning rate 1e4) stops with ErrDiverged and
// caches nothing; a healthy one passes the guard.
func TestCachedRefusesDivergedModel(t *testing.T) {
	ds := randomTiny(64, 3)
	job := func(lr float64) Job {
		return Job{Key: "k", Epochs: 3, Train: func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
			_, err := nn.Train(ctx, net, ds, nn.TrainConfig{Epochs: 3, StartEpoch: start, BatchSize: 8, LR: nn.ConstantLR(lr), Hooks: hooks})
			return err
		}}
	}
	dir := t.TempDir()
	net, _ := tiny(rand.New(rand.NewPCG(1, 1)))
	_, _, err := Cached(context.Background(), dir, net, ds, job(1e4), io.Discard)
	if !errors.Is(err, ErrDiverged) {
		t.Fatalf("lr 1e4: %v, want ErrDiverged", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "k.safetensors")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a diverged model was cached: %v", err)
	}
	net, _ = tiny(rand.New(rand.NewPCG(1, 1)))
	if _, _, err := Cached(context.Background(), t.TempDir(), net, ds, job(0.05), io.Discard); err != nil {
		t.Errorf("lr 0.05: %v", err)
	}
}

// A row result edited by hand (still valid JSON) no longer matches its
// checksum.
func TestRowResultChecksum(t *testing.T) {
	r := RowResult{Label: "Orig. (Q)", Acc: map[string]float64{"PGD": 0}, CleanBits: "10", Correct: map[string]string{"PGD": "00"}}
	r.Checksum = r.sum()
	if r.Checksum != r.sum() {
		t.Fatal("checksum not stable")
	}
	edited := r
	edited.Acc = map[string]float64{"PGD": 0.77}
	if edited.Checksum == edited.sum() {
		t.Error("an edited accuracy keeps the checksum")
	}
}

// randomTiny returns n random examples for the tiny network (1×4×4, 3
// classes), values and labels drawn from the stream (seed, seed).
func randomTiny(n int, seed uint64) *data.Dataset {
	r := rand.New(rand.NewPCG(seed, seed))
	ds := &data.Dataset{X: make([]float32, n*16), Y: make([]int, n), Channels: 1, Height: 4, Width: 4, Classes: 3}
	for i := range ds.X {
		ds.X[i] = r.Float32()
	}
	for i := range ds.Y {
		ds.Y[i] = r.IntN(3)
	}
	return ds
}
