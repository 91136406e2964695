package pipeline

import (
	"bytes"
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

func savePlot(p *plot.Plot, path string, w, h vg.Length) error {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// plotBits draws Figure 1: clean accuracy (%) against the bit width, each
// series ending in its float32 accuracy (series[l] holds one value per
// width, then the float one), with every width labelled.
func plotBits(path, title string, bits []int, labels []string, series map[string][]float64) error {
	p := plot.New()
	p.Title.Text = title + ": clean accuracy of k-bit quantized models"
	p.X.Label.Text = "weight bits"
	p.Y.Label.Text = "accuracy (%)"
	p.Y.Min, p.Y.Max = 0, 105
	p.Legend.Top = false
	p.Legend.Left = false
	floatX := float64(bits[len(bits)-1] + 2)
	var ticks []plot.Tick
	for _, b := range bits {
		ticks = append(ticks, plot.Tick{Value: float64(b), Label: fmt.Sprint(b)})
	}
	p.X.Tick.Marker = plot.ConstantTicks(append(ticks, plot.Tick{Value: floatX, Label: "float"}))
	p.X.Min, p.X.Max = float64(bits[0])-0.5, floatX+0.5
	var args []any
	for _, l := range labels {
		pts := make(plotter.XYs, len(bits)+1)
		for i, b := range bits {
			pts[i] = plotter.XY{X: float64(b), Y: 100 * series[l][i]}
		}
		pts[len(bits)] = plotter.XY{X: floatX, Y: 100 * series[l][len(bits)]}
		args = append(args, l, pts)
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	return savePlot(p, path, 7*vg.Inch, 4.5*vg.Inch)
}

// plotLipschitz draws Figure 3: ‖ΔW‖₂ per layer, one bar per model and
// mapping.
func plotLipschitz(path, title string, bits int, rows []lipRow) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: ‖ΔW‖₂ = ‖Q(W) − W‖₂ per layer, %d-bit weights", title, bits)
	p.Y.Label.Text = "‖ΔW‖₂"
	p.X.Label.Text = "layer"
	top := 0.0
	for _, r := range rows {
		top = max(top, r.Spectral)
	}
	// Head room for the legend above the tallest bar.
	p.Y.Min, p.Y.Max = 0, 1.5*top
	var layers []string
	seen := map[string]bool{}
	type key struct {
		model string
		mu    bool
	}
	var series []key
	seenS := map[key]bool{}
	vals := map[key]map[string]float64{}
	for _, r := range rows {
		if !seen[r.Layer] {
			seen[r.Layer] = true
			layers = append(layers, r.Layer)
		}
		k := key{r.Model, r.Mu}
		if !seenS[k] {
			seenS[k] = true
			series = append(series, k)
			vals[k] = map[string]float64{}
		}
		vals[k][r.Layer] = r.Spectral
	}
	w := vg.Points(60 / float64(len(series)))
	for i, k := range series {
		v := make(plotter.Values, len(layers))
		for j, l := range layers {
			v[j] = vals[k][l]
		}
		bars, err := plotter.NewBarChart(v, w)
		if err != nil {
			return err
		}
		bars.LineStyle.Width = vg.Length(0)
		bars.Color = plotutil.Color(i)
		bars.Offset = w * vg.Length(float64(i)-float64(len(series)-1)/2)
		p.Add(bars)
		name := k.model
		if k.mu {
			name += " +mu"
		}
		p.Legend.Add(name, bars)
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.NominalX(layers...)
	if len(layers) == 0 {
		return fmt.Errorf("no layers to plot")
	}
	return savePlot(p, path, 7*vg.Inch, 4*vg.Inch)
}
