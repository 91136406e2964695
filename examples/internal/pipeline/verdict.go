package pipeline

import (
	"fmt"
	"math"
	"strings"
)

func (e *Experiment) result(label string) (RowResult, bool) {
	for _, r := range e.results {
		if r.Label == label {
			return r, true
		}
	}
	return RowResult{}, false
}

// paperHeadline is the paper's headline gain of F.L.+mu (Q), averaged over
// the attack columns, over Orig. and over F.L. (Q), by white-box table.
var paperHeadline = map[int][2]float64{1: {20.54, 7.55}, 3: {52.69, 27.84}}

// paperValue returns the paper's number for a row and column of the
// white-box table number (column "clean" or one of table1Cols).
func paperValue(number int, label, col string) float64 {
	for _, r := range paperWhiteBox[number] {
		if r.label != label {
			continue
		}
		if col == "clean" {
			return r.acc[0]
		}
		for i, c := range table1Cols {
			if c == col {
				return r.acc[i+1]
			}
		}
	}
	return math.NaN()
}

// cleanScores and attackScores are a row's per-image results as 0/1.
func cleanScores(r RowResult) []float64 { return scores(r.CleanBits) }

func attackScores(r RowResult, col string) []float64 {
	s, ok := r.Correct[col]
	if !ok {
		return nil
	}
	return scores(s)
}

// averageScores is, per attacked image, the fraction of the attack columns
// of both tables under which the row classifies it correctly.
func averageScores(r RowResult) []float64 {
	cols := append(append([]string{}, table1Cols...), table2Cols...)
	var avg []float64
	for _, c := range cols {
		s := attackScores(r, c)
		if s == nil {
			return nil
		}
		if avg == nil {
			avg = make([]float64, len(s))
		}
		for i, v := range s {
			avg[i] += v / float64(len(cols))
		}
	}
	return avg
}

// verdict tests the paper's claims against this run's numbers. Every
// comparison of two models is paired on the same images (a sign test,
// McNemar's exact test for two 0/1 columns) and says "undecided" when the
// sample cannot decide at the 5% level.
func (e *Experiment) verdict(lip []lipRow) string {
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p := e.Profile
	tn := e.TableNumbers[0]
	f("Every comparison below pairs two models on the same images (%d for clean accuracy, %d attacked) and uses the exact "+
		"sign test on the images where they differ (McNemar's test); it holds or fails at the 5%% level, otherwise it is "+
		"undecided at this sample size. Intervals are 95%%.\n\n", p.NClean, p.NAttack)
	orig, _ := e.result("Orig.")
	origQ, _ := e.result("Orig. (Q)")
	adv, _ := e.result("Adv.")
	advQ, _ := e.result("Adv. (Q)")
	fl, _ := e.result("F.L.")
	flQ, _ := e.result("F.L. (Q)")
	if orig.Clean < e.TargetClean {
		f("**Orig. reaches %s%% clean accuracy here, below the %.0f%% of a faithful reproduction** (profile %s: its training "+
			"budget is far shorter than the paper's). The verdicts below describe these models, not the paper's.\n\n",
			pct(orig.Clean), 100*e.TargetClean, p.Name)
	}

	// (1) Adv. loses more to quantization than Orig. and F.L.
	f("1. *Adversarial training does not survive %d-bit quantization: Adv. loses more than Orig. and F.L.* "+
		"(paper, Table %d: Adv. clean %.2f%% → %.2f%%, Orig. %.2f%% → %.2f%%, F.L. %.2f%% → %.2f%%).\n",
		p.Bits, tn, paperValue(tn, "Adv.", "clean"), paperValue(tn, "Adv. (Q)", "clean"),
		paperValue(tn, "Orig.", "clean"), paperValue(tn, "Orig. (Q)", "clean"),
		paperValue(tn, "F.L.", "clean"), paperValue(tn, "F.L. (Q)", "clean"))
	for _, other := range []struct {
		label   string
		fp, q   RowResult
		measure string
	}{{"Orig.", orig, origQ, "clean"}, {"F.L.", fl, flQ, "clean"}, {"Orig.", orig, origQ, "PGD"}, {"F.L.", fl, flQ, "PGD"}} {
		var advDrop, otherDrop []float64
		if other.measure == "clean" {
			advDrop = subScores(cleanScores(adv), cleanScores(advQ))
			otherDrop = subScores(cleanScores(other.fp), cleanScores(other.q))
		} else {
			advDrop = subScores(attackScores(adv, "PGD"), attackScores(advQ, "PGD"))
			otherDrop = subScores(attackScores(other.fp, "PGD"), attackScores(other.q, "PGD"))
		}
		r := pairScores(advDrop, otherDrop)
		f("   - %s: Adv.'s drop minus %s's drop %s: %s.\n", other.measure, other.label, r, r.greater())
	}
	f("   Here: Adv. clean %s%% → (Q) %s%%, PGD %s%% → %s%%; Orig. clean %s%% → %s%%; F.L. clean %s%% → %s%%.\n",
		pct(adv.Clean), pct(advQ.Clean), pct(adv.Acc["PGD"]), pct(advQ.Acc["PGD"]), pct(orig.Clean), pct(origQ.Clean),
		pct(fl.Clean), pct(flQ.Clean))

	// (2) F.L. keeps its accuracy after quantization.
	paperDrop := paperValue(tn, "F.L.", "clean") - paperValue(tn, "F.L. (Q)", "clean")
	limit := paperDrop + 1
	drop := pairScores(cleanScores(fl), cleanScores(flQ))
	v := "**undecided at this sample size**"
	switch {
	case math.IsNaN(drop.diff):
		v = "**not measured**"
	case 100*(drop.diff+drop.half) < limit:
		v = "**holds**"
	case 100*(drop.diff-drop.half) > limit:
		v = "**does not hold**"
	}
	f("2. *F.L. keeps its accuracy after quantization.* The paper's F.L. loses %.2f points of clean accuracy at %d bits; "+
		"our threshold is that plus 1 point, %.2f. F.L. clean %s%% → (Q) %s%%, a drop of %s: %s. (PGD %s%% → %s%%.)\n",
		paperDrop, p.Bits, limit, pct(fl.Clean), pct(flQ.Clean), drop, v, pct(fl.Acc["PGD"]), pct(flQ.Acc["PGD"]))

	// (3) +mu raises white-box accuracy, and is it gradient masking?
	f("3. *+mu raises white-box accuracy.* Per model, +mu against the model itself under the paper's PGD, and under the "+
		"worst case of every L∞ attack at ε %.2g (adaptive, score-based and transfer attacks included):\n\n", p.Eps)
	f("| model | PGD → +mu | paired test (PGD) | worst → +mu | paired test (worst) | zero CE grad +mu | T-PGD-fp +mu |\n" +
		"| --- | --- | --- | --- | --- | --- | --- |\n")
	raised, masked := 0, 0
	for _, key := range e.Rows {
		l := e.regime(key).Label
		r, _ := e.result(l)
		m, _ := e.result(l + "+mu")
		tp := pairScores(attackScores(m, "PGD"), attackScores(r, "PGD"))
		tw := pairScores(attackScores(m, "worst"), attackScores(r, "worst"))
		f("| %s | %s → %s | %s | %s → %s | %s | %s | %s |\n", l, pct(r.Acc["PGD"]), pct(m.Acc["PGD"]), tp.greater(),
			pct(r.Worst), pct(m.Worst), tw.greater(), pct(m.ZeroGrad), pct(m.Acc["T-PGD-fp"]))
		if tp.greater() == "**holds**" {
			raised++
			if tw.greater() != "**holds**" || m.Acc["T-PGD-fp"] < m.Acc["PGD"] || m.ZeroGrad > 0 {
				masked++
			}
		}
	}
	f("\n+mu raises PGD accuracy significantly for %d of %d models; for %d of them the gain does not survive the worst case, "+
		"a transfer attack from the unmapped model beats white-box PGD, or cross-entropy gradients vanish: the signature of "+
		"gradient masking, not robustness.\n", raised, len(e.Rows), masked)

	// (4) The headline.
	head := paperHeadline[tn]
	fq, _ := e.result("F.L.+mu (Q)")
	vsOrig := pairScores(averageScores(fq), averageScores(orig))
	vsFLQ := pairScores(averageScores(fq), averageScores(flQ))
	f("4. *F.L.+mu (Q) is the most robust quantized model* (paper: its accuracy averaged over the attack columns is %.2f "+
		"points above Orig.'s and %.2f above F.L. (Q)'s). Per attacked image, the fraction of the %d attack columns of "+
		"Tables %d and %d it survives, paired: against Orig. %s: %s; against F.L. (Q) %s: %s.\n",
		head[0], head[1], len(table1Cols)+len(table2Cols), e.TableNumbers[0], e.TableNumbers[1], vsOrig, vsOrig.greater(),
		vsFLQ, vsFLQ.greater())
	worst := pairScores(attackScores(fq, "worst"), attackScores(orig, "worst"))
	f("   These are the paper's attacks. Under the worst case of every L∞ attack at ε %.2g, F.L.+mu (Q) has %s%% against "+
		"Orig.'s %s%% (%s: %s); claim 3 says whether +mu's part of the gain is gradient masking.\n",
		p.Eps, pct(fq.Worst), pct(orig.Worst), worst, worst.greater())

	// (5) ‖ΔW‖₂: Adv. largest, in total and in the last layer.
	sums := map[string]float64{}
	lastVal := map[string]float64{}
	lastLayer := ""
	for _, r := range lip {
		if r.Mu {
			continue
		}
		sums[r.Model] += r.Spectral
		lastVal[r.Model], lastLayer = r.Spectral, r.Layer
	}
	largest, largestLast := "", ""
	var parts []string
	for _, key := range e.Rows {
		l := e.regime(key).Label
		parts = append(parts, fmt.Sprintf("%s Σ %.3g, last layer %.3g", l, sums[l], lastVal[l]))
		if largest == "" || sums[l] > sums[largest] {
			largest = l
		}
		if largestLast == "" || lastVal[l] > lastVal[largestLast] {
			largestLast = l
		}
	}
	holds := func(ok bool) string {
		if ok {
			return "**holds**"
		}
		return "**does not hold**"
	}
	f("5. *‖ΔW‖₂ is largest for Adv., and in its last layer.* %s (last layer: %s). Largest total: %s (%s); largest in the "+
		"last layer on its own: %s (%s). These are exact norms of fixed weights, not samples: no test applies.\n",
		strings.Join(parts, "; "), lastLayer, largest, holds(largest == "Adv."), largestLast, holds(largestLast == "Adv."))
	return b.String()
}
