package pipeline

import (
	"context"
	"encoding/csv"
	"fmt"
	"math"

	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/lipschitz"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// Columns of the tables.
var (
	table1Cols = []string{"CW-L2", "FGSM-w", "FGSM-s", "PGD", "BIM", "MIM"}
	table2Cols = []string{"T-CW-L2", "T-FGSM-w", "T-FGSM-m", "T-FGSM-s", "Gaussian", "Uniform"}
	tableACols = []string{"PGD-CW", "PGD-DLR", "APGD-CE", "APGD-DLR", "Square", "T-PGD-sub", "T-PGD-fp"}
)

func pct(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.2f", 100*v)
}

// table renders rows × columns of accuracies as Markdown and writes the CSV.
func (e *Experiment) table(name string, cols []string, extra func(RowResult) []string, extraCols []string) (string, error) {
	var b strings.Builder
	// Two clean columns: on the NClean images, and on the NAttack images that
	// the attack columns use (with few of them the two differ by more than the
	// attacks do).
	head := append(append([]string{"model", fmt.Sprintf("clean (%d)", e.Profile.NClean),
		fmt.Sprintf("clean (the %d attacked)", e.Profile.NAttack)}, cols...), extraCols...)
	b.WriteString("| " + strings.Join(head, " | ") + " |\n|" + strings.Repeat(" --- |", len(head)) + "\n")
	recs := [][]string{head}
	for _, r := range e.results {
		cells := []string{r.Label, pct(r.Clean), pct(r.AttackClean)}
		for _, c := range cols {
			v, ok := r.Acc[c]
			if !ok {
				v = math.NaN()
			}
			cells = append(cells, pct(v))
		}
		if extra != nil {
			cells = append(cells, extra(r)...)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		recs = append(recs, cells)
	}
	return b.String(), writeCSV(filepath.Join(e.Out, name+".csv"), recs)
}

func writeCSV(path string, recs [][]string) error {
	var b strings.Builder
	w := csv.NewWriter(&b)
	if err := w.WriteAll(recs); err != nil {
		return err
	}
	return WriteFileAtomic(path, []byte(b.String()))
}

func (e *Experiment) writeReport(ctx context.Context) error {
	p := e.Profile
	// The CSV files are named after the paper's tables they hold.
	t1, err := e.table(fmt.Sprintf("table%d_whitebox", e.TableNumbers[0]), table1Cols, nil, nil)
	if err != nil {
		return err
	}
	t2, err := e.table(fmt.Sprintf("table%d_blackbox", e.TableNumbers[1]), table2Cols, nil, nil)
	if err != nil {
		return err
	}
	tA, err := e.table("tableA_adaptive", tableACols, func(r RowResult) []string {
		return []string{pct(r.Acc["PGD"]), pct(r.Worst), pct(r.ZeroGrad), pct(r.Saturated)}
	}, []string{"paper's PGD", "worst case", "zero CE grad", "p=1 in float32"})
	if err != nil {
		return err
	}
	fig1, err := e.figureBits(ctx)
	if err != nil {
		return err
	}
	fig3, lip, err := e.figureLipschitz(ctx)
	if err != nil {
		return err
	}
	verdict := e.verdict(lip)

	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	f("# %s: robustness of weight-quantized networks\n\n", e.Title)
	f("Reproduction of \"Improving Adversarial Robustness in Weight-quantized Neural Networks\" (Song, Fallon, Li) on %s, "+
		"with the adaptive attacks the paper does not run. Every number below was computed by the command below. Trained models "+
		"and each row's attack results are cached (under -cache, keyed by recipe, profile and seed), so a rerun computes only "+
		"what is missing; the times below add up every run that contributed.\n\n", e.Title)
	f("- Command: `%s` (profile **%s**, seed %d)\n", e.Command, p.Name, e.Seed)
	f("- Machine: %s/%s, %d CPUs, GEMM backend %s, %s\n", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), nnBackend(), runtime.Version())
	peak := ""
	if rss, err := peakRSS(); err == nil {
		peak = fmt.Sprintf(", peak resident memory %.1f GB", float64(rss)/1e9)
	}
	f("- Finished %s, total time of this run %s%s\n", time.Now().UTC().Format(time.RFC3339), time.Since(e.started).Round(time.Second), peak)
	train, rows := e.trainingTime(), e.attackTime()
	rest := (time.Since(e.evalStart) + time.Duration((e.transfersCached-e.rowsRun)*float64(time.Second))).Round(time.Second)
	lower := ""
	if train.Partial {
		lower = "at least "
	}
	f("- Compute from an empty cache, summed over the runs that contributed: training %s + the rows' attacks %s + the rest of "+
		"this run (scheme choice, μ-law table, transfer examples (with their recorded time where cached), figures, Lipschitz constants) %s = "+
		"**%s%s**\n", train, rows, rest, lower, (train.Took + rows + rest).Round(time.Second))
	f("- Clean accuracy on the first %d test images; attacks on the first **%d** test images; Figure 1 on the first %d.\n\n",
		p.NClean, p.NAttack, p.NFigure)
	f("## Models\n\n| model | recipe | clean accuracy | training time (all runs) |\n| --- | --- | --- | --- |\n")
	for _, r := range e.Regimes {
		acc := "see tables"
		if r.Key == e.Substitute {
			acc = pct(e.subClean) + "%"
		}
		f("| %s | %s | %s | %s |\n", r.Label, r.Recipe, acc, e.trainDur[r.Key])
	}
	f("\n%s", e.trainSet)
	f("Variants: **(Q)** = every conv and dense weight quantized to %d bits with the %s scheme (%s; biases stay float); "+
		"**+mu** = %s, F(x) = sgn(x)·ln(1+255|x|)/ln 256 applied to the weights themselves, as the paper's Eq. 3a writes it "+
		"(defense.MuLaw{}); **+mu (Q)** = mapped, then quantized.\n\n", p.Bits, e.scheme.Name, e.scheme.Describe, e.MuNote)
	f("**The quantizer is a choice.** The paper says only \"linear (uniform) levels, weights only\". Orig. (Q) clean accuracy, "+
		"the one row the paper's claims do not contest, decides between the candidate schemes: the tables use the one closest "+
		"to the paper's %s%%.\n\n| scheme | Orig. (Q) clean (%d images) |\n| --- | --- |\n", pct(e.PaperOrigQ), p.NClean)
	for i, s := range Schemes {
		mark := ""
		if s.Name == e.scheme.Name {
			mark = " (chosen)"
		}
		f("| %s%s: %s | %s |\n", s.Name, mark, s.Describe, pct(e.schemeAcc[i]))
	}
	f("\n**The μ-law mapping.** Applied literally, F needs weights in [−1, 1]. robustq also offers F on weights scaled by "+
		"max|W| and scaled back (defense.MuLaw{Scale: defense.MuMaxAbs}), a variant the paper does not describe. Both, on the "+
		"%d attacked images (logit gap, gradients) and %d clean ones:\n\n%s\n", p.NAttack, p.NClean, e.muTable)
	f("## Attack settings\n\n")
	f("- White-box: FGSM ε %.2g (w), %.2g (m), %.2g (s); PGD (random start), BIM, MIM (μ = 1): L∞ ε %.2g, step %.2g, %d steps, cross-entropy; "+
		"CW-L2: Adam lr %.2g, %d steps × %d binary-search rounds over c from %.2g (×10 until the first success), κ = 0 (unbounded; its column is the accuracy on its outputs).\n",
		p.FGSM[0], p.FGSM[1], p.FGSM[2], p.Eps, p.Step, p.Steps, p.CWLR, p.CWSteps, p.CWBinary, p.CWConst)
	f("- Black-box: the same CW-L2 and FGSM examples crafted on the substitute and transferred (T-); Gaussian noise σ %.2g (clipped to [0,1]); uniform noise in [−%.2g, %.2g].\n",
		p.Sigma, p.Eps, p.Eps)
	f("- Adaptive (ours): PGD with the CW margin and DLR losses (same ε, step, steps), APGD-CE and APGD-DLR (%d steps), "+
		"Square (%d queries, p_init 0.8), PGD transferred from the substitute (T-PGD-sub) and from the row's own full-precision model (T-PGD-fp).\n",
		p.APGDSteps, p.SquareQueries)
	if p.EarlyStop {
		f("- PGD, BIM, MIM and the adaptive PGDs stop working on an image once it is misclassified and keep that example " +
			"(AutoAttack's convention; never a higher accuracy than running every step, and far fewer gradients on weak models).\n")
	} else {
		f("- Every iterative attack runs all its steps on every image (as other libraries do; no early stopping).\n")
	}
	f("- Accuracy under attack = accuracy on the attack's outputs (the paper's measure). Worst case = an image counts only if it is "+
		"classified correctly under every L∞ attack at ε %.2g (all of Table A, PGD, BIM, MIM, FGSM-s, T-FGSM-s, uniform noise).\n\n", p.Eps)
	f("## Side by side with the paper\n\nEach cell: ours, its 95%% interval (Wilson; %d clean images, %d attacked), then "+
		"the paper's number in parentheses. The paper gives neither the number of attacked images nor its attack settings; "+
		"ours are in the attack settings above.\n\n", p.NClean, p.NAttack)
	f("Table %d (white-box):\n\n%s\n", e.TableNumbers[0], e.sideBySide(e.TableNumbers[0], table1Cols, paperWhiteBox[e.TableNumbers[0]], true))
	f("Table %d (black-box and noise):\n\n%s\n", e.TableNumbers[1], e.sideBySide(e.TableNumbers[1], table2Cols, paperBlackBox[e.TableNumbers[1]], false))
	f("## Table %d: white-box attacks (accuracy %%)\n\n%s\n", e.TableNumbers[0], t1)
	f("## Table %d: black-box attacks (accuracy %%)\n\n%s\n", e.TableNumbers[1], t2)
	f("## Table A (ours): adaptive attacks and gradient-masking diagnostics (accuracy %%)\n\n%s\n", tA)
	f("\"zero CE grad\" is the fraction of attacked images whose cross-entropy input gradient is exactly zero; \"p=1 in float32\" " +
		"the fraction whose float32 softmax probability of the predicted class is exactly 1.\n\n")
	var warns []string
	for _, r := range e.results {
		for _, w := range r.Warnings {
			warns = append(warns, r.Label+": "+w)
		}
	}
	if len(warns) > 0 {
		f("Evaluator warnings:\n\n")
		for _, w := range warns {
			f("- %s\n", w)
		}
		f("\n")
	}
	f("## Figure 1: clean accuracy against weight bits\n\n![Figure 1](figure1_bits.png)\n\n%s\nData: `figure1_bits.csv`, "+
		"both schemes. Linear at 2 bits is the grid {−max|W|, 0, max|W|}, which sends every weight below max|W|/2 (almost all "+
		"of them) to zero, hence its collapse to chance at 2 bits while its 1-bit scheme, scaled by the mean, survives.\n\n", fig1)
	f("## Figure %d: ‖ΔW‖₂ per layer, ΔW = Q(W) − W at %d bits\n\n![Figure %d](figure%d_lipschitz.png)\n\n%s\nData: `figure%d_lipschitz.csv`. "+
		"For conv layers ‖ΔW‖₂ is the norm of the convolution operator with the layer's padding, stride and input size "+
		"(power iteration); the reshaped-matrix value is in the CSV.\n\n", e.LipFigure, p.Bits, e.LipFigure, e.LipFigure, fig3, e.LipFigure)
	f("## Verdict on the paper's claims\n\n%s\n", verdict)
	return WriteFileAtomic(filepath.Join(e.Out, "README.md"), []byte(b.String()))
}

func nnBackend() string { return nn.GEMMBackend() }

// lipRow is one layer's ‖ΔW‖₂ for one model, with or without +mu.
type lipRow struct {
	Model string
	Mu    bool
	lipschitz.LayerReport
}

func (e *Experiment) figureLipschitz(ctx context.Context) (string, []lipRow, error) {
	var rows []lipRow
	q := e.scheme.New(e.Profile.Bits)
	for _, key := range e.Rows {
		base := e.nets[key]
		for _, mu := range []bool{false, true} {
			ref := base
			if mu {
				m, err := defense.ApplyMapping(base, defense.MuLaw{}, e.MuLayers)
				if err != nil {
					return "", nil, err
				}
				ref = m
			}
			qn, err := quant.Apply(ref, q, nil)
			if err != nil {
				return "", nil, err
			}
			var a, b []*nn.Param
			for _, p := range ref.Params() {
				if p.Kind.IsWeight() && (e.LipLayers == nil || e.LipLayers(p.Layer)) {
					a, b = append(a, p), append(b, qn.Param(p.Name))
				}
			}
			rep, err := lipschitz.CompareParams(ctx, a, b, lipschitz.PowerIteration{Seed: e.Seed, MaxIter: e.Profile.LipIters})
			if err != nil {
				return "", nil, err
			}
			for _, l := range rep.Layers {
				rows = append(rows, lipRow{Model: e.regime(key).Label, Mu: mu, LayerReport: l})
			}
			fmt.Fprintf(e.Log, "Figure %d: ‖ΔW‖ of %s (mu %v), %d layers\n", e.LipFigure, e.regime(key).Label, mu, len(rep.Layers))
		}
	}
	recs := [][]string{{"model", "mu", "layer", "shape", "delta_w_2", "delta_w_2_reshaped", "delta_w_inf", "w_2", "converged"}}
	var b strings.Builder
	b.WriteString("| model | layer | ‖ΔW‖₂ | ‖ΔW‖₂ +mu | ‖ΔW‖∞ | ‖ΔW‖∞ +mu | ‖W‖₂ |\n| --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range rows {
		recs = append(recs, []string{r.Model, fmt.Sprint(r.Mu), r.Layer, fmt.Sprint(r.Shape), fmt.Sprintf("%.6g", r.Spectral),
			fmt.Sprintf("%.6g", r.Reshaped), fmt.Sprintf("%.6g", r.Inf), fmt.Sprintf("%.6g", r.RefSpectral), fmt.Sprint(r.Converged)})
	}
	for _, r := range rows {
		if r.Mu {
			continue
		}
		var m lipRow
		for _, o := range rows {
			if o.Mu && o.Model == r.Model && o.Name == r.Name {
				m = o
			}
		}
		fmt.Fprintf(&b, "| %s | %s | %.4g | %.4g | %.4g | %.4g | %.4g |\n", r.Model, r.Layer, r.Spectral, m.Spectral, r.Inf, m.Inf, r.RefSpectral)
	}
	if err := writeCSV(filepath.Join(e.Out, fmt.Sprintf("figure%d_lipschitz.csv", e.LipFigure)), recs); err != nil {
		return "", nil, err
	}
	return b.String(), rows, plotLipschitz(filepath.Join(e.Out, fmt.Sprintf("figure%d_lipschitz.png", e.LipFigure)), e.Title, e.Profile.Bits, rows)
}

func (e *Experiment) figureBits(ctx context.Context) (string, error) {
	p := e.Profile
	ds := e.Test.Head(p.NFigure)
	series := map[string][]float64{}
	recs := [][]string{{"model scheme", "bits", "accuracy"}}
	var b strings.Builder
	b.WriteString("| model |")
	for _, bits := range p.SweepBits {
		fmt.Fprintf(&b, " %d |", bits)
	}
	b.WriteString(" float |\n|" + strings.Repeat(" --- |", len(p.SweepBits)+2) + "\n")
	var labels []string
	for _, key := range e.Rows {
		for _, sc := range Schemes {
			label := e.regime(key).Label + " " + sc.Name
			labels = append(labels, label)
			fmt.Fprintf(&b, "| %s |", label)
			for _, bits := range p.SweepBits {
				if err := ctx.Err(); err != nil {
					return "", err
				}
				qn, err := quant.Apply(e.nets[key], sc.New(bits), nil)
				if err != nil {
					return "", err
				}
				acc, err := nn.Accuracy(qn, ds.X, ds.Y, evalBatch)
				qn.ReleaseGraphs()
				if err != nil {
					return "", err
				}
				series[label] = append(series[label], acc)
				recs = append(recs, []string{label, fmt.Sprint(bits), fmt.Sprintf("%.4f", acc)})
				fmt.Fprintf(&b, " %s |", pct(acc))
			}
			acc, err := nn.Accuracy(e.nets[key], ds.X, ds.Y, evalBatch)
			e.nets[key].ReleaseGraphs()
			if err != nil {
				return "", err
			}
			series[label] = append(series[label], acc)
			recs = append(recs, []string{label, "32", fmt.Sprintf("%.4f", acc)})
			fmt.Fprintf(&b, " %s |\n", pct(acc))
			fmt.Fprintf(e.Log, "Figure 1: %s at %d bit widths and in float32 on %d images (%s so far)\n",
				label, len(p.SweepBits), len(ds.Y), time.Since(e.started).Round(time.Second))
		}
	}
	if err := writeCSV(filepath.Join(e.Out, "figure1_bits.csv"), recs); err != nil {
		return "", err
	}
	return b.String(), plotBits(filepath.Join(e.Out, "figure1_bits.png"), e.Title, p.SweepBits, labels, series)
}

// trainingTime is the sum of the models' training times, a lower bound when
// any is.
func (e *Experiment) trainingTime() TrainTime {
	var sum TrainTime
	for _, t := range e.trainDur {
		sum.Took += t.Took
		sum.Partial = sum.Partial || t.Partial || t.Unknown
	}
	return sum
}

// attackTime is the sum of the rows' evaluation times (cached rows
// included).
func (e *Experiment) attackTime() time.Duration {
	var sec float64
	for _, r := range e.results {
		sec += r.Seconds
	}
	return time.Duration(sec * float64(time.Second)).Round(time.Second)
}
