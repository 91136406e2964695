package attack

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/robustq/robustq/nn"
)

// Evaluator runs attacks over a data set in batches and reports clean
// accuracy, robust accuracy per attack, the worst case over attacks and
// gradient-masking diagnostics. The zero value is not useful: set Attacks,
// or Eps and Sweep, or both.
//
// Every attack runs on every selected example, including the ones the model
// already misclassifies, and every output is checked against the attack's
// declared Threat (ErrThreat otherwise).
type Evaluator struct {
	// Attacks are run as configured; they form one group of the report.
	Attacks []Attack
	// Eps lists radii to sweep. For each ε, Sweep(ε) gives the attacks of
	// one more group of the report. Eps and Sweep go together.
	Eps   []float32
	Sweep func(eps float32) []Attack
	// N evaluates only the first N examples; 0 (or more than there are)
	// means all.
	N int
	// Batch is the batch size; 0 means 100.
	Batch int
	// Workers is the number of goroutines; 0 means 1. Each worker needs its
	// own model, so Workers > 1 requires the model to implement Cloner, and
	// the Source of every Transfer attack is cloned per worker when it is a
	// Cloner, or else shared with its calls serialised. Attacks of other
	// packages must be safe for concurrent use. The report does not depend
	// on Workers, nor on Batch when every attack's output for an example is
	// independent of the rest of its batch (true of this package's attacks;
	// see attacktest.CheckBatchIndependence).
	Workers int
	// OnProgress, if not nil, is called after every attack on every batch,
	// serialised. A non-nil error from it stops the run and is returned
	// (wrapped). Every long job of robustq reports this way: a func field
	// named On<event> (nn's training hooks, defense.FeedbackLearning.OnRound).
	OnProgress func(Progress) error
	// Label names the model in the report; empty means the model's Name()
	// when it has one (as nn.Network does).
	Label string
	// KeepExamples keeps every attack's outputs in Row.Examples (and the
	// worst case's in Group.Worst.Examples), for Report.SaveExamples. They
	// take N×ExampleSize float32 values per attack.
	KeepExamples bool
}

// Progress is a progress report of the Evaluator: Done of Total units
// (one attack on one batch) are finished, the latest being Attack.
type Progress struct {
	Done, Total int
	Attack      string
}

// Report is the result of an Evaluator run. Accuracies are fractions in [0, 1].
type Report struct {
	// Model is the Evaluator's Label, or the model's Name().
	Model string
	// Spec is the model's Spec: the layout of the examples.
	Spec nn.Spec
	// N is the number of examples evaluated.
	N int
	// Labels are the labels of the N examples.
	Labels []int
	// Clean is the accuracy on the clean examples, and CleanCorrect says
	// per example whether it is classified correctly (for paired tests
	// between models on the same examples).
	Clean        float64
	CleanCorrect []bool
	// ZeroGrad is the fraction of examples whose cross-entropy input
	// gradient is exactly zero in every coordinate (NaN when the model is
	// not an nn.Model). CE-gradient attacks cannot move these examples.
	ZeroGrad float64
	// Saturated is the fraction of examples whose float32 softmax
	// probability of the predicted class is exactly 1.
	Saturated float64
	// Groups are the attacks as configured (if any), then one group per
	// swept ε.
	Groups []Group
	// Warnings are signs of an unreliable evaluation, such as a gradient-free
	// or transfer attack beating every white-box gradient attack (a sign of
	// gradient masking).
	Warnings []string
}

// Group is the rows of attacks evaluated together, with their worst case.
type Group struct {
	// Swept is true for a group built by Evaluator.Sweep, whose radius is Eps.
	Swept bool
	Eps   float32
	Rows  []Row
	// Worst counts an example as robust only if it is classified correctly
	// clean and under every attack of the group.
	Worst Row
}

// Row is one attack's result.
type Row struct {
	// Attack is the attack's Name ("worst-case" for Group.Worst).
	Attack string
	// Threat is the attack's Threat (for Worst: the most informed access,
	// and the group's norm and radius).
	Threat Threat
	// Robust is the fraction of examples classified correctly both clean and
	// under the attack: what AutoAttack and RobustBench call "robust
	// accuracy". It is at most the clean accuracy.
	Robust float64
	// AdvAccuracy is the accuracy on the attack's outputs, whatever the
	// clean prediction (the "accuracy under attack" of many papers, this
	// one's tables included). It can exceed Robust when an attack moves a
	// misclassified example back to its label.
	AdvAccuracy float64
	// Fooled is the number of examples classified correctly clean and
	// incorrectly under the attack.
	Fooled int
	// MeanLinf and MeanL2 are the mean norms of the perturbation over the
	// Fooled examples (NaN when there are none).
	MeanLinf, MeanL2 float64
	// Elapsed is the time spent in the attack, summed over batches (and
	// workers).
	Elapsed time.Duration
	// Correct says per example whether the attack's output is classified
	// correctly (for Worst: under every attack of the group).
	Correct []bool
	// Examples holds the attack's outputs, N×ExampleSize values, when the
	// Evaluator's KeepExamples is set (else nil). For Worst, each example's
	// output is that of the group's first attack that it is misclassified
	// under, or the clean example when there is none.
	Examples []float32
}

type evalRun struct {
	group  int
	attack Attack
}

// Run evaluates the model m on the examples x (layout of m.Spec()) with
// labels y. It returns ctx.Err() if ctx is cancelled; partial results are
// discarded.
func (e Evaluator) Run(ctx context.Context, m nn.Classifier, x []float32, y []int) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := nn.CheckModel(m); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrParam, err)
	}
	if e.N < 0 || e.Batch < 0 || e.Workers < 0 {
		return nil, fmt.Errorf("%w: Evaluator N %d, Batch %d, Workers %d", ErrParam, e.N, e.Batch, e.Workers)
	}
	if (len(e.Eps) == 0) != (e.Sweep == nil) {
		return nil, fmt.Errorf("%w: Evaluator Eps and Sweep must be set together", ErrParam)
	}
	spec := m.Spec()
	if y == nil {
		return nil, fmt.Errorf("attack: %w: nil labels", nn.ErrShape)
	}
	total, err := spec.CheckInput(x, y)
	if err != nil {
		return nil, fmt.Errorf("attack: %w", err)
	}
	n := total
	if e.N > 0 && e.N < n {
		n = e.N
	}
	d := spec.ExampleSize()
	x, y = x[:n*d], y[:n]

	rep := &Report{Model: e.Label, Spec: spec, N: n, Labels: append([]int(nil), y...)}
	if named, ok := m.(interface{ Name() string }); ok && rep.Model == "" {
		rep.Model = named.Name()
	}
	var runs []evalRun
	if len(e.Attacks) > 0 {
		rep.Groups = append(rep.Groups, Group{Eps: float32(math.NaN())})
		for _, a := range e.Attacks {
			runs = append(runs, evalRun{0, a})
		}
	}
	for _, eps := range e.Eps {
		if err := checkEps(eps); err != nil {
			return nil, err
		}
		g := len(rep.Groups)
		rep.Groups = append(rep.Groups, Group{Swept: true, Eps: eps})
		for _, a := range e.Sweep(eps) {
			runs = append(runs, evalRun{g, a})
		}
	}
	if len(runs) == 0 {
		return nil, fmt.Errorf("%w: Evaluator has no attacks", ErrParam)
	}
	for _, r := range runs {
		if r.attack == nil {
			return nil, fmt.Errorf("%w: nil attack", ErrParam)
		}
	}

	batch := e.Batch
	if batch == 0 {
		batch = 100
	}
	nb := (n + batch - 1) / batch
	workers := min(max(e.Workers, 1), nb)
	models := []nn.Classifier{m}
	if e.Workers > 1 {
		c, ok := m.(Cloner)
		if !ok {
			return nil, fmt.Errorf("%w: Workers %d needs a model that implements attack.Cloner, %T does not", ErrParam, e.Workers, m)
		}
		for len(models) < workers {
			models = append(models, c.CloneModel())
		}
	}
	var sourceMu sync.Mutex
	attacks := make([][]Attack, workers)
	for w := range attacks {
		attacks[w] = make([]Attack, len(runs))
		for r, run := range runs {
			if workers > 1 {
				attacks[w][r] = localize(run.attack, w == 0, &sourceMu)
			} else {
				attacks[w][r] = run.attack
			}
		}
	}

	st := &evalState{
		n: n, d: d, k: spec.Classes, x: x, y: y,
		clean: make([]bool, n), zeroGrad: make([]bool, n), saturated: make([]bool, n),
		correct: make([][]bool, len(runs)), linf: make([][]float64, len(runs)), l2: make([][]float64, len(runs)),
		elapsed:    make([][]time.Duration, len(runs)),
		onProgress: e.OnProgress, total: nb * len(runs),
	}
	if e.KeepExamples {
		st.examples = make([][]float32, len(runs))
		for r := range runs {
			st.examples[r] = make([]float32, n*d)
		}
	}
	for r := range runs {
		st.correct[r] = make([]bool, n)
		st.linf[r] = make([]float64, n)
		st.l2[r] = make([]float64, n)
		st.elapsed[r] = make([]time.Duration, nb)
	}
	_, st.hasGrad = m.(nn.Model)

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for b := range jobs {
				if err := st.batch(ctx, models[w], attacks[w], b, batch); err != nil {
					errs <- err
					cancel()
					return
				}
			}
		}(w)
	}
feed:
	for b := 0; b < nb; b++ {
		select {
		case jobs <- b:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if first == nil || (errors.Is(first, context.Canceled) && !errors.Is(err, context.Canceled)) {
			first = err
		}
	}
	if first != nil {
		return nil, first
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st.fill(rep, runs)
	return rep, nil
}

// evalState holds the per-example results; workers write disjoint ranges.
type evalState struct {
	n, d, k                    int
	x                          []float32
	y                          []int
	hasGrad                    bool
	clean, zeroGrad, saturated []bool
	correct                    [][]bool    // [run][example]: correct under the attack
	linf, l2                   [][]float64 // [run][example]: perturbation norms
	elapsed                    [][]time.Duration
	examples                   [][]float32 // [run]: outputs, when kept
	mu                         sync.Mutex  // guards done and onProgress calls
	done, total                int
	onProgress                 func(Progress) error
}

func (st *evalState) batch(ctx context.Context, m nn.Classifier, attacks []Attack, b, size int) error {
	lo, hi := b*size, min((b+1)*size, st.n)
	d, k := st.d, st.k
	xb, yb := st.x[lo*d:hi*d], st.y[lo:hi]
	if err := ctx.Err(); err != nil {
		return err
	}
	z, err := m.Logits(xb)
	if err != nil {
		return fmt.Errorf("attack: evaluator: logits: %w", err)
	}
	if len(z) != (hi-lo)*k {
		return fmt.Errorf("%w: %d logits for %d examples of %d classes", ErrModel, len(z), hi-lo, k)
	}
	for i := range yb {
		row := z[i*k : (i+1)*k]
		pred := nn.Argmax(row)
		st.clean[lo+i] = pred == yb[i]
		st.saturated[lo+i] = softmaxMaxIsOne(row)
	}
	if gm, ok := m.(nn.Model); ok {
		g, _, err := gm.InputGrad(xb, yb, nn.CrossEntropy{})
		if err != nil {
			return fmt.Errorf("attack: evaluator: input gradient: %w", err)
		}
		if len(g) != len(xb) {
			return fmt.Errorf("%w: %d gradient values for %d inputs", ErrModel, len(g), len(xb))
		}
		for i := range yb {
			zero := true
			for _, v := range g[i*d : (i+1)*d] {
				if v != 0 {
					zero = false
					break
				}
			}
			st.zeroGrad[lo+i] = zero
		}
	}
	for r, a := range attacks {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		adv, err := a.Perturb(ctx, m, xb, yb)
		st.elapsed[r][b] = time.Since(t0)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			return fmt.Errorf("attack: evaluator: %s: %w", a.Name(), err)
		}
		if err := checkThreat(a, adv, xb, d); err != nil {
			return err
		}
		if st.examples != nil {
			copy(st.examples[r][lo*d:hi*d], adv)
		}
		za, err := m.Logits(adv)
		if err != nil {
			return fmt.Errorf("attack: evaluator: logits of %s outputs: %w", a.Name(), err)
		}
		if len(za) != (hi-lo)*k {
			return fmt.Errorf("%w: %d logits for %d examples of %d classes", ErrModel, len(za), hi-lo, k)
		}
		for i := range yb {
			st.correct[r][lo+i] = nn.Argmax(za[i*k:(i+1)*k]) == yb[i]
			st.linf[r][lo+i] = Distance(Linf, adv[i*d:(i+1)*d], xb[i*d:(i+1)*d])
			st.l2[r][lo+i] = Distance(L2, adv[i*d:(i+1)*d], xb[i*d:(i+1)*d])
		}
		if err := st.record(a.Name()); err != nil {
			return err
		}
	}
	return nil
}

func (st *evalState) record(name string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.done++
	if st.onProgress == nil {
		return nil
	}
	if err := st.onProgress(Progress{Done: st.done, Total: st.total, Attack: name}); err != nil {
		return fmt.Errorf("attack: evaluator: OnProgress: %w", err)
	}
	return nil
}

// disambiguate renames rows whose attacks share a name (two FGSMs at
// different ε are both "fgsm-ce"): each gets its ε, or its position when
// the radii are equal too, as in "fgsm-ce (ε 0.1)" or "pgd-linf-ce (#2)".
func disambiguate(rows []Row) {
	type key struct {
		name string
		eps  float32
	}
	names, radii := map[string]int{}, map[key]int{}
	for _, r := range rows {
		names[r.Attack]++
		radii[key{r.Attack, r.Threat.Eps}]++
	}
	seen := map[string]int{}
	for i := range rows {
		name := rows[i].Attack
		if names[name] < 2 {
			continue
		}
		seen[name]++
		if radii[key{name, rows[i].Threat.Eps}] == 1 {
			rows[i].Attack = fmt.Sprintf("%s (ε %s)", name, fmtEps(rows[i].Threat.Eps))
		} else {
			rows[i].Attack = fmt.Sprintf("%s (#%d)", name, seen[name])
		}
	}
}

// checkThreat returns ErrThreat if adv is not a batch of len(x) finite
// values inside a's declared threat model.
func checkThreat(a Attack, adv, x []float32, d int) error {
	if len(adv) != len(x) {
		return fmt.Errorf("%w: %s returned %d values for %d", ErrThreat, a.Name(), len(adv), len(x))
	}
	th := a.Threat()
	lo, hi, err := th.Bounds.Range()
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrThreat, a.Name(), err)
	}
	for i, v := range adv {
		if !finite(v) || v < lo || v > hi {
			return fmt.Errorf("%w: %s: value %d is %v, bounds [%v, %v]", ErrThreat, a.Name(), i, v, lo, hi)
		}
	}
	if math.IsInf(float64(th.Eps), 1) {
		return nil
	}
	for i := 0; i < len(x); i += d {
		if dist := Distance(th.Norm, adv[i:i+d], x[i:i+d]); dist > float64(th.Eps) {
			return fmt.Errorf("%w: %s: example %d moved %v in %v, eps %v", ErrThreat, a.Name(), i/d, dist, th.Norm, th.Eps)
		}
	}
	return nil
}

// softmaxMaxIsOne reports whether the float32 softmax of z, computed as
// float32 frameworks do (max subtracted), gives its largest logit a
// probability of exactly 1.
func softmaxMaxIsOne(z []float32) bool {
	m := z[nn.Argmax(z)]
	var s float32
	for _, v := range z {
		s += float32(math.Exp(float64(v - m)))
	}
	return 1/s == 1
}

func (st *evalState) fill(rep *Report, runs []evalRun) {
	n := float64(st.n)
	rep.Clean = frac(st.clean, n)
	rep.CleanCorrect = append([]bool(nil), st.clean...)
	rep.Saturated = frac(st.saturated, n)
	rep.ZeroGrad = math.NaN()
	if st.hasGrad {
		rep.ZeroGrad = frac(st.zeroGrad, n)
	}
	for g := range rep.Groups {
		grp := &rep.Groups[g]
		robustAll := append([]bool(nil), st.clean...)
		correctAll := make([]bool, st.n)
		for i := range correctAll {
			correctAll[i] = true
		}
		worst := Row{Attack: "worst-case", MeanLinf: math.NaN(), MeanL2: math.NaN()}
		worst.Threat.Access = Random
		worst.Threat.Eps = grp.Eps
		first := true
		for r, run := range runs {
			if run.group != g {
				continue
			}
			row := Row{Attack: run.attack.Name(), Threat: run.attack.Threat(), Correct: append([]bool(nil), st.correct[r]...)}
			if st.examples != nil {
				row.Examples = st.examples[r]
				if worst.Examples == nil {
					worst.Examples = append([]float32(nil), st.x...)
				}
				for i, c := range st.correct[r] {
					if !c && correctAll[i] { // the first attack this example falls to
						copy(worst.Examples[i*st.d:(i+1)*st.d], row.Examples[i*st.d:(i+1)*st.d])
					}
				}
			}
			var robust, correct int
			var sumInf, sum2 float64
			for i, c := range st.correct[r] {
				if c {
					correct++
				} else {
					correctAll[i] = false
				}
				switch {
				case st.clean[i] && c:
					robust++
				case st.clean[i]:
					row.Fooled++
					sumInf += st.linf[r][i]
					sum2 += st.l2[r][i]
					robustAll[i] = false
				}
			}
			for _, t := range st.elapsed[r] {
				row.Elapsed += t
			}
			row.Robust, row.AdvAccuracy = float64(robust)/n, float64(correct)/n
			row.MeanLinf, row.MeanL2 = math.NaN(), math.NaN()
			if row.Fooled > 0 {
				row.MeanLinf, row.MeanL2 = sumInf/float64(row.Fooled), sum2/float64(row.Fooled)
			}
			grp.Rows = append(grp.Rows, row)
			worst.Threat.Access = min(worst.Threat.Access, row.Threat.Access)
			worst.Elapsed += row.Elapsed
			if first {
				worst.Threat.Norm, worst.Threat.Bounds = row.Threat.Norm, row.Threat.Bounds
				if !grp.Swept {
					worst.Threat.Eps = row.Threat.Eps
				}
				first = false
			} else if !grp.Swept && (row.Threat.Norm != worst.Threat.Norm || row.Threat.Eps != worst.Threat.Eps) {
				worst.Threat.Eps = float32(math.NaN()) // mixed radii
			}
		}
		disambiguate(grp.Rows)
		worst.Robust, worst.AdvAccuracy = frac(robustAll, n), frac(correctAll, n)
		worst.Correct = correctAll
		for i, c := range robustAll {
			if st.clean[i] && !c {
				worst.Fooled++
			}
		}
		grp.Worst = worst
		rep.Warnings = append(rep.Warnings, maskingWarnings(grp)...)
	}
	if st.hasGrad && rep.ZeroGrad > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf(
			"%.2f%% of examples have an exactly zero cross-entropy input gradient: cross-entropy gradient attacks "+
				"cannot move them (gradient masking); use a margin loss (nn.CWMargin, nn.DLR) or a score-based attack",
			100*rep.ZeroGrad))
	}
}

// maskingWarnings warns about each attack of the group that does not use
// gradients yet beats every gradient attack of the group.
func maskingWarnings(g *Group) []string {
	bestGrad := math.Inf(1)
	for _, r := range g.Rows {
		if r.Threat.Access == Gradient {
			bestGrad = math.Min(bestGrad, r.Robust)
		}
	}
	if math.IsInf(bestGrad, 1) {
		return nil
	}
	var w []string
	for _, r := range g.Rows {
		if r.Threat.Access != Gradient && r.Robust < bestGrad {
			w = append(w, fmt.Sprintf(
				"%s (%s, %s) beats every gradient attack%s: robust accuracy %.2f%% < %.2f%%; the gradients are likely masked",
				r.Attack, r.Threat.Access, epsLabel(r.Threat), groupLabel(g), 100*r.Robust, 100*bestGrad))
		}
	}
	return w
}

func frac(b []bool, n float64) float64 {
	c := 0
	for _, v := range b {
		if v {
			c++
		}
	}
	return float64(c) / n
}

func fmtFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return ""
	case math.IsInf(v, 1):
		return "inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func fmtF32(v float32) string {
	if math.IsInf(float64(v), 1) {
		return "inf"
	}
	if math.IsNaN(float64(v)) {
		return ""
	}
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}

func fmtEps(v float32) string {
	switch {
	case math.IsNaN(float64(v)):
		return "mixed"
	case math.IsInf(float64(v), 1):
		return "∞"
	}
	return strconv.FormatFloat(float64(v), 'g', -1, 32)
}

func epsLabel(t Threat) string { return t.Norm.String() + " ε=" + fmtEps(t.Eps) }

func groupLabel(g *Group) string {
	if g.Swept {
		return " at ε=" + fmtEps(g.Eps)
	}
	return ""
}

func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}

func num(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.4f", v)
}

// Markdown renders the report as Markdown: a summary line, the diagnostics,
// one table per group and the warnings. It omits timings, so it is
// deterministic for a deterministic evaluation.
func (r *Report) Markdown() string {
	var b strings.Builder
	if r.Model != "" {
		fmt.Fprintf(&b, "Model %s: ", r.Model)
	}
	fmt.Fprintf(&b, "%d examples, clean accuracy %s.\n\n", r.N, pct(r.Clean))
	fmt.Fprintf(&b, "Diagnostics: exactly zero cross-entropy input gradient %s; float32 softmax probability of exactly 1 %s.\n",
		pct(r.ZeroGrad), pct(r.Saturated))
	for i := range r.Groups {
		g := &r.Groups[i]
		if len(r.Groups) > 1 {
			if g.Swept {
				fmt.Fprintf(&b, "\n### ε = %s\n", fmtEps(g.Eps))
			} else {
				b.WriteString("\n### Attacks as configured\n")
			}
		}
		b.WriteString("\n| attack | access | norm | ε | robust acc. | adv. acc. | mean L∞ | mean L2 |\n")
		b.WriteString("|---|---|---|---:|---:|---:|---:|---:|\n")
		for _, row := range append(append([]Row(nil), g.Rows...), g.Worst) {
			name := row.Attack
			if name == "worst-case" {
				name = "**worst case**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", name, row.Threat.Access, row.Threat.Norm,
				fmtEps(row.Threat.Eps), pct(row.Robust), pct(row.AdvAccuracy), num(row.MeanLinf), num(row.MeanL2))
		}
	}
	b.WriteString("\nrobust acc.: classified correctly both clean and under the attack (AutoAttack's \"robust accuracy\"); " +
		"adv. acc.: classified correctly on the attack's outputs, whatever the clean prediction (the \"accuracy under " +
		"attack\" of many papers); mean L∞ and L2: the perturbation of the examples the attack fooled.\n")
	if len(r.Warnings) > 0 {
		b.WriteString("\nWarnings:\n\n")
		for _, w := range r.Warnings {
			fmt.Fprintf(&b, "- %s\n", w)
		}
	}
	return b.String()
}

// WriteCSV writes the report as CSV with a header row, then a "clean" row
// (which carries the diagnostics), then every attack row and worst-case row
// in group order. Columns: group_eps (empty for attacks as configured),
// attack, access, norm, eps, n, robust_accuracy, adv_accuracy, fooled,
// mean_linf, mean_l2, elapsed_s, zero_grad_frac, saturated_frac. NaN is
// written as an empty field and +Inf as "inf".
func (r *Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	n := strconv.Itoa(r.N)
	recs := [][]string{
		{"group_eps", "attack", "access", "norm", "eps", "n", "robust_accuracy", "adv_accuracy", "fooled",
			"mean_linf", "mean_l2", "elapsed_s", "zero_grad_frac", "saturated_frac"},
		{"", "clean", "", "", "", n, fmtFloat(r.Clean), fmtFloat(r.Clean), "", "", "", "", fmtFloat(r.ZeroGrad), fmtFloat(r.Saturated)},
	}
	for i := range r.Groups {
		g := &r.Groups[i]
		ge := ""
		if g.Swept {
			ge = fmtF32(g.Eps)
		}
		for _, row := range append(append([]Row(nil), g.Rows...), g.Worst) {
			recs = append(recs, []string{ge, row.Attack, row.Threat.Access.String(), row.Threat.Norm.String(),
				fmtF32(row.Threat.Eps), n, fmtFloat(row.Robust), fmtFloat(row.AdvAccuracy),
				strconv.Itoa(row.Fooled), fmtFloat(row.MeanLinf), fmtFloat(row.MeanL2),
				fmtFloat(row.Elapsed.Seconds()), "", ""})
		}
	}
	if err := cw.WriteAll(recs); err != nil {
		return fmt.Errorf("attack: write CSV: %w", err)
	}
	return nil
}
