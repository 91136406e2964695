package pipeline

import (
	"fmt"
	"math"
)

// bits writes per-image correctness as a string of '1' (correct) and '0'.
func bits(b []bool) string {
	out := make([]byte, len(b))
	for i, v := range b {
		out[i] = '0'
		if v {
			out[i] = '1'
		}
	}
	return string(out)
}

// signTest is the exact two-sided sign test (McNemar's exact test when the
// counts are the discordant pairs of two classifiers): the probability,
// under Binomial(pos+neg, ½), of a split at least as uneven as pos:neg.
func signTest(pos, neg int) float64 {
	n := pos + neg
	if n == 0 {
		return 1
	}
	k := min(pos, neg)
	// Σ_{i ≤ k} C(n, i) / 2^n, in logs to stay finite for large n.
	var p float64
	for i := 0; i <= k; i++ {
		lg, _ := math.Lgamma(float64(n + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lr, _ := math.Lgamma(float64(n - i + 1))
		p += math.Exp(lg - li - lr - float64(n)*math.Ln2)
	}
	return min(1, 2*p)
}

// pairedScores compares per-image scores a and b of two models on the same
// images: the mean difference a − b, the half-width of its 95% interval
// (normal approximation), and the sign test's p-value over the images
// where they differ.
type pairedScores struct {
	n          int
	diff, half float64
	pos, neg   int
	p          float64
}

func pairScores(a, b []float64) pairedScores {
	r := pairedScores{n: len(a)}
	if len(a) == 0 || len(a) != len(b) {
		r.diff, r.half, r.p = math.NaN(), math.NaN(), math.NaN()
		return r
	}
	var s, s2 float64
	for i := range a {
		d := a[i] - b[i]
		s += d
		s2 += d * d
		switch {
		case d > 0:
			r.pos++
		case d < 0:
			r.neg++
		}
	}
	n := float64(len(a))
	r.diff = s / n
	v := max(0, s2/n-r.diff*r.diff)
	if len(a) > 1 {
		r.half = 1.96 * math.Sqrt(v*n/(n-1)/n)
	}
	r.p = signTest(r.pos, r.neg)
	return r
}

// scores turns a bit string into 0/1 scores.
func scores(s string) []float64 {
	out := make([]float64, len(s))
	for i := range s {
		if s[i] == '1' {
			out[i] = 1
		}
	}
	return out
}

// subScores returns a − b elementwise (nil when the lengths differ).
func subScores(a, b []float64) []float64 {
	if len(a) != len(b) {
		return nil
	}
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// greater is the verdict on the claim "a > b" from a paired comparison at
// the 5% level: holds when a is significantly greater, does not hold when
// it is significantly smaller, undecided otherwise.
func (r pairedScores) greater() string {
	switch {
	case math.IsNaN(r.p):
		return "**not measured**"
	case r.p < 0.05 && r.diff > 0:
		return "**holds**"
	case r.p < 0.05 && r.diff < 0:
		return "**does not hold**"
	}
	return "**undecided at this sample size**"
}

// String gives the difference in points with its interval and the test.
func (r pairedScores) String() string {
	return fmt.Sprintf("%+.2f ± %.2f points (n = %d; positive on %d images, negative on %d; sign test p = %.2g)",
		100*r.diff, 100*r.half, r.n, r.pos, r.neg, r.p)
}
