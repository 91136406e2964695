package pipeline

import (
	"runtime"
	"runtime/debug"
	"testing"
)

// LimitHeap sets half of /proc/meminfo's MemTotal, and leaves the limit
// alone when the user set GOMEMLIMIT.
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
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)

	t.Setenv("GOMEMLIMIT", "")
	LimitHeap()
	if got := debug.SetMemoryLimit(-1); got != total/2 {
		t.Errorf("limit %d, want half of %d", got, total)
	}
	debug.SetMemoryLimit(before)
	t.Setenv("GOMEMLIMIT", "1GiB")
	LimitHeap()
	if got := debug.SetMemoryLimit(-1); got != before {
		t.Errorf("with GOMEMLIMIT set, limit changed from %d to %d", before, got)
	}
}
