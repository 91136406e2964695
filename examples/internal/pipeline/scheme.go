package pipeline

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strings"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// Scheme is a k-bit weight quantizer the paper's "linear (uniform) levels"
// can mean.
type Scheme struct {
	// Name is the scheme in tables ("linear", "uniform").
	Name string
	// Describe says what the grid and scale are, for the report.
	Describe string
	New      func(bits int) quant.Quantizer
}

// Schemes are the candidate schemes; the tables use the one whose Orig. (Q)
// clean accuracy is closest to the paper's (the one row the paper's claims
// do not contest).
var Schemes = []Scheme{
	{Name: "linear", Describe: "quant.Linear: symmetric levels s·{−(2^(k−1)−1), …, 2^(k−1)−1}, s = max|W|/(2^(k−1)−1), " +
		"per tensor, round to nearest (for k = 1, sign(w)·mean|W|)",
		New: func(bits int) quant.Quantizer { return quant.Linear{Bits: bits} }},
	{Name: "uniform", Describe: "quant.Uniform: all 2^k symmetric levels s·{±½, …, ±(2^(k−1)−½)}, s minimising the squared " +
		"quantization error, per tensor",
		New: func(bits int) quant.Quantizer { return quant.Uniform{Bits: bits} }},
}

// chooseScheme returns the index of the scheme whose accuracy is closest to
// the paper's (the first on a tie).
func chooseScheme(acc []float64, paper float64) int {
	best := 0
	for i, a := range acc {
		if math.Abs(a-paper) < math.Abs(acc[best]-paper) {
			best = i
		}
	}
	return best
}

// chooseScheme quantizes Orig. with every scheme and keeps the one whose
// clean accuracy is closest to PaperOrigQ.
func (e *Experiment) chooseScheme() error {
	ds := e.Test.Head(e.Profile.NClean)
	orig := e.nets[e.Rows[0]]
	e.schemeAcc = make([]float64, len(Schemes))
	for i, s := range Schemes {
		q, err := quant.Apply(orig, s.New(e.Profile.Bits), nil)
		if err != nil {
			return err
		}
		if e.schemeAcc[i], err = nn.Accuracy(q, ds.X, ds.Y, evalBatch); err != nil {
			return err
		}
		fmt.Fprintf(e.Log, "Orig. (Q) with %s %d-bit weights: %s%% clean (paper %s%%)\n", s.Name, e.Profile.Bits, pct(e.schemeAcc[i]), pct(e.PaperOrigQ))
	}
	e.scheme = Schemes[chooseScheme(e.schemeAcc, e.PaperOrigQ)]
	return nil
}

// muDiagnostics are the logit-scale and gradient-masking figures of a
// mapped model on the attacked images.
type muDiagnostics struct {
	Clean float64
	// Gap is the median of the top-1 minus top-2 logit.
	Gap float64
	// ZeroGrad is the fraction with an exactly zero float32 cross-entropy
	// input gradient, Saturated the fraction with a float32 softmax
	// probability of exactly 1 for the predicted class.
	ZeroGrad, Saturated float64
}

func diagnose(m *nn.Network, clean, at *data.Dataset) (muDiagnostics, error) {
	var d muDiagnostics
	var err error
	if d.Clean, err = nn.Accuracy(m, clean.X, clean.Y, evalBatch); err != nil {
		return d, err
	}
	k := m.Spec().Classes
	z, err := m.Logits(at.X)
	if err != nil {
		return d, err
	}
	grad, _, err := m.InputGrad(at.X, at.Y, nn.CrossEntropy{})
	if err != nil {
		return d, err
	}
	n, e := at.Len(), at.ExampleSize()
	gaps := make([]float64, n)
	zero, sat := 0, 0
	for i := range n {
		row := z[i*k : (i+1)*k]
		s := slices.Clone(row)
		slices.Sort(s)
		gaps[i] = float64(s[k-1]) - float64(s[k-2])
		// float32 softmax of the top class: 1 / Σ exp(z_j − z_max).
		var sum float32
		for _, v := range row {
			sum += float32(math.Exp(float64(v - s[k-1])))
		}
		if 1/sum == 1 {
			sat++
		}
		if !slices.ContainsFunc(grad[i*e:(i+1)*e], func(v float32) bool { return v != 0 }) {
			zero++
		}
	}
	slices.Sort(gaps)
	d.Gap = gaps[n/2]
	d.ZeroGrad, d.Saturated = float64(zero)/float64(n), float64(sat)/float64(n)
	return d, nil
}

// muVariants is the extra table: each model mapped with the paper's literal
// μ-law (F on the weights) and with the max|W|-normalised variant.
func (e *Experiment) muVariants(at *data.Dataset) (string, error) {
	clean := e.Test.Head(e.Profile.NClean)
	var rows []string
	for _, key := range e.Rows {
		base := e.nets[key]
		d, err := diagnose(base, clean, at)
		if err != nil {
			return "", err
		}
		label := e.regime(key).Label
		rows = append(rows, fmt.Sprintf("| %s | none | %s | %.3g | %s | %s |", label, pct(d.Clean), d.Gap, pct(d.ZeroGrad), pct(d.Saturated)))
		for _, mu := range []defense.MuLaw{{}, {Scale: defense.MuMaxAbs}} {
			m, err := defense.ApplyMapping(base, mu, e.MuLayers)
			if err != nil {
				rows = append(rows, fmt.Sprintf("| %s | %s | not applicable: %v | | | |", label, mu.Name(), err))
				continue
			}
			d, err := diagnose(m, clean, at)
			if err != nil {
				return "", err
			}
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %.3g | %s | %s |", label, mu.Name(), pct(d.Clean), d.Gap, pct(d.ZeroGrad), pct(d.Saturated)))
		}
	}
	head := fmt.Sprintf("| model | mapping | clean (%d) | median logit gap (top-1 − top-2) | zero CE grad | p = 1 in float32 |\n| --- | --- | --- | --- | --- | --- |\n",
		e.Profile.NClean)
	return head + strings.Join(rows, "\n") + "\n", nil
}

// weightsHash is an FNV-1a hash of every parameter's name, shape and values.
func weightsHash(nets ...*nn.Network) uint64 {
	h := fnv.New64a()
	var buf [4]byte
	for _, n := range nets {
		for _, p := range n.Params() {
			fmt.Fprintf(h, "%s%v;", p.Name, p.Shape)
			for _, v := range p.Data {
				binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
				h.Write(buf[:])
			}
		}
	}
	return h.Sum64()
}

// rowKey names a row's cached attack results: it changes with the profile
// (every attack setting and the image counts), the seed, the row's label,
// and the weights of every model the row's attacks use (the row itself,
// its full-precision base for T-PGD-fp, the substitute for the transfers),
// so that a retrained model, another quantizer or mapping, or other attack
// settings never reuse a stale result.
func rowKey(p Profile, seed uint64, label string, row, base, sub *nn.Network) string {
	return fmt.Sprintf("%s-s%d-%s-%016x", profileKey(p), seed, fileName(label), weightsHash(row, base, sub))
}

// profileKey names a profile with every one of its settings: its name and a
// hash of all its fields.
func profileKey(p Profile) string {
	h := fnv.New32a()
	fmt.Fprintf(h, "%+v", p)
	return fmt.Sprintf("%s-%08x", p.Name, h.Sum32())
}
