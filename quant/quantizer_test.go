package quant

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/robustq/robustq/nn"
)

// TestCommonProperties checks, for every scheme, bit width and granularity,
// the properties any deterministic quantizer here must have: the input is
// left untouched, the output has the input's length, outputs are finite,
// the number of distinct values per group is within the scheme's level
// count, and quantizing twice changes nothing (idempotence: exact for
// Linear and PowerOfTwo, up to float32 rounding for Asymmetric).
func TestCommonProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	params := []*nn.Param{randParam(rng, 6, 40), randParam(rng, 4, 3, 3, 3), randParam(rng, 1, 200)}
	for _, q := range nearestQuantizers() {
		for _, p := range params {
			orig := append([]float32(nil), p.Data...)
			got := mustQuantize(t, q, p)
			if !bitsEqual(p.Data, orig) {
				t.Fatalf("%v modified its input", q)
			}
			if len(got) != len(p.Data) {
				t.Fatalf("%v: %d values for %d", q, len(got), len(p.Data))
			}
			for i, v := range got {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					t.Fatalf("%v: value %d is %v", q, i, v)
				}
			}
			var perChannel bool
			var levels int
			switch q := q.(type) {
			case Linear:
				perChannel, levels = q.PerChannel, 1<<q.Bits-1 // symmetric: 2^k − 1
				if q.Bits == 1 {
					levels = 2 // ±mean|W|
				}
			case Asymmetric:
				perChannel, levels = q.PerChannel, 1<<q.Bits // affine: 2^k
			case PowerOfTwo:
				perChannel, levels = q.PerChannel, 1<<q.Bits-1 // 0 and ±2^(k−1)−1 magnitudes
			}
			c := channels(p, perChannel)
			for g, grp := range groupsOf(got, c) {
				if d := distinct(grp); d > levels {
					t.Errorf("%v %v group %d: %d distinct values, want ≤ %d", q, p.Shape, g, d, levels)
				}
			}
			again := mustQuantize(t, q, withData(p, got))
			// Asymmetric recomputes its step from float32-rounded range ends
			// (relative change ≈ 2^−24), so a value may move by a few float32
			// ulps; 2^−21·max|Q| allows 4 ulps at the largest magnitude.
			tol := 0.0
			if _, ok := q.(Asymmetric); ok {
				tol = math.Ldexp(maxAbs(got), -21)
			}
			if tol > 0 || !bitsEqual(again, got) {
				for i := range got {
					if math.Abs(float64(again[i])-float64(got[i])) > tol {
						t.Errorf("%v %v: not idempotent at %d: Q(w) = %v, Q(Q(w)) = %v", q, p.Shape, i, got[i], again[i])
						break
					}
				}
			}
		}
	}
}

// TestErrors checks that bad parameters and configurations return the
// documented errors, for every scheme.
func TestErrors(t *testing.T) {
	good := func() *nn.Param { return newParam("fc1.weight", nn.DenseWeight, []int{2, 2}, []float32{1, -2, 3, 0}) }
	nan := good()
	nan.Data[2] = float32(math.NaN())
	inf := good()
	inf.Data[1] = float32(math.Inf(-1))
	emptyData := newParam("fc1.weight", nn.DenseWeight, []int{0, 2}, nil)
	noData := newParam("fc1.weight", nn.DenseWeight, []int{2, 2}, nil)
	short := newParam("fc1.weight", nn.DenseWeight, []int{2, 3}, []float32{1, 2, 3, 4})
	negDim := newParam("fc1.weight", nn.DenseWeight, []int{-2, -2}, []float32{1, 2, 3, 4})
	rng := rand.New(rand.NewPCG(1, 2))

	type row struct {
		name    string
		q       Quantizer
		p       *nn.Param
		want    error
		message string // a substring the message must contain
	}
	var rows []row
	schemes := map[string]func(bits int) Quantizer{
		"linear":     func(b int) Quantizer { return Linear{Bits: b} },
		"asymmetric": func(b int) Quantizer { return Asymmetric{Bits: b} },
		"pow2":       func(b int) Quantizer { return PowerOfTwo{Bits: b} },
	}
	for name, mk := range schemes {
		rows = append(rows,
			row{name + "/bits=-1", mk(-1), good(), ErrBits, "-1"},
			row{name + "/bits=17", mk(17), good(), ErrBits, "17"},
			row{name + "/nil", mk(3), nil, ErrNil, "nil"},
			row{name + "/zero dim", mk(3), emptyData, ErrEmpty, "fc1.weight"},
			row{name + "/no data", mk(3), noData, ErrEmpty, "fc1.weight"},
			row{name + "/short", mk(3), short, nn.ErrShape, "fc1.weight"},
			row{name + "/negative dim", mk(3), negDim, nn.ErrShape, "fc1.weight"},
			row{name + "/NaN", mk(3), nan, nn.ErrNonFinite, `"fc1.weight" value 2 is NaN`},
			row{name + "/Inf", mk(3), inf, nn.ErrNonFinite, `"fc1.weight" value 1 is -Inf`},
		)
	}
	rows = append(rows,
		row{"pow2/bits=1", PowerOfTwo{Bits: 1}, good(), ErrBits, "1"},
		row{"linear/stochastic without rng", Linear{Rounding: Stochastic}, good(), ErrRounding, "Rng"},
		row{"linear/unknown rounding", Linear{Rounding: Rounding(7)}, good(), ErrRounding, "Rounding(7)"},
		row{"linear/stochastic NaN", Linear{Rounding: Stochastic, Rng: rng}, nan, nn.ErrNonFinite, "NaN"},
	)
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			_, err := r.q.Quantize(r.p)
			if !errors.Is(err, r.want) {
				t.Fatalf("error %v, want %v", err, r.want)
			}
			if !strings.HasPrefix(err.Error(), "quant: ") || !strings.Contains(err.Error(), r.message) {
				t.Errorf("message %q: want prefix \"quant: \" and %q", err, r.message)
			}
		})
	}
}

// TestDefaultBits checks that Bits = 0 means DefaultBits for every scheme.
func TestDefaultBits(t *testing.T) {
	p := randParam(rand.New(rand.NewPCG(3, 3)), 3, 50)
	pairs := [][2]Quantizer{
		{Linear{}, Linear{Bits: DefaultBits}},
		{Asymmetric{}, Asymmetric{Bits: DefaultBits}},
		{PowerOfTwo{}, PowerOfTwo{Bits: DefaultBits}},
	}
	for _, pr := range pairs {
		if a, b := mustQuantize(t, pr[0], p), mustQuantize(t, pr[1], p); !bitsEqual(a, b) {
			t.Errorf("%v with Bits 0 differs from Bits %d", pr[0], DefaultBits)
		}
		if pr[0].String() != pr[1].String() {
			t.Errorf("String %q vs %q", pr[0], pr[1])
		}
	}
}

// TestAllZero checks that an all-zero tensor (and an all-zero channel next
// to a nonzero one) quantizes to zeros, with no NaN from a zero scale.
func TestAllZero(t *testing.T) {
	data := []float32{0, 0, 0, 0, 0.5, -1, 0.25, 2}
	qs := append(nearestQuantizers(),
		Linear{Bits: 3, Rounding: Stochastic, Rng: rand.New(rand.NewPCG(1, 1))},
		Linear{Bits: 1, Rounding: Stochastic, Rng: rand.New(rand.NewPCG(1, 1))},
		Linear{Bits: 3, PerChannel: true, Rounding: Stochastic, Rng: rand.New(rand.NewPCG(1, 1))},
	)
	for _, q := range qs {
		zero := mustQuantize(t, q, newParam("z.weight", nn.DenseWeight, []int{2, 4}, make([]float32, 8)))
		for i, v := range zero {
			if v != 0 {
				t.Fatalf("%v: all-zero tensor value %d became %v", q, i, v)
			}
		}
		got := mustQuantize(t, q, newParam("z.weight", nn.DenseWeight, []int{2, 4}, data))
		if strings.Contains(q.String(), "per-channel") {
			for i, v := range got[:4] {
				if v != 0 {
					t.Fatalf("%v: all-zero channel value %d became %v", q, i, v)
				}
			}
		}
	}
}

// TestRoundingString checks the names used in reports.
func TestRoundingString(t *testing.T) {
	for _, c := range []struct {
		q    Quantizer
		want string
	}{
		{Linear{}, "linear 3-bit per-tensor nearest"},
		{Linear{Bits: 1, PerChannel: true, Rounding: Stochastic}, "linear 1-bit per-channel stochastic"},
		{Asymmetric{Bits: 4}, "asymmetric 4-bit per-tensor"},
		{PowerOfTwo{Bits: 5, PerChannel: true}, "power-of-two 5-bit per-channel"},
	} {
		if got := c.q.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}
