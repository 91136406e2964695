package lipschitz

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/robustq/robustq/nn"
)

// ParamSource is anything that lists its parameters by name, such as
// *nn.Network.
type ParamSource interface {
	// Params returns the parameters, each with a unique Name. The caller
	// only reads them.
	Params() []*nn.Param
}

var _ ParamSource = (*nn.Network)(nil)

// LayerReport holds the norms of one weight's change ΔW = W' − W, where W is
// the reference weight and W' the other one.
type LayerReport struct {
	// Name is the parameter's name, e.g. "conv1.weight".
	Name string
	// Layer is the name of the layer that owns it, e.g. "conv1".
	Layer string
	// Kind is nn.ConvWeight or nn.DenseWeight.
	Kind nn.Kind
	// Shape is the weight's shape, PyTorch layout.
	Shape []int
	// Conv is the geometry of a conv weight, nil for a dense one.
	Conv *nn.ConvGeometry
	// Spectral is ‖ΔW‖₂: exact (SVD) for a dense weight; for a conv weight
	// the power-iteration estimate of the convolution operator's norm.
	Spectral float64
	// Reshaped is the largest singular value of ΔW reshaped to
	// out×(in·kh·kw) (see ReshapedSpectral); equal to Spectral for a dense weight.
	Reshaped float64
	// Inf is ‖ΔW‖∞, the ∞→∞ operator norm (see InfNorm).
	Inf float64
	// RefSpectral is ‖W‖₂ of the reference weight, computed like Spectral,
	// for scale.
	RefSpectral float64
	// Converged reports whether both power iterations (for ΔW and for W)
	// converged; always true for a dense weight.
	Converged bool
	// Iterations is the number of power iterations spent on ΔW (0 for a
	// dense weight).
	Iterations int
}

// Relative returns Spectral/RefSpectral, the size of the change relative to
// the reference weight, or 0 when RefSpectral is 0.
func (l LayerReport) Relative() float64 {
	if l.RefSpectral == 0 {
		return 0
	}
	return l.Spectral / l.RefSpectral
}

// Report holds the per-layer norms of the change between two networks, in
// the reference network's parameter order.
type Report struct {
	// Layers has one entry per conv or dense weight.
	Layers []LayerReport
	// Config is the power-iteration configuration used, defaults filled in.
	Config PowerIteration
}

// Compare is CompareParams on ref.Params() and other.Params(). A
// *nn.Network is a ParamSource.
func Compare(ctx context.Context, ref, other ParamSource, cfg PowerIteration) (Report, error) {
	if ref == nil || other == nil {
		return Report{}, fmt.Errorf("%w: nil network", ErrEmpty)
	}
	return CompareParams(ctx, ref.Params(), other.Params(), cfg)
}

// CompareParams matches the weights (conv and dense, nn.Kind.IsWeight) of ref
// and other by name and returns, for each weight of ref in order, the norms
// of ΔW = other − ref: ‖ΔW‖₂ (exact for dense; power iteration on the
// convolution operator, with the reference's ConvGeometry, for conv), the
// reshaped value, ‖ΔW‖∞, and ‖W‖₂ of ref. Other kinds of parameters (biases,
// batch norm) are ignored.
//
// Every pair is checked before any norm is computed. It is an error (wrapping
// the sentinel named) if a parameter is nil (ErrEmpty); if ref has no weights
// (ErrEmpty); if a weight is in one list only or a name repeats (ErrMissing);
// if the two weights of a name differ in kind or shape (ErrShape) or have
// different geometries (ErrGeometry); if a conv weight of ref has no valid
// geometry (ErrGeometry); or if a weight holds NaN or Inf (ErrNonFinite).
// A conv weight of other without geometry takes ref's.
//
// ctx is checked during every power iteration; on cancellation CompareParams
// returns the layers done so far and ctx's error.
func CompareParams(ctx context.Context, ref, other []*nn.Param, cfg PowerIteration) (Report, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return Report{}, err
	}
	pairs, err := matchWeights(ref, other)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Layers: make([]LayerReport, 0, len(pairs)), Config: cfg}
	for _, pr := range pairs {
		l, err := compareOne(ctx, pr[0], pr[1], cfg)
		if err != nil {
			return rep, err
		}
		rep.Layers = append(rep.Layers, l)
	}
	return rep, nil
}

// matchWeights validates both lists and returns the (ref, other) weight pairs
// in ref's order.
func matchWeights(ref, other []*nn.Param) ([][2]*nn.Param, error) {
	index := func(ps []*nn.Param, which string) (map[string]*nn.Param, []string, error) {
		m := make(map[string]*nn.Param)
		var order []string
		for i, p := range ps {
			if p == nil {
				return nil, nil, fmt.Errorf("%w: %s parameter %d is nil", ErrEmpty, which, i)
			}
			if !p.Kind.IsWeight() {
				continue
			}
			if _, dup := m[p.Name]; dup {
				return nil, nil, fmt.Errorf("%w: %s has two weights named %q", ErrMissing, which, p.Name)
			}
			m[p.Name] = p
			order = append(order, p.Name)
		}
		return m, order, nil
	}
	refs, order, err := index(ref, "reference")
	if err != nil {
		return nil, err
	}
	others, otherOrder, err := index(other, "other")
	if err != nil {
		return nil, err
	}
	if len(order) == 0 {
		return nil, fmt.Errorf("%w: the reference has no conv or dense weights", ErrEmpty)
	}
	for _, name := range otherOrder {
		if refs[name] == nil {
			return nil, fmt.Errorf("%w: %q is in the other network but not in the reference", ErrMissing, name)
		}
	}
	pairs := make([][2]*nn.Param, 0, len(order))
	for _, name := range order {
		r, o := refs[name], others[name]
		if o == nil {
			return nil, fmt.Errorf("%w: %q is in the reference but not in the other network", ErrMissing, name)
		}
		if r.Kind != o.Kind {
			return nil, fmt.Errorf("%w: %q is a %s in the reference and a %s in the other network", ErrShape, name, r.Kind, o.Kind)
		}
		if !slices.Equal(r.Shape, o.Shape) {
			return nil, fmt.Errorf("%w: %q has shape %v in the reference and %v in the other network", ErrShape, name, r.Shape, o.Shape)
		}
		if err := checkParam(r); err != nil {
			return nil, err
		}
		if r.Kind == nn.ConvWeight && o.Conv != nil && *o.Conv != *r.Conv {
			return nil, fmt.Errorf("%w: %q has geometry %+v in the reference and %+v in the other network", ErrGeometry, name, *r.Conv, *o.Conv)
		}
		// Validate o with ref's geometry, so that a missing one is not an error.
		oc := *o
		oc.Conv = r.Conv
		if err := checkParam(&oc); err != nil {
			return nil, err
		}
		pairs = append(pairs, [2]*nn.Param{r, o})
	}
	return pairs, nil
}

// compareOne computes the norms for one validated pair.
func compareOne(ctx context.Context, ref, other *nn.Param, cfg PowerIteration) (LayerReport, error) {
	l := LayerReport{
		Name:  ref.Name,
		Layer: ref.Layer,
		Kind:  ref.Kind,
		Shape: slices.Clone(ref.Shape),
	}
	w := toFloat64(ref.Data)
	d := make([]float64, len(w))
	for i, v := range other.Data {
		d[i] = float64(v) - w[i]
	}
	var err error
	if ref.Kind == nn.DenseWeight {
		out, in := ref.Shape[0], ref.Shape[1]
		l.Inf = denseInf(out, in, d)
		if l.Spectral, err = largestSingular(out, in, slices.Clone(d)); err != nil {
			return l, fmt.Errorf("%q: %w", ref.Name, err)
		}
		l.Reshaped = l.Spectral
		if l.RefSpectral, err = largestSingular(out, in, w); err != nil {
			return l, fmt.Errorf("%q: %w", ref.Name, err)
		}
		l.Converged = true
		return l, nil
	}
	g := *ref.Conv
	l.Conv = &g
	da := newConvOperator(ref.Shape, g, d)
	l.Inf = da.InfNorm()
	if l.Reshaped, err = da.reshapedSpectral(); err != nil {
		return l, fmt.Errorf("%q: %w", ref.Name, err)
	}
	est, err := OperatorNorm(ctx, da, cfg)
	if err != nil {
		return l, fmt.Errorf("%q: %w", ref.Name, err)
	}
	l.Spectral, l.Iterations = est.Value, est.Iterations
	refEst, err := OperatorNorm(ctx, newConvOperator(ref.Shape, g, w), cfg)
	if err != nil {
		return l, fmt.Errorf("%q: %w", ref.Name, err)
	}
	l.RefSpectral = refEst.Value
	l.Converged = est.Converged && refEst.Converged
	return l, nil
}

// Markdown renders the report as a Markdown table, one row per layer, with
// numbers to 4 significant digits, followed by a line that states the method.
func (r Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| weight | kind | shape | ‖ΔW‖₂ | ‖ΔW‖₂ reshaped | ‖ΔW‖∞ | ‖W‖₂ | ‖ΔW‖₂/‖W‖₂ | converged |\n")
	b.WriteString("|---|---|---|--:|--:|--:|--:|--:|---|\n")
	for _, l := range r.Layers {
		conv := "yes"
		if !l.Converged {
			conv = "no"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.4g | %.4g | %.4g | %.4g | %.4g | %s |\n",
			mdEscape(l.Name), l.Kind, shapeString(l.Shape, "×"),
			l.Spectral, l.Reshaped, l.Inf, l.RefSpectral, l.Relative(), conv)
	}
	fmt.Fprintf(&b, "\nΔW = W' − W. ‖·‖₂: dense exact (SVD); conv: norm of the convolution operator "+
		"(input size, stride, padding), power iteration, tolerance %g, at most %d iterations, seed %d. "+
		"Reshaped: largest singular value of ΔW as an out×(in·kh·kw) matrix. ‖·‖∞: largest absolute row sum of the operator.\n",
		r.Config.Tol, r.Config.MaxIter, r.Config.Seed)
	return b.String()
}

// csvHeader is the first record WriteCSV writes.
var csvHeader = []string{"name", "layer", "kind", "shape", "in_height", "in_width", "stride", "padding",
	"spectral", "reshaped", "inf", "ref_spectral", "relative", "converged", "iterations"}

// WriteCSV writes the report as CSV: a header record, then one record per
// layer with numbers in full precision (shortest round-trip form) and the
// shape as dimensions joined by "x". Geometry fields are empty for dense
// weights.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return fmt.Errorf("lipschitz: writing CSV: %w", err)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for _, l := range r.Layers {
		geom := []string{"", "", "", ""}
		if l.Conv != nil {
			geom = []string{strconv.Itoa(l.Conv.InHeight), strconv.Itoa(l.Conv.InWidth),
				strconv.Itoa(l.Conv.Stride), strconv.Itoa(l.Conv.Padding)}
		}
		rec := append([]string{l.Name, l.Layer, l.Kind.String(), shapeString(l.Shape, "x")}, geom...)
		rec = append(rec, f(l.Spectral), f(l.Reshaped), f(l.Inf), f(l.RefSpectral), f(l.Relative()),
			strconv.FormatBool(l.Converged), strconv.Itoa(l.Iterations))
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("lipschitz: writing CSV: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("lipschitz: writing CSV: %w", err)
	}
	return nil
}

func shapeString(shape []int, sep string) string {
	s := make([]string, len(shape))
	for i, d := range shape {
		s[i] = strconv.Itoa(d)
	}
	return strings.Join(s, sep)
}

// mdEscape keeps a name from breaking a Markdown table row.
func mdEscape(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
