package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/robustq/robustq/nn"
)

// snapshot returns deep copies of params.
func snapshot(ps []*nn.Param) []*nn.Param {
	out := make([]*nn.Param, len(ps))
	for i, p := range ps {
		out[i] = p.Clone()
	}
	return out
}

// checkUntouched fails if params differ from before in any bit, or if a
// data slice was replaced.
func checkUntouched(t *testing.T, before, after []*nn.Param) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("%d params, was %d", len(after), len(before))
	}
	for i := range before {
		if before[i].Name != after[i].Name || !bitsEqual(before[i].Data, after[i].Data) {
			t.Fatalf("parameter %q changed", before[i].Name)
		}
	}
}

func TestApplyParams(t *testing.T) {
	ps := toyParams()
	before := snapshot(ps)
	q := Linear{Bits: 2}
	out, err := ApplyParams(ps, q, LastLayers(2))
	if err != nil {
		t.Fatal(err)
	}
	checkUntouched(t, before, ps)
	for i, p := range out {
		if p == ps[i] || &p.Data[0] == &ps[i].Data[0] {
			t.Fatalf("%q is not a copy", p.Name)
		}
		want := ps[i].Data
		if p.Name == "fc1.weight" || p.Name == "fc2.weight" {
			want = mustQuantize(t, q, ps[i])
		}
		if !bitsEqual(p.Data, want) || p.Name != ps[i].Name || p.Kind != ps[i].Kind {
			t.Errorf("%q: got %v, want %v", p.Name, p.Data, want)
		}
	}
	if out[0].Conv == nil || out[0].Conv == ps[0].Conv || *out[0].Conv != *ps[0].Conv {
		t.Error("conv geometry not deep-copied")
	}
}

func TestApplyParamsErrors(t *testing.T) {
	ps := toyParams()
	if _, err := ApplyParams(ps, nil, nil); !errors.Is(err, ErrNil) {
		t.Errorf("nil quantizer: %v, want ErrNil", err)
	}
	bad := toyParams()
	bad[7].Data[3] = float32(math.Inf(-1)) // in fc1.weight
	before := snapshot(bad)
	if _, err := ApplyParams(bad, Linear{}, nil); !errors.Is(err, nn.ErrNonFinite) {
		t.Errorf("Inf weight: %v, want nn.ErrNonFinite", err)
	}
	checkUntouched(t, before, bad)
	if _, err := ApplyParams(ps, Linear{Bits: 20}, nil); !errors.Is(err, ErrBits) {
		t.Errorf("20 bits: %v, want ErrBits", err)
	}
}

// tinyNet builds a small network with conv, batch norm and dense layers.
func tinyNet(t *testing.T) *nn.Network {
	t.Helper()
	net, err := nn.NewNetwork("tiny", [3]int{1, 6, 6}, rand.New(rand.NewPCG(20, 20)),
		&nn.ConvLayer{Name: "conv1", Out: 4, Kernel: 3, Padding: 1, Bias: true}, nn.BatchNorm("bn1"), nn.ReLU(),
		nn.Flatten(), nn.Dense("fc1", 8), nn.ReLU(), nn.Dense("fc2", 10))
	if err != nil {
		t.Fatal(err)
	}
	return net
}

// TestApply checks post-training quantization of a network: the original
// keeps its parameters and its logits, the copy holds Q(W) in the chosen
// weights and the float values elsewhere, and its logits change.
func TestApply(t *testing.T) {
	net := tinyNet(t)
	x := make([]float32, 2*36)
	rng := rand.New(rand.NewPCG(21, 21))
	for i := range x {
		x[i] = rng.Float32()
	}
	logits, err := net.Logits(x) // builds and caches the original's graph first
	if err != nil {
		t.Fatal(err)
	}
	before := snapshot(net.Params())
	q := Linear{Bits: 1}
	qnet, err := Apply(net, q, nil)
	if err != nil {
		t.Fatal(err)
	}
	checkUntouched(t, before, net.Params())
	after, err := net.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	if !bitsEqual(logits, after) {
		t.Error("the original's logits changed")
	}
	nw := 0
	for i, p := range qnet.Params() {
		orig := net.Params()[i]
		if p == orig || &p.Data[0] == &orig.Data[0] {
			t.Fatalf("%q shared with the original", p.Name)
		}
		want := orig.Data
		if p.Kind.IsWeight() {
			want = mustQuantize(t, q, orig)
			nw++
		}
		if !bitsEqual(p.Data, want) {
			t.Errorf("%q (%v) does not hold the expected values", p.Name, p.Kind)
		}
	}
	if nw != 3 {
		t.Errorf("%d weight tensors, want 3 (conv1, fc1, fc2)", nw)
	}
	qlogits, err := qnet.Logits(x)
	if err != nil {
		t.Fatal(err)
	}
	// Binarizing every weight of a random network changes its logits; equal
	// logits would mean the copy's graph still reads float weights.
	if bitsEqual(qlogits, logits) {
		t.Error("quantized network gives the original's logits")
	}
}

func TestApplySelectors(t *testing.T) {
	net, err := nn.MNISTCNN(rand.New(rand.NewPCG(22, 22)))
	if err != nil {
		t.Fatal(err)
	}
	qnet, err := Apply(net, Linear{Bits: 3}, LastLayers(1))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range qnet.Params() {
		changed := !bitsEqual(p.Data, net.Params()[i].Data)
		// Random U(±1/√fan_in) weights are never all on a 3-bit grid already.
		if want := p.Name == "fc2.weight"; changed != want {
			t.Errorf("%q changed = %v, want %v", p.Name, changed, want)
		}
	}
	if _, err := Apply(net, Linear{}, Layers{"fc9"}); !errors.Is(err, ErrSelect) {
		t.Errorf("unknown layer: %v, want ErrSelect", err)
	}
	if _, err := Apply((*nn.Network)(nil), Linear{}, nil); !errors.Is(err, ErrNil) {
		t.Errorf("nil network: %v, want ErrNil", err)
	}
	if _, err := Apply(net, nil, nil); !errors.Is(err, ErrNil) {
		t.Errorf("nil quantizer: %v, want ErrNil", err)
	}
}

// userModel is a model that is not an nn.Network: a weight matrix and a bias.
type userModel struct{ w, b *nn.Param }

func (m *userModel) Params() []*nn.Param { return []*nn.Param{m.w, m.b} }

func (m *userModel) Clone() *userModel {
	cp := func(p *nn.Param) *nn.Param {
		q := *p
		q.Data = append([]float32(nil), p.Data...)
		return &q
	}
	return &userModel{cp(m.w), cp(m.b)}
}

func TestApplyToAUserModel(t *testing.T) {
	m := &userModel{
		w: newParam("fc.weight", nn.DenseWeight, []int{2, 3}, []float32{0.5, -0.2, 0.1, 0.9, -0.7, 0.3}),
		b: newParam("fc.bias", nn.Bias, []int{2}, []float32{0.123, -0.456}),
	}
	q, err := Apply(m, Linear{Bits: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 2 bits: levels s·{−1, 0, 1}, s = max|w| = 0.9.
	want := []float32{0.9, 0, 0, 0.9, -0.9, 0}
	if !slices.Equal(q.w.Data, want) || !slices.Equal(q.b.Data, m.b.Data) {
		t.Errorf("quantized weights %v bias %v; want %v and the bias unchanged", q.w.Data, q.b.Data, want)
	}
	if m.w.Data[0] != 0.5 {
		t.Error("Apply changed the original model")
	}
	if _, err := Apply((*userModel)(nil), Linear{}, nil); !errors.Is(err, ErrNil) {
		t.Errorf("nil user model: error %v, want ErrNil", err)
	}
}
