package pipeline

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strings"
)

// evalBatch is the batch size of the clean-accuracy passes. The inference
// graph of the w = 1 ResNet-32 holds about 1 GB at batch 128 and 2.1 GB at
// 500 (measured with runtime.MemStats), for no gain in speed.
const evalBatch = 100

// LimitHeap sets the Go heap's soft limit to half of the machine's memory
// unless a limit is already set (by GOMEMLIMIT, or by TestHeapLimit in the
// examples' tests). Without a limit, the 24 quantized networks of
// Figure 1 on CIFAR-10 grew the resident memory by about 0.9 GB each (the
// collector freed their graphs but the heap kept growing) until the quick
// profile was killed at 24 GB on the 24 GB development VM; with a 3 GiB
// limit the same loop stayed at 3.0 GB (.scratch experiment, batch 500).
func LimitHeap() {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		return
	}
	if total, err := memTotal(); err == nil {
		debug.SetMemoryLimit(total / 2)
	}
}

// memTotal reads the machine's memory from /proc/meminfo (Linux only).
func memTotal() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("meminfo: %q: %w", sc.Text(), err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("meminfo: no MemTotal line")
}

// TestHeapLimit caps the Go heap of the examples' test binaries at 3 GiB
// (unless GOMEMLIMIT is set), so that their smoke tests fit on small CI
// machines next to other test binaries. Without the cap the garbage
// collector let the CIFAR-10 smoke test reach 13–18 GB of resident memory
// (the pipeline drops each evaluated model's graphs, but the collector
// frees them late); with it the same test peaked at 3.9 GB and ran faster
// (/usr/bin/time -v on the development VM). Call it from TestMain.
func TestHeapLimit() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(3 << 30)
	}
}
