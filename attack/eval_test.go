package attack_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/attack/attacktest"
	"github.com/robustq/robustq/nn"
)

// noisyLabels returns y with every third label changed, so that the clean
// accuracy is below 1 and robust and adversarial accuracy differ.
func noisyLabels(y []int, k int) []int {
	out := append([]int(nil), y...)
	for i := 0; i < len(out); i += 3 {
		out[i] = (out[i] + 1) % k
	}
	return out
}

// TestEvaluatorCounts recomputes every number of the report directly from
// the attacks' outputs on the whole batch.
func TestEvaluatorCounts(t *testing.T) {
	m := linear(21, img)
	x, y := batch(t, m, 30, 21)
	y = noisyLabels(y, img.Classes)
	attacks := []attack.Attack{
		attack.Uniform{Eps: 0}, // changes nothing: robust = clean accuracy
		attack.FGSM{Eps: 0.05},
		attack.PGD{Eps: 0.05, Steps: 5, Loss: nn.CWMargin{}},
		attack.Square{Eps: 0.05, Queries: 20, Seed: 1},
	}
	rep, err := attack.Evaluator{Attacks: attacks, Batch: 7}.Run(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	k, d, n := img.Classes, img.ExampleSize(), len(y)
	correct := func(xs []float32) []bool {
		z, _ := m.Logits(xs)
		c := make([]bool, n)
		for i := range c {
			c[i] = nn.Argmax(z[i*k:(i+1)*k]) == y[i]
		}
		return c
	}
	clean := correct(x)
	count := func(b []bool) float64 {
		c := 0
		for _, v := range b {
			if v {
				c++
			}
		}
		return float64(c) / float64(n)
	}
	if rep.N != n || rep.Clean != count(clean) {
		t.Fatalf("N %d clean %v, want %d and %v", rep.N, rep.Clean, n, count(clean))
	}
	if len(rep.Groups) != 1 || len(rep.Groups[0].Rows) != len(attacks) {
		t.Fatalf("groups %+v", rep.Groups)
	}
	if !slices.Equal(rep.CleanCorrect, clean) {
		t.Errorf("CleanCorrect %v, want %v", rep.CleanCorrect, clean)
	}
	worst := append([]bool(nil), clean...)
	correctAll := make([]bool, n)
	for i := range correctAll {
		correctAll[i] = true
	}
	approx := cmpopts.EquateApprox(0, 1e-12) // sums of ≤ 30 float64 norms
	for r, a := range attacks {
		adv := perturb(t, a, m, x, y)
		c := correct(adv)
		robust := make([]bool, n)
		var fooled int
		var sumInf, sum2 float64
		for i := range c {
			robust[i] = clean[i] && c[i]
			worst[i] = worst[i] && robust[i]
			correctAll[i] = correctAll[i] && c[i]
			if clean[i] && !c[i] {
				fooled++
				sumInf += attack.Distance(attack.Linf, adv[i*d:(i+1)*d], x[i*d:(i+1)*d])
				sum2 += attack.Distance(attack.L2, adv[i*d:(i+1)*d], x[i*d:(i+1)*d])
			}
		}
		row := rep.Groups[0].Rows[r]
		want := attack.Row{Attack: a.Name(), Threat: a.Threat(), Robust: count(robust), AdvAccuracy: count(c),
			Fooled: fooled, MeanLinf: math.NaN(), MeanL2: math.NaN(), Correct: c}
		if fooled > 0 {
			want.MeanLinf, want.MeanL2 = sumInf/float64(fooled), sum2/float64(fooled)
		}
		row.Elapsed = 0
		if diff := cmp.Diff(want, row, approx, cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("row %s (-want +got):\n%s", a.Name(), diff)
		}
	}
	if r := rep.Groups[0].Rows[0]; r.Robust != rep.Clean || r.AdvAccuracy != rep.Clean {
		t.Errorf("eps-0 attack: robust %v adv %v, want the clean accuracy %v", r.Robust, r.AdvAccuracy, rep.Clean)
	}
	if w := rep.Groups[0].Worst; w.Robust != count(worst) || !slices.Equal(w.Correct, correctAll) {
		t.Errorf("worst case robust %v, want %v; per example %v, want %v", w.Robust, count(worst), w.Correct, correctAll)
	}
	if rep.ZeroGrad != 0 || rep.Saturated != 0 || len(rep.Warnings) != 0 {
		t.Errorf("diagnostics %v %v warnings %q, want none on an unsaturated linear model", rep.ZeroGrad, rep.Saturated, rep.Warnings)
	}
}

// TestEvaluatorWorkers: the report does not depend on the number of workers
// or the batch size (examples are independent and seeds fixed).
func TestEvaluatorWorkers(t *testing.T) {
	m := linear(22, img)
	x, y := batch(t, m, 23, 22)
	src := linear(23, img)
	ev := attack.Evaluator{
		Attacks: []attack.Attack{
			attack.PGD{Eps: 0.05, Steps: 3, RandomStart: true, Seed: 4},
			attack.Transfer{Source: src, Attack: attack.FGSM{Eps: 0.05}},
			attack.Transfer{Source: attacktest.Scaled{M: src, Factor: 2}, Attack: attack.BIM{Eps: 0.05, Steps: 2}},
			attack.Square{Eps: 0.05, Queries: 10, Seed: 2},
		},
		Eps:   []float32{0.02, 0.1},
		Sweep: func(e float32) []attack.Attack { return []attack.Attack{attack.MIM{Eps: e, Steps: 3}} },
	}
	run := func(workers, batch int) *attack.Report {
		e := ev
		e.Workers, e.Batch = workers, batch
		rep, err := e.Run(context.Background(), m, x, y)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	ignore := cmpopts.IgnoreFields(attack.Row{}, "Elapsed")
	want := run(1, 100)
	for _, c := range []struct{ workers, batch int }{{2, 5}, {3, 4}, {1, 7}} {
		if diff := cmp.Diff(want, run(c.workers, c.batch), ignore, cmpopts.EquateNaNs()); diff != "" {
			t.Errorf("Workers %d Batch %d (-1 worker +got):\n%s", c.workers, c.batch, diff)
		}
	}
	if len(want.Groups) != 3 || !want.Groups[1].Swept || want.Groups[2].Eps != 0.1 {
		t.Errorf("groups %+v", want.Groups)
	}
}

// TestEvaluatorMasking: on a linear model with logits ×1e4 (float32 softmax
// saturated on every example) cross-entropy FGSM cannot move anything, the
// diagnostics report 100% zero gradients and saturation, and the report
// warns that the score-based Square beats the gradient attack.
func TestEvaluatorMasking(t *testing.T) {
	base := linear(3, img)
	m := attacktest.Scaled{M: base, Factor: 1e4}
	x, y := saturated(t, base, 20, 1e4)
	rep, err := attack.Evaluator{Attacks: []attack.Attack{
		attack.FGSM{Eps: 0.1},
		attack.Square{Eps: 0.1, Queries: 200, Seed: 1},
	}}.Run(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if rep.ZeroGrad != 1 || rep.Saturated != 1 {
		t.Errorf("zero-gradient fraction %v, saturated %v; want 1 and 1", rep.ZeroGrad, rep.Saturated)
	}
	if r := rep.Groups[0].Rows[0]; r.Robust != 1 {
		t.Errorf("FGSM-CE robust accuracy %v, want 1 (no example can move)", r.Robust)
	}
	if len(rep.Warnings) != 2 || !strings.Contains(rep.Warnings[0], "square") || !strings.Contains(rep.Warnings[1], "zero") {
		t.Errorf("warnings %q, want one about square beating gradients and one about zero gradients", rep.Warnings)
	}
	if !strings.Contains(rep.Markdown(), "Warnings:") {
		t.Error("Markdown omits the warnings")
	}
}

// TestEvaluatorErrors: bad configurations and inputs are errors; a
// cancelled context or a failing OnProgress stops the run.
func TestEvaluatorErrors(t *testing.T) {
	m := linear(1, img)
	x, y := batch(t, m, 10, 1)
	ok := []attack.Attack{attack.FGSM{Eps: 0.1}}
	bad := []struct {
		name string
		e    attack.Evaluator
		m    nn.Classifier
		x    []float32
		want error
	}{
		{"no-attacks", attack.Evaluator{}, m, x, attack.ErrParam},
		{"nil-attack", attack.Evaluator{Attacks: []attack.Attack{nil}}, m, x, attack.ErrParam},
		{"eps-without-sweep", attack.Evaluator{Attacks: ok, Eps: []float32{0.1}}, m, x, attack.ErrParam},
		{"negative-eps", attack.Evaluator{Eps: []float32{-1}, Sweep: func(float32) []attack.Attack { return ok }}, m, x, attack.ErrEps},
		{"negative-batch", attack.Evaluator{Attacks: ok, Batch: -1}, m, x, attack.ErrParam},
		{"workers-without-cloner", attack.Evaluator{Attacks: ok, Workers: 2, Batch: 5}, attacktest.LogitsOnly{M: m}, x, attack.ErrParam},
		{"nan", attack.Evaluator{Attacks: ok}, m, append([]float32{float32(math.NaN())}, x[1:]...), nn.ErrNonFinite},
		{"short", attack.Evaluator{Attacks: ok}, m, x[1:], nn.ErrShape},
		{"threat", attack.Evaluator{Attacks: []attack.Attack{cheat{}}}, m, x, attack.ErrThreat},
		{"no-gradient", attack.Evaluator{Attacks: ok}, attacktest.LogitsOnly{M: m}, x, attack.ErrNoGradient},
	}
	for _, c := range bad {
		if _, err := c.e.Run(context.Background(), c.m, c.x, y); !errors.Is(err, c.want) {
			t.Errorf("%s: err %v, want %v", c.name, err, c.want)
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (attack.Evaluator{Attacks: ok}).Run(ctx, m, x, y); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err %v", err)
	}

	stop := errors.New("stop")
	calls := 0
	rec := func(p attack.Progress) error {
		calls++
		if p.Total != 2*1 || p.Attack != "fgsm-ce" {
			t.Errorf("progress %+v, want Total 2 (two batches of one attack)", p)
		}
		return stop
	}
	if _, err := (attack.Evaluator{Attacks: ok, Batch: 5, OnProgress: rec}).Run(context.Background(), m, x, y); !errors.Is(err, stop) || calls != 1 {
		t.Errorf("OnProgress error: err %v after %d calls, want stop after 1", err, calls)
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	rec = func(attack.Progress) error { cancel(); return nil }
	if _, err := (attack.Evaluator{Attacks: ok, Batch: 2, OnProgress: rec}).Run(ctx, m, x, y); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled from OnProgress: err %v", err)
	}
}

// cheat is an attack that breaks its declared threat model.
type cheat struct{}

func (cheat) Name() string          { return "cheat" }
func (cheat) Threat() attack.Threat { return attack.Threat{Eps: 0.1} }
func (cheat) Perturb(_ context.Context, _ nn.Classifier, x []float32, _ []int) ([]float32, error) {
	adv := append([]float32(nil), x...)
	for i := range adv {
		adv[i] = 0.5
	}
	return adv, nil
}

// TestReportOutput checks the CSV (parsed back) and the Markdown table.
func TestReportOutput(t *testing.T) {
	m := linear(1, img)
	x, y := batch(t, m, 10, 1)
	rep, err := attack.Evaluator{
		Attacks: []attack.Attack{attack.Rename(attack.FGSM{Eps: 0.3}, "fgsm-strong"), attack.CW{Steps: 5, BinarySteps: 1}},
		Eps:     []float32{0.1},
		Sweep:   func(e float32) []attack.Attack { return []attack.Attack{attack.PGD{Eps: e, Steps: 2}} },
	}.Run(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// header, clean, 2 rows + worst, 1 row + worst
	if len(recs) != 7 {
		t.Fatalf("%d CSV records, want 7:\n%v", len(recs), recs)
	}
	wantAttack := []string{"attack", "clean", "fgsm-strong", "cw-l2", "worst-case", "pgd-linf-ce", "worst-case"}
	for i, r := range recs {
		if len(r) != 14 || r[1] != wantAttack[i] {
			t.Errorf("record %d = %q, want 14 fields, attack %q", i, r, wantAttack[i])
		}
	}
	if recs[3][4] != "inf" || recs[5][0] != "0.1" || recs[5][4] != "0.1" || recs[2][4] != "0.3" {
		t.Errorf("eps fields: cw %q, pgd group %q eps %q, fgsm %q", recs[3][4], recs[5][0], recs[5][4], recs[2][4])
	}
	md := rep.Markdown()
	for _, want := range []string{"| fgsm-strong | gradient | linf | 0.3 |", "| cw-l2 | gradient | l2 | ∞ |", "### ε = 0.1", "**worst case**"} {
		if !strings.Contains(md, want) {
			t.Errorf("Markdown lacks %q:\n%s", want, md)
		}
	}
}

// TestEvaluatorKeepsAndSavesExamples checks the kept outputs against the
// attacks run directly, the worst case's choice per example, the label,
// and that SaveExamples writes what the report holds.
func TestEvaluatorKeepsAndSavesExamples(t *testing.T) {
	m := linear(22, img)
	x, y := batch(t, m, 12, 22)
	attacks := []attack.Attack{attack.FGSM{Eps: 0.05}, attack.PGD{Eps: 0.05, Steps: 5}}
	rep, err := attack.Evaluator{Attacks: attacks, Batch: 5, KeepExamples: true, Label: "lin"}.Run(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Model != "lin" || !slices.Equal(rep.Labels, y) || rep.Spec != img {
		t.Errorf("model %q labels %v spec %+v, want the label, y and the model's spec", rep.Model, rep.Labels, rep.Spec)
	}
	d := img.ExampleSize()
	outs := make([][]float32, len(attacks))
	for r, a := range attacks {
		outs[r] = perturb(t, a, m, x, y)
		if !slices.Equal(rep.Groups[0].Rows[r].Examples, outs[r]) {
			t.Errorf("%s: kept examples differ from the attack's outputs", a.Name())
		}
	}
	worst := rep.Groups[0].Worst
	for i := range y {
		want := x[i*d : (i+1)*d]
		for r := range attacks {
			if !rep.Groups[0].Rows[r].Correct[i] {
				want = outs[r][i*d : (i+1)*d]
				break
			}
		}
		if !slices.Equal(worst.Examples[i*d:(i+1)*d], want) {
			t.Errorf("worst case of example %d is not the first successful attack's output (or the clean example)", i)
		}
	}
	var buf bytes.Buffer
	if err := rep.SaveExamples(&buf); err != nil {
		t.Fatal(err)
	}
	ts, meta, err := nn.ReadTensors(&buf)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]nn.Tensor{}
	for _, tt := range ts {
		got[tt.Name] = tt
	}
	if meta["model"] != "lin" || meta["n"] != "12" {
		t.Errorf("metadata %v", meta)
	}
	pgd := got["g0.1."+attacks[1].Name()+".examples"]
	if !slices.Equal(pgd.Data, outs[1]) || !slices.Equal(pgd.Shape, []int{12, img.Channels, img.Height, img.Width}) {
		t.Errorf("saved PGD examples: shape %v, %d values; want the outputs", pgd.Shape, len(pgd.Data))
	}
	if w := got["g0.worst.correct"]; len(w.Data) != 12 {
		t.Errorf("saved worst-case mask has %d values", len(w.Data))
	}
	if l := got["labels"]; l.Data[3] != float32(y[3]) {
		t.Errorf("saved label 3 is %v, want %d", l.Data[3], y[3])
	}
}

// Two attacks with the same name get their ε, or their position, in the
// report.
func TestEvaluatorDisambiguatesNames(t *testing.T) {
	m := linear(23, img)
	x, y := batch(t, m, 4, 23)
	rep, err := attack.Evaluator{Attacks: []attack.Attack{
		attack.FGSM{Eps: 0.1}, attack.FGSM{Eps: 0.2}, attack.PGD{Eps: 0.1, Steps: 2}, attack.PGD{Eps: 0.1, Steps: 3}, attack.BIM{Eps: 0.1, Steps: 2},
	}}.Run(context.Background(), m, x, y)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rep.Groups[0].Rows {
		names = append(names, r.Attack)
	}
	want := []string{"fgsm-ce (ε 0.1)", "fgsm-ce (ε 0.2)", "pgd-linf-ce (#1)", "pgd-linf-ce (#2)", "bim-ce"}
	if !slices.Equal(names, want) {
		t.Errorf("names %q, want %q", names, want)
	}
}
