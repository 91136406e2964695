package defense

import "errors"

// Errors returned by the package. Callers match them with errors.Is. A NaN
// or Inf weight or input is reported with nn.ErrNonFinite, a length that
// does not fit with nn.ErrShape, and a selection that chooses nothing with
// quant.ErrSelect, each wrapped with a "defense: " message.
var (
	// ErrParam reports an invalid hyperparameter: a negative count, a
	// ratio outside its range, μ ≤ 0, NaN.
	ErrParam = errors.New("defense: invalid parameter")
	// ErrNil reports a nil network, data set, model or mapping.
	ErrNil = errors.New("defense: nil argument")
	// ErrNoBoundary reports a feedback-learning round in which no correctly
	// classified example changed prediction within MaxDist, so that there
	// is nothing to generate examples from.
	ErrNoBoundary = errors.New("defense: no decision boundary within reach")
)
