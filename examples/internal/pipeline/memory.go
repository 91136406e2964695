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
// limit the same loop (quant.Apply and nn.Accuracy at batch 500 on the
// trained ResNet) stayed at 3.0 GB.
func LimitHeap() {
	if total, err := memTotal(); err == nil {
		limitUnlessSet(total / 2)
	}
}

// limitUnlessSet sets the heap's soft limit to n bytes unless a limit is
// already in force.
func limitUnlessSet(n int64) {
	if debug.SetMemoryLimit(-1) == math.MaxInt64 {
		debug.SetMemoryLimit(n)
	}
}

// memTotal reads the machine's memory from /proc/meminfo (Linux only).
func memTotal() (int64, error) { return procKB("/proc/meminfo", "MemTotal:") }

// peakRSS reads this process's peak resident memory, VmHWM in
// /proc/self/status (Linux only).
func peakRSS() (int64, error) { return procKB("/proc/self/status", "VmHWM:") }

// procKB reads the "<field> <n> kB" line of a /proc file, in bytes.
func procKB(path, field string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err != nil {
				return 0, fmt.Errorf("%s: %q: %w", path, sc.Text(), err)
			}
			return kb << 10, nil
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("%s: no %s line", path, field)
}

// TestHeapLimit caps the Go heap of the examples' test binaries at 3 GiB
// (unless a limit is already set, e.g. by GOMEMLIMIT), so that their smoke tests fit on small CI
// machines next to other test binaries. Without the cap the garbage
// collector let the CIFAR-10 smoke test reach 13–18 GB of resident memory
// (the pipeline drops each evaluated model's graphs, but the collector
// frees them late); with it the same test peaked at 3.9 GB and ran faster
// (/usr/bin/time -v on the development VM). Call it from TestMain.
func TestHeapLimit() { limitUnlessSet(3 << 30) }
