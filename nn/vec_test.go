package nn

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestVecMatchesGo checks the AVX-512 loops against the Go loops on lengths
// around their 16-element blocks, with zeros of both signs and NaN among
// the inputs: bit for bit for the elementwise loops (they round the same
// way), and for the float64 sums within n·2⁻⁵³ of the sum of magnitudes
// (both add exactly converted float32 values and exact products in a
// different order; Higham §3.1 bounds each by n−1 roundings).
func TestVecMatchesGo(t *testing.T) {
	if !vecAVX512 {
		t.Skip("the CPU has no AVX-512: only the Go loops run")
	}
	r := rand.New(rand.NewPCG(11, 12))
	for _, n := range []int{1, 15, 16, 17, 33, 100, 1031} {
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
		scaleShift(got, x, 1.7, -0.3)
		scaleShiftGo(want, x, 1.7, -0.3)
		same("scaleShift")
		bnGrad(got, y, x, 0.9, -1.1, 0.25, 0.05)
		bnGradGo(want, y, x, 0.9, -1.1, 0.25, 0.05)
		same("bnGrad")
		leaky(got, y, x, 0.1)
		leakyGo(want, y, x, 0.1)
		same("leaky")
		// The fused batch norm + leaky ReLU loops, whose backward ones
		// recompute the sign of z = x·s + t: with s = 1, t = 0 the zeros of
		// both signs and NaN in x reach the comparison as they are. In
		// scaleMasked, y stands for the fused output.
		for _, slope := range []float32{0, 0.1} {
			for _, st := range [][2]float32{{1.7, -0.3}, {1, 0}} {
				scaleShiftLeaky(got, x, st[0], st[1], slope)
				scaleShiftLeakyGo(want, x, st[0], st[1], slope)
				same("scaleShiftLeaky")
				bnGradMasked(got, y, x, 0.9, -1.1, 0.25, 0.05, st[0], st[1], slope)
				bnGradMaskedGo(want, y, x, 0.9, -1.1, 0.25, 0.05, st[0], st[1], slope)
				same("bnGradMasked")
			}
			scaleMasked(got, y, x, 1.3, slope)
			scaleMaskedGo(want, y, x, 1.3, slope)
			same("scaleMasked")
		}

		if n > 2 {
			x[n/2] = 1 // sums: finite inputs
		}
		sa, sab := sums(x, y)
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
		sa, sab = sumsMasked(x, y, 1.7, -0.3, 0.1)
		ga, gab = sumsMaskedGo(x, y, 1.7, -0.3, 0.1)
		if math.Abs(sa-ga) > tol*ma || math.Abs(sab-gab) > tol*mab {
			t.Errorf("sumsMasked, n=%d: (%v, %v), Go loop (%v, %v)", n, sa, sab, ga, gab)
		}
	}
}

// TestMaxPool2RowMatchesGo checks the AVX-512 max-pool row against the Go
// loop, bit for bit with the same argmax, on row lengths around its
// 16-output groups, with ties, ±0 and NaN among the inputs.
func TestMaxPool2RowMatchesGo(t *testing.T) {
	if !vecAVX512 {
		t.Skip("the CPU has no AVX-512: only the Go loops run")
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, ow := range []int{1, 7, 14, 15, 16, 17, 33} {
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
			maxPool2Rows(got, gi, x, r0, w)
			maxPool2RowGo(want, wi, x, r0, w)
			for i := range got {
				if math.Float32bits(got[i]) != math.Float32bits(want[i]) || gi[i] != wi[i] {
					t.Fatalf("ow=%d r0=%d: [%d] = %v at %d, Go loop %v at %d", ow, r0, i, got[i], gi[i], want[i], wi[i])
				}
			}
		}
	}
}

// TestShiftRowsMatchesDefinition checks the vector shift of im2col's rows
// (shiftRows) against its definition on every width it takes, partial last
// vectors included, with src cut from a larger array whose other values are
// NaN (a lane that read outside its valid columns would show one), and
// that it declines the widths it does not take.
func TestShiftRowsMatchesDefinition(t *testing.T) {
	if !vecAVX512 {
		t.Skip("the CPU has no AVX-512: only the Go loops run")
	}
	r := rand.New(rand.NewPCG(15, 16))
	nan := float32(math.NaN())
	for _, w := range []int{1, 2, 4, 8, 16, 32, 48, 64} {
		for _, h := range []int{1, 2, 3, 5} {
			all := make([]float32, (h+4)*w)
			for i := range all {
				all[i] = nan
			}
			src := all[2*w : (h+2)*w]
			for i := range src {
				src[i] = float32(r.IntN(1000) + 1)
			}
			for rows := 1; rows <= h; rows++ {
				for start := 0; start+rows <= h; start++ {
					for dx := -min(w-1, 3); dx <= min(w-1, 3); dx++ {
						dst := make([]float32, rows*w)
						for i := range dst {
							dst[i] = nan
						}
						if !shiftRows(dst, src, start*w, dx, w) {
							t.Fatalf("w=%d: declined", w)
						}
						for q, got := range dst {
							want := float32(0)
							if c := q%w + dx; c >= 0 && c < w {
								want = src[start*w+q+dx]
							}
							if got != want {
								t.Fatalf("w=%d h=%d rows=%d start=%d dx=%d: dst[%d] = %v, want %v", w, h, rows, start, dx, q, got, want)
							}
						}
					}
				}
			}
		}
	}
	for _, w := range []int{3, 5, 24, 80} {
		if shiftRows(make([]float32, w), make([]float32, w), 0, 1, w) {
			t.Errorf("w=%d: taken", w)
		}
	}
	if shiftRows(make([]float32, 16), make([]float32, 16), 16, 0, 16) {
		t.Errorf("rows past src: taken")
	}
}
