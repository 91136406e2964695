package defense

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/robustq/robustq/nn"
	"github.com/robustq/robustq/quant"
)

func TestMuLawCompressKnownValues(t *testing.T) {
	// Expected values from the closed form F(x) = ln(1+255x)/ln(256):
	// F(0.01) = ln(3.55)/ln(256) = 1.266948/5.545177 = 0.228477,
	// F(0.5) = ln(128.5)/ln(256) = 4.855929/5.545177 = 0.875703,
	// F(1) = 1 exactly by construction; for μ = 1, F(0.5) = ln(1.5)/ln(2).
	// tol: the printed digits (6 significant); the function itself is
	// float64.
	tests := []struct {
		name     string
		mu, x, f float64
		tol      float64
	}{
		{"mu255 0.01", 255, 0.01, 0.228477, 1e-6},
		{"mu255 0.5", 255, 0.5, 0.875703, 1e-6},
		{"mu255 1", 255, 1, 1, 1e-15},
		{"mu255 -1", 255, -1, -1, 1e-15},
		{"default mu", 0, 0.5, 0.875703, 1e-6},
		{"mu1 0.5", 1, 0.5, math.Log(1.5) / math.Log(2), 1e-15},
		{"zero", 255, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := MuLaw{Mu: tc.mu}.Compress(tc.x)
			if math.Abs(got-tc.f) > tc.tol {
				t.Errorf("F(%v) = %.9f, want %.9f ± %g", tc.x, got, tc.f, tc.tol)
			}
		})
	}
}

func TestMuLawCompressOddMonotone(t *testing.T) {
	for _, mu := range []float64{0.5, 1, 10, 255, 1e4} {
		m := MuLaw{Mu: mu}
		prev := math.Inf(-1)
		for i := -1000; i <= 1000; i++ {
			x := float64(i) / 1000
			f := m.Compress(x)
			// Odd: F(−x) = −F(x) exactly, since the code computes −F(|x|).
			if g := m.Compress(-x); g != -f {
				t.Fatalf("μ=%v: F(%v) = %v, F(%v) = %v, not odd", mu, -x, g, x, f)
			}
			if !(f > prev) {
				t.Fatalf("μ=%v: F(%v) = %v not above F at the previous point %v", mu, x, f, prev)
			}
			// Compression: |F(x)| ≥ |x| on [−1, 1] (F is concave on [0, 1]
			// with F(0) = 0 and F(1) = 1), within float64 rounding.
			if math.Abs(f) < math.Abs(x)-1e-15 {
				t.Fatalf("μ=%v: |F(%v)| = %v < |x|", mu, x, math.Abs(f))
			}
			prev = f
		}
	}
	if v := (MuLaw{Mu: -1}).Compress(0.5); !math.IsNaN(v) {
		t.Errorf("Compress with μ = −1 = %v, want NaN", v)
	}
}

func TestMuLawMap(t *testing.T) {
	// A 2×3 dense weight; per tensor max|w| = 2, row maxima 2 and 0.5.
	p := &nn.Param{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight, Shape: []int{2, 3},
		Data: []float32{2, -1, 0, 0.5, -0.25, 0.02}}
	orig := slices.Clone(p.Data)
	f := func(x float64) float64 { return MuLaw{}.Compress(x) }
	tests := []struct {
		name string
		m    MuLaw
		want []float64
	}{
		// Map(w) = m·F(w/m) with m the group's max|w|.
		{"per tensor", MuLaw{Scale: MuMaxAbs}, []float64{2, -2 * f(0.5), 0, 2 * f(0.25), -2 * f(0.125), 2 * f(0.01)}},
		{"per channel", MuLaw{Scale: MuMaxAbs, PerChannel: true}, []float64{2, -2 * f(0.5), 0, 0.5, -0.5 * f(0.5), 0.5 * f(0.04)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.m.Map(p)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(tc.want))
			for i, v := range tc.want {
				want[i] = float32(v)
			}
			// tol: one float32 rounding of a float64 result, relative 2^-24.
			if d := cmp.Diff(want, got, cmpopts.EquateApprox(1e-7, 0)); d != "" {
				t.Errorf("Map (-want +got):\n%s", d)
			}
			if !slices.Equal(p.Data, orig) {
				t.Error("Map modified its parameter")
			}
		})
	}
	// A rank-1 tensor has a single group even with PerChannel.
	b := &nn.Param{Name: "fc.bias", Kind: nn.Bias, Shape: []int{2}, Data: []float32{1, 0.5}}
	got, err := MuLaw{Scale: MuMaxAbs, PerChannel: true}.Map(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := float32(f(0.5)); got[0] != 1 || math.Abs(float64(got[1]-want)) > 1e-7 {
		t.Errorf("Map of a vector = %v, want [1 %v]", got, want)
	}
	// Zeros stay zeros (no division by a zero scale).
	z := &nn.Param{Name: "z", Kind: nn.DenseWeight, Shape: []int{2, 2}, Data: make([]float32, 4)}
	got, err = MuLaw{Scale: MuMaxAbs, PerChannel: true}.Map(z)
	if err != nil || !slices.Equal(got, make([]float32, 4)) {
		t.Errorf("Map of zeros = %v, %v; want zeros", got, err)
	}
	// MuDirect, the default, is F of each weight itself; ±1 map to ±1.
	d := &nn.Param{Name: "fc.weight", Layer: "fc", Kind: nn.DenseWeight, Shape: []int{2, 2}, Data: []float32{1, -0.5, 0, 0.01}}
	got, err = MuLaw{}.Map(d)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range []float64{1, -f(0.5), 0, f(0.01)} {
		if math.Abs(float64(got[i])-w) > 1e-7*math.Abs(w) {
			t.Errorf("direct Map value %d = %v, want %v", i, got[i], w)
		}
	}
}

func TestMuLawErrors(t *testing.T) {
	good := func() *nn.Param {
		return &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}
	}
	nan := good()
	nan.Data[2] = float32(math.NaN())
	inf := good()
	inf.Data[0] = float32(math.Inf(-1))
	short := good()
	short.Data = short.Data[:3]
	tests := []struct {
		name string
		m    MuLaw
		p    *nn.Param
		want error
	}{
		{"nan weight", MuLaw{}, nan, nn.ErrNonFinite},
		{"inf weight", MuLaw{}, inf, nn.ErrNonFinite},
		{"negative mu", MuLaw{Mu: -1}, good(), ErrParam},
		{"nan mu", MuLaw{Mu: math.NaN()}, good(), ErrParam},
		{"inf mu", MuLaw{Mu: math.Inf(1)}, good(), ErrParam},
		{"nil param", MuLaw{}, nil, ErrNil},
		{"direct outside [-1, 1]", MuLaw{}, &nn.Param{Name: "w", Kind: nn.DenseWeight, Shape: []int{2}, Data: []float32{0.5, -1.5}}, ErrParam},
		{"direct per channel", MuLaw{PerChannel: true}, good(), ErrParam},
		{"unknown scale", MuLaw{Scale: 9}, good(), ErrParam},
		{"shape mismatch", MuLaw{}, short, nn.ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.m.Map(tc.p)
			if !errors.Is(err, tc.want) {
				t.Errorf("Map error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestMuLawName(t *testing.T) {
	if got := (MuLaw{}).Name(); got != "mu-law(255)" {
		t.Errorf("Name = %q", got)
	}
	if got := (MuLaw{Mu: 100, Scale: MuMaxAbs, PerChannel: true}).Name(); got != "mu-law(100)-maxabs-per-channel" {
		t.Errorf("Name = %q", got)
	}
}

func TestApplyMapping(t *testing.T) {
	tr, te := blobs(800, 8, 4, 4, 0.15, 1, 1), blobs(400, 8, 4, 4, 0.15, 1, 2)
	net := mlp(t, 4, 4, 32, 8, 1)
	trainStd(t, net, tr, 20, 0.02)
	before := cloneData(net)
	mapped, err := ApplyMapping(net, MuLaw{Scale: MuMaxAbs}, quant.LastLayers(1))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, cloneData(net)); d != "" {
		t.Fatalf("ApplyMapping changed the original network:\n%s", d)
	}
	for _, p := range mapped.Params() {
		orig := net.Param(p.Name)
		changed := !slices.Equal(p.Data, orig.Data)
		if want := p.Name == "out.weight"; changed != want {
			t.Errorf("%s changed = %v, want %v", p.Name, changed, want)
		}
	}
	// The mapping keeps the predicted class on most inputs: 0.897 of 400
	// test inputs were measured for this model and seed; 0.8 leaves room for
	// float32 differences across platforms while still failing if, say, the
	// scale were dropped (mapping the raw weights instead of w/max|w|).
	p0, err := nn.Predict(net, te.X, 0)
	if err != nil {
		t.Fatal(err)
	}
	p1, err := nn.Predict(mapped, te.X, 0)
	if err != nil {
		t.Fatal(err)
	}
	agree := 0
	for i := range p0 {
		if p0[i] == p1[i] {
			agree++
		}
	}
	if frac := float64(agree) / float64(len(p0)); frac < 0.8 {
		t.Errorf("mapped model agrees with the original on %.3f of inputs, want ≥ 0.8", frac)
	}

	// Map, then quantize: the result is on the 3-bit grid of the mapped weights.
	q, err := quant.Apply(mapped, quant.Linear{Bits: 3}, quant.LastLayers(1))
	if err != nil {
		t.Fatal(err)
	}
	w := q.Param("out.weight")
	if distinct(w.Data) > 7 {
		t.Errorf("map-then-quantize gave %d distinct values, want ≤ 7", distinct(w.Data))
	}
	want, _ := quant.Linear{Bits: 3}.Quantize(mapped.Param("out.weight"))
	if !slices.Equal(w.Data, want) {
		t.Error("quantized weights are not Q(mapped weights)")
	}
}

func TestApplyMappingErrors(t *testing.T) {
	net := mlp(t, 2, 2, 3, 2, 1)
	nan := net.Clone()
	nan.Param("out.weight").Data[0] = float32(math.NaN())
	tests := []struct {
		name string
		net  *nn.Network
		m    Mapping
		sel  quant.Selector
		want error
	}{
		{"nil net", nil, MuLaw{}, nil, ErrNil},
		{"nil mapping", net, nil, nil, ErrNil},
		{"unknown layer", net, MuLaw{}, quant.Layers{"nope"}, quant.ErrSelect},
		{"empty selection", net, MuLaw{}, quant.ParamFunc(func(*nn.Param) bool { return false }), quant.ErrSelect},
		{"too many layers", net, MuLaw{}, quant.LastLayers(3), quant.ErrSelect},
		{"nan weight", nan, MuLaw{}, nil, nn.ErrNonFinite},
		{"bad mu", net, MuLaw{Mu: -2}, nil, ErrParam},
		{"short output", net, badMapping{}, nil, nn.ErrShape},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ApplyMapping(tc.net, tc.m, tc.sel)
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

// badMapping returns one value too few.
type badMapping struct{}

func (badMapping) Map(p *nn.Param) ([]float32, error) { return make([]float32, len(p.Data)-1), nil }
func (badMapping) Name() string                       { return "bad" }

func cloneData(net *nn.Network) map[string][]float32 {
	m := map[string][]float32{}
	for _, p := range net.Params() {
		m[p.Name] = slices.Clone(p.Data)
	}
	return m
}

func distinct(v []float32) int {
	s := map[float32]bool{}
	for _, x := range v {
		s[x] = true
	}
	return len(s)
}
