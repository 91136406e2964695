//go:build !amd64 || noasm

package kernel

// hasAVX512 and hasAVX2 are false: the assembly loops exist for amd64
// only, and the noasm build tag leaves them out there too.
const hasAVX512, hasAVX2 = false, false

func (vec) sums(a, b []float32) (sa, sab float64)             { return sumsGo(a, b) }
func (vec) scaleShift(dst, src []float32, s, t float32)       { scaleShiftGo(dst, src, s, t) }
func (vec) bnGrad(d, g, x []float32, a, b, mean, off float32) { bnGradGo(d, g, x, a, b, mean, off) }
func (vec) leaky(dst, g, x []float32, slope float32)          { leakyGo(dst, g, x, slope) }
func (vec) add(dst, a, b []float32)                           { addGo(dst, a, b) }

func (vec) scaleShiftLeaky(dst, src []float32, s, t, slope float32) {
	scaleShiftLeakyGo(dst, src, s, t, slope)
}
func (vec) sumsMasked(dy, x []float32, s, t, slope float32) (sdy, sdyx float64) {
	return sumsMaskedGo(dy, x, s, t, slope)
}
func (vec) bnGradMasked(d, dy, x []float32, a, b, mean, off, s, t, slope float32) {
	bnGradMaskedGo(d, dy, x, a, b, mean, off, s, t, slope)
}
func (vec) scaleMasked(d, dy, y []float32, s, slope float32) { scaleMaskedGo(d, dy, y, s, slope) }

func (vec) maxPool2Rows(o []float32, am []int32, x []float32, r0, w int) {
	maxPool2RowGo(o, am, x, r0, w)
}

func (vec) im2colChannel(dst, src []float32, p *im2colMasks) bool { return false }

func (vec) copyRows(dst, src []float32, rows, w, ld int) {
	if rows > 0 && w > 0 {
		copyRowsGo(dst, src, rows, w, ld)
	}
}

func transpose16(dst, dst8 *float32, ldd int, src *float32, lds int) {
	panic("nn: transpose16 runs only with AVX-512")
}

func transpose8(dst *float32, ldd int, src *float32, lds int) {
	panic("nn: transpose8 runs only with AVX2")
}
