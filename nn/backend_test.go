package nn

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/robustq/robustq/internal/blas"
)

// stepEnv names the file a child process of TestBackendsAgreeOnTrainingStep
// writes its gradients to. The GEMM backend is chosen once per process, so
// each backend needs its own process.
const stepEnv = "ROBUSTQ_TEST_STEP_OUT"

// TestBackendsAgreeOnTrainingStep runs one training step of the MNIST CNN
// (batch 16, random inputs in [0,1]) with the pure-Go GEMM, with robustq's
// assembly kernels (the default set, then the AVX2 one with its loops) and
// with OpenBLAS, each in a child process, and compares
// the losses and gradients of each accelerated backend with the pure-Go
// ones. It skips the backends that do not run here.
func TestBackendsAgreeOnTrainingStep(t *testing.T) {
	if out := os.Getenv(stepEnv); out != "" {
		writeStep(t, out)
		return
	}
	dir := t.TempDir()
	run := func(backend string) (string, [][]float32) {
		out := filepath.Join(dir, "step-"+backend)
		cmd := exec.Command(os.Args[0], "-test.run=^TestBackendsAgreeOnTrainingStep$", "-test.count=1")
		cmd.Env = append(os.Environ(), stepEnv+"="+out, blas.EnvVar+"="+backend)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child with %s=%q: %v\n%s", blas.EnvVar, backend, err, b)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		name, rest, _ := bytes.Cut(b, []byte{'\n'})
		var tensors [][]float32
		for len(rest) >= 4 {
			n := int(binary.LittleEndian.Uint32(rest))
			v := make([]float32, n)
			k, err := binary.Decode(rest[4:], binary.LittleEndian, v)
			if err != nil {
				t.Fatal(err)
			}
			tensors = append(tensors, v)
			rest = rest[4+k:]
		}
		return string(name), tensors
	}
	goName, goVals := run("gonum")
	tested := 0
	for _, env := range []string{"kernels", "avx2", "openblas"} {
		fastName, fastVals := run(env)
		if fastName == goName || (env != "openblas") != strings.HasPrefix(fastName, "robustq") {
			t.Logf("%s=%s: %s runs (not installed or not supported here)", blas.EnvVar, env, fastName)
			continue
		}
		tested++
		compareStep(t, goName, goVals, fastName, fastVals)
	}
	if tested == 0 {
		t.Skip("neither the assembly kernels nor OpenBLAS run here: only the pure-Go GEMM to test")
	}
}

// compareStep compares the losses and gradients of one training step on
// two backends.
func compareStep(t *testing.T, goName string, goVals [][]float32, fastName string, fastVals [][]float32) {
	t.Helper()
	if len(goVals) != len(fastVals) {
		t.Fatalf("%d tensors vs %d", len(goVals), len(fastVals))
	}
	for i, name := range stepNames(t) {
		a, b := goVals[i], fastVals[i]
		if len(a) != len(b) {
			t.Fatalf("%s: %d values vs %d", name, len(a), len(b))
		}
		var diff, norm float64
		for j := range a {
			d := float64(a[j] - b[j])
			diff += d * d
			norm += float64(a[j]) * float64(a[j])
		}
		rel := math.Sqrt(diff / norm)
		// The two GEMMs add the same float32 products in different orders.
		// Losses and dense-layer gradients are short or well-conditioned
		// sums: they agree to about 1e-6 (measured 3e-8 to 6e-7), so 1e-5.
		// Convolution gradients sum N·H·W = 3136 products of mixed sign
		// that cancel to about 1/√3136 of their absolute sum, and float32
		// accumulation over 3136 terms errs by up to 3136·6e-8 ≈ 2e-4 of
		// that absolute sum: up to ~1e-2 of the result (measured 3e-3 to
		// 7e-3), so 3e-2. A wrong transpose or stride is off by O(1).
		tol := 1e-5
		if strings.HasPrefix(name, "conv") {
			tol = 3e-2
		}
		t.Logf("%s vs %s: %-14s relative L2 difference %.2g (bound %g)", goName, fastName, name, rel, tol)
		if !(rel <= tol) {
			t.Errorf("%s: %s and %s differ by %.3g relative, want ≤ %g", name, goName, fastName, rel, tol)
		}
	}
}

// stepNames names the tensors writeStep writes, in order.
func stepNames(t *testing.T) []string {
	net, err := MNISTCNN(rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"losses"}
	for _, p := range net.Params() {
		names = append(names, p.Name)
	}
	return names
}

// writeStep is the child's half: one Gradients call on a seeded MNIST CNN,
// the backend's name on the first line, then the losses and each
// gradient as a little-endian uint32 length and float32 values.
func writeStep(t *testing.T, path string) {
	net, err := MNISTCNN(rand.New(rand.NewPCG(7, 7)))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(8, 8))
	const n = 16
	x := make([]float32, n*28*28)
	for i := range x {
		x[i] = rng.Float32()
	}
	y := make([]int, n)
	for i := range y {
		y[i] = rng.IntN(10)
	}
	out, err := net.Gradients(x, y, CrossEntropy{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString(blas.Backend() + "\n")
	for _, v := range append([][]float32{out.Losses}, out.Grads...) {
		buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(v))))
		if err := binary.Write(&buf, binary.LittleEndian, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
