package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// covers runs one of the parallel helpers over [0,n) and checks that every
// index is handed out exactly once, and that no worker index is in use by
// two goroutines at once (the kernels keep scratch space per worker).
func covers(t *testing.T, name string, n int, run func(f func(w, lo, hi int))) {
	t.Helper()
	workers := maxWorkers()
	seen := make([]atomic.Int32, n)
	busy := make([]atomic.Bool, workers)
	run(func(w, lo, hi int) {
		if w < 0 || w >= max(1, workers) || lo < 0 || hi > n || lo >= hi {
			t.Errorf("%s n=%d: worker %d got [%d, %d)", name, n, w, lo, hi)
			return
		}
		if !busy[w].CompareAndSwap(false, true) {
			t.Errorf("%s n=%d: worker index %d used by two goroutines at once", name, n, w)
			return
		}
		defer busy[w].Store(false)
		for i := lo; i < hi; i++ {
			seen[i].Add(1)
		}
	})
	for i := range seen {
		if c := seen[i].Load(); c != 1 {
			t.Errorf("%s n=%d (GOMAXPROCS %d): index %d handed out %d times", name, n, workers, i, c)
		}
	}
}

// TestParallelHelpers checks parallelFor, parallelEach and parallelChunks
// for sizes around their chunking's boundaries, with 1 to 4 workers (more
// than this machine's cores: the crew grows and members park).
func TestParallelHelpers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 4} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 2, 3, 15, 16, 17, 128, 1001} {
			covers(t, "parallelFor", n, func(f func(w, lo, hi int)) {
				if n > 0 {
					parallelFor(n, f)
				}
			})
			covers(t, "parallelEach", n, func(f func(w, lo, hi int)) { parallelEach(n, f) })
			covers(t, "parallelChunks", n, func(f func(w, lo, hi int)) {
				parallelChunks(n, filterGradChunks, func(w, j, lo, hi int) {
					if chunks := min(filterGradChunks, n); lo != j*n/chunks || hi != (j+1)*n/chunks {
						t.Errorf("n=%d: range %d is [%d, %d)", n, j, lo, hi)
					}
					f(w, lo, hi)
				})
			})
		}
	}
}

// TestParallelConcurrentAndNested runs parallelFor from several goroutines
// at once, each nesting parallelEach in it: one call has the crew, the
// others (and the nested ones) start goroutines of their own, and every
// index is still covered once.
func TestParallelConcurrentAndNested(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(2)
	const callers, calls, n, inner = 4, 50, 6, 40
	var wg sync.WaitGroup
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				var total atomic.Int64
				parallelFor(n, func(_, lo, hi int) {
					for range hi - lo {
						parallelEach(inner, func(_, lo, hi int) { total.Add(int64(hi - lo)) })
					}
				})
				if got := total.Load(); got != n*inner {
					t.Errorf("covered %d of %d", got, n*inner)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestParallelForPanic checks that a panic in the caller's range reaches
// the caller only once every range handed to the crew has finished or been
// dropped (none runs after parallelFor has returned), and that the crew
// serves the next call.
func TestParallelForPanic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(4)
	var returned atomic.Bool
	var late atomic.Int32
	func() {
		defer func() {
			returned.Store(true)
			if recover() == nil {
				t.Error("the panic did not reach the caller")
			}
		}()
		parallelFor(4, func(w, _, _ int) {
			if w == 0 {
				panic("range 0")
			}
			time.Sleep(time.Millisecond)
			if returned.Load() {
				late.Add(1)
			}
		})
	}()
	time.Sleep(20 * time.Millisecond) // time for a range left behind to finish
	if n := late.Load(); n != 0 {
		t.Errorf("%d ranges ran on after parallelFor returned", n)
	}
	covers(t, "parallelFor after a panic", 100, func(f func(w, lo, hi int)) { parallelFor(100, f) })
}
