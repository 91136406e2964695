package pipeline

import (
	"os"
	"runtime/pprof"
)

// WithCPUProfile runs f, writing a CPU profile of it to path unless path is
// empty.
func WithCPUProfile(path string, f func() error) error {
	if path == "" {
		return f()
	}
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return err
	}
	ferr := f()
	pprof.StopCPUProfile()
	if err := out.Close(); err != nil && ferr == nil {
		return err
	}
	return ferr
}
