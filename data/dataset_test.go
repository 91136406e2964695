package data

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// tinyDataset returns n examples of shape c×h×w whose pixels encode their
// position (so a misplaced copy is visible) and whose labels cycle through
// the classes.
func tinyDataset(n, c, h, w, classes int) *Dataset {
	s := c * h * w
	d := &Dataset{Name: "tiny", Channels: c, Height: h, Width: w, Classes: classes,
		X: make([]float32, n*s), Y: make([]int, n)}
	for i := range d.X {
		d.X[i] = float32(i%256) / 255
	}
	for i := range d.Y {
		d.Y[i] = i % classes
	}
	return d
}

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Errorf("%s: no panic", name)
		}
	}()
	f()
}

func TestDatasetAccessors(t *testing.T) {
	d := tinyDataset(5, 2, 3, 4, 3)
	if got, want := d.Len(), 5; got != want {
		t.Errorf("Len = %d, want %d", got, want)
	}
	if got, want := d.ExampleSize(), 2*3*4; got != want {
		t.Errorf("ExampleSize = %d, want %d", got, want)
	}
	x, y := d.At(3)
	if diff := cmp.Diff(d.X[3*24:4*24], x); diff != "" {
		t.Errorf("At(3) pixels (-want +got):\n%s", diff)
	}
	if y != d.Y[3] {
		t.Errorf("At(3) label = %d, want %d", y, d.Y[3])
	}
	// Labels 0,1,2,0,1 from tinyDataset's cycle.
	if diff := cmp.Diff([]int{2, 2, 1}, d.ClassCounts()); diff != "" {
		t.Errorf("ClassCounts (-want +got):\n%s", diff)
	}
	mustPanic(t, "At(-1)", func() { d.At(-1) })
	mustPanic(t, "At(5)", func() { d.At(5) })
}

func TestSubsetHead(t *testing.T) {
	d := tinyDataset(6, 1, 2, 2, 4)
	s := d.Subset([]int{4, 1, 4})
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	want := slices.Concat(d.X[16:20], d.X[4:8], d.X[16:20])
	if diff := cmp.Diff(want, s.X); diff != "" {
		t.Errorf("Subset pixels (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{d.Y[4], d.Y[1], d.Y[4]}, s.Y); diff != "" {
		t.Errorf("Subset labels (-want +got):\n%s", diff)
	}
	s.X[0], s.Y[0] = 0.5, 3
	if d.X[16] == 0.5 || d.Y[4] == 3 {
		t.Error("Subset shares memory with its source")
	}
	if got := d.Subset(nil); got.Len() != 0 || len(got.X) != 0 || got.Validate() != nil {
		t.Errorf("Subset(nil) = %+v, want an empty valid dataset", got)
	}
	mustPanic(t, "Subset out of range", func() { d.Subset([]int{6}) })
	mustPanic(t, "Subset negative", func() { d.Subset([]int{-1}) })

	for _, tc := range []struct{ n, want int }{{0, 0}, {2, 2}, {6, 6}, {100, 6}} {
		h := d.Head(tc.n)
		if h.Len() != tc.want || len(h.X) != tc.want*4 {
			t.Errorf("Head(%d): Len %d, len(X) %d, want %d, %d", tc.n, h.Len(), len(h.X), tc.want, tc.want*4)
			continue
		}
		if diff := cmp.Diff(d.X[:tc.want*4], h.X, cmp.Comparer(func(a, b float32) bool { return a == b })); diff != "" {
			t.Errorf("Head(%d) pixels (-want +got):\n%s", tc.n, diff)
		}
	}
	h := d.Head(2)
	h.X[0] = 0.75
	if d.X[0] == 0.75 {
		t.Error("Head shares memory with its source")
	}
	mustPanic(t, "Head(-1)", func() { d.Head(-1) })
}

func TestValidate(t *testing.T) {
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, tc := range []struct {
		name   string
		modify func(d *Dataset)
		ok     bool
	}{
		{"valid", func(*Dataset) {}, true},
		{"empty", func(d *Dataset) { d.X, d.Y = nil, nil }, true},
		{"pixel 0 and 1", func(d *Dataset) { d.X[0], d.X[1] = 0, 1 }, true},
		{"zero channels", func(d *Dataset) { d.Channels = 0 }, false},
		{"negative height", func(d *Dataset) { d.Height = -2 }, false},
		{"zero classes", func(d *Dataset) { d.Classes = 0 }, false},
		{"huge shape", func(d *Dataset) { d.Height, d.Width = 1<<20, 1<<20 }, false},
		{"short X", func(d *Dataset) { d.X = d.X[:len(d.X)-1] }, false},
		{"extra label", func(d *Dataset) { d.Y = append(d.Y, 0) }, false},
		{"label = Classes", func(d *Dataset) { d.Y[2] = d.Classes }, false},
		{"negative label", func(d *Dataset) { d.Y[0] = -1 }, false},
		{"NaN pixel", func(d *Dataset) { d.X[5] = nan }, false},
		{"+Inf pixel", func(d *Dataset) { d.X[5] = inf }, false},
		{"pixel above 1", func(d *Dataset) { d.X[5] = 1.0001 }, false},
		{"negative pixel", func(d *Dataset) { d.X[5] = -1e-7 }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := tinyDataset(4, 1, 2, 3, 3)
			tc.modify(d)
			err := d.Validate()
			if tc.ok && err != nil {
				t.Errorf("Validate = %v, want nil", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

// collect ranges over one epoch and copies every batch.
func collect(d *Dataset, bs int, rng *rand.Rand) (idx [][]int, xs [][]float32, ys [][]int) {
	for b := range d.Batches(bs, rng) {
		idx = append(idx, slices.Clone(b.Index))
		xs = append(xs, slices.Clone(b.X))
		ys = append(ys, slices.Clone(b.Y))
	}
	return idx, xs, ys
}

func TestBatchesCoverage(t *testing.T) {
	for _, n := range []int{0, 1, 7, 10} {
		for _, bs := range []int{1, 3, 10, 16} {
			for _, shuffled := range []bool{false, true} {
				d := tinyDataset(n, 2, 1, 3, 4)
				var rng *rand.Rand
				if shuffled {
					rng = rand.New(rand.NewPCG(1, 1))
				}
				idx, xs, ys := collect(d, bs, rng)
				// The number of batches is ceil(n/bs); all but the last are full.
				if want := (n + bs - 1) / bs; len(idx) != want {
					t.Errorf("n=%d bs=%d shuffled=%v: %d batches, want %d", n, bs, shuffled, len(idx), want)
					continue
				}
				seen := make([]int, n)
				var flat []int
				for k, b := range idx {
					want := bs
					if k == len(idx)-1 {
						want = n - bs*(len(idx)-1)
					}
					if len(b) != want || len(ys[k]) != want || len(xs[k]) != want*d.ExampleSize() {
						t.Errorf("n=%d bs=%d: batch %d has %d/%d/%d entries, want %d examples", n, bs, k, len(b), len(ys[k]), len(xs[k]), want)
					}
					for j, i := range b {
						seen[i]++
						flat = append(flat, i)
						x, y := d.At(i)
						if ys[k][j] != y || !slices.Equal(xs[k][j*6:(j+1)*6], x) {
							t.Errorf("n=%d bs=%d: batch %d slot %d does not hold example %d", n, bs, k, j, i)
						}
					}
				}
				for i, c := range seen {
					if c != 1 {
						t.Errorf("n=%d bs=%d shuffled=%v: example %d seen %d times", n, bs, shuffled, i, c)
					}
				}
				if !shuffled {
					for p, i := range flat {
						if p != i {
							t.Errorf("n=%d bs=%d: in-order position %d holds %d", n, bs, p, i)
							break
						}
					}
				}
			}
		}
	}
}

func TestBatchesSeeds(t *testing.T) {
	d := tinyDataset(100, 1, 1, 1, 10)
	order := func(rng *rand.Rand) []int {
		idx, _, _ := collect(d, 7, rng)
		return slices.Concat(idx...)
	}
	a := order(rand.New(rand.NewPCG(1, 2)))
	b := order(rand.New(rand.NewPCG(1, 2)))
	c := order(rand.New(rand.NewPCG(3, 4)))
	if !slices.Equal(a, b) {
		t.Error("same seed gave different orders")
	}
	// Two independent uniform permutations of 100 items coincide with
	// probability 1/100!, so equality here means the seed is ignored.
	if slices.Equal(a, c) {
		t.Error("different seeds gave the same order")
	}
	if slices.IsSorted(a) {
		t.Error("shuffled order is the identity")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	seq := d.Batches(7, rng)
	var epochs [2][]int
	for e := range epochs {
		for bt := range seq {
			epochs[e] = append(epochs[e], bt.Index...)
		}
	}
	if slices.Equal(epochs[0], epochs[1]) {
		t.Error("two epochs over one rng gave the same order")
	}
}

// TestBatchesUniform checks that the shuffle draws every permutation of 4
// items equally often.
func TestBatchesUniform(t *testing.T) {
	const perms, per = 24, 1000 // 4! permutations, expected count each
	d := tinyDataset(4, 1, 1, 1, 2)
	rng := rand.New(rand.NewPCG(7, 8))
	counts := map[[4]int]int{}
	for range perms * per {
		var p [4]int
		k := 0
		for b := range d.Batches(3, rng) {
			for _, i := range b.Index {
				p[k] = i
				k++
			}
		}
		counts[p]++
	}
	if len(counts) != perms {
		t.Fatalf("%d distinct permutations, want %d", len(counts), perms)
	}
	// Each count is Binomial(24000, 1/24): mean 1000, sd sqrt(1000*23/24) ≈ 31;
	// 5 sd gives a false alarm rate far below 1e-4 over 24 counts.
	for p, c := range counts {
		if math.Abs(float64(c-per)) > 5*31 {
			t.Errorf("permutation %v drawn %d times, want about %d", p, c, per)
		}
	}
}

func TestBatchesReuseAndBreak(t *testing.T) {
	d := tinyDataset(10, 1, 2, 2, 3)
	orig := slices.Clone(d.X)
	steps := 0
	for b := range d.Batches(4, nil) {
		for i := range b.X {
			b.X[i] = 0.5
		}
		b.Y[0] = 2
		steps++
		if steps == 2 {
			break
		}
	}
	if steps != 2 {
		t.Errorf("loop ran %d steps after break, want 2", steps)
	}
	if !slices.Equal(orig, d.X) {
		t.Error("changing a Batch changed the dataset")
	}
	mustPanic(t, "batch size 0", func() { d.Batches(0, nil) })
	bad := tinyDataset(3, 1, 2, 2, 3)
	bad.X = bad.X[:5]
	mustPanic(t, "inconsistent dataset", func() { bad.Batches(2, nil) })
}

// TestBatchesAllocs checks that allocations per epoch do not grow with the
// number of batches.
func TestBatchesAllocs(t *testing.T) {
	epochAllocs := func(n int) float64 {
		d := tinyDataset(n, 1, 4, 4, 10)
		rng := rand.New(rand.NewPCG(1, 1))
		return testing.AllocsPerRun(20, func() {
			for b := range d.Batches(2, rng) {
				_ = b
			}
		})
	}
	small, large := epochAllocs(4), epochAllocs(4000)
	if large != small {
		t.Errorf("allocations per epoch: %v for 2 batches, %v for 2000 batches; want equal", small, large)
	}
}

func BenchmarkBatches(b *testing.B) { benchmarkBatches(b, 10000, 128) }

func benchmarkBatches(b *testing.B, n, bs int) {
	d := tinyDataset(n, 1, 28, 28, 10)
	rng := rand.New(rand.NewPCG(1, 1))
	var sink float32
	b.ReportAllocs()
	for b.Loop() {
		for bt := range d.Batches(bs, rng) {
			sink += bt.X[0]
		}
	}
	_ = sink
}
