package pipeline

import (
	"fmt"
	"math"
	"strings"
)

// paperRow is one model's row of a table of the paper ("Improving
// Adversarial Robustness in Weight-quantized Neural Networks", Song,
// Fallon, Li): accuracy in % as printed, in the order of the columns.
type paperRow struct {
	label string
	acc   []float64
}

// paperWhiteBox holds the paper's Tables 1 (MNIST) and 3 (CIFAR-10):
// clean, then table1Cols.
var paperWhiteBox = map[int][]paperRow{
	1: {
		{"Orig.", []float64{99.17, 39.40, 73.53, 7.67, 4.38, 5.68, 6.77}},
		{"Orig. (Q)", []float64{98.97, 36.98, 68.70, 7.40, 2.63, 3.53, 4.27}},
		{"Orig.+mu", []float64{99.06, 34.97, 78.55, 6.32, 7.25, 8.61, 9.04}},
		{"Orig.+mu (Q)", []float64{98.94, 33.09, 73.78, 5.95, 5.21, 6.32, 6.82}},
		{"Adv.", []float64{98.40, 94.51, 98.01, 96.24, 97.77, 97.41, 97.32}},
		{"Adv. (Q)", []float64{42.69, 25.56, 37.28, 32.28, 33.78, 31.44, 30.72}},
		{"Adv.+mu", []float64{97.97, 91.77, 97.00, 95.18, 96.79, 95.99, 95.90}},
		{"Adv.+mu (Q)", []float64{37.12, 28.20, 35.35, 31.15, 34.29, 32.64, 32.15}},
		{"F.L.", []float64{99.17, 51.60, 89.69, 39.43, 39.92, 41.42, 43.25}},
		{"F.L. (Q)", []float64{98.99, 49.49, 87.93, 38.36, 35.35, 36.48, 38.33}},
		{"F.L.+mu", []float64{99.11, 48.08, 89.25, 70.86, 57.39, 64.53, 64.92}},
		{"F.L.+mu (Q)", []float64{98.93, 47.65, 88.31, 69.45, 55.24, 62.64, 62.92}},
	},
	3: {
		{"Orig.", []float64{95.00, 9.30, 20.90, 10.60, 2.20, 2.60, 2.50}},
		{"Orig. (Q)", []float64{47.92, 13.60, 16.80, 11.90, 11.10, 17.80, 17.70}},
		{"Orig.+mu", []float64{94.05, 5.30, 95.30, 94.90, 64.40, 95.30, 95.30}},
		{"Orig.+mu (Q)", []float64{51.55, 11.60, 45.10, 46.80, 30.80, 49.50, 49.40}},
		{"Adv.", []float64{87.27, 54.20, 74.70, 36.80, 66.80, 57.60, 59.70}},
		{"Adv. (Q)", []float64{19.84, 15.80, 17.50, 10.90, 17.90, 18.20, 17.70}},
		{"Adv.+mu", []float64{85.70, 51.90, 83.30, 83.20, 81.60, 83.30, 83.30}},
		{"Adv.+mu (Q)", []float64{16.80, 17.00, 16.70, 16.70, 17.00, 17.30, 17.50}},
		{"F.L.", []float64{93.77, 20.30, 39.70, 27.50, 4.00, 4.00, 4.00}},
		{"F.L. (Q)", []float64{90.14, 21.30, 42.60, 28.70, 5.90, 5.90, 5.80}},
		{"F.L.+mu", []float64{93.80, 20.70, 92.80, 92.30, 89.50, 92.80, 92.80}},
		{"F.L.+mu (Q)", []float64{92.20, 23.10, 90.80, 90.70, 86.90, 90.80, 90.80}},
	},
}

// paperBlackBox holds the paper's Tables 2 (MNIST) and 4 (CIFAR-10), in
// the order of table2Cols.
var paperBlackBox = map[int][]paperRow{
	2: {
		{"Orig.", []float64{97.56, 98.95, 97.80, 93.30, 97.19, 98.85}},
		{"Orig. (Q)", []float64{97.47, 98.47, 96.26, 90.08, 95.50, 98.38}},
		{"Orig.+mu", []float64{97.31, 98.72, 97.16, 90.61, 96.16, 98.69}},
		{"Orig.+mu (Q)", []float64{96.83, 98.31, 96.15, 88.69, 95.16, 98.27}},
		{"Adv.", []float64{97.28, 98.30, 98.22, 96.17, 77.16, 98.37}},
		{"Adv. (Q)", []float64{39.42, 45.09, 43.14, 28.02, 17.62, 42.99}},
		{"Adv.+mu", []float64{97.44, 97.83, 97.62, 94.09, 74.06, 97.81}},
		{"Adv.+mu (Q)", []float64{38.02, 40.06, 39.60, 24.48, 15.69, 37.32}},
		{"F.L.", []float64{97.04, 98.90, 97.36, 94.99, 97.01, 98.67}},
		{"F.L. (Q)", []float64{96.38, 98.54, 96.84, 94.38, 96.58, 98.44}},
		{"F.L.+mu", []float64{97.47, 98.70, 96.72, 93.76, 96.64, 98.58}},
		{"F.L.+mu (Q)", []float64{97.68, 98.46, 96.44, 93.54, 96.36, 98.21}},
	},
	4: {
		{"Orig.", []float64{58.90, 55.07, 46.87, 41.12, 21.40, 43.80}},
		{"Orig. (Q)", []float64{23.00, 22.60, 20.64, 19.17, 19.30, 21.80}},
		{"Orig.+mu", []float64{55.95, 52.58, 44.74, 38.62, 20.90, 41.00}},
		{"Orig.+mu (Q)", []float64{25.64, 24.53, 21.41, 20.01, 15.80, 19.30}},
		{"Adv.", []float64{76.44, 75.82, 74.61, 73.48, 70.30, 84.90}},
		{"Adv. (Q)", []float64{19.38, 19.32, 18.92, 18.55, 15.60, 17.80}},
		{"Adv.+mu", []float64{73.24, 72.79, 71.52, 69.90, 68.20, 82.30}},
		{"Adv.+mu (Q)", []float64{15.74, 15.67, 15.23, 14.69, 11.10, 12.10}},
		{"F.L.", []float64{64.70, 61.82, 57.12, 53.68, 79.10, 85.50}},
		{"F.L. (Q)", []float64{62.99, 60.30, 56.07, 52.44, 72.40, 81.90}},
		{"F.L.+mu", []float64{63.69, 60.37, 55.58, 52.04, 73.60, 84.00}},
		{"F.L.+mu (Q)", []float64{62.54, 59.65, 55.03, 51.69, 72.20, 81.90}},
	},
}

// wilson95 is the Wilson score 95% interval, in percent, of an accuracy p
// measured on n images (unlike p ± 1.96·√(p(1−p)/n), it does not shrink
// to a point at p = 0 or 1).
func wilson95(p float64, n int) (lo, hi float64) {
	if n <= 0 || math.IsNaN(p) {
		return math.NaN(), math.NaN()
	}
	const z = 1.96
	nf := float64(n)
	den := 1 + z*z/nf
	mid := (p + z*z/(2*nf)) / den
	half := z * math.Sqrt(p*(1-p)/nf+z*z/(4*nf*nf)) / den
	return 100 * max(0, mid-half), 100 * min(1, mid+half)
}

// sideBySide renders the paper's table number next to ours, cell by cell
// as "ours [95% interval] (paper)"; clean says whether the first paper
// column is clean accuracy (the white-box tables).
func (e *Experiment) sideBySide(number int, cols []string, rows []paperRow, clean bool) string {
	var b strings.Builder
	head := []string{"model"}
	if clean {
		head = append(head, fmt.Sprintf("clean (%d)", e.Profile.NClean))
	}
	head = append(head, cols...)
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|" + strings.Repeat(" --- |", len(head)) + "\n")
	for _, pr := range rows {
		r, ok := e.result(pr.label)
		cells := []string{pr.label}
		vals := pr.acc
		if clean {
			cells = append(cells, cell(r.Clean, e.Profile.NClean, vals[0], ok))
			vals = vals[1:]
		}
		for i, c := range cols {
			v, has := r.Acc[c]
			cells = append(cells, cell(v, e.Profile.NAttack, vals[i], ok && has))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

func cell(ours float64, n int, paper float64, ok bool) string {
	if !ok {
		return fmt.Sprintf("– (%.2f)", paper)
	}
	lo, hi := wilson95(ours, n)
	return fmt.Sprintf("%s [%.1f, %.1f] (%.2f)", pct(ours), lo, hi, paper)
}
