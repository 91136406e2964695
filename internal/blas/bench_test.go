package blas

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// benchSizes are GEMMs that robustq runs (m×n×k: C is m×n, the inner
// dimension is k).
var benchSizes = []struct {
	name    string
	m, n, k int
}{
	{"64x196x800", 64, 196, 800},       // MNIST conv2 (5×5×32→64 at 14×14), one image
	{"64x25088x800", 64, 25088, 800},   // the same for a batch of 128
	{"128x1024x3136", 128, 1024, 3136}, // MNIST FC 3136→1024, batch 128
	{"160x1024x1440", 160, 1024, 1440}, // ResNet w=10: 3×3×160→160 at 32×32, one image
}

var sink float32

// BenchmarkSgemm reports GFLOP/s (2mnk flops per call) for each backend.
func BenchmarkSgemm(b *testing.B) {
	for _, be := range backends(b) {
		for _, sz := range benchSizes {
			b.Run(backendName(be)+"/"+sz.name, func(b *testing.B) { benchSgemm(b, be, sz.m, sz.n, sz.k) })
		}
	}
}

func benchSgemm(b *testing.B, be backend, m, n, k int) {
	rnd := rand.New(rand.NewPCG(1, 1))
	o := newOperands(rnd, blas.NoTrans, blas.NoTrans, m, n, k, 0, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sgemm(be, blas.NoTrans, blas.NoTrans, m, n, k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
	}
	sink += o.c[0]
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkSgemmCallOverhead measures the cost of one call into the C
// library on a 1×1×1 product, the floor under every call.
func BenchmarkSgemmCallOverhead(b *testing.B) {
	for _, be := range backends(b) {
		b.Run(backendName(be), func(b *testing.B) {
			a, x, c := []float32{1}, []float32{2}, []float32{0}
			b.ReportAllocs()
			for b.Loop() {
				sgemm(be, blas.NoTrans, blas.NoTrans, 1, 1, 1, 1, a, 1, x, 1, 0, c, 1)
			}
			sink += c[0]
		})
	}
}

// BenchmarkConcurrent measures how OpenBLAS's own threads and goroutine
// parallelism combine, as nn's conv kernels would use them: G goroutines
// each loop over their share of images, and per image fill an im2col-like
// buffer in Go (a strided gather, memory-bound Go work) and then run the
// GEMM of one MNIST conv2 image (64×196×800). Names are
// threads=<OpenBLAS threads>/goroutines=<G>/<gemm only|im2col+gemm>.
// Reported: aggregate GFLOP/s counting only the GEMM flops.
func BenchmarkConcurrent(b *testing.B) {
	be := openblas(b)
	if be.lib.setThreads == nil {
		b.Skip("library does not export openblas_set_num_threads")
	}
	procs := runtime.GOMAXPROCS(0)
	defer be.lib.setThreads(int32(procs))
	for _, withGo := range []bool{false, true} {
		for _, cfg := range []struct{ threads, goroutines int }{
			{procs, 1}, {1, 1}, {1, procs}, {procs, procs},
		} {
			kind := "gemm"
			if withGo {
				kind = "im2col+gemm"
			}
			name := fmt.Sprintf("threads=%d/goroutines=%d/%s", cfg.threads, cfg.goroutines, kind)
			b.Run(name, func(b *testing.B) {
				be.lib.setThreads(int32(cfg.threads))
				benchConcurrent(b, be, cfg.goroutines, withGo)
			})
		}
	}
}

func benchConcurrent(b *testing.B, be backend, goroutines int, withGo bool) {
	const m, n, k = 64, 196, 800 // MNIST conv2, one image
	const c, h, w, kh, kw = 32, 14, 14, 5, 5
	rnd := rand.New(rand.NewPCG(1, 1))
	type work struct {
		o   *operands
		img []float32
	}
	ws := make([]work, goroutines)
	for g := range ws {
		ws[g].o = newOperands(rnd, blas.NoTrans, blas.NoTrans, m, n, k, 0, false)
		ws[g].img = make([]float32, c*(h+4)*(w+4)) // padded input image
		for i := range ws[g].img {
			ws[g].img[i] = rnd.Float32()
		}
	}
	// im2col for a 5×5 kernel, stride 1, on the padded image: row
	// (ch,dy,dx) of the k×n B matrix holds the shifted image.
	im2col := func(img, cols []float32) {
		r := 0
		for ch := range c {
			for dy := range kh {
				for dx := range kw {
					row := cols[r*n : (r+1)*n]
					for y := range h {
						copy(row[y*w:(y+1)*w], img[(ch*(h+4)+y+dy)*(w+4)+dx:])
					}
					r++
				}
			}
		}
	}
	b.ResetTimer()
	var wg sync.WaitGroup
	for g := range goroutines {
		lo, hi := g*b.N/goroutines, (g+1)*b.N/goroutines
		o := ws[g].o
		wg.Go(func() {
			for range hi - lo {
				if withGo {
					im2col(ws[g].img, o.b)
				}
				sgemm(be, blas.NoTrans, blas.NoTrans, m, n, k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	for _, x := range ws {
		sink += x.o.c[0]
	}
	b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
