package lipschitz

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/robustq/robustq/nn"
)

// paramList is a ParamSource over a fixed list.
type paramList []*nn.Param

var _ ParamSource = paramList(nil)

func (l paramList) Params() []*nn.Param { return l }

func cloneAll(ps []*nn.Param) []*nn.Param {
	out := make([]*nn.Param, len(ps))
	for i, p := range ps {
		out[i] = p.Clone()
	}
	return out
}

// twoNets returns a reference network's parameters (a conv, its bias, a
// dense layer) and a copy whose weights differ by known ΔW:
//   - conv1: 2→2, 3x3, 5x5 input, padding 1; ΔW = 0.5 at the centre tap from
//     channel o to o, so ‖ΔW‖₂ = 0.5 (a scaled identity), ‖ΔW‖∞ = 0.5,
//     reshaped [[0.5 at one column], ...] has norm 0.5;
//   - fc: 2×2, reference W = I (‖W‖₂ = 1), ΔW = [[3, 0], [4, 5]], so
//     ‖ΔW‖₂ = 3√5 and ‖ΔW‖∞ = 9 (see TestDenseByHand).
//
// The conv reference weight is random, and the bias changes too (ignored).
func twoNets() (ref, other []*nn.Param) {
	rng := rand.New(rand.NewPCG(8, 8))
	cc := convCase{out: 2, in: 2, kh: 3, kw: 3, g: nn.ConvGeometry{InHeight: 5, InWidth: 5, Stride: 1, Padding: 1}}
	// Multiples of 1/8 in [-4, 4], so that adding 0.5 is exact in float32.
	w := make([]float32, 2*2*9)
	for i := range w {
		w[i] = float32(rng.IntN(65)-32) / 8
	}
	ref = []*nn.Param{
		convParam("conv1.weight", cc, w),
		{Name: "conv1.bias", Layer: "conv1", Kind: nn.Bias, Shape: []int{2}, Data: []float32{0.1, 0.2}},
		denseParam("fc.weight", 2, 2, []float32{1, 0, 0, 1}),
	}
	other = cloneAll(ref)
	for o := range 2 {
		other[0].Data[((o*2+o)*3+1)*3+1] += 0.5
	}
	other[1].Data[0] = 7
	copy(other[2].Data, []float32{4, 0, 4, 6})
	return ref, other
}

func TestCompareParams(t *testing.T) {
	ctx := context.Background()
	ref, other := twoNets()
	refCopy, otherCopy := cloneAll(ref), cloneAll(other)
	cfg := PowerIteration{Tol: 1e-12, Seed: 4}
	rep, err := CompareParams(ctx, ref, other, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The inputs are not modified.
	if !cmp.Equal(ref, refCopy) || !cmp.Equal(other, otherCopy) {
		t.Fatal("CompareParams modified its inputs")
	}
	if got := []string{rep.Layers[0].Name, rep.Layers[1].Name}; len(rep.Layers) != 2 || !cmp.Equal(got, []string{"conv1.weight", "fc.weight"}) {
		t.Fatalf("layers %v, want conv1.weight and fc.weight in order", rep.Layers)
	}
	if rep.Config != (PowerIteration{Tol: 1e-12, MaxIter: DefaultMaxIter, Seed: 4}) {
		t.Errorf("Config = %+v, want defaults filled in", rep.Config)
	}
	c, d := rep.Layers[0], rep.Layers[1]

	// conv1: ΔW = 0.5·(identity tap): AᵀA = 0.25·I, exact after one
	// iteration up to rounding (1e-15).
	if c.Kind != nn.ConvWeight || c.Layer != "conv1" || !cmp.Equal(c.Shape, []int{2, 2, 3, 3}) || c.Conv == nil || *c.Conv != *ref[0].Conv {
		t.Errorf("conv1 metadata: %+v", c)
	}
	for name, got := range map[string]float64{"Spectral": c.Spectral, "Reshaped": c.Reshaped, "Inf": c.Inf} {
		if relDiff(got, 0.5) > 1e-15 {
			t.Errorf("conv1 %s = %.17g, want 0.5", name, got)
		}
	}
	if !c.Converged || c.Iterations != 2 {
		t.Errorf("conv1: converged %v after %d iterations, want true after 2", c.Converged, c.Iterations)
	}
	// ‖W‖₂ of the reference conv, computed the same way by ConvSpectral:
	// same operator, same seed and config, so the same number bit for bit.
	refEst, err := ConvSpectral(ctx, ref[0], cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.RefSpectral != refEst.Value || c.RefSpectral == 0 {
		t.Errorf("conv1 RefSpectral = %v, ConvSpectral(ref) = %v", c.RefSpectral, refEst.Value)
	}
	if relDiff(c.Relative(), 0.5/refEst.Value) > 1e-15 {
		t.Errorf("Relative = %v", c.Relative())
	}

	// fc: closed forms; SVD accuracy as in TestDenseByHand.
	if d.Kind != nn.DenseWeight || d.Conv != nil || d.Iterations != 0 || !d.Converged {
		t.Errorf("fc metadata: %+v", d)
	}
	if relDiff(d.Spectral, 3*math.Sqrt(5)) > 1e-14 || d.Reshaped != d.Spectral || d.Inf != 9 || relDiff(d.RefSpectral, 1) > 1e-14 {
		t.Errorf("fc norms: %+v, want ‖ΔW‖₂ = 3√5, ‖ΔW‖∞ = 9, ‖W‖₂ = 1", d)
	}

	// Compare on ParamSources gives the same report.
	rep2, err := Compare(ctx, paramList(ref), paramList(other), cfg)
	if err != nil || !cmp.Equal(rep, rep2) {
		t.Errorf("Compare differs from CompareParams: %v\n%v", err, cmp.Diff(rep, rep2))
	}

	// Comparing a network with itself gives zeros, all converged.
	self, err := CompareParams(ctx, ref, ref, PowerIteration{})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range self.Layers {
		if l.Spectral != 0 || l.Reshaped != 0 || l.Inf != 0 || !l.Converged || l.RefSpectral == 0 {
			t.Errorf("self-comparison %s: %+v", l.Name, l)
		}
	}
}

func TestCompareErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		mod  func(ref, other []*nn.Param) ([]*nn.Param, []*nn.Param)
		want error
	}{
		{"shape mismatch", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			o[2].Shape = []int{4, 1}
			return r, o
		}, ErrShape},
		{"kind mismatch", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			o[2].Kind = nn.ConvWeight
			return r, o
		}, ErrShape},
		{"missing in other", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			return r, o[:2]
		}, ErrMissing},
		{"extra in other", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			return r[:2], o
		}, ErrMissing},
		{"duplicate name", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			return append(r, r[2].Clone()), o
		}, ErrMissing},
		{"NaN in other", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			o[0].Data[3] = float32(math.NaN())
			return r, o
		}, ErrNonFinite},
		{"Inf in ref", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			r[2].Data[1] = float32(math.Inf(1))
			return r, o
		}, ErrNonFinite},
		{"ref conv without geometry", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			r[0].Conv = nil
			return r, o
		}, ErrGeometry},
		{"ref stride 0", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			r[0].Conv.Stride = 0
			return r, o
		}, ErrGeometry},
		{"geometries differ", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			o[0].Conv.Padding = 0
			return r, o
		}, ErrGeometry},
		{"data length", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			o[2].Data = o[2].Data[:3]
			return r, o
		}, ErrShape},
		{"no weights", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			return r[1:2], o[1:2]
		}, ErrEmpty},
		{"empty", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			return nil, nil
		}, ErrEmpty},
		{"nil param", func(r, o []*nn.Param) ([]*nn.Param, []*nn.Param) {
			o[1] = nil
			return r, o
		}, ErrEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, o := twoNets()
			r, o = tt.mod(r, o)
			rep, err := CompareParams(ctx, r, o, PowerIteration{})
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "lipschitz: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if len(rep.Layers) != 0 {
				t.Errorf("report has %d layers despite the error", len(rep.Layers))
			}
		})
	}

	r, o := twoNets()
	if _, err := Compare(ctx, nil, paramList(o), PowerIteration{}); !errors.Is(err, ErrEmpty) {
		t.Errorf("nil network: err = %v, want ErrEmpty", err)
	}
	if _, err := CompareParams(ctx, r, o, PowerIteration{Tol: -1}); !errors.Is(err, ErrConfig) {
		t.Errorf("bad config: err = %v, want ErrConfig", err)
	}
	// A conv weight of the other network without geometry takes ref's.
	o[0].Conv = nil
	if _, err := CompareParams(ctx, r, o, PowerIteration{}); err != nil {
		t.Errorf("other without geometry: %v", err)
	}
	// Cancellation stops the power iteration.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := CompareParams(cctx, r, o, PowerIteration{}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
}

func TestReportMarkdown(t *testing.T) {
	ref, other := twoNets()
	rep, err := CompareParams(context.Background(), ref, other, PowerIteration{})
	if err != nil {
		t.Fatal(err)
	}
	md := rep.Markdown()
	lines := strings.Split(md, "\n")
	// The fc row from the closed forms: 3√5 = 6.7082 → "6.708" at 4
	// significant digits, ‖ΔW‖∞ = 9, ‖W‖₂ = 1, ratio 6.708.
	wantFC := "| fc.weight | dense-weight | 2×2 | 6.708 | 6.708 | 9 | 1 | 6.708 | yes |"
	if len(lines) < 4 || lines[3] != wantFC {
		t.Errorf("Markdown fc row:\n%s\nwant:\n%s", md, wantFC)
	}
	if !strings.HasPrefix(lines[2], "| conv1.weight | conv-weight | 2×2×3×3 | 0.5 | 0.5 | 0.5 | ") {
		t.Errorf("Markdown conv row: %q", lines[2])
	}
	if !strings.Contains(md, "tolerance 1e-06, at most 500 iterations, seed 0") {
		t.Errorf("Markdown does not state the method:\n%s", md)
	}
	// Every table line has the same number of cells.
	for _, l := range lines[:4] {
		if n := strings.Count(l, "|"); n != 10 {
			t.Errorf("line %q has %d '|', want 10", l, n)
		}
	}
	// A '|' in a name is escaped, and an unconverged row says so.
	rep.Layers[0].Name = "a|b"
	rep.Layers[0].Converged = false
	row := strings.Split(rep.Markdown(), "\n")[2]
	if !strings.HasPrefix(row, `| a\|b |`) || !strings.HasSuffix(row, "| no |") {
		t.Errorf("escaped row: %q", row)
	}
}

func TestReportCSV(t *testing.T) {
	ref, other := twoNets()
	rep, err := CompareParams(context.Background(), ref, other, PowerIteration{})
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
	if len(recs) != 3 || !cmp.Equal(recs[0], csvHeader) {
		t.Fatalf("CSV records: %v", recs)
	}
	want := [][]string{
		{"conv1.weight", "conv1", "conv-weight", "2x2x3x3", "5", "5", "1", "1"},
		{"fc.weight", "fc", "dense-weight", "2x2", "", "", "", ""},
	}
	for i, l := range rep.Layers {
		rec := recs[i+1]
		if !cmp.Equal(rec[:8], want[i]) {
			t.Errorf("record %d starts %v, want %v", i, rec[:8], want[i])
		}
		// Numbers round-trip exactly.
		for j, v := range []float64{l.Spectral, l.Reshaped, l.Inf, l.RefSpectral, l.Relative()} {
			got, err := strconv.ParseFloat(rec[8+j], 64)
			if err != nil || got != v {
				t.Errorf("record %d field %s = %q, want %v", i, csvHeader[8+j], rec[8+j], v)
			}
		}
		if rec[13] != strconv.FormatBool(l.Converged) || rec[14] != strconv.Itoa(l.Iterations) {
			t.Errorf("record %d: converged/iterations %v", i, rec[13:])
		}
	}
	// A failing writer is reported.
	if err := rep.WriteCSV(failWriter{}); err == nil || !strings.HasPrefix(err.Error(), "lipschitz: ") {
		t.Errorf("failing writer: err = %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
