package blas

import (
	"errors"
	"fmt"
	"golang.org/x/sys/cpu"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// backends returns the backends to test: gonum always, each set of
// assembly kernels the CPU runs (AVX-512, AVX2), and OpenBLAS when it loads
// (tests that need one of those call kernelSets or openblas, which skip).
func backends() []backend {
	bes := []backend{{}}
	for _, ks := range kernelSets() {
		bes = append(bes, backend{kernels: ks})
	}
	if be := loadedLibrary(); be.lib != nil {
		bes = append(bes, be)
	}
	return bes
}

// loadedLibrary is the library backend the process would choose without
// the kernels (OpenBLAS when installed), loaded once, or gonum.
var loadedLibrary = sync.OnceValue(func() backend {
	env := os.Getenv(EnvVar)
	if strings.EqualFold(strings.TrimSpace(env), "kernels") {
		env = ""
	}
	return choose(env, threadsFromEnv(), openLibrary, cpuKernels{})
})

// openblas returns the OpenBLAS backend or skips the test.
func openblas(t testing.TB) backend {
	be := loadedLibrary()
	if be.lib == nil {
		t.Skipf("OpenBLAS not loaded (%s=%q; install it with apt-get install libopenblas0): skipping the OpenBLAS comparison", EnvVar, os.Getenv(EnvVar))
	}
	return be
}

// kernelSets returns the sets of assembly kernels the CPU runs.
func kernelSets() []kernelSet {
	var sets []kernelSet
	if haveAVX512 {
		sets = append(sets, avx512Kernels)
	}
	if haveAVX2 {
		sets = append(sets, avx2Kernels)
	}
	return sets
}

func backendName(be backend) string {
	switch {
	case be.kernels == avx512Kernels:
		return "avx512"
	case be.kernels == avx2Kernels:
		return "avx2"
	case be.lib == nil:
		return "gonum"
	}
	return "openblas"
}

// gamma is γ_n = n·u/(1−n·u) for unit roundoff u (Higham, Accuracy and
// Stability of Numerical Algorithms, §3.1): the relative error bound of a
// quantity formed by n roundings.
func gamma(n int, u float64) float64 { return float64(n) * u / (1 - float64(n)*u) }

const (
	u32 = 0x1p-24 // float32 unit roundoff
	u64 = 0x1p-53 // float64 unit roundoff
)

// operands stores op(A) (m×k), op(B) (k×n) and C (m×n) with the given
// transposes and leading dimensions lda, ldb, ldc, which exceed the minimum by
// pad. Elements outside the windows hold NaN (A, B: reading them would poison
// the result) or a sentinel (C: must come back unchanged).
type operands struct {
	tA, tB        blas.Transpose
	m, n, k       int
	a, b, c       []float32
	lda, ldb, ldc int
}

const cSentinel = float32(-12345.5) // any value the products cannot produce

func newOperands(rnd *rand.Rand, tA, tB blas.Transpose, m, n, k, pad int, nanC bool) *operands {
	o := &operands{tA: tA, tB: tB, m: m, n: n, k: k}
	fill := func(rows, cols, pad int, outside float32, nan bool) ([]float32, int) {
		ld := cols + pad
		s := make([]float32, max(0, (rows-1)*ld+cols))
		for i := range s {
			switch {
			case i%ld >= cols:
				s[i] = outside
			case nan:
				s[i] = float32(math.NaN())
			default:
				s[i] = float32(2*rnd.Float64() - 1)
			}
		}
		return s, max(ld, 1)
	}
	nan32 := float32(math.NaN())
	if tA == blas.NoTrans {
		o.a, o.lda = fill(m, k, pad, nan32, false)
	} else {
		o.a, o.lda = fill(k, m, pad, nan32, false)
	}
	if tB == blas.NoTrans {
		o.b, o.ldb = fill(k, n, pad, nan32, false)
	} else {
		o.b, o.ldb = fill(n, k, pad, nan32, false)
	}
	o.c, o.ldc = fill(m, n, pad, cSentinel, nanC)
	return o
}

func (o *operands) at(s []float32, ld int, trans bool, i, j int) float64 {
	if trans {
		i, j = j, i
	}
	return float64(s[i*ld+j])
}

// reference returns alpha·op(A)·op(B) + beta·C in float64 and, per element,
// the bound |α|·Σ|a||b| + |β||c| on the magnitudes involved. Products of
// float32 values are exact in float64. When alpha is 0 the A·B term is absent
// and when beta is 0 the C term is, as in BLAS.
func (o *operands) reference(alpha, beta float32) (ref, mag []float64) {
	ref, mag = make([]float64, o.m*o.n), make([]float64, o.m*o.n)
	for i := range o.m {
		for j := range o.n {
			var s, sa float64
			if alpha != 0 {
				for l := range o.k {
					p := o.at(o.a, o.lda, o.tA != blas.NoTrans, i, l) * o.at(o.b, o.ldb, o.tB != blas.NoTrans, l, j)
					s += p
					sa += math.Abs(p)
				}
			}
			r, ra := float64(alpha)*s, math.Abs(float64(alpha))*sa
			if beta != 0 {
				c := float64(o.c[i*o.ldc+j])
				r += float64(beta) * c
				ra += math.Abs(float64(beta) * c)
			}
			ref[i*o.n+j], mag[i*o.n+j] = r, ra
		}
	}
	return ref, mag
}

func (o *operands) run(be backend, alpha, beta float32) []float32 {
	c := append([]float32(nil), o.c...)
	sgemm(be, o.tA, o.tB, o.m, o.n, o.k, alpha, o.a, o.lda, o.b, o.ldb, beta, c, o.ldc)
	return c
}

var transposes = []struct {
	name   string
	tA, tB blas.Transpose
}{
	{"NN", blas.NoTrans, blas.NoTrans},
	{"NT", blas.NoTrans, blas.Trans},
	{"TN", blas.Trans, blas.NoTrans},
	{"TT", blas.Trans, blas.Trans},
	{"CC", blas.ConjTrans, blas.ConjTrans}, // real data: ConjTrans is Trans
}

// sgemmCase is one random problem of TestSgemm with its float64 reference.
type sgemmCase struct {
	name        string
	o           *operands
	alpha, beta float32
	ref, mag    []float64
	// tolFactor bounds |C−exact| by tolFactor·mag elementwise.
	tolFactor float64
}

// sgemmCases calls f on random problems, the same ones on every call: all
// transposes, odd and real sizes, alpha and beta other than 1 and 0, and
// leading dimensions at and above the minimum.
func sgemmCases(f func(tc sgemmCase)) {
	sizes := []struct{ m, n, k int }{
		{1, 1, 1}, {7, 13, 5}, {1, 65, 9}, {33, 1, 17}, {5, 3, 300},
		{128, 784, 32}, {64, 196, 100},
		// Past the kernels' blocks: m > mcMax rows of packed A; k > dotKC
		// and n > dotNC for the dot products of A·Bᵀ, k > kcMax elsewhere.
		{300, 40, 20}, {9, 300, 600}, {17, 29, 40},
	}
	scalars := []struct{ alpha, beta float32 }{
		{1, 0}, {0.5, -1.5}, {-2, 1}, {0, 0.75}, {1.25, 0},
	}
	rnd := rand.New(rand.NewPCG(1, 1))
	for _, sz := range sizes {
		for _, tr := range transposes {
			for _, sc := range scalars {
				for _, pad := range []int{0, 3} {
					// NaN in C when beta is 0: BLAS must overwrite, not scale.
					o := newOperands(rnd, tr.tA, tr.tB, sz.m, sz.n, sz.k, pad, sc.beta == 0)
					if sc.alpha == 0 {
						// alpha 0: A must not be read, so NaN there must not show.
						for i := range o.a {
							o.a[i] = float32(math.NaN())
						}
					}
					ref, mag := o.reference(sc.alpha, sc.beta)
					f(sgemmCase{
						name: fmt.Sprintf("%dx%dx%d/%s/alpha=%g,beta=%g/pad=%d", sz.m, sz.n, sz.k, tr.name, sc.alpha, sc.beta, pad),
						o:    o, alpha: sc.alpha, beta: sc.beta, ref: ref, mag: mag,
						// Each term of an element passes through at most k+3
						// float32 roundings in any summation order or blocking:
						// its product (or alpha·a), at most k additions on its
						// path through the sum of k+1 terms, and the alpha and
						// beta scalings. So |got−exact| ≤ γ_{k+3}·mag (Higham
						// §3.1); the float64 reference adds at most γ64_{k+3}·mag.
						tolFactor: gamma(sz.k+3, u32) + gamma(sz.k+3, u64),
					})
				}
			}
		}
	}
}

// TestSgemm checks each backend against a float64 reference on random
// matrices with padded leading dimensions.
func TestSgemm(t *testing.T) {
	t.Run("gonum", func(t *testing.T) {
		sgemmCases(func(tc sgemmCase) {
			checkResult(t, tc.name, tc.o, tc.o.run(backend{}, tc.alpha, tc.beta), tc.ref, tc.mag, tc.tolFactor)
		})
	})
	t.Run("openblas", func(t *testing.T) {
		be := openblas(t)
		sgemmCases(func(tc sgemmCase) {
			checkResult(t, tc.name, tc.o, tc.o.run(be, tc.alpha, tc.beta), tc.ref, tc.mag, tc.tolFactor)
		})
	})
	for _, ks := range []kernelSet{avx512Kernels, avx2Kernels} {
		be := backend{kernels: ks}
		t.Run(backendName(be), func(t *testing.T) {
			if !slices.Contains(kernelSets(), ks) {
				t.Skipf("this CPU does not run the %s", ks)
			}
			sgemmCases(func(tc sgemmCase) {
				checkResult(t, tc.name, tc.o, tc.o.run(be, tc.alpha, tc.beta), tc.ref, tc.mag, tc.tolFactor)
			})
		})
	}
}

// TestOpenBLASMatchesGonum compares the two backends directly on the
// problems of TestSgemm.
func TestOpenBLASMatchesGonum(t *testing.T) {
	be := openblas(t)
	sgemmCases(func(tc sgemmCase) {
		g, ob := tc.o.run(backend{}, tc.alpha, tc.beta), tc.o.run(be, tc.alpha, tc.beta)
		bad := 0
		for i := range tc.o.m {
			for j := range tc.o.n {
				x, y := g[i*tc.o.ldc+j], ob[i*tc.o.ldc+j]
				// Both lie within tolFactor·mag of the exact value (see
				// sgemmCases), so within twice that of each other.
				tol := 2 * tc.tolFactor * tc.mag[i*tc.o.n+j]
				if d := math.Abs(float64(x) - float64(y)); !(d <= tol) {
					if bad++; bad <= 3 {
						t.Errorf("%s: C[%d,%d]: gonum %v, openblas %v differ by %g > %g", tc.name, i, j, x, y, d, tol)
					}
				}
			}
		}
	})
}

// checkResult compares C = got with the reference within tolFactor·mag and
// checks that the padding of C still holds the sentinel.
func checkResult(t *testing.T, name string, o *operands, got []float32, ref, mag []float64, tolFactor float64) {
	t.Helper()
	bad := 0
	for i := range o.m {
		for j := 0; j < o.ldc && i*o.ldc+j < len(got); j++ {
			g := got[i*o.ldc+j]
			if j >= o.n {
				if g != cSentinel {
					t.Errorf("%s: wrote C[%d,%d] outside the %dx%d window: %v", name, i, j, o.m, o.n, g)
				}
				continue
			}
			want, tol := ref[i*o.n+j], tolFactor*mag[i*o.n+j]
			if d := math.Abs(float64(g) - want); !(d <= tol) {
				if bad++; bad <= 3 {
					t.Errorf("%s: C[%d,%d] = %v, want %v ± %g", name, i, j, g, want, tol)
				}
			}
		}
	}
}

// TestSgemmEmpty checks the quick returns (m, n or k zero) against gonum,
// whose semantics Sgemm copies: k = 0 still scales C by beta.
func TestSgemmEmpty(t *testing.T) {
	nan := float32(math.NaN())
	for _, be := range backends() {
		for _, tc := range []struct {
			m, n, k     int
			alpha, beta float32
			c           []float32
		}{
			{0, 3, 2, 1, 0.5, nil},
			{3, 0, 2, 1, 0.5, nil},
			{2, 3, 0, 1, 0.5, []float32{1, 2, 3, 4, 5, 6}},
			{2, 3, 0, 1, 0, []float32{nan, nan, nan, nan, nan, nan}},
			{2, 3, 0, 1, 1, []float32{1, 2, 3, 4, 5, 6}},
		} {
			name := fmt.Sprintf("%s/%dx%dx%d/beta=%g", backendName(be), tc.m, tc.n, tc.k, tc.beta)
			// With k = 0, A (k×m, transposed) and B (k×n) may be empty.
			want := append([]float32(nil), tc.c...)
			gonum.Implementation{}.Sgemm(blas.Trans, blas.NoTrans, tc.m, tc.n, tc.k, tc.alpha, nil, max(1, tc.m), nil, max(1, tc.n), tc.beta, want, max(1, tc.n))
			got := append([]float32(nil), tc.c...)
			sgemm(be, blas.Trans, blas.NoTrans, tc.m, tc.n, tc.k, tc.alpha, nil, max(1, tc.m), nil, max(1, tc.n), tc.beta, got, max(1, tc.n))
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: got %v, want gonum's %v", name, got, want)
			}
		}
	}
}

// TestSgemmHugeLeadingDimension checks that a leading dimension beyond a C
// int (legal when the matrix has one row) is handled, by gonum, correctly.
func TestSgemmHugeLeadingDimension(t *testing.T) {
	if strconv.IntSize < 64 {
		t.Skip("needs 64-bit int")
	}
	huge := math.MaxInt32 // a variable, so that 32-bit builds compile
	huge++
	for _, be := range backends() {
		c := []float32{1}
		// 1×1 times 1×1: 3·4 + 0.5·1 = 12.5, exact in float32.
		sgemm(be, blas.NoTrans, blas.NoTrans, 1, 1, 1, 1, []float32{3}, huge, []float32{4}, 1, 0.5, c, huge+6)
		if c[0] != 12.5 {
			t.Errorf("%s: got %v, want 12.5", backendName(be), c[0])
		}
	}
}

// TestSgemmPanics checks that invalid arguments panic with gonum's message,
// whichever backend runs.
func TestSgemmPanics(t *testing.T) {
	s := make([]float32, 12)
	type args struct {
		tA, tB  blas.Transpose
		m, n, k int
		a       []float32
		lda     int
		b       []float32
		ldb     int
		c       []float32
		ldc     int
	}
	ok := args{blas.NoTrans, blas.NoTrans, 2, 3, 4, s[:8], 4, s, 3, s[:6], 3}
	for _, tc := range []struct {
		name  string
		edit  func(*args)
		valid bool
	}{
		{"valid", func(*args) {}, true},
		{"valid transposed", func(x *args) { x.tA, x.tB, x.lda, x.ldb = blas.Trans, blas.Trans, 2, 4 }, true},
		{"bad tA", func(x *args) { x.tA = 0 }, false},
		{"bad tB", func(x *args) { x.tB = 'x' }, false},
		{"m<0", func(x *args) { x.m = -1 }, false},
		{"n<0", func(x *args) { x.n = -1 }, false},
		{"k<0", func(x *args) { x.k = -1 }, false},
		{"lda<k", func(x *args) { x.lda = 3 }, false},
		{"lda<m transposed", func(x *args) { x.tA, x.lda = blas.Trans, 1 }, false},
		{"ldb<n", func(x *args) { x.ldb = 2 }, false},
		{"ldb<k transposed", func(x *args) { x.tB, x.ldb = blas.Trans, 3 }, false},
		{"ldc<n", func(x *args) { x.ldc = 2 }, false},
		{"ldc 0 with n 0", func(x *args) { x.n, x.ldc = 0, 0 }, false},
		{"short a", func(x *args) { x.a = s[:7] }, false},
		{"short b", func(x *args) { x.b = s[:11] }, false},
		{"short c", func(x *args) { x.c = s[:5] }, false},
		{"short a padded", func(x *args) { x.lda, x.a = 5, s[:8] }, false},
		{"nil everything, m 0", func(x *args) { x.m, x.a, x.c = 0, nil, nil }, true},
	} {
		x := ok
		tc.edit(&x)
		catch := func(f func()) (msg any) {
			defer func() { msg = recover() }()
			f()
			return nil
		}
		want := catch(func() {
			gonum.Implementation{}.Sgemm(x.tA, x.tB, x.m, x.n, x.k, 1, x.a, x.lda, x.b, x.ldb, 0, append([]float32(nil), x.c...), x.ldc)
		})
		if (want == nil) != tc.valid {
			t.Fatalf("%s: gonum panics with %v; the test case is wrong", tc.name, want)
		}
		for _, be := range backends() {
			got := catch(func() {
				sgemm(be, x.tA, x.tB, x.m, x.n, x.k, 1, x.a, x.lda, x.b, x.ldb, 0, append([]float32(nil), x.c...), x.ldc)
			})
			if got != want {
				t.Errorf("%s/%s: panic %v, want gonum's %v", tc.name, backendName(be), got, want)
			}
		}
	}
}

// TestSgemmConcurrent calls the process backend from several goroutines at
// once (as nn's parallel kernels do) and checks every result.
func TestSgemmConcurrent(t *testing.T) {
	const m, n, k, calls = 32, 196, 75, 8
	rnd := rand.New(rand.NewPCG(2, 2))
	o := newOperands(rnd, blas.NoTrans, blas.Trans, m, n, k, 1, false)
	ref, mag := o.reference(1, 0)
	tolFactor := gamma(k+3, u32) + gamma(k+3, u64) // as in TestSgemm
	for _, be := range backends() {
		var wg sync.WaitGroup
		results := make([][]float32, 2*runtime.GOMAXPROCS(0)+1)
		for g := range results {
			wg.Go(func() {
				for range calls {
					results[g] = o.run(be, 1, 0)
				}
			})
		}
		wg.Wait()
		for g, got := range results {
			checkResult(t, fmt.Sprintf("%s/goroutine %d", backendName(be), g), o, got, ref, mag, tolFactor)
		}
	}
}

func TestCandidates(t *testing.T) {
	for _, env := range []string{"gonum", "off", "OFF", " Gonum "} {
		if got := candidates(env); got != nil {
			t.Errorf("candidates(%q) = %v, want none", env, got)
		}
	}
	if got := candidates("/opt/lib/libmkl_rt.so"); len(got) < 2 || got[0] != "/opt/lib/libmkl_rt.so" || got[1] != "libopenblas.so.0" {
		t.Errorf("candidates(path) = %v, want the path, then libopenblas.so.0, ...", got)
	}
	for _, env := range []string{"", "kernels", "avx2", "openblas"} {
		if got := candidates(env); len(got) < 2 || got[0] != "libopenblas.so.0" || got[1] != "libopenblas.so" {
			t.Errorf(`candidates(%q) = %v, want libopenblas.so.0, libopenblas.so, ...`, env, got)
		}
	}
}

func TestChoose(t *testing.T) {
	none, avx2, both := cpuKernels{}, cpuKernels{avx2: true}, cpuKernels{avx512: true, avx2: true}
	var tried []string
	var setTo []int32
	fake := func(okPath string, withThreads bool) func(string) (*library, error) {
		return func(p string) (*library, error) {
			tried = append(tried, p)
			if p != okPath {
				return nil, errors.New("not found")
			}
			lib := &library{path: p}
			if withThreads {
				lib.setThreads = func(n int32) { setTo = append(setTo, n) }
			}
			return lib, nil
		}
	}
	for _, tc := range []struct {
		name, env, ok string
		threads       int
		withThreads   bool
		cpu           cpuKernels // the kernel sets the CPU runs
		want          string
		wantTried     int     // candidates tried
		wantSet       []int32 // setThreads calls
	}{
		{"forced gonum", "gonum", "libopenblas.so.0", 2, true, both, "gonum", 0, nil},
		{"forced off", "off", "libopenblas.so.0", 2, true, both, "gonum", 0, nil},
		{"env path first", "/x/libblas.so", "/x/libblas.so", 3, true, both, "openblas: /x/libblas.so", 1, []int32{3}},
		{"env path missing, default found", "/x/libblas.so", "libopenblas.so", 2, true, none, "openblas: libopenblas.so", 3, []int32{2}},
		{"default without kernels", "", "libopenblas.so.0", 2, false, none, "openblas: libopenblas.so.0", 1, nil},
		{"default with kernels", "", "libopenblas.so.0", 2, false, both, avx512Kernels.String(), 0, nil},
		{"default with AVX2 only", "", "libopenblas.so.0", 2, false, avx2, avx2Kernels.String(), 0, nil},
		{"kernels asked for", " Kernels ", "libopenblas.so.0", 2, false, both, avx512Kernels.String(), 0, nil},
		{"kernels asked for, CPU lacks them", "kernels", "libopenblas.so.0", 2, false, none, "openblas: libopenblas.so.0", 1, nil},
		{"AVX2 asked for", " AVX2 ", "libopenblas.so.0", 2, false, both, avx2Kernels.String(), 0, nil},
		{"AVX2 asked for, CPU lacks it", "avx2", "libopenblas.so.0", 2, false, none, "openblas: libopenblas.so.0", 1, nil},
		{"openblas asked for", "OpenBLAS", "libopenblas.so.0", 2, false, both, "openblas: libopenblas.so.0", 1, nil},
		{"threads left alone", "", "libopenblas.so.0", 0, true, none, "openblas: libopenblas.so.0", 1, nil},
		{"nothing found", "", "", 2, true, none, "gonum", len(candidates("")), nil},
	} {
		tried, setTo = nil, nil
		got := choose(tc.env, tc.threads, fake(tc.ok, tc.withThreads), tc.cpu).String()
		if got != tc.want || len(tried) != tc.wantTried || fmt.Sprint(setTo) != fmt.Sprint(tc.wantSet) {
			t.Errorf("%s: got %q after trying %v, threads set %v; want %q after %d tries, threads set %v",
				tc.name, got, tried, setTo, tc.want, tc.wantTried, tc.wantSet)
		}
	}
}

// TestOpenLibraryErrors checks that unusable libraries are errors, not panics.
func TestOpenLibraryErrors(t *testing.T) {
	if _, err := openLibrary("/nonexistent/libopenblas.so.0"); err == nil {
		t.Error("opening a missing file: no error")
	}
	if runtime.GOOS == "linux" {
		// libc is loaded in every process purego runs in; it has no cblas_sgemm.
		lib, err := openLibrary("libc.so.6")
		if err == nil || !strings.Contains(err.Error(), "cblas_sgemm") {
			t.Errorf("opening libc: got %v, %v; want an error about cblas_sgemm", lib, err)
		}
	}
	if be := choose("/nonexistent/lib.so", 1, func(string) (*library, error) { return nil, errors.New("no") }, cpuKernels{avx512: true, avx2: true}); be.lib != nil || be.kernels != noKernels {
		t.Errorf("choose with nothing loadable = %v, want gonum", be)
	}
}

// TestBackendEnv checks the process-level choice, which happens once per
// process, by running this test binary again with ROBUSTQ_BLAS set.
func TestBackendEnv(t *testing.T) {
	if os.Getenv("ROBUSTQ_BLAS_TEST_CHILD") != "" {
		fmt.Printf("backend=%s\n", Backend())
		return
	}
	exe, err := os.Executable()
	if err != nil {
		t.Skipf("cannot find the test binary: %v", err)
	}
	child := func(env string) string {
		cmd := exec.Command(exe, "-test.run=^TestBackendEnv$", "-test.count=1")
		cmd.Env = append(os.Environ(), "ROBUSTQ_BLAS_TEST_CHILD=1", EnvVar+"="+env)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("child with %s=%q: %v\n%s", EnvVar, env, err, out)
		}
		for line := range strings.Lines(string(out)) {
			if b, ok := strings.CutPrefix(strings.TrimSpace(line), "backend="); ok {
				return b
			}
		}
		t.Fatalf("child with %s=%q printed no backend:\n%s", EnvVar, env, out)
		return ""
	}
	for _, env := range []string{"gonum", "off"} {
		if got := child(env); got != "gonum" {
			t.Errorf("%s=%q: Backend() = %q, want gonum", EnvVar, env, got)
		}
	}
	unset := child("")
	want := map[bool]string{true: avx512Kernels.String(), false: avx2Kernels.String()}[haveAVX512]
	if haveAVX512 || haveAVX2 {
		if unset != want {
			t.Errorf("%s unset: Backend() = %q, want %q", EnvVar, unset, want)
		}
	} else if strings.HasPrefix(unset, "robustq") {
		t.Errorf("%s unset: Backend() = %q on a CPU without the kernels", EnvVar, unset)
	}
	if got := child("kernels"); got != unset {
		t.Errorf("%s=kernels: Backend() = %q, want %q as with no setting", EnvVar, got, unset)
	}
	if got := child("avx2"); haveAVX2 && got != avx2Kernels.String() {
		t.Errorf("%s=avx2: Backend() = %q, want %q", EnvVar, got, avx2Kernels.String())
	}
	// A missing path falls through to the default libraries, as
	// "openblas" does, and never to the kernels.
	missing, lib := child("/nonexistent/libopenblas.so"), child("openblas")
	if missing != lib || strings.HasPrefix(lib, "robustq") {
		t.Errorf("%s=<missing path>: Backend() = %q, and with openblas %q; want the same library or gonum", EnvVar, missing, lib)
	}
	t.Logf("this process: %s", Backend())
}

func TestSetThreads(t *testing.T) {
	if (backend{}).setThreads(1) {
		t.Error("gonum backend: setThreads reported success")
	}
	be := openblas(t)
	if be.lib.setThreads == nil || be.lib.getThreads == nil {
		t.Skip("library does not export openblas_set_num_threads and openblas_get_num_threads")
	}
	before := int(be.lib.getThreads())
	defer be.setThreads(before)
	for _, tc := range []struct{ set, want int }{{1, 1}, {0, 1}, {-3, 1}, {2, 2}} {
		if !be.setThreads(tc.set) {
			t.Fatalf("setThreads(%d) failed", tc.set)
		}
		if got := int(be.lib.getThreads()); got != tc.want {
			t.Errorf("after setThreads(%d): openblas_get_num_threads() = %d, want %d", tc.set, got, tc.want)
		}
	}
	// With one thread, results are as checked by TestSgemm.
	be.setThreads(1)
	rnd := rand.New(rand.NewPCG(3, 3))
	o := newOperands(rnd, blas.Trans, blas.NoTrans, 64, 196, 75, 2, false)
	ref, mag := o.reference(0.5, 0)
	checkResult(t, "one thread", o, o.run(be, 0.5, 0), ref, mag, gamma(75+3, u32)+gamma(75+3, u64)) // bound as in sgemmCases
}

func TestThreadsFromEnv(t *testing.T) {
	vars := []string{"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"}
	for _, v := range vars {
		t.Setenv(v, "")
	}
	if got, want := threadsFromEnv(), runtime.GOMAXPROCS(0); got != want {
		t.Errorf("no thread variables: %d, want GOMAXPROCS %d", got, want)
	}
	for _, v := range vars {
		t.Run(v, func(t *testing.T) {
			t.Setenv(v, "3")
			if got := threadsFromEnv(); got != 0 {
				t.Errorf("%s=3: %d, want 0 (leave it to OpenBLAS)", v, got)
			}
		})
	}
}

func TestNeedsCoreOverride(t *testing.T) {
	for _, tc := range []struct {
		core, env string
		avx2FMA   bool
		want      bool
	}{
		{"Prescott", "", true, true},         // OpenBLAS 0.3.21 on Sapphire Rapids
		{"Sandybridge", "", true, true},      // AVX but no AVX2 kernels
		{"Prescott", "", false, false},       // the CPU itself lacks AVX2: Prescott is right
		{"Prescott", "Nehalem", true, false}, // the user's choice is obeyed
		{"Haswell", "", true, false},
		{"SkylakeX", "", true, false},
		{"Zen", "", true, false},
		{"", "", true, false}, // no openblas_get_corename: nothing to go on
	} {
		if got := needsCoreOverride(tc.core, tc.env, tc.avx2FMA); got != tc.want {
			t.Errorf("needsCoreOverride(%q, %q, %v) = %v, want %v", tc.core, tc.env, tc.avx2FMA, got, tc.want)
		}
	}
}

// coreEnvAtStart is the user's OPENBLAS_CORETYPE, read before any test loads
// the library (package variables are set before tests run; the library
// loads on first use), so that a value left behind by the reload is caught.
var coreEnvAtStart = os.Getenv(coreEnv)

// TestLoadedCoreUsesAVX2 checks the reload on this machine: with
// OPENBLAS_CORETYPE unset on a CPU with AVX2 and FMA, the loaded OpenBLAS
// runs AVX2 (or newer) kernels, whatever its own detection said.
func TestLoadedCoreUsesAVX2(t *testing.T) {
	be := openblas(t)
	if coreEnvAtStart != "" || runtime.GOARCH != "amd64" || !cpu.X86.HasAVX2 || !cpu.X86.HasFMA {
		t.Skipf("needs amd64 with AVX2 and FMA and %s unset", coreEnv)
	}
	if be.lib.core == "" {
		t.Skip("library does not export openblas_get_corename")
	}
	if preAVX2Cores[be.lib.core] {
		t.Errorf("loaded OpenBLAS runs %s kernels on an AVX2 CPU", be.lib.core)
	}
	if os.Getenv(coreEnv) != "" {
		t.Errorf("%s left set after loading", coreEnv)
	}
	t.Logf("backend: %s", be)
}
