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

// verdict tests the paper's four claims against this run's numbers. The
// thresholds are ours and stated with each claim.
func (e *Experiment) verdict(lip []lipRow) string {
	var b strings.Builder
	f := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	f("Attacked accuracies come from %d images: their binomial standard error is up to %.1f points, "+
		"so differences of a few points between rows are noise. The thresholds below are ours.\n\n",
		e.Profile.NAttack, 100*0.5/math.Sqrt(float64(e.Profile.NAttack)))
	adv, _ := e.result("Adv.")
	advQ, _ := e.result("Adv. (Q)")
	fl, _ := e.result("F.L.")
	flQ, _ := e.result("F.L. (Q)")
	orig, _ := e.result("Orig.")
	origQ, _ := e.result("Orig. (Q)")
	if orig.Clean < e.TargetClean {
		f("**Orig. reaches %s%% clean accuracy here, below the %.0f%% of a faithful reproduction** (profile %s: its training "+
			"budget is far shorter than the paper's). The verdicts below describe these under-trained models, not the paper's.\n\n",
			pct(orig.Clean), 100*e.TargetClean, e.Profile.Name)
	}
	holds := func(ok bool) string {
		if ok {
			return "**holds**"
		}
		return "**does not hold**"
	}

	// (1) Adversarial training does not survive 3-bit quantization.
	dropClean, dropPGD := adv.Clean-advQ.Clean, adv.Acc["PGD"]-advQ.Acc["PGD"]
	c1 := dropClean > 0.05 || dropPGD > 0.10
	f("1. *Adversarial training does not survive %d-bit quantization* (paper: Adv. clean 98.40%% → Adv. (Q) 42.69%% on MNIST). "+
		"Here Adv. clean %s%% → (Q) %s%%, PGD %s%% → %s%%; Orig. clean %s%% → (Q) %s%%. "+
		"Our test: the quantized Adv. model loses more than 5 points of clean or 10 points of PGD accuracy: %s.\n",
		e.Profile.Bits, pct(adv.Clean), pct(advQ.Clean), pct(adv.Acc["PGD"]), pct(advQ.Acc["PGD"]), pct(orig.Clean), pct(origQ.Clean), holds(c1))

	// (2) F.L. keeps its accuracy after quantization.
	c2 := fl.Clean-flQ.Clean < 0.01
	f("2. *F.L. keeps its accuracy after quantization.* F.L. clean %s%% → (Q) %s%%, PGD %s%% → %s%%. "+
		"Our test: clean accuracy drops by less than 1 point: %s. (Note that Orig. also keeps %s%% at %d bits here.)\n",
		pct(fl.Clean), pct(flQ.Clean), pct(fl.Acc["PGD"]), pct(flQ.Acc["PGD"]), holds(c2), pct(origQ.Clean), e.Profile.Bits)

	// (3) +mu raises white-box accuracy — and does it survive adaptive attacks?
	f("3. *+mu raises white-box accuracy.* Paper's white-box attacks (PGD) and the worst case over all L∞ attacks at ε %.2g, per model:\n\n", e.Profile.Eps)
	f("| model | PGD | PGD +mu | PGD +mu (Q) | worst | worst +mu | worst +mu (Q) | zero CE grad +mu |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	raisedPGD, raisedWorst := 0, 0
	for _, key := range e.Rows {
		l := e.regime(key).Label
		r, _ := e.result(l)
		m, _ := e.result(l + "+mu")
		mq, _ := e.result(l + "+mu (Q)")
		f("| %s | %s | %s | %s | %s | %s | %s | %s |\n", l, pct(r.Acc["PGD"]), pct(m.Acc["PGD"]), pct(mq.Acc["PGD"]),
			pct(r.Worst), pct(m.Worst), pct(mq.Worst), pct(m.ZeroGrad))
		if m.Acc["PGD"] > r.Acc["PGD"]+0.02 {
			raisedPGD++
		}
		if m.Worst > r.Worst+0.02 {
			raisedWorst++
		}
	}
	f("\n+mu raises PGD accuracy by more than 2 points for %d of %d models: the claim %s against the paper's attacks. "+
		"Against the worst case of the adaptive attacks it raises accuracy for %d of %d models: ", raisedPGD, len(e.Rows),
		holds(raisedPGD*2 > len(e.Rows)), raisedWorst, len(e.Rows))
	if raisedPGD > raisedWorst {
		f("the gain under the paper's attacks does not survive margin-loss, score-based or transfer attacks, the signature of gradient masking.\n")
	} else {
		f("the adaptive attacks see the same picture.\n")
	}

	// (4) ‖ΔW‖₂ is largest for Adv. and in the last layers.
	f("4. *‖ΔW‖₂ is largest for Adv. and in the last layers.* ")
	sums := map[string]float64{}
	last := map[string]string{}
	maxLayer := map[string]string{}
	maxVal := map[string]float64{}
	for _, r := range lip {
		if r.Mu {
			continue
		}
		sums[r.Model] += r.Spectral
		last[r.Model] = r.Layer
		if r.Spectral > maxVal[r.Model] {
			maxVal[r.Model], maxLayer[r.Model] = r.Spectral, r.Layer
		}
	}
	largest := ""
	for m, s := range sums {
		if largest == "" || s > sums[largest] {
			largest = m
		}
	}
	var parts []string
	lastCount := 0
	for _, key := range e.Rows {
		l := e.regime(key).Label
		parts = append(parts, fmt.Sprintf("%s: Σ‖ΔW‖₂ %.3g, largest in %s", l, sums[l], maxLayer[l]))
		layers := e.layerOrder(lip, l)
		if n := len(layers); n >= 2 && (maxLayer[l] == layers[n-1] || maxLayer[l] == layers[n-2]) {
			lastCount++
		}
	}
	f("%s. Largest total for %s (%s for Adv.); the largest layer is one of the last two for %d of %d models (%s).\n",
		strings.Join(parts, "; "), largest, holds(largest == "Adv."), lastCount, len(e.Rows), holds(lastCount*2 > len(e.Rows)))
	return b.String()
}

func (e *Experiment) layerOrder(lip []lipRow, model string) []string {
	var out []string
	for _, r := range lip {
		if r.Model == model && !r.Mu {
			out = append(out, r.Layer)
		}
	}
	return out
}
