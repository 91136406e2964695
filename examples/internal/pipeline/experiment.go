package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/robustq/robustq/attack"
	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/internal/atomicfile"
	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

// Experiment is one data set's reproduction of the paper.
type Experiment struct {
	Name, Title string
	Command     string
	Train, Test *data.Dataset
	Regimes     []Regime
	// Rows are the keys of the regimes that get table rows (Orig., Adv., F.L.).
	Rows []string
	// Substitute is the key of the black-box substitute.
	Substitute string
	// MuLayers chooses the layers the μ-law maps; MuNote says which in words.
	// The +mu rows use defense.MuLaw{} (F on the weights themselves); the
	// max|W|-normalised variant appears in an extra table.
	MuLayers quant.Selector
	MuNote   string
	// PaperOrigQ is the paper's Orig. (Q) clean accuracy (a fraction): the
	// quantization scheme whose Orig. (Q) is closest to it is the tables'.
	PaperOrigQ float64
	// TableNumbers are the paper's numbers of the white-box and black-box
	// tables (1 and 2 for MNIST, 3 and 4 for CIFAR-10); LipFigure that of
	// the ‖ΔW‖₂ figure (3 or 4).
	TableNumbers [2]int
	LipFigure    int
	// TargetClean is the clean accuracy Orig. needs before the verdicts
	// speak for the paper's setting (0.99 on MNIST, 0.88 on CIFAR-10); below
	// it the verdict says that they describe under-trained models.
	TargetClean float64
	// LipLayers, if not nil, chooses the layers of the ‖ΔW‖₂ figure.
	LipLayers  func(layer string) bool
	Profile    Profile
	Cache, Out string
	// TrainSetCheck, if not empty, is the key of a row whose clean and PGD
	// accuracy the report also gives on its own first NAttack training
	// images, with CapacityNote after them: a model that underfits its
	// adversarial training examples is limited by capacity, not
	// overfitting.
	TrainSetCheck, CapacityNote string
	// Models, if not empty, is a folder of published models (see Publish)
	// to evaluate instead of training or loading from Cache; Publish, if
	// not empty, is where to publish the trained models.
	Models, Publish string
	Seed            uint64
	Log             io.Writer

	started   time.Time
	evalStart time.Time // when the models were ready
	rowsRun   float64   // seconds of the rows computed (not loaded) by this run
	// transfersCached is the crafting time of the transfer examples loaded
	// from the cache (those crafted by this run are within its time).
	transfersCached float64
	scheme          Scheme
	schemeAcc       []float64 // Orig. (Q) clean accuracy of each of Schemes
	muTable         string
	trainSet        string // the TrainSetCheck paragraph
	nets            map[string]*nn.Network
	trainDur        map[string]TrainTime
	rows            []Row
	results         []RowResult
	subClean        float64
}

// RowResult is everything measured on one row; it is cached as JSON so that
// an interrupted evaluation resumes row by row.
type RowResult struct {
	Label string
	// Clean is the accuracy on Profile.NClean test images.
	Clean float64
	// AttackClean is the accuracy on the NAttack attacked images.
	AttackClean float64
	// Acc maps an attack's name to the accuracy under it (on NAttack images).
	Acc map[string]float64
	// Worst is the accuracy under the worst case of the L∞ ε attacks.
	Worst float64
	// ZeroGrad and Saturated are the masking diagnostics.
	ZeroGrad, Saturated float64
	// MeanL2 is the mean L2 norm of successful CW-L2 perturbations.
	MeanL2   float64
	Warnings []string
	Seconds  float64
	// Per image, '1' for correct and '0' for wrong, for paired tests
	// between rows: CleanBits on the NClean images, Correct on the NAttack
	// attacked ones by attack name, with "clean" and "worst" (every L∞ ε
	// attack).
	CleanBits string
	Correct   map[string]string
	// Checksum is the SHA-256 of the result's JSON with Checksum empty: a
	// cached result that does not match it (edited or damaged) is computed
	// again.
	Checksum string
}

// sum returns the SHA-256 of r's JSON with Checksum empty.
func (r RowResult) sum() string {
	r.Checksum = ""
	b, _ := json.Marshal(r)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Run trains or loads the models, evaluates every row and writes the report.
func (e *Experiment) Run(ctx context.Context) error {
	e.started = time.Now()
	LimitHeap()
	if err := os.MkdirAll(e.Out, 0o755); err != nil {
		return err
	}
	var err error
	e.nets, e.trainDur, err = trainAll(ctx, e.Cache, e.Models, e.Seed, e.Train, e.Regimes, e.Log)
	if err != nil {
		return err
	}
	if e.Publish != "" {
		if err := Publish(e.Publish, e.Regimes, e.nets, e.trainDur); err != nil {
			return err
		}
		fmt.Fprintf(e.Log, "models published in %s\n", e.Publish)
	}
	e.evalStart = time.Now()
	for _, key := range append(slices.Clone(e.Rows), e.Substitute) {
		if e.nets[key] == nil {
			return fmt.Errorf("experiment %s: row or substitute %q is not one of its regimes", e.Name, key)
		}
	}
	if err := e.chooseScheme(); err != nil {
		return err
	}
	if err := e.checkTrainSet(ctx); err != nil {
		return err
	}
	for _, key := range e.Rows {
		rows, err := Variants(e.regime(key).Label, key, e.nets[key], e.scheme.New(e.Profile.Bits), e.MuLayers)
		if err != nil {
			return err
		}
		e.rows = append(e.rows, rows...)
	}
	sub := e.nets[e.Substitute]
	p := e.Profile
	if e.subClean, err = nn.Accuracy(sub, e.Test.Head(p.NClean).X, e.Test.Head(p.NClean).Y, evalBatch); err != nil {
		return err
	}
	fmt.Fprintf(e.Log, "crafting transferred examples on the substitute and the full-precision models (%d images)\n", p.NAttack)
	at := e.Test.Head(p.NAttack)
	if e.muTable, err = e.muVariants(at); err != nil {
		return err
	}
	shared, fromBase, err := e.precompute(ctx, at)
	if err != nil {
		return err
	}
	for i, r := range e.rows {
		res, err := e.evaluateRow(ctx, r, at, shared, fromBase)
		if err != nil {
			return fmt.Errorf("%s: %w", r.Label, err)
		}
		fmt.Fprintf(e.Log, "[%d/%d] %-14s clean %.2f%%  PGD %.2f%%  worst %.2f%%  (%.0fs)\n", i+1, len(e.rows), r.Label,
			100*res.Clean, 100*res.Acc["PGD"], 100*res.Worst, res.Seconds)
		e.results = append(e.results, res)
	}
	if err := e.writeReport(ctx); err != nil {
		return err
	}
	fmt.Fprintf(e.Log, "done in %s: the report is %s\n", time.Since(e.started).Round(time.Second), filepath.Join(e.Out, "README.md"))
	return nil
}

func (e *Experiment) regime(key string) Regime {
	for _, r := range e.Regimes {
		if r.Key == key {
			return r
		}
	}
	return Regime{Key: key, Label: key}
}

// checkTrainSet measures the TrainSetCheck row's clean and PGD accuracy on
// its own first NAttack training images.
func (e *Experiment) checkTrainSet(ctx context.Context) error {
	if e.TrainSetCheck == "" {
		return nil
	}
	net, p := e.nets[e.TrainSetCheck], e.Profile
	if net == nil {
		return fmt.Errorf("experiment %s: TrainSetCheck %q is not one of its regimes", e.Name, e.TrainSetCheck)
	}
	ts := e.Train.Head(p.NAttack)
	pgd := e.whiteBox()[1]
	rep, err := attack.Evaluator{Attacks: []attack.Attack{pgd}, Batch: evalBatch}.Run(ctx, net, ts.X, ts.Y)
	if err != nil {
		return fmt.Errorf("%s on its training images: %w", e.regime(e.TrainSetCheck).Label, err)
	}
	e.trainSet = fmt.Sprintf("**%s on its own training images.** On the first %d training images it has %s%% clean and %s%% "+
		"PGD accuracy (the tables' PGD: ε %.3g, step %.3g, %d steps, random start). %s\n\n",
		e.regime(e.TrainSetCheck).Label, ts.Len(), pct(rep.Clean), pct(rep.Groups[0].Rows[0].AdvAccuracy), p.Eps, p.Step, p.Steps, e.CapacityNote)
	fmt.Fprintf(e.Log, "%s on its first %d training images: clean %s%%, PGD %s%%\n", e.regime(e.TrainSetCheck).Label, ts.Len(),
		pct(rep.Clean), pct(rep.Groups[0].Rows[0].AdvAccuracy))
	return nil
}

// The attacks. Names are the tables' column headers.
func (e *Experiment) whiteBox() []attack.Attack {
	p := e.Profile
	return []attack.Attack{
		attack.Rename(attack.FGSM{Eps: p.FGSM[2]}, "FGSM-s"),
		attack.Rename(attack.PGD{Eps: p.Eps, Step: p.Step, Steps: p.Steps, RandomStart: true, Seed: e.Seed, EarlyStop: p.EarlyStop}, "PGD"),
		attack.Rename(attack.BIM{Eps: p.Eps, Step: p.Step, Steps: p.Steps, EarlyStop: p.EarlyStop}, "BIM"),
		attack.Rename(attack.MIM{Eps: p.Eps, Step: p.Step, Steps: p.Steps, EarlyStop: p.EarlyStop}, "MIM"),
	}
}

func (e *Experiment) adaptive() []attack.Attack {
	p := e.Profile
	return []attack.Attack{
		attack.Rename(attack.PGD{Eps: p.Eps, Step: p.Step, Steps: p.Steps, RandomStart: true, Seed: e.Seed, Loss: nn.CWMargin{}, EarlyStop: p.EarlyStop}, "PGD-CW"),
		attack.Rename(attack.PGD{Eps: p.Eps, Step: p.Step, Steps: p.Steps, RandomStart: true, Seed: e.Seed, Loss: nn.DLR{}, EarlyStop: p.EarlyStop}, "PGD-DLR"),
		attack.Rename(attack.APGD{Eps: p.Eps, Steps: p.APGDSteps, Seed: e.Seed}, "APGD-CE"),
		attack.Rename(attack.APGD{Eps: p.Eps, Steps: p.APGDSteps, Seed: e.Seed, Loss: nn.DLR{}}, "APGD-DLR"),
		attack.Rename(attack.Square{Eps: p.Eps, Queries: p.SquareQueries, Seed: e.Seed}, "Square"),
	}
}

func (e *Experiment) cw() attack.Attack {
	p := e.Profile
	return attack.CW{Steps: p.CWSteps, LR: p.CWLR, BinarySteps: p.CWBinary, InitialConst: p.CWConst}
}

// precompute crafts the examples that do not depend on the row: transfers
// from the substitute and noise (shared), and PGD transfers from each
// full-precision base model (fromBase, by regime key).
func (e *Experiment) precompute(ctx context.Context, at *data.Dataset) ([]attack.Attack, map[string]attack.Attack, error) {
	p := e.Profile
	sub := e.nets[e.Substitute]
	specs := []struct {
		name string
		a    attack.Attack
	}{
		{"T-CW-L2", e.cw()},
		{"T-FGSM-w", attack.FGSM{Eps: p.FGSM[0]}},
		{"T-FGSM-m", attack.FGSM{Eps: p.FGSM[1]}},
		{"T-FGSM-s", attack.FGSM{Eps: p.FGSM[2]}},
		{"T-PGD-sub", attack.PGD{Eps: p.Eps, Step: p.Step, Steps: p.Steps, RandomStart: true, Seed: e.Seed}},
		{"Gaussian", attack.Gaussian{Sigma: p.Sigma, Seed: e.Seed}},
		{"Uniform", attack.Uniform{Eps: p.Eps, Seed: e.Seed}},
	}
	var shared []attack.Attack
	for _, s := range specs {
		path := filepath.Join(e.Cache, "transfer", transferKey(p, e.Seed, s.name, sub, at.X)+".safetensors")
		pc, sec, err := precomputeCached(ctx, path, s.name, s.a, sub, at.X, at.Y, p.Batch, e.Log)
		if err != nil {
			return nil, nil, err
		}
		e.transfersCached += sec
		shared = append(shared, pc)
	}
	sub.ReleaseGraphs()
	fromBase := map[string]attack.Attack{}
	for _, key := range e.Rows {
		path := filepath.Join(e.Cache, "transfer", transferKey(p, e.Seed, "T-PGD-fp", e.nets[key], at.X)+".safetensors")
		pc, sec, err := precomputeCached(ctx, path, "T-PGD-fp", attack.PGD{Eps: p.Eps, Step: p.Step, Steps: p.Steps, RandomStart: true, Seed: e.Seed},
			e.nets[key], at.X, at.Y, p.Batch, e.Log)
		if err != nil {
			return nil, nil, err
		}
		e.transfersCached += sec
		e.nets[key].ReleaseGraphs()
		fromBase[key] = pc
	}
	return shared, fromBase, nil
}

// evaluateRow runs every attack on one row, or loads the result cached by
// an earlier run of the same profile, seed and models.
func (e *Experiment) evaluateRow(ctx context.Context, r Row, at *data.Dataset, shared []attack.Attack, fromBase map[string]attack.Attack) (RowResult, error) {
	p := e.Profile
	cachePath := filepath.Join(e.Cache, "eval", rowKey(p, e.Seed, r.Label, r.Net, e.nets[r.Base], e.nets[e.Substitute])+".json")
	if b, err := os.ReadFile(cachePath); err == nil {
		var res RowResult
		if json.Unmarshal(b, &res) == nil && res.Label == r.Label && res.CleanBits != "" && res.Checksum == res.sum() {
			return res, nil
		}
		fmt.Fprintf(e.Log, "%s: cached result %s is damaged, edited or from an older version; computing it again\n", r.Label, cachePath)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return RowResult{}, err
	}
	// Rows are evaluated one after the other: free this one's graphs
	// (hundreds of MB each for a ResNet) before the next builds its own.
	defer r.Net.ReleaseGraphs()
	t0 := time.Now()
	res := RowResult{Label: r.Label, Acc: map[string]float64{}, Correct: map[string]string{}}
	clean := e.Test.Head(p.NClean)
	pred, err := nn.Predict(r.Net, clean.X, evalBatch)
	if err != nil {
		return res, err
	}
	ok := make([]bool, len(pred))
	for i, c := range pred {
		ok[i] = c == clean.Y[i]
	}
	res.CleanBits = bits(ok)
	res.Clean = float64(strings.Count(res.CleanBits, "1")) / float64(len(ok))
	byName := map[string]attack.Attack{}
	for _, a := range shared {
		byName[a.Name()] = a
	}
	// Group 1: the L∞ attacks at the full radius ε, whose worst case is the
	// honest robust accuracy.
	linf := append(e.whiteBox(), e.adaptive()...)
	linf = append(linf, byName["T-FGSM-s"], byName["T-PGD-sub"], byName["Uniform"])
	if r.Quantized || r.Mapped {
		linf = append(linf, fromBase[r.Base])
	}
	// Group 2: everything else (unbounded CW-L2, smaller radii, Gaussian noise).
	other := []attack.Attack{attack.Rename(e.cw(), "CW-L2"), attack.Rename(attack.FGSM{Eps: p.FGSM[0]}, "FGSM-w"), attack.Rename(attack.FGSM{Eps: p.FGSM[1]}, "FGSM-m"),
		byName["T-CW-L2"], byName["T-FGSM-w"], byName["T-FGSM-m"], byName["Gaussian"]}
	last := time.Now()
	progress := func(pr attack.Progress) error {
		if time.Since(last) > 30*time.Second || pr.Done == pr.Total {
			fmt.Fprintf(e.Log, "    %s: %d/%d attack-batches done (last: %s)\n", r.Label, pr.Done, pr.Total, pr.Attack)
			last = time.Now()
		}
		return nil
	}
	for gi, attacks := range [][]attack.Attack{linf, other} {
		rep, err := attack.Evaluator{Attacks: attacks, Batch: p.Batch, Workers: p.Workers, OnProgress: progress}.Run(ctx, r.Net, at.X, at.Y)
		if err != nil {
			return res, err
		}
		for _, row := range rep.Groups[0].Rows {
			res.Acc[row.Attack] = row.AdvAccuracy
			res.Correct[row.Attack] = bits(row.Correct)
			if row.Attack == "CW-L2" {
				res.MeanL2 = row.MeanL2
			}
		}
		if gi == 0 {
			res.AttackClean, res.Worst = rep.Clean, rep.Groups[0].Worst.AdvAccuracy
			res.Correct["clean"], res.Correct["worst"] = bits(rep.CleanCorrect), bits(rep.Groups[0].Worst.Correct)
			res.ZeroGrad, res.Saturated = rep.ZeroGrad, rep.Saturated
			res.Warnings = rep.Warnings
		}
	}
	res.Seconds = time.Since(t0).Seconds()
	e.rowsRun += res.Seconds
	res.Checksum = res.sum()
	if b, err := json.Marshal(res); err == nil {
		if err := os.MkdirAll(filepath.Dir(cachePath), 0o755); err == nil {
			_ = WriteFileAtomic(cachePath, b)
		}
	}
	return res, nil
}

func fileName(label string) string {
	out := []byte{}
	for _, c := range []byte(label) {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			out = append(out, c)
		case c == '+':
			out = append(out, 'p')
		default:
			out = append(out, '_')
		}
	}
	return string(out)
}

// WriteFileAtomic writes b to a temporary file next to path and renames it
// into place, so a crash never leaves a half-written file. The file is
// readable by all (mode 0644), like the models.
func WriteFileAtomic(path string, b []byte) error {
	return atomicfile.WriteBytes(path, b)
}
