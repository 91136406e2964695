package pipeline

import (
	"os"
	"runtime/debug"
)

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
