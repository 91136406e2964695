package pipeline

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
)

// LimitHeap sets half of /proc/meminfo's MemTotal when no limit is set, and
// leaves a limit that is already set (GOMEMLIMIT, TestHeapLimit) alone.
func TestLimitHeap(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("memTotal reads /proc/meminfo")
	}
	total, err := memTotal()
	if err != nil {
		t.Fatal(err)
	}
	// Any machine that runs these tests has between 256 MiB and 64 TiB.
	if total < 256<<20 || total > 64<<40 {
		t.Fatalf("MemTotal %d bytes", total)
	}
	before := debug.SetMemoryLimit(math.MaxInt64)
	defer debug.SetMemoryLimit(before)
	LimitHeap()
	if got := debug.SetMemoryLimit(-1); got != total/2 {
		t.Errorf("limit %d, want half of %d", got, total)
	}
	debug.SetMemoryLimit(3 << 30)
	LimitHeap()
	if got := debug.SetMemoryLimit(-1); got != 3<<30 {
		t.Errorf("a limit of 3 GiB was changed to %d", got)
	}
}

// peakRSS is at least the live heap, and at most the machine's memory.
func TestPeakRSS(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("peakRSS reads /proc/self/status")
	}
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = 1
	}
	rss, err := peakRSS()
	if err != nil {
		t.Fatal(err)
	}
	total, _ := memTotal()
	if rss < int64(len(buf)) || rss > total {
		t.Errorf("peak RSS %d bytes after touching %d, machine %d", rss, len(buf), total)
	}
	runtime.KeepAlive(buf)
}
