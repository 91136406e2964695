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
// dimension is k; tB: B transposed, the filter gradients and dense layers).
var benchSizes = []struct {
	name    string
	m, n, k int
	tB      blas.Transpose
}{
	{"64x196x800", 64, 196, 800, blas.NoTrans},       // MNIST conv2 (5×5×32→64 at 14×14), one image
	{"64x25088x800", 64, 25088, 800, blas.NoTrans},   // the same for a batch of 128
	{"128x1024x3136", 128, 1024, 3136, blas.NoTrans}, // MNIST FC 3136→1024, batch 128
	{"160x1024x1440", 160, 1024, 1440, blas.NoTrans}, // ResNet w=10: 3×3×160→160 at 32×32, one image
	{"16x1024x144", 16, 1024, 144, blas.NoTrans},     // ResNet w=1, stage 1: 3×3×16→16 at 32×32, one image
	{"32x256x288", 32, 256, 288, blas.NoTrans},       // stage 2: 3×3×32→32 at 16×16
	{"64x64x576", 64, 64, 576, blas.NoTrans},         // stage 3: 3×3×64→64 at 8×8
	{"16x144x1024T", 16, 144, 1024, blas.Trans},      // stage 1's filter gradient, one image
	{"64x1024x3136T", 64, 1024, 3136, blas.Trans},    // MNIST FC forward, one worker's 64 rows
}

var sink float32

// BenchmarkSgemm reports GFLOP/s (2mnk flops per call) for each backend,
// on one thread each (OpenBLAS set to one thread, as nn runs it: its
// kernels split the work over goroutines themselves).
func BenchmarkSgemm(b *testing.B) {
	for _, be := range backends() {
		if be.lib != nil && be.setThreads(1) {
			defer be.setThreads(runtime.GOMAXPROCS(0))
		}
		for _, sz := range benchSizes {
			b.Run(backendName(be)+"/"+sz.name, func(b *testing.B) { benchSgemm(b, be, sz.m, sz.n, sz.k, sz.tB) })
		}
	}
}

func benchSgemm(b *testing.B, be backend, m, n, k int, tB blas.Transpose) {
	rnd := rand.New(rand.NewPCG(1, 1))
	o := newOperands(rnd, blas.NoTrans, tB, m, n, k, 0, false)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		sgemm(be, blas.NoTrans, tB, m, n, k, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
	}
	sink += o.c[0]
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkPackedSgemm is BenchmarkSgemm with A packed once outside the
// loop (PackedA), as the convolutions run: a layer's filters are packed
// once per batch. Only the shapes with B untransposed.
func BenchmarkPackedSgemm(b *testing.B) {
	for _, be := range backends() {
		if be.lib != nil && be.setThreads(1) {
			defer be.setThreads(runtime.GOMAXPROCS(0))
		}
		for _, sz := range benchSizes {
			if sz.tB != blas.NoTrans {
				continue
			}
			b.Run(backendName(be)+"/"+sz.name, func(b *testing.B) {
				o := newOperands(rand.New(rand.NewPCG(1, 1)), blas.NoTrans, blas.NoTrans, sz.m, sz.n, sz.k, 0, false)
				var p PackedA
				p.pack(be, blas.NoTrans, sz.m, sz.k, 1, o.a, o.lda)
				for b.Loop() {
					p.Sgemm(blas.NoTrans, sz.n, o.b, o.ldb, 0, o.c, o.ldc)
				}
				sink += o.c[0]
				b.ReportMetric(2*float64(sz.m)*float64(sz.n)*float64(sz.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkSgemmCallOverhead measures the cost of one call into the C
// library on a 1×1×1 product, the floor under every call.
func BenchmarkSgemmCallOverhead(b *testing.B) {
	for _, be := range backends() {
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

// convGeometry is a stride-1 "same" convolution of a c×h×w image by o
// filters of size ks×ks: per image, a GEMM of m×n×k = o×(h·w)×(c·ks·ks).
type convGeometry struct {
	name        string
	c, h, w, ks int
	o           int
}

// BenchmarkConcurrent measures how OpenBLAS's own threads and goroutine
// parallelism combine, as nn's conv kernels would use them: G goroutines
// each loop over their share of images and per image run the GEMM of one
// image, optionally after filling its im2col buffer in Go (a strided
// gather: memory-bound Go work between GEMMs). Names are
// <conv>/threads=<OpenBLAS threads>/goroutines=<G>/<gemm|im2col+gemm>.
// Reported: aggregate GFLOP/s counting only the GEMM flops.
func BenchmarkConcurrent(b *testing.B) {
	be := openblas(b)
	procs := runtime.GOMAXPROCS(0)
	if !be.setThreads(procs) {
		b.Skip("library does not export openblas_set_num_threads")
	}
	defer be.setThreads(procs)
	for _, geo := range []convGeometry{
		{"mnist-conv2", 32, 14, 14, 5, 64},     // 64x196x800
		{"resnet10-conv", 160, 32, 32, 3, 160}, // 160x1024x1440
	} {
		for _, withGo := range []bool{false, true} {
			for _, cfg := range []struct{ threads, goroutines int }{
				{procs, 1}, {1, 1}, {1, procs}, {procs, procs},
			} {
				kind := "gemm"
				if withGo {
					kind = "im2col+gemm"
				}
				name := fmt.Sprintf("%s/threads=%d/goroutines=%d/%s", geo.name, cfg.threads, cfg.goroutines, kind)
				b.Run(name, func(b *testing.B) {
					be.setThreads(cfg.threads)
					benchConcurrent(b, be, geo, cfg.goroutines, withGo)
				})
			}
		}
	}
}

func benchConcurrent(b *testing.B, be backend, geo convGeometry, goroutines int, withGo bool) {
	c, h, w, ks := geo.c, geo.h, geo.w, geo.ks
	ph, pw := h+ks-1, w+ks-1 // zero-padded image
	m, n, k := geo.o, h*w, c*ks*ks
	rnd := rand.New(rand.NewPCG(1, 1))
	type work struct {
		o   *operands
		img []float32
	}
	ws := make([]work, goroutines)
	for g := range ws {
		ws[g].o = newOperands(rnd, blas.NoTrans, blas.NoTrans, m, n, k, 0, false)
		ws[g].img = make([]float32, c*ph*pw)
		for i := range ws[g].img {
			ws[g].img[i] = rnd.Float32()
		}
	}
	// Row (ch,dy,dx) of the k×n im2col matrix holds the image shifted by
	// (dy,dx).
	im2col := func(img, cols []float32) {
		r := 0
		for ch := range c {
			for dy := range ks {
				for dx := range ks {
					row := cols[r*n : (r+1)*n]
					for y := range h {
						copy(row[y*w:(y+1)*w], img[(ch*ph+y+dy)*pw+dx:])
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
	b.ReportMetric(2*float64(m)*float64(n)*float64(k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
