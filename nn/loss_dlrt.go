package nn

// DLRTargeted is the targeted Difference of Logits Ratio loss of Croce and
// Hein (2020) for a target class t, in the form a targeted attack descends
// (the label passed to Eval is the target):
//
//	(max_{j≠t} z_j − z_t) / (z_π1 − (z_π3 + z_π4)/2 + 1e-12)
//
// with z_π the logits sorted in decreasing order. While the example is
// classified as its true class y, max_{j≠t} z_j is z_y and this is
// AutoAttack's DLR-T; it needs no y, and after the prediction leaves y it
// keeps pulling towards t. It needs at least 4 classes.
type DLRTargeted struct{}

var _ Loss = DLRTargeted{}

// Name returns "dlr-t".
func (DLRTargeted) Name() string { return "dlr-t" }

// Eval implements Loss. With fewer than 4 classes the loss and gradient are
// NaN.
func (DLRTargeted) Eval(logits []float32, k int, t []int, losses, grad []float32) {
	for i, target := range t {
		z := logits[i*k : (i+1)*k]
		g := grad[i*k : (i+1)*k]
		clear(g)
		if k < 4 {
			losses[i] = undefined(g)
			continue
		}
		p1, _, p3, p4 := top4(z)
		other := bestOther(z, target)
		num := z[other] - z[target]
		den := z[p1] - (z[p3]+z[p4])/2 + 1e-12
		losses[i] = num / den
		// d/dz of num/den = dnum/den − num·dden/den².
		g[other] += 1 / den
		g[target] -= 1 / den
		c := num / (den * den)
		g[p1] -= c
		g[p3] += c / 2
		g[p4] += c / 2
	}
}

// top4 returns the indices of the four largest logits, in decreasing order
// (lowest index first among ties).
func top4(z []float32) (a, b, c, d int) {
	a, b, c, d = -1, -1, -1, -1
	for j, v := range z {
		switch {
		case a < 0 || v > z[a]:
			a, b, c, d = j, a, b, c
		case b < 0 || v > z[b]:
			b, c, d = j, b, c
		case c < 0 || v > z[c]:
			c, d = j, c
		case d < 0 || v > z[d]:
			d = j
		}
	}
	return a, b, c, d
}
