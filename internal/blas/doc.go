// Package blas is the single-precision matrix multiply under robustq's
// conv and dense layers: [Sgemm], with gonum's semantics, run by robustq's
// own AVX-512 kernels where the CPU has AVX-512, by its AVX2+FMA kernels
// where it has those instead, by OpenBLAS on other CPUs where the machine
// has OpenBLAS, and by gonum's pure-Go code otherwise.
//
// # Overview
//
// GEMM is most of a training step. On CPUs with AVX-512 (AVX512F and
// AVX512VL, with the operating system's support, as golang.org/x/sys/cpu
// reports it) Sgemm runs Go-assembly kernels: an 8×32 tile kernel (16 zmm accumulators, one
// broadcast of A against two vectors of B per step) over A packed into
// 8-row panels and B read in place, and a 4×4 dot-product kernel for A·Bᵀ
// with a long inner dimension (rows of both read in place, the last k mod 16
// masked). They are part of the pure-Go build: nothing to install. They run
// the GEMMs of robustq's layers faster than OpenBLAS's AVX2 kernels
// (BenchmarkSgemm; BENCHMARKS.md). The build tag noasm leaves them out, as
// it does gonum's assembly.
//
// CPUs with AVX2 and FMA but no AVX-512 (Haswell to Alder Lake, Zen 1 to 3)
// run a second set with the same structure and tiles that fit their 16 ymm
// registers: 6×16 (12 accumulators) over A packed into 6-row panels, 3×4
// dot products (the last k mod 8 masked), 6×16 tiles with A's rows read in
// place, and 12×8 tiles of runs of three rows.
//
// Beyond Sgemm, the kernels take two forms of A and B that convolutions
// need: [PackedA], a layer's filters packed once for every image of a
// batch, and matrices given by row offsets ([PackedA.SgemmRows],
// [SgemmRowsT], [SgemmRowsA], [SgemmRowsA3]): an implicit im2col matrix,
// whose rows are shifted windows of one zero-padded image, read in place
// instead of copied (for SgemmRowsA by a variant of the 8×32 kernel that
// broadcasts A's values from eight rows read in place; for SgemmRowsA3,
// rows in runs of three one value apart, by an 18×16 kernel that loads each
// of A's values once for its three rows). The other backends accept them
// all and copy where they must.
//
// Elsewhere robustq must still build and run with nothing but Go installed,
// with CGO_ENABLED=0, so OpenBLAS is never linked: on first use the package
// looks for the shared library at run time and calls its cblas_sgemm
// through github.com/ebitengine/purego, which needs no cgo on linux and
// darwin on amd64 and arm64 (the platforms this package enables it on).
// Elsewhere, or when no library loads, Sgemm is gonum's
// [gonum.org/v1/gonum/blas/gonum.Implementation.Sgemm]. [Backend] says which
// one a process uses; [Kernels] whether it is the assembly kernels.
//
// The environment variable ROBUSTQ_BLAS changes the choice: "gonum" or
// "off" force the pure-Go fallback; "openblas" skips the kernels and tries
// the default OpenBLAS names below; a path skips the kernels and tries that
// library first; "avx2" runs the AVX2+FMA kernels even on a CPU with
// AVX-512 (as GODEBUG=cpu.avx512f=off does, which hides AVX-512 from
// golang.org/x/sys/cpu); "kernels" or nothing is the default order.
// [Backend] names the kernel set that runs.
//
// The library is the first of these that loads and exports cblas_sgemm:
//
//  1. the path in the environment variable ROBUSTQ_BLAS, if set (any
//     library with the CBLAS interface will do, under that name);
//  2. libopenblas.so.0 and libopenblas.so, found as the dynamic loader finds
//     them (LD_LIBRARY_PATH, the ld.so cache);
//  3. on Linux, /usr/lib/<multiarch>/libopenblas.so.0 and the variants Debian
//     installs under /usr/lib/<multiarch>/openblas-pthread,
//     openblas-openmp and openblas-serial.
//
// On Debian or Ubuntu, OpenBLAS comes with
//
//	apt-get install libopenblas0
//
// (which pulls in libopenblas0-pthread); nothing else is needed, neither
// headers nor a C compiler. Run with ROBUSTQ_BLAS=gonum to compare against
// the pure-Go path.
//
// OpenBLAS runs each call on its own pool of threads, outside Go's
// scheduler. When it loads, its thread count is set to runtime.GOMAXPROCS(0)
// (unless OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or OMP_NUM_THREADS is set,
// which OpenBLAS then obeys). Code that already calls Sgemm from GOMAXPROCS
// goroutines at once should call [SetThreads](1): OpenBLAS threads on top of
// busy goroutines oversubscribe the cores. In CPU profiles, time inside
// OpenBLAS shows as runtime.cgocall.
//
// # Invariants
//
//   - The backend is chosen once per process, at the first call to Sgemm,
//     Backend or SetThreads; later changes to ROBUSTQ_BLAS have no effect.
//   - A missing or unusable library is never an error and never a panic:
//     Sgemm falls back to gonum.
//   - Sgemm checks its arguments as gonum does, in O(1) time, and panics with
//     gonum's messages on invalid ones, whichever backend runs; it validates
//     nothing else on the hot path.
//   - All backends give the same results up to float32 rounding: each
//     element within γ_{k+3}·(|alpha|·Σ|a||b| + |beta||c|) of the exact value,
//     γ_n = n·u/(1−n·u), u = 2⁻²⁴. They read and write only the windows of A,
//     B and C the sizes define. With beta = 0, C is overwritten unread; with
//     alpha = 0, A and B are not read (here Sgemm follows the reference BLAS
//     rather than gonum, which multiplies them by 0).
//   - Sgemm is safe for concurrent use; results do not depend on the number
//     of OpenBLAS threads beyond float32 rounding. The kernels run each call
//     on the calling goroutine; callers split work across goroutines.
//   - Sizes or leading dimensions beyond a C int (2³¹−1), which the LP64
//     cblas_sgemm cannot take, go to gonum.
package blas
