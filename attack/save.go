package attack

import (
	"fmt"
	"io"
	"strconv"

	"github.com/robustq/robustq/nn"
)

// SaveExamples writes the report's per-example results in the safetensors
// format (see nn.WriteTensors), for analysis elsewhere:
//
//   - "labels" and "clean_correct", N values each (correct is 1 or 0);
//   - for row j of group g, "g<g>.<j>.<attack>.correct" and, when the
//     Evaluator kept them (KeepExamples), "g<g>.<j>.<attack>.examples" of
//     shape [N, Channels, Height, Width]; the worst case is row "worst".
//
// The metadata records the model, N and each group's ε.
func (r *Report) SaveExamples(w io.Writer) error {
	ts, meta := r.tensors()
	return nn.WriteTensors(w, ts, meta)
}

// SaveExamplesFile is SaveExamples to a file, written atomically.
func (r *Report) SaveExamplesFile(path string) error {
	ts, meta := r.tensors()
	return nn.WriteTensorsFile(path, ts, meta)
}

func (r *Report) tensors() ([]nn.Tensor, map[string]string) {
	n := r.N
	ts := []nn.Tensor{
		{Name: "labels", Shape: []int{n}, Data: intsToFloats(r.Labels)},
		{Name: "clean_correct", Shape: []int{n}, Data: boolsToFloats(r.CleanCorrect)},
	}
	meta := map[string]string{"model": r.Model, "n": strconv.Itoa(n), "content": "robustq attack report"}
	shape := []int{n, r.Spec.Channels, r.Spec.Height, r.Spec.Width}
	add := func(prefix string, row Row) {
		ts = append(ts, nn.Tensor{Name: prefix + ".correct", Shape: []int{n}, Data: boolsToFloats(row.Correct)})
		if row.Examples != nil {
			ts = append(ts, nn.Tensor{Name: prefix + ".examples", Shape: shape, Data: row.Examples})
		}
	}
	for g, grp := range r.Groups {
		meta[fmt.Sprintf("g%d.eps", g)] = strconv.FormatFloat(float64(grp.Eps), 'g', -1, 32)
		for j, row := range grp.Rows {
			add(fmt.Sprintf("g%d.%d.%s", g, j, row.Attack), row)
		}
		add(fmt.Sprintf("g%d.worst", g), grp.Worst)
	}
	return ts, meta
}

func boolsToFloats(b []bool) []float32 {
	out := make([]float32, len(b))
	for i, v := range b {
		if v {
			out[i] = 1
		}
	}
	return out
}

func intsToFloats(v []int) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}
