//go:build (linux || darwin) && (amd64 || arm64)

package blas

import (
	"fmt"

	"github.com/ebitengine/purego"
)

// openLibrary loads the shared library at path (a file name is looked up as
// dlopen does) and binds cblas_sgemm and, when exported,
// openblas_set_num_threads and openblas_get_num_threads. A library without cblas_sgemm is closed again and
// reported as an error.
func openLibrary(path string) (*library, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, fmt.Errorf("blas: %s: %w", path, err)
	}
	sym, err := purego.Dlsym(h, "cblas_sgemm")
	if err != nil {
		_ = purego.Dlclose(h)
		return nil, fmt.Errorf("blas: %s: %w", path, err)
	}
	lib := &library{path: path}
	purego.RegisterFunc(&lib.sgemm, sym)
	if sym, err := purego.Dlsym(h, "openblas_set_num_threads"); err == nil {
		purego.RegisterFunc(&lib.setThreads, sym)
	}
	if sym, err := purego.Dlsym(h, "openblas_get_num_threads"); err == nil {
		purego.RegisterFunc(&lib.getThreads, sym)
	}
	// The handle stays open for the life of the process.
	return lib, nil
}
