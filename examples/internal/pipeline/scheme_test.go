package pipeline

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

func TestChooseScheme(t *testing.T) {
	// Paper 98.97%: 97.65 is 1.32 away, 99.30 is 0.33 away.
	if got := chooseScheme([]float64{0.9765, 0.9930}, 0.9897); got != 1 {
		t.Errorf("chose %d, want 1", got)
	}
	if got := chooseScheme([]float64{0.50, 0.40}, 0.4792); got != 0 {
		t.Errorf("chose %d, want 0", got)
	}
	if got := chooseScheme([]float64{0.5, 0.5}, 0.4); got != 0 {
		t.Errorf("tie: chose %d, want the first", got)
	}
}

// A row's cache key changes with anything that changes its results: its own
// weights (retraining, another quantizer or mapping), its base's and the
// substitute's, the attack settings and image counts, the seed and the row.
func TestRowKeyChanges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	row, _ := tiny(r)
	base, _ := tiny(r)
	sub, _ := tiny(r)
	p, _ := MNISTProfile("smoke")
	key := rowKey(p, 1, "Orig. (Q)", row, base, sub)
	if again := rowKey(p, 1, "Orig. (Q)", row, base, sub); again != key {
		t.Fatalf("same inputs, keys %s and %s", key, again)
	}
	seen := map[string]string{key: "original"}
	check := func(name, k string) {
		t.Helper()
		if prev, ok := seen[k]; ok {
			t.Errorf("%s gives the key of %s: %s", name, prev, k)
		}
		seen[k] = name
	}
	for _, q := range []quant.Quantizer{quant.Linear{Bits: 3}, quant.Uniform{Bits: 3}} {
		qn, err := quant.Apply(row, q, nil)
		if err != nil {
			t.Fatal(err)
		}
		check(q.String(), rowKey(p, 1, "Orig. (Q)", qn, base, sub))
	}
	mapped, err := defense.ApplyMapping(row, defense.MuLaw{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("mapped", rowKey(p, 1, "Orig. (Q)", mapped, base, sub))
	check("base", rowKey(p, 1, "Orig. (Q)", row, sub, sub))
	check("substitute", rowKey(p, 1, "Orig. (Q)", row, base, base))
	p2 := p
	p2.Steps++
	check("attack steps", rowKey(p2, 1, "Orig. (Q)", row, base, sub))
	p3 := p
	p3.NAttack++
	check("image count", rowKey(p3, 1, "Orig. (Q)", row, base, sub))
	check("seed", rowKey(p, 2, "Orig. (Q)", row, base, sub))
	check("label", rowKey(p, 1, "Orig.", row, base, sub))
	w := row.Param("fc.weight").Data
	w[0] = w[0] + 1e-6
	check("one weight", rowKey(p, 1, "Orig. (Q)", row, base, sub))
}

func TestPrefix(t *testing.T) {
	var b bytes.Buffer
	w := Prefix(&b, "F.L.: ")
	io.WriteString(w, "epoch 1\nepoch")
	io.WriteString(w, " 2\n")
	if got, want := b.String(), "F.L.: epoch 1\nF.L.: epoch 2\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// A feedback-learning regime checkpoints each round, and a run killed after
// its first round resumes at the second and ends with the weights of an
// uninterrupted run.
func TestFeedbackTrainResumes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	ds := &data.Dataset{Channels: 1, Height: 4, Width: 4, Classes: 3}
	for i := range 120 {
		c := i % 3
		for j := range 16 {
			ds.X = append(ds.X, float32(min(1, max(0, 0.2+0.3*float64(c)+0.1*r.NormFloat64()+0.02*float64(j%3)))))
		}
		ds.Y = append(ds.Y, c)
	}
	start, _ := tiny(rand.New(rand.NewPCG(4, 4)))
	if _, err := nn.Train(context.Background(), start, ds, nn.TrainConfig{Epochs: 20, BatchSize: 20, LR: nn.ConstantLR(0.1)}); err != nil {
		t.Fatal(err)
	}
	fl := defense.FeedbackLearning{Rounds: 2, Sample: 60, Generate: 60, Seed: 1, Config: nn.TrainConfig{BatchSize: 20}}
	regime := func(fl defense.FeedbackLearning) Regime {
		return Regime{Key: "fl", Epochs: 2, From: "start", New: tiny, Train: FeedbackTrain(fl, io.Discard)}
	}
	base := Regime{Key: "start", Epochs: 1, New: func(*rand.Rand) (*nn.Network, error) { return start.Clone(), nil },
		Train: func(context.Context, *nn.Network, *data.Dataset, int, []nn.Hook) error { return nil }}
	whole, _, err := TrainAll(context.Background(), t.TempDir(), 1, ds, []Regime{base, regime(fl)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	killed := errors.New("killed")
	first := fl
	first.OnRound = nil
	stopped := regime(first)
	inner := stopped.Train
	stopped.Train = func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
		// Stop right after round 1's checkpoint is written.
		stop := nn.HookFuncs{After: func(context.Context, *nn.Step) error { return killed }}
		return inner(ctx, net, ds, start, append(hooks, stop))
	}
	if _, _, err := TrainAll(context.Background(), dir, 1, ds, []Regime{base, stopped}, io.Discard); !errors.Is(err, killed) {
		t.Fatalf("first run: %v", err)
	}
	var log bytes.Buffer
	resumed, _, err := TrainAll(context.Background(), dir, 1, ds, []Regime{base, regime(fl)}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "resuming after epoch 1") {
		t.Errorf("no resume from round 1's checkpoint:\n%s", log.String())
	}
	if !slices.Equal(whole["fl"].Param("fc.weight").Data, resumed["fl"].Param("fc.weight").Data) {
		t.Error("resumed weights differ from an uninterrupted run's")
	}
}

// The paper's tables have one value per column (plus clean for the
// white-box ones), and the interval is 1.96 standard errors.
func TestPaperTables(t *testing.T) {
	for n, rows := range paperWhiteBox {
		for _, r := range rows {
			if len(r.acc) != len(table1Cols)+1 {
				t.Errorf("Table %d row %s has %d values", n, r.label, len(r.acc))
			}
		}
	}
	for n, rows := range paperBlackBox {
		for _, r := range rows {
			if len(r.acc) != len(table2Cols) {
				t.Errorf("Table %d row %s has %d values", n, r.label, len(r.acc))
			}
		}
	}
	// Wilson, p = 0.5 on 100 images: centre 0.5, half-width
	// 1.96·√(0.0025 + 1.96²/40000)/(1 + 1.96²/100) = 0.09617, so [40.38, 59.62];
	// p = 0 on 50: [0, 1.96²/50/(1 + 1.96²/50)] = [0, 7.13].
	if lo, hi := wilson95(0.5, 100); math.Abs(lo-40.383) > 1e-3 || math.Abs(hi-59.617) > 1e-3 {
		t.Errorf("wilson95(0.5, 100) = %v, %v", lo, hi)
	}
	if lo, hi := wilson95(0, 50); lo != 0 || math.Abs(hi-7.135) > 1e-3 {
		t.Errorf("wilson95(0, 50) = %v, %v", lo, hi)
	}
	e := &Experiment{Profile: Profile{NClean: 10000, NAttack: 100}, results: []RowResult{
		{Label: "Orig.", Clean: 0.99, Acc: map[string]float64{"PGD": 0.5}}}}
	s := e.sideBySide(1, []string{"PGD"}, []paperRow{{"Orig.", []float64{99.17, 4.38}}, {"Adv.", []float64{98.40, 97.77}}}, true)
	for _, want := range []string{"| Orig. | 99.00 [98.8, 99.2] (99.17) | 50.00 [40.4, 59.6] (4.38) |", "| Adv. | – (98.40) | – (97.77) |"} {
		if !strings.Contains(s, want) {
			t.Errorf("side-by-side lacks %q:\n%s", want, s)
		}
	}
}

// The sign test against hand computations: 10 against 2 discordant pairs,
// p = 2·(C(12,0) + C(12,1) + C(12,2))/2^12 = 158/4096; an even split gives
// 1; nothing to compare gives 1.
func TestSignTest(t *testing.T) {
	if p := signTest(10, 2); math.Abs(p-158.0/4096) > 1e-12 {
		t.Errorf("signTest(10, 2) = %v, want %v", p, 158.0/4096)
	}
	if p := signTest(2, 10); math.Abs(p-158.0/4096) > 1e-12 {
		t.Errorf("signTest(2, 10) = %v", p)
	}
	if p := signTest(5, 5); p != 1 {
		t.Errorf("signTest(5, 5) = %v, want 1", p)
	}
	if p := signTest(0, 0); p != 1 {
		t.Errorf("signTest(0, 0) = %v", p)
	}
	// Large counts stay finite: 600 against 400 is far beyond chance.
	if p := signTest(600, 400); !(p > 0 && p < 1e-9) {
		t.Errorf("signTest(600, 400) = %v", p)
	}
}

// Each verdict of a paired comparison is reachable.
func TestPairedVerdicts(t *testing.T) {
	ones := func(n, k int) []float64 { // k ones then zeros
		s := make([]float64, n)
		for i := range k {
			s[i] = 1
		}
		return s
	}
	a, b := ones(100, 60), ones(100, 40) // a better on 20 images, never worse
	if v := pairScores(a, b).greater(); v != "**holds**" {
		t.Errorf("a ahead on 20 of 20 differing images: %s", v)
	}
	if v := pairScores(b, a).greater(); v != "**does not hold**" {
		t.Errorf("a behind on 20 of 20: %s", v)
	}
	c := ones(100, 62)
	if v := pairScores(c, a).greater(); v != "**undecided at this sample size**" {
		t.Errorf("2 against 0: %s", v)
	}
	r := pairScores(a, b)
	if r.diff != 0.2 || r.pos != 20 || r.neg != 0 {
		t.Errorf("pairScores: %+v", r)
	}
	if v := pairScores(a, ones(50, 1)).greater(); v != "**not measured**" {
		t.Errorf("different lengths: %s", v)
	}
}

// synthetic returns a row whose per-image results are the first `clean` of
// nClean images correct, and under every attack column the first
// `attacked` of nAtt.
func synthetic(label string, nClean, clean, nAtt, attacked int) RowResult {
	r := RowResult{Label: label, Acc: map[string]float64{}, Correct: map[string]string{}}
	r.CleanBits = strings.Repeat("1", clean) + strings.Repeat("0", nClean-clean)
	r.Clean = float64(clean) / float64(nClean)
	a := strings.Repeat("1", attacked) + strings.Repeat("0", nAtt-attacked)
	for _, c := range append(append([]string{"clean", "worst", "T-PGD-fp"}, table1Cols...), table2Cols...) {
		r.Correct[c] = a
		r.Acc[c] = float64(attacked) / float64(nAtt)
	}
	r.Worst = r.Acc["worst"]
	return r
}

// The verdicts on synthetic tables: one where every claim holds, one where
// every claim fails, one too small to decide.
func TestVerdictSynthetic(t *testing.T) {
	build := func(nClean, nAtt int, rows map[string][2]int, lip []lipRow) string {
		e := &Experiment{Profile: Profile{Name: "test", NClean: nClean, NAttack: nAtt, Bits: 3, Eps: 0.3},
			TableNumbers: [2]int{1, 2}, Rows: []string{"o", "a", "f"},
			Regimes: []Regime{{Key: "o", Label: "Orig."}, {Key: "a", Label: "Adv."}, {Key: "f", Label: "F.L."}}}
		for _, m := range []string{"Orig.", "Adv.", "F.L."} {
			for _, v := range []string{"", " (Q)", "+mu", "+mu (Q)"} {
				c := rows[m+v]
				e.results = append(e.results, synthetic(m+v, nClean, c[0], nAtt, c[1]))
			}
		}
		return e.verdict(lip)
	}
	lip := func(adv float64) []lipRow {
		var out []lipRow
		for _, m := range []string{"Orig.", "Adv.", "F.L."} {
			v := 1.0
			if m == "Adv." {
				v = adv
			}
			out = append(out, lipRow{Model: m}, lipRow{Model: m})
			out[len(out)-2].Layer, out[len(out)-2].Spectral = "fc1", v
			out[len(out)-1].Layer, out[len(out)-1].Spectral = "fc2", v
		}
		return out
	}
	// Holds: Adv. collapses at 3 bits, Orig. and F.L. do not; +mu adds nothing; F.L.+mu (Q) best.
	good := build(1000, 200, map[string][2]int{
		"Orig.": {990, 20}, "Orig. (Q)": {988, 18}, "Orig.+mu": {990, 20}, "Orig.+mu (Q)": {988, 18},
		"Adv.": {985, 180}, "Adv. (Q)": {400, 60}, "Adv.+mu": {985, 180}, "Adv.+mu (Q)": {400, 60},
		"F.L.": {990, 80}, "F.L. (Q)": {989, 70}, "F.L.+mu": {990, 120}, "F.L.+mu (Q)": {989, 110},
	}, lip(3))
	for _, want := range []string{
		"clean: Adv.'s drop minus Orig.'s drop +58.30", "2. *F.L. keeps", "a drop of +0.10", "4. *F.L.+mu (Q)",
		"Largest total: Adv. (**holds**)", "last layer on its own: Adv. (**holds**)",
	} {
		if !strings.Contains(good, want) {
			t.Errorf("holding case lacks %q:\n%s", want, good)
		}
	}
	if strings.Count(good, "**holds**") < 8 || strings.Contains(good, "does not hold") {
		t.Errorf("holding case:\n%s", good)
	}
	// Fails: Adv. survives quantization better, F.L. collapses, F.L.+mu (Q) worst, Orig. has the largest ΔW.
	bad := build(1000, 200, map[string][2]int{
		"Orig.": {990, 100}, "Orig. (Q)": {700, 50}, "Orig.+mu": {990, 100}, "Orig.+mu (Q)": {700, 50},
		"Adv.": {985, 180}, "Adv. (Q)": {985, 180}, "Adv.+mu": {985, 180}, "Adv.+mu (Q)": {985, 180},
		"F.L.": {990, 80}, "F.L. (Q)": {600, 70}, "F.L.+mu": {990, 40}, "F.L.+mu (Q)": {600, 10},
	}, lip(0.5))
	if n := strings.Count(bad, "**does not hold**"); n < 8 || strings.Contains(bad, "**holds**") {
		t.Errorf("failing case (%d does not hold):\n%s", n, bad)
	}
	// Too few images: every paired claim is undecided.
	small := build(10, 5, map[string][2]int{
		"Orig.": {9, 2}, "Orig. (Q)": {9, 2}, "Orig.+mu": {9, 2}, "Orig.+mu (Q)": {9, 2},
		"Adv.": {9, 3}, "Adv. (Q)": {8, 2}, "Adv.+mu": {9, 3}, "Adv.+mu (Q)": {8, 2},
		"F.L.": {9, 2}, "F.L. (Q)": {9, 2}, "F.L.+mu": {9, 3}, "F.L.+mu (Q)": {9, 3},
	}, lip(2))
	if n := strings.Count(small, "undecided at this sample size"); n < 8 {
		t.Errorf("small case has %d undecided:\n%s", n, small)
	}
}

// Transfer examples are saved and loaded back unchanged, under a key that
// changes with the profile, the seed, the attack, the source model and the
// images; a file that does not match the images is crafted again.
func TestPrecomputeCached(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	m, _ := tiny(r)
	other, _ := tiny(r)
	p, _ := MNISTProfile("smoke")
	d := m.Spec().ExampleSize()
	x := make([]float32, 3*d)
	for i := range x {
		x[i] = r.Float32()
	}
	y := []int{0, 1, 2}
	a := attack.FGSM{Eps: 0.1}
	path := t.TempDir() + "/t.safetensors"
	var log bytes.Buffer
	first, sec, err := precomputeCached(context.Background(), path, "T-FGSM", a, m, x, y, 2, &log)
	if err != nil {
		t.Fatal(err)
	}
	if sec != 0 {
		t.Errorf("crafted examples report %v cached seconds, want 0 (their time is the run's)", sec)
	}
	want, _ := first.Perturb(context.Background(), m, x, y)
	again, sec, err := precomputeCached(context.Background(), path, "T-FGSM", a, other, x, y, 2, &log)
	if err != nil {
		t.Fatal(err)
	}
	if sec <= 0 {
		t.Errorf("loaded examples report %v seconds of crafting, want the recorded time", sec)
	}
	if got, _ := again.Perturb(context.Background(), m, x, y); !slices.Equal(got, want) {
		t.Error("examples loaded from the cache differ from the ones crafted")
	}
	if _, _, err := precomputeCached(context.Background(), path, "T-FGSM", a, m, x[:2*d], y[:2], 2, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "do not match") {
		t.Errorf("a cached file for 3 images was used for 2; log: %q", log.String())
	}
	key := transferKey(p, 1, "T-FGSM", m, x)
	p2 := p
	p2.Eps /= 2
	for name, k := range map[string]string{
		"profile": transferKey(p2, 1, "T-FGSM", m, x),
		"seed":    transferKey(p, 2, "T-FGSM", m, x),
		"attack":  transferKey(p, 1, "T-PGD", m, x),
		"model":   transferKey(p, 1, "T-FGSM", other, x),
		"images":  transferKey(p, 1, "T-FGSM", m, x[:2*d]),
	} {
		if k == key {
			t.Errorf("another %s gives the same key %s", name, k)
		}
	}
}
