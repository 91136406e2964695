package pipeline

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/robustq/robustq/data"
	"github.com/robustq/robustq/defense"
	"github.com/robustq/robustq/nn"
)

// FeedbackTrain returns the TrainFunc of a feedback-learning regime whose
// checkpoints are its rounds: the regime's Epochs must be fl's number of
// rounds. After each round the hooks' AfterStep sees a step that ends
// "epoch" r (so Cached saves the network), and a resumed run starts at the
// next round with fl.StartRound; with a nil fl.Config.Optimizer the rounds
// that follow are those of an uninterrupted run. Each round's margins are
// written to log.
func FeedbackTrain(fl defense.FeedbackLearning, log io.Writer) TrainFunc {
	return func(ctx context.Context, net *nn.Network, ds *data.Dataset, start int, hooks []nn.Hook) error {
		f := fl
		f.StartRound = start
		f.OnRound = func(r defense.Round) error {
			fmt.Fprintln(log, RoundLine(r))
			if r.Final {
				return nil
			}
			end := &nn.Step{Net: net, Epoch: r.Round, Iters: 1}
			for _, h := range hooks {
				if h, ok := h.(nn.AfterStepper); ok {
					if err := h.AfterStep(ctx, end); err != nil {
						return err
					}
				}
			}
			return nil
		}
		_, err := f.Train(ctx, net, ds)
		return err
	}
}

// RoundLine summarises one feedback-learning round on one line.
func RoundLine(r defense.Round) string {
	var b strings.Builder
	if r.Final {
		fmt.Fprintf(&b, "after the last round: ")
	} else {
		fmt.Fprintf(&b, "round %d: ", r.Round+1)
	}
	fmt.Fprintf(&b, "%d/%d measured examples correct, L2 distance to the boundary median %.3f, 10%% quantile %.3f;",
		r.Correct, r.Sampled, r.Median, r.Low)
	for _, k := range r.Kinds {
		fmt.Fprintf(&b, " %s median %.3f (%d crossed)", k.Kind, k.Median, k.Crossed)
	}
	if !r.Final {
		fmt.Fprintf(&b, "; generated %d (%d beyond the boundary), class shares", r.Generated, r.Misclassified)
		for _, c := range r.Classes {
			fmt.Fprintf(&b, " %.2f", c.Share)
		}
		fmt.Fprintf(&b, "; retrained on %d in %s", r.Retrain, r.Took.Round(1e9))
	}
	return b.String()
}

// Prefix returns a writer that starts every line written to w with prefix
// (progress lines of several models stay apart).
func Prefix(w io.Writer, prefix string) io.Writer { return &prefixWriter{w: w, prefix: prefix} }

type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool // inside a line
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.mid {
			out = append(out, p.prefix...)
			p.mid = true
		}
		out = append(out, c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
