package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// parallelFor runs f over [0,n) split into contiguous ranges, one per
// worker, and waits for them. Worker w gets index w (for per-worker scratch
// space). The caller runs range 0 itself and hands the others to the crew.
func parallelFor(n int, f func(worker, lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		f(0, 0, n)
		return
	}
	if !crew.TryLock() {
		// The crew is busy with another call (another goroutine's, or
		// this one's caller's): new goroutines for this one.
		spawnFor(n, workers, f)
		return
	}
	defer crew.Unlock()
	for len(crew.members) < workers-1 {
		m := &crewMember{wake: make(chan struct{}, 1)}
		crew.members = append(crew.members, m)
		go m.run()
	}
	call := &crewCall{done: make(chan struct{})}
	call.left.Store(int32(workers - 1))
	tasks := make([]crewTask, workers-1)
	for w := 1; w < workers; w++ {
		t := &tasks[w-1]
		t.f, t.w, t.lo, t.hi, t.call = f, w, w*n/workers, (w+1)*n/workers, call
		crew.members[w-1].give(t)
	}
	finished := false
	defer func() {
		// Run the ranges no member has started yet (or, when f panicked,
		// drop them), then wait for the others: no range outlives the call.
		for i := range tasks {
			if finished {
				tasks[i].runIfFree()
			} else {
				tasks[i].drop()
			}
		}
		call.wait()
	}()
	f(0, 0, n/workers)
	finished = true
}

// spawnFor is parallelFor on new goroutines, one per range.
func spawnFor(n, workers int, f func(worker, lo, hi int)) {
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := w*n/workers, (w+1)*n/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(w, lo, hi)
		}()
	}
	wg.Wait()
}

// crew is the goroutines that run parallelFor's ranges besides the
// caller's, one per extra worker, kept from call to call. A member that
// has finished a range spins for crewSpin before it parks, and so does a
// caller waiting for a member: a training step makes a few hundred
// parallel calls tens of microseconds apart, and waking a parked thread
// takes about as long as a range (BENCHMARKS.md, "worker crew"). One call
// has the crew at a time; others, and calls nested in one, start
// goroutines of their own.
var crew struct {
	sync.Mutex
	members []*crewMember
}

// crewSpin is how long a crew member, or a caller waiting for one, spins
// before it blocks.
const crewSpin = 200 * time.Microsecond

// eachChunksPerWorker is how many chunks parallelEach makes per worker: at
// batch 128 on 2 workers, one image each, so that the worker that finishes
// first waits at most one image's time for the other.
const eachChunksPerWorker = 64

type crewMember struct {
	task   atomic.Pointer[crewTask]
	parked atomic.Bool
	wake   chan struct{}
}

// crewCall counts the ranges of one parallelFor call still running.
type crewCall struct {
	left atomic.Int32
	done chan struct{} // closed when left reaches 0
}

// crewTask is one range of a call, run by whoever claims it first: the
// member it was given to or, if that member has not started it when the
// caller is done with its own range, the caller.
type crewTask struct {
	f         func(worker, lo, hi int)
	w, lo, hi int
	claimed   atomic.Bool
	call      *crewCall
}

func (t *crewTask) runIfFree() {
	if t.claimed.CompareAndSwap(false, true) {
		defer t.call.finished()
		t.f(t.w, t.lo, t.hi)
	}
}

// drop claims t without running it.
func (t *crewTask) drop() {
	if t.claimed.CompareAndSwap(false, true) {
		t.call.finished()
	}
}

// finished counts one range of the call as done.
func (c *crewCall) finished() {
	if c.left.Add(-1) == 0 {
		close(c.done)
	}
}

// wait waits for the call's ranges: spinning for crewSpin, then blocked.
func (c *crewCall) wait() {
	deadline := time.Now().Add(crewSpin)
	for c.left.Load() > 0 {
		if time.Now().After(deadline) {
			<-c.done
			return
		}
		runtime.Gosched()
	}
}

// give hands t to m, waking m if it is parked.
func (m *crewMember) give(t *crewTask) {
	m.task.Store(t)
	if m.parked.Load() {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
}

func (m *crewMember) run() {
	for {
		m.next().runIfFree()
	}
}

// next waits for a task: spinning for crewSpin, then parked until given one.
// Parked is set before the last look, and give looks at it after storing
// the task, so one of the two always sees the other.
func (m *crewMember) next() *crewTask {
	for {
		deadline := time.Now().Add(crewSpin)
		for time.Now().Before(deadline) {
			if t := m.task.Swap(nil); t != nil {
				return t
			}
			runtime.Gosched()
		}
		m.parked.Store(true)
		if t := m.task.Swap(nil); t != nil {
			m.parked.Store(false)
			return t
		}
		<-m.wake
		m.parked.Store(false)
	}
}

// parallelEach runs f over [0,n) in chunks handed to the workers as they
// become free, and waits for them: a worker slowed down (another process,
// the hypervisor taking its core) takes fewer chunks instead of holding the
// others up at the end. Worker w gets index w (for per-worker scratch space)
// and may get several chunks, in any order, so f must compute each index's
// result on its own: per-worker sums would depend on the schedule and no
// longer be reproducible (those use parallelFor).
func parallelEach(n int, f func(worker, lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if n <= 0 {
		return
	}
	if workers <= 1 {
		f(0, 0, n)
		return
	}
	chunk := max(1, n/(eachChunksPerWorker*workers))
	var next atomic.Int64
	parallelFor(workers, func(w, _, _ int) {
		for {
			lo := int(next.Add(int64(chunk))) - chunk
			if lo >= n {
				return
			}
			f(w, lo, min(lo+chunk, n))
		}
	})
}

// parallelChunks runs f over [0,n) split into chunks contiguous ranges (as
// even as can be), handed to the workers as they become free, and waits
// for them. f gets the range's index j besides the worker's: a sum over
// [0,n) made of a partial sum per range, added in range order, is the same
// whatever the number of workers and their schedule.
func parallelChunks(n, chunks int, f func(worker, j, lo, hi int)) {
	chunks = min(chunks, n)
	parallelEach(chunks, func(w, lo, hi int) {
		for j := lo; j < hi; j++ {
			f(w, j, j*n/chunks, (j+1)*n/chunks)
		}
	})
}

// addInOrder adds parts[1:] to parts[0] in order, element by element, with
// the elements split among the workers.
func addInOrder(parts [][]float32) {
	if len(parts) < 2 {
		return
	}
	const block = 4096
	size := len(parts[0])
	parallelEach((size+block-1)/block, func(_, lo, hi int) {
		lo, hi = lo*block, min(hi*block, size)
		dst := parts[0][lo:hi]
		for _, p := range parts[1:] {
			for i, v := range p[lo:hi] {
				dst[i] += v
			}
		}
	})
}

// ParallelRange splits the elementwise work [0, n) into one contiguous
// range per worker, or runs it on the calling goroutine when n is too small
// (under 32 Ki elements per worker) for goroutines to pay.
func ParallelRange(n int, f func(lo, hi int)) {
	const minPerWorker = 1 << 15
	workers := min(runtime.GOMAXPROCS(0), n/minPerWorker)
	if workers <= 1 {
		f(0, n)
		return
	}
	parallelFor(workers, func(w, _, _ int) { f(w*n/workers, (w+1)*n/workers) })
}

func maxWorkers() int { return runtime.GOMAXPROCS(0) }
