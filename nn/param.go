package nn

import "fmt"

// Kind says what a parameter is for.
type Kind int

// Parameter kinds.
const (
	// ConvWeight is a convolution kernel, shape (out, in, kh, kw) as in PyTorch.
	ConvWeight Kind = iota
	// DenseWeight is a fully connected weight matrix, shape (out, in) as in PyTorch.
	DenseWeight
	// Bias is an additive per-output bias, shape (out).
	Bias
	// BNScale is a batch-norm scale γ, shape (C).
	BNScale
	// BNShift is a batch-norm shift β, shape (C).
	BNShift
	// BNMean is a batch-norm running mean (a buffer, not trained by gradient), shape (C).
	BNMean
	// BNVar is a batch-norm running variance (a buffer, not trained by gradient), shape (C).
	BNVar
)

var kindNames = [...]string{"conv-weight", "dense-weight", "bias", "bn-scale", "bn-shift", "bn-mean", "bn-var"}

// String returns a short lower-case name of the kind.
func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return fmt.Sprintf("Kind(%d)", int(k))
	}
	return kindNames[k]
}

// IsWeight reports whether k is a conv or dense weight: the tensors that
// weight quantization and the Lipschitz analysis act on.
func (k Kind) IsWeight() bool { return k == ConvWeight || k == DenseWeight }

// Trainable reports whether gradient descent updates parameters of kind k.
func (k Kind) Trainable() bool { return k != BNMean && k != BNVar }

// ConvGeometry is how a convolution kernel is applied: the spatial size of
// the layer's input, the stride and the zero padding on each side. The kernel
// size comes from the weight's shape. Operator norms of a convolution depend on it.
type ConvGeometry struct {
	InHeight, InWidth int
	Stride, Padding   int
}

// OutSize returns the spatial output size for a kernel of size kh×kw.
func (g ConvGeometry) OutSize(kh, kw int) (h, w int) {
	return (g.InHeight+2*g.Padding-kh)/g.Stride + 1, (g.InWidth+2*g.Padding-kw)/g.Stride + 1
}

// Param is one named tensor of a network. Data is the live storage: writing
// to it changes the network that owns it.
type Param struct {
	// Name is unique within a network, "<layer>.<role>", e.g. "conv1.weight".
	Name string
	// Layer is the name of the layer that owns the tensor, e.g. "conv1".
	Layer string
	Kind  Kind
	// Shape is the tensor's shape, PyTorch layout.
	Shape []int
	// Data holds the values, row-major, len = product of Shape.
	Data []float32
	// Conv is set for ConvWeight parameters and nil otherwise.
	Conv *ConvGeometry
}

// Len returns the number of values, the product of Shape.
func (p *Param) Len() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Clone returns a deep copy of p.
func (p *Param) Clone() *Param {
	q := *p
	q.Shape = append([]int(nil), p.Shape...)
	q.Data = append([]float32(nil), p.Data...)
	if p.Conv != nil {
		c := *p.Conv
		q.Conv = &c
	}
	return &q
}
