package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// asm runs the AVX-512 loops where the CPU has them (the tests skip elsewhere).
var asm = vec{avx512: true}

// asmLoop is a set of assembly loops and its name in subtests.
type asmLoop struct {
	name string
	v    vec
}

// asmLoops returns the sets of assembly loops the CPU runs.
func asmLoops() []asmLoop {
	var sets []asmLoop
	if hasAVX512 {
		sets = append(sets, asmLoop{"avx512", vec{avx512: true}})
	}
	if hasAVX2 {
		sets = append(sets, asmLoop{"avx2", vec{avx2: true}})
	}
	return sets
}

// TestVecMatchesGo checks each set of assembly loops against the Go loops
// on lengths around their 16- and 8-element blocks, with zeros of both
// signs and NaN among the inputs: bit for bit for the elementwise loops
// (they round the same way), and for the float64 sums within n·2⁻⁵³ of the
// sum of magnitudes (both add exactly converted float32 values and exact
// products in a different order; Higham §3.1 bounds each by n−1 roundings).
func TestVecMatchesGo(t *testing.T) {
	if len(asmLoops()) == 0 {
		t.Skip("the CPU has neither AVX-512 nor AVX2: only the Go loops run")
	}
	for _, set := range asmLoops() {
		t.Run(set.name, func(t *testing.T) { testVecMatchesGo(t, set.v) })
	}
}

func testVecMatchesGo(t *testing.T, asm vec) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 24, 33, 100, 1031} {
		x, y := randSlice(r, n, -3, 3), randSlice(r, n, -3, 3)
		x[0], y[n-1] = float32(math.Copysign(0, -1)), 0
		if n > 2 {
			x[n/2] = float32(math.NaN())
		}
		got, want := make([]float32, n), make([]float32, n)
		same := func(name string) {
			t.Helper()
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) && !(got[i] != got[i] && want[i] != want[i]) {
					t.Errorf("%s, n=%d: [%d] = %v, Go loop %v", name, n, i, got[i], want[i])
					return
				}
			}
		}
		asm.scaleShift(got, x, 1.7, -0.3)
		scaleShiftGo(want, x, 1.7, -0.3)
		same("scaleShift")
		asm.bnGrad(got, y, x, 0.9, -1.1, 0.25, 0.05)
		bnGradGo(want, y, x, 0.9, -1.1, 0.25, 0.05)
		same("bnGrad")
		asm.leaky(got, y, x, 0.1)
		leakyGo(want, y, x, 0.1)
		same("leaky")
		asm.add(got, x, y)
		addGo(want, x, y)
		same("add")
		copy(got, x) // in place, as the residual additions run
		asm.add(got, got, y)
		same("add in place")
		// The fused batch norm + leaky ReLU loops, whose backward ones
		// recompute the sign of z = x·s + t: with s = 1, t = 0 the zeros of
		// both signs and NaN in x reach the comparison as they are. In
		// scaleMasked, y stands for the fused output.
		for _, slope := range []float32{0, 0.1} {
			for _, st := range [][2]float32{{1.7, -0.3}, {1, 0}} {
				asm.scaleShiftLeaky(got, x, st[0], st[1], slope)
				scaleShiftLeakyGo(want, x, st[0], st[1], slope)
				same("scaleShiftLeaky")
				asm.bnGradMasked(got, y, x, 0.9, -1.1, 0.25, 0.05, st[0], st[1], slope)
				bnGradMaskedGo(want, y, x, 0.9, -1.1, 0.25, 0.05, st[0], st[1], slope)
				same("bnGradMasked")
			}
			asm.scaleMasked(got, y, x, 1.3, slope)
			scaleMaskedGo(want, y, x, 1.3, slope)
			same("scaleMasked")
		}

		if n > 2 {
			x[n/2] = 1 // sums: finite inputs
		}
		sa, sab := asm.sums(x, y)
		ga, gab := sumsGo(x, y)
		var ma, mab float64
		for i := range x {
			ma += math.Abs(float64(x[i]))
			mab += math.Abs(float64(x[i]) * float64(y[i]))
		}
		tol := float64(n) * 0x1p-53
		if math.Abs(sa-ga) > tol*ma || math.Abs(sab-gab) > tol*mab {
			t.Errorf("sums, n=%d: (%v, %v), Go loop (%v, %v)", n, sa, sab, ga, gab)
		}
		// Masked sums of dy = x through the signs of y·1.7 − 0.3, against
		// y: the masked terms are at most the unmasked ones in magnitude, so
		// the same bound holds.
		sa, sab = asm.sumsMasked(x, y, 1.7, -0.3, 0.1)
		ga, gab = sumsMaskedGo(x, y, 1.7, -0.3, 0.1)
		if math.Abs(sa-ga) > tol*ma || math.Abs(sab-gab) > tol*mab {
			t.Errorf("sumsMasked, n=%d: (%v, %v), Go loop (%v, %v)", n, sa, sab, ga, gab)
		}
	}
}

// TestMaxPool2RowMatchesGo checks each set's max-pool row against the Go
// loop, bit for bit with the same argmax, on row lengths around its 16- and
// 8-output groups, with ties, ±0 and NaN among the inputs.
func TestMaxPool2RowMatchesGo(t *testing.T) {
	if len(asmLoops()) == 0 {
		t.Skip("the CPU has neither AVX-512 nor AVX2: only the Go loops run")
	}
	for _, set := range asmLoops() {
		t.Run(set.name, func(t *testing.T) { testMaxPool2RowMatchesGo(t, set.v) })
	}
}

func testMaxPool2RowMatchesGo(t *testing.T, asm vec) {
	r := rand.New(rand.NewPCG(13, 14))
	for _, ow := range []int{1, 7, 8, 9, 14, 15, 16, 17, 24, 33} {
		w := 2*ow + 3 // rows wider than the pooled part, as with odd widths
		x := randSlice(r, 3*w, -2, 2)
		for i := range x {
			switch r.IntN(8) {
			case 0:
				x[i] = 1 // ties
			case 1:
				x[i] = float32(math.NaN())
			case 2:
				x[i] = float32(math.Copysign(0, -1))
			}
		}
		for _, r0 := range []int{0, 1, w} { // rows at several offsets
			got, want := make([]float32, ow), make([]float32, ow)
			gi, wi := make([]int32, ow), make([]int32, ow)
			asm.maxPool2Rows(got, gi, x, r0, w)
			maxPool2RowGo(want, wi, x, r0, w)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) || gi[i] != wi[i] {
					t.Fatalf("ow=%d r0=%d: [%d] = %v at %d, Go loop %v at %d", ow, r0, i, got[i], gi[i], want[i], wi[i])
				}
			}
		}
	}
}

// TestIm2colChannelMatchesDefinition checks each set's im2col of one
// channel (im2colChannel) against the definition on both of its layouts:
// width-keeping stride-1 convolutions (masked loads; rows of whole, partial
// and several vectors, output heights other than the input's from kernels
// taller than wide) and the others (gathers; strides 1 to 3, paddings from
// none to more than half the kernel, rows and columns wholly outside the
// image). src is cut from a larger array whose other values are NaN (a lane
// that read outside the image would show one), and dst has NaN past its
// rows, which must stay.
func TestIm2colChannelMatchesDefinition(t *testing.T) {
	if len(asmLoops()) == 0 {
		t.Skip("the CPU has neither AVX-512 nor AVX2: only the Go loops run")
	}
	for _, set := range asmLoops() {
		t.Run(set.name, func(t *testing.T) { testIm2colChannelMatchesDefinition(t, set.v) })
	}
}

func testIm2colChannelMatchesDefinition(t *testing.T, asm vec) {
	r := rand.New(rand.NewPCG(15, 16))
	nan := float32(math.NaN())
	nans := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = nan
		}
		return v
	}
	tested := map[bool]int{}
	for _, w := range []int{1, 3, 8, 14, 16, 17, 32, 48} {
		for _, h := range []int{1, 2, 5, 9} {
			all := nans((h + 4) * w)
			src := all[2*w : (h+2)*w]
			for i := range src {
				src[i] = float32(r.IntN(1000) + 1)
			}
			for _, kk := range [][2]int{{1, 1}, {3, 3}, {5, 5}, {3, 1}, {1, 5}, {7, 7}} {
				kh, kw := kk[0], kk[1]
				for stride := 1; stride <= 3; stride++ {
					for pad := 0; pad <= kw/2+1; pad++ {
						k, err := NewConv([]int{1, 1, h, w}, []int{1, 1, kh, kw}, ConvConfig{Stride: stride, Pad: pad}, Options{})
						if err != nil {
							continue
						}
						tested[k.sameWidth()]++
						n := k.oh * k.ow
						dst := nans(kh*kw*n + 17)
						if !asm.im2colChannel(dst, src, k.planeMasks()) {
							t.Fatal("declined")
						}
						desc := fmt.Sprintf("w=%d h=%d %dx%d stride %d pad %d", w, h, kh, kw, stride, pad)
						for i := range kh {
							for j := range kw {
								for q, got := range dst[(i*kw+j)*n:][:n] {
									want := float32(0)
									iy, ix := q/k.ow*stride+i-pad, q%k.ow*stride+j-pad
									if iy >= 0 && iy < h && ix >= 0 && ix < w {
										want = src[iy*w+ix]
									}
									if got != want {
										t.Fatalf("%s: row (%d,%d) [%d] = %v, want %v", desc, i, j, q, got, want)
									}
								}
							}
						}
						for i, v := range dst[kh*kw*n:] {
							if v == v {
								t.Fatalf("%s: wrote %v past the rows (+%d)", desc, v, i)
							}
						}
					}
				}
			}
		}
	}
	// Counts of the layouts checked, so that neither path goes untested.
	if tested[true] < 50 || tested[false] < 100 {
		t.Errorf("layouts tested: %d width-keeping, %d others", tested[true], tested[false])
	}
}

// TestCopyRowsMatchesGo checks each set's row copy of padImage against
// the Go loop on row widths around its 16- and 8-value vectors and several
// distances between the destination's rows: the values between those rows
// (NaN here) must stay as they are.
func TestCopyRowsMatchesGo(t *testing.T) {
	if len(asmLoops()) == 0 {
		t.Skip("the CPU has neither AVX-512 nor AVX2: only the Go loops run")
	}
	for _, set := range asmLoops() {
		t.Run(set.name, func(t *testing.T) { testCopyRowsMatchesGo(t, set.v) })
	}
}

func testCopyRowsMatchesGo(t *testing.T, asm vec) {
	r := rand.New(rand.NewPCG(19, 20))
	nan := float32(math.NaN())
	for _, w := range []int{1, 5, 7, 8, 9, 15, 16, 17, 32, 34} {
		for _, rows := range []int{1, 2, 5} {
			for _, gap := range []int{0, 2, 17} {
				ld := w + gap
				src := randSlice(r, rows*w, -1, 1)
				got, want := make([]float32, rows*ld+3), make([]float32, rows*ld+3)
				for i := range got {
					got[i], want[i] = nan, nan
				}
				asm.copyRows(got, src, rows, w, ld)
				copyRowsGo(want, src, rows, w, ld)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("w=%d rows=%d ld=%d: [%d] = %v, Go loop %v", w, rows, ld, i, got[i], want[i])
					}
				}
			}
		}
	}
}

// TestTranspose16 checks the AVX-512 16×16 transpose against its Go
// definition, with row strides other than 16 and the second half of the
// result apart from the first (as transposeGrad writes two image rows).
func TestTranspose16(t *testing.T) {
	if !hasAVX512 {
		t.Skip("the CPU has no AVX-512: only the Go loops run")
	}
	r := rand.New(rand.NewPCG(13, 14))
	const lds, ldd = 37, 20
	src := randSlice(r, 15*lds+16, -1, 1)
	got, want := make([]float32, 20*ldd+16), make([]float32, 20*ldd+16)
	transpose16(&got[0], &got[10*ldd], ldd, &src[0], lds)
	transpose16Go(want, want[10*ldd:], ldd, src, lds)
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("[%d] (row %d, value %d) = %v, want %v", i, i/ldd, i%ldd, got[i], want[i])
		}
	}
}

// TestTranspose8 checks the AVX2 8×8 transpose against its definition,
// with row strides other than 8.
func TestTranspose8(t *testing.T) {
	if !hasAVX2 {
		t.Skip("the CPU has no AVX2: only the Go loops run")
	}
	r := rand.New(rand.NewPCG(17, 18))
	const lds, ldd = 29, 11
	src := randSlice(r, 7*lds+8, -1, 1)
	got := make([]float32, 7*ldd+8)
	transpose8(&got[0], ldd, &src[0], lds)
	for p := range 8 {
		for c := range 8 {
			if got[p*ldd+c] != src[c*lds+p] {
				t.Fatalf("row %d, value %d = %v, want %v", p, c, got[p*ldd+c], src[c*lds+p])
			}
		}
	}
	for i, v := range got {
		if i%ldd >= 8 && v != 0 {
			t.Fatalf("[%d] (row %d, value %d) written: %v", i, i/ldd, i%ldd, v)
		}
	}
}
