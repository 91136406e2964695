//go:build !((linux || darwin) && (amd64 || arm64))

package blas

import "errors"

// openLibrary always fails on platforms where purego cannot call C without
// cgo, so Sgemm uses gonum there.
func openLibrary(path string) (*library, error) {
	return nil, errors.New("blas: loading " + path + ": shared libraries are not supported on this platform")
}
