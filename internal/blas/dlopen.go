//go:build (linux || darwin) && (amd64 || arm64)

package blas

import (
	"fmt"
	"os"
	"runtime"

	"github.com/ebitengine/purego"
	"golang.org/x/sys/cpu"
)

// openLibrary loads the shared library at path (a file name is looked up as
// dlopen does) and binds cblas_sgemm and, when exported,
// openblas_set_num_threads, openblas_get_num_threads and
// openblas_get_corename. A library without cblas_sgemm is closed again and
// reported as an error.
//
// OpenBLAS picks its kernels when it loads. A release older than the CPU may
// not recognise it and fall back to SSE3 kernels ("Prescott"), several times
// slower than the AVX2 ones the CPU can run (Debian's 0.3.21 does so on an
// AVX-512 Xeon with AVX512-FP16, that is Sapphire Rapids or newer). When
// that happens, OPENBLAS_CORETYPE is unset and the CPU has AVX2
// and FMA, openLibrary loads the library again with OPENBLAS_CORETYPE=Haswell
// (its AVX2 kernels) and unsets the variable afterwards. A value the user sets
// is always obeyed.
func openLibrary(path string) (*library, error) {
	lib, h, err := bind(path)
	if err != nil {
		return nil, err
	}
	if !needsCoreOverride(lib.core, os.Getenv(coreEnv), runtime.GOARCH == "amd64" && cpu.X86.HasAVX2 && cpu.X86.HasFMA) {
		return lib, nil
	}
	// Reloading re-runs OpenBLAS's start-up only if this was the process's
	// only handle; otherwise the same instance comes back, which is fine.
	if err := purego.Dlclose(h); err != nil {
		return lib, nil // still loaded: keep the first choice
	}
	detected := lib.core
	os.Setenv(coreEnv, overrideCore)
	again, _, err := bind(path)
	os.Unsetenv(coreEnv)
	if err != nil {
		return nil, err
	}
	if again.core != detected {
		again.coreNote = fmt.Sprintf("chosen by robustq: OpenBLAS detected %s on this AVX2 CPU", detected)
	}
	return again, nil
}

// bind opens path and binds its symbols; the handle stays open for the life
// of the process unless openLibrary closes it to reload.
func bind(path string) (*library, uintptr, error) {
	h, err := purego.Dlopen(path, purego.RTLD_NOW|purego.RTLD_LOCAL)
	if err != nil {
		return nil, 0, fmt.Errorf("blas: %s: %w", path, err)
	}
	sym, err := purego.Dlsym(h, "cblas_sgemm")
	if err != nil {
		_ = purego.Dlclose(h)
		return nil, 0, fmt.Errorf("blas: %s: %w", path, err)
	}
	lib := &library{path: path}
	purego.RegisterFunc(&lib.sgemm, sym)
	if sym, err := purego.Dlsym(h, "openblas_set_num_threads"); err == nil {
		purego.RegisterFunc(&lib.setThreads, sym)
	}
	if sym, err := purego.Dlsym(h, "openblas_get_num_threads"); err == nil {
		purego.RegisterFunc(&lib.getThreads, sym)
	}
	if sym, err := purego.Dlsym(h, "openblas_get_corename"); err == nil {
		var corename func() string
		purego.RegisterFunc(&corename, sym)
		lib.core = corename()
	}
	return lib, h, nil
}
