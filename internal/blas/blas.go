package blas

import (
	"math"
	"os"
	"runtime"
	"strings"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// EnvVar is the environment variable that chooses the backend. Unset (or
// "kernels"), robustq's AVX-512 kernels run where the CPU has AVX-512, its
// AVX2+FMA kernels where it has those, and OpenBLAS, then gonum, elsewhere.
// "avx2" runs the AVX2+FMA kernels even where AVX-512 is present (to
// compare; elsewhere it is the default order). A path to a shared library
// exporting cblas_sgemm is tried before the default OpenBLAS names (and the
// kernels are not used); "openblas" tries only those names; "gonum" or
// "off" (any case) forces the pure-Go fallback.
const EnvVar = "ROBUSTQ_BLAS"

// CBLAS enumeration values (cblas.h).
const (
	cblasRowMajor = 101
	cblasNoTrans  = 111
	cblasTrans    = 112
)

// Panic messages, the same strings gonum's Sgemm panics with, so that a
// caller sees the same failure whichever backend runs.
const (
	badTranspose = "blas: illegal transpose"
	mLT0         = "blas: m < 0"
	nLT0         = "blas: n < 0"
	kLT0         = "blas: k < 0"
	badLdA       = "blas: bad leading dimension of A"
	badLdB       = "blas: bad leading dimension of B"
	badLdC       = "blas: bad leading dimension of C"
	shortA       = "blas: insufficient length of a"
	shortB       = "blas: insufficient length of b"
	shortC       = "blas: insufficient length of c"
)

// cblasSgemm is the C prototype of cblas_sgemm with LP64 (32-bit) integers:
// order, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc.
type cblasSgemm func(order, tA, tB, m, n, k int32, alpha float32, a *float32, lda int32, b *float32, ldb int32, beta float32, c *float32, ldc int32)

// library is a loaded shared library that exports cblas_sgemm.
type library struct {
	path  string
	sgemm cblasSgemm
	// setThreads and getThreads are openblas_set_num_threads and
	// openblas_get_num_threads, or nil when the library does not export them.
	setThreads func(n int32)
	getThreads func() int32
	// core is openblas_get_corename's answer ("" when not exported), and
	// coreNote says why, when robustq chose it rather than OpenBLAS.
	core, coreNote string
}

// backend is the chosen implementation: robustq's assembly kernels of the
// set kernels when it is not noKernels, else the library lib, else gonum
// (lib nil).
type backend struct {
	lib     *library
	kernels kernelSet
}

// String reports the backend as Backend does.
func (be backend) String() string {
	if be.kernels != noKernels {
		return be.kernels.String()
	}
	if be.lib == nil {
		return "gonum"
	}
	s := "openblas: " + be.lib.path
	if be.lib.core == "" {
		return s
	}
	kernels := be.lib.core + " kernels"
	if be.lib.coreNote != "" {
		kernels += ", " + be.lib.coreNote
	}
	return s + " (" + kernels + ")"
}

// candidates lists the libraries to try, in order, for the value env of
// ROBUSTQ_BLAS; it returns nil when env forces the gonum fallback.
func candidates(env string) []string {
	env = strings.TrimSpace(env)
	if strings.EqualFold(env, "gonum") || strings.EqualFold(env, "off") {
		return nil
	}
	var paths []string
	if env != "" && !isKeyword(env) {
		paths = append(paths, env)
	}
	paths = append(paths, "libopenblas.so.0", "libopenblas.so")
	triplet := map[string]string{"amd64": "x86_64-linux-gnu", "arm64": "aarch64-linux-gnu"}[runtime.GOARCH]
	if runtime.GOOS == "linux" && triplet != "" {
		// Debian and Ubuntu: the alternatives link, then the variants that
		// the packages libopenblas0-pthread, -openmp and -serial install.
		dir := "/usr/lib/" + triplet + "/"
		paths = append(paths,
			dir+"libopenblas.so.0",
			dir+"openblas-pthread/libopenblas.so.0",
			dir+"openblas-openmp/libopenblas.so.0",
			dir+"openblas-serial/libopenblas.so.0",
		)
	}
	return paths
}

// isKeyword reports whether env names a backend rather than a library path.
func isKeyword(env string) bool {
	return strings.EqualFold(env, "kernels") || strings.EqualFold(env, "avx2") || strings.EqualFold(env, "openblas")
}

// choose returns the backend for the value env of ROBUSTQ_BLAS, given the
// kernel sets the CPU runs (cpu): with env empty or "kernels", the
// AVX-512 kernels, else the AVX2 ones; with "avx2", the AVX2 ones; where
// those do not run, the first candidate library that open loads, with its
// thread count set to threads when threads > 0 and the library allows it,
// or gonum when none loads. It never panics on a missing or unusable
// library.
func choose(env string, threads int, open func(path string) (*library, error), cpu cpuKernels) backend {
	env = strings.TrimSpace(env)
	if env == "" || strings.EqualFold(env, "kernels") || strings.EqualFold(env, "avx2") {
		switch {
		case cpu.avx512 && !strings.EqualFold(env, "avx2"):
			return backend{kernels: avx512Kernels}
		case cpu.avx2:
			return backend{kernels: avx2Kernels}
		}
	}
	for _, p := range candidates(env) {
		lib, err := open(p)
		if err != nil || lib == nil {
			continue
		}
		if threads > 0 && lib.setThreads != nil {
			lib.setThreads(int32(min(threads, math.MaxInt32)))
		}
		return backend{lib: lib}
	}
	return backend{}
}

// threadsFromEnv is the OpenBLAS thread count choose sets: 0 (leave the
// library's own choice) when the user set one of the variables OpenBLAS reads
// itself, runtime.GOMAXPROCS(0) otherwise.
func threadsFromEnv() int {
	for _, v := range []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"} {
		if os.Getenv(v) != "" {
			return 0
		}
	}
	return runtime.GOMAXPROCS(0)
}

// process holds the backend chosen once per process, on first use.
var process struct {
	once sync.Once
	be   backend
}

// current returns the process's backend, choosing it on the first call.
func current() backend {
	process.once.Do(func() {
		process.be = choose(os.Getenv(EnvVar), threadsFromEnv(), openLibrary, cpuKernels{haveAVX512, haveAVX2})
	})
	return process.be
}

// Backend says which implementation Sgemm uses in this process:
// "robustq AVX-512 kernels (Go assembly)", "robustq AVX2+FMA kernels (Go
// assembly)", "openblas: <path> (<core> kernels)" with the path that was
// loaded and OpenBLAS's kernel set, or "gonum". The first call to Backend
// or Sgemm makes the choice; later changes to the environment have no
// effect.
func Backend() string {
	return current().String()
}

// Kernels reports whether Sgemm runs robustq's assembly kernels (either
// set) in this process, which read matrices given by row offsets
// (PackedA.SgemmRows, SgemmRowsT, SgemmRowsA) in place; other backends copy
// them first.
func Kernels() bool { return current().kernels != noKernels }

// KernelsAVX2 reports whether the kernels that run are the AVX2+FMA ones:
// where the CPU lacks AVX-512, or ROBUSTQ_BLAS=avx2 asked for them. nn's
// elementwise loops follow the same choice.
func KernelsAVX2() bool { return current().kernels == avx2Kernels }

// cpuKernels is the kernel sets the CPU and the operating system run.
type cpuKernels struct{ avx512, avx2 bool }

// SetThreads sets the number of threads OpenBLAS runs each Sgemm call on to
// n (at least 1), for the whole process, and reports whether it did: false
// when the backend is gonum or the kernels (which run on the calling
// goroutine), or the library does not export
// openblas_set_num_threads. The first choice, made when the library loads,
// is runtime.GOMAXPROCS(0), unless OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or
// OMP_NUM_THREADS is set, which the library then obeys.
//
// OpenBLAS threads are not goroutines: callers that already run Sgemm from
// GOMAXPROCS goroutines at once should set 1, or the machine is
// oversubscribed. Call SetThreads while no Sgemm is running.
func SetThreads(n int) bool {
	return current().setThreads(n)
}

// setThreads is SetThreads on be.
func (be backend) setThreads(n int) bool {
	if be.lib == nil || be.lib.setThreads == nil {
		return false
	}
	be.lib.setThreads(int32(min(max(n, 1), math.MaxInt32)))
	return true
}

// Sgemm computes, in row-major storage,
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or Xᵀ as tA and tB say (blas.ConjTrans means blas.Trans),
// op(A) is m×k, op(B) is k×n and C is m×n. It has exactly the semantics of
// gonum's [gonum.Implementation.Sgemm] (the same argument checks and the
// same results up to float32 rounding) with one exception taken from the
// reference BLAS: when alpha is 0 (or k is 0), A and B are not read, so Inf
// or NaN there does not turn C into NaN, where gonum multiplies them by 0.
// When beta is 0, C is overwritten without being read (NaN in C does not
// propagate). Elements of C outside the m×n window and elements of A and B
// outside theirs are neither written nor used.
//
// It panics if tA or tB is not a valid blas.Transpose, if m, n or k is
// negative, if a leading dimension is smaller than the row length of its
// matrix (or than 1), or if a, b or c is too short for the sizes and leading
// dimensions given, with the same messages as gonum. A, B and C must not
// overlap C.
func Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(current(), tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemm is Sgemm on the given backend.
func sgemm(be backend, tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	check(tA, tB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if alpha == 0 || k == 0 {
		// Done here for both backends, so that neither reads A or B
		// (gonum would multiply them by 0, turning Inf and NaN into NaN).
		scale(beta, m, n, c, ldc)
		return
	}
	if be.kernels != noKernels {
		kernelSgemm(be.kernels, tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if be.lib == nil || !fitsInt32(m, n, k, lda, ldb, ldc) {
		// Sizes beyond cblas's 32-bit integers go to gonum.
		gonum.Implementation{}.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	// m, n, k ≥ 1 and check passed, so a, b and c have an element 0.
	be.lib.sgemm(cblasRowMajor, cblasTranspose(tA), cblasTranspose(tB), int32(m), int32(n), int32(k),
		alpha, &a[0], int32(lda), &b[0], int32(ldb), beta, &c[0], int32(ldc))
	runtime.KeepAlive(a)
	runtime.KeepAlive(b)
	runtime.KeepAlive(c)
}

// scale sets the m×n matrix C to beta·C; to 0 when beta is 0, whatever C
// held.
func scale(beta float32, m, n int, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// cblasTranspose maps a valid blas.Transpose to its CBLAS value.
func cblasTranspose(t blas.Transpose) int32 {
	if t == blas.NoTrans {
		return cblasNoTrans
	}
	return cblasTrans
}

// fitsInt32 reports whether every value fits a C int.
func fitsInt32(v ...int) bool {
	for _, x := range v {
		if x > math.MaxInt32 {
			return false
		}
	}
	return true
}

// check panics, as gonum's Sgemm does and in the same order, on invalid
// arguments: O(1) work.
func check(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	checkExcept(tA, tB, m, n, k, a, lda, b, ldb, c, ldc, false)
}

// checkExcept is check, without the length check of b when bByRows is set
// (a matrix given by row offsets, which checkRows checks).
func checkExcept(tA, tB blas.Transpose, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, bByRows bool) {
	valid := func(t blas.Transpose) bool {
		return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
	}
	switch {
	case !valid(tA) || !valid(tB):
		panic(badTranspose)
	case m < 0:
		panic(mLT0)
	case n < 0:
		panic(nLT0)
	case k < 0:
		panic(kLT0)
	}
	aTrans, bTrans := tA != blas.NoTrans, tB != blas.NoTrans
	// Rows of op(A) stored: m×k untransposed, k×m transposed; likewise B.
	aRows, aCols := m, k
	if aTrans {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if bTrans {
		bRows, bCols = n, k
	}
	switch {
	case lda < max(1, aCols):
		panic(badLdA)
	case ldb < max(1, bCols):
		panic(badLdB)
	case ldc < max(1, n):
		panic(badLdC)
	}
	if m == 0 || n == 0 {
		return
	}
	switch {
	case len(a) < (aRows-1)*lda+aCols:
		panic(shortA)
	case !bByRows && len(b) < (bRows-1)*ldb+bCols:
		panic(shortB)
	case len(c) < (m-1)*ldc+n:
		panic(shortC)
	}
}
