package nn

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/robustq/robustq/internal/safetensors"
)

// ErrWeights reports a weight file that does not fit the network.
var ErrWeights = errors.New("nn: weights do not match the network")

func (n *Network) tensors() []safetensors.Tensor {
	ts := make([]safetensors.Tensor, len(n.params))
	for i, p := range n.params {
		ts[i] = safetensors.Tensor{Name: p.Name, Shape: p.Shape, Data: p.Data}
	}
	return ts
}

// Save writes all parameters (batch-norm running statistics included) in the
// safetensors format, with the network's name under the metadata key
// "network", the SHA-256 of the tensor data under "data_sha256" (checked by
// Load), plus any metadata given. Names and layouts are PyTorch's, so the
// file loads into the equivalent torch module with load_state_dict.
func (n *Network) Save(w io.Writer, metadata map[string]string) error {
	ts := n.tensors()
	return safetensors.Write(w, ts, n.meta(metadata, ts))
}

// SaveFile is Save to a file, written atomically (a temporary file in the
// same folder, renamed into place).
func (n *Network) SaveFile(path string, metadata map[string]string) error {
	ts := n.tensors()
	return safetensors.WriteFile(path, ts, n.meta(metadata, ts))
}

func (n *Network) meta(extra map[string]string, ts []safetensors.Tensor) map[string]string {
	m := map[string]string{"network": n.name, "format": "pt"}
	for k, v := range extra {
		m[k] = v
	}
	m[safetensors.ChecksumKey] = safetensors.Checksum(ts)
	return m
}

// readError wraps a data-checksum mismatch or a header over the read
// limits with ErrWeights.
func readError(err error) error {
	if errors.Is(err, safetensors.ErrChecksum) || errors.Is(err, safetensors.ErrLimit) {
		return fmt.Errorf("%w: %w", ErrWeights, err)
	}
	return err
}

// Load reads parameters saved by Save (or by PyTorch's safetensors) into n.
// Every parameter of n must be present with the same shape and no other
// tensor may be; on any mismatch n is left unchanged and the error, wrapping
// ErrWeights, names the tensors concerned. Names and shapes are checked
// against n before any tensor data is read, so a hostile header costs no
// more memory than the header itself. A file with a "data_sha256"
// entry whose data does not match it is an error wrapping ErrWeights; a
// file without one (from elsewhere) loads unchecked. It returns the file's
// metadata.
func (n *Network) Load(r io.Reader) (map[string]string, error) {
	ts, meta, err := n.readOptions().Read(r)
	if err != nil {
		return nil, readError(err)
	}
	return meta, n.assign(ts)
}

// LoadFile is Load from a file.
func (n *Network) LoadFile(path string) (map[string]string, error) {
	ts, meta, err := n.readOptions().ReadFile(path)
	if err != nil {
		return nil, readError(err)
	}
	if err := n.assign(ts); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return meta, nil
}

// readOptions check a file's names and shapes against n before any tensor
// data is read, so a hostile header costs no more than the header.
func (n *Network) readOptions() safetensors.ReadOptions {
	var data int64
	for _, p := range n.params {
		data += 8 * int64(len(p.Data)) // the widest dtype, F64
	}
	return safetensors.ReadOptions{
		MaxTensors:   2*len(n.params) + 16, // room to name a few unexpected ones
		MaxDataBytes: max(data, 1),
		Check:        n.checkHeader,
	}
}

// checkHeader reports every tensor of a header that n does not expect, has
// the wrong shape, or is missing.
func (n *Network) checkHeader(infos []safetensors.Info) error {
	var problems []string
	seen := map[string]bool{}
	for _, t := range infos {
		seen[t.Name] = true
		p := n.byName[t.Name]
		if p == nil {
			problems = append(problems, fmt.Sprintf("unexpected tensor %q", t.Name))
		} else if !slices.Equal(p.Shape, t.Shape) {
			problems = append(problems, fmt.Sprintf("%s has shape %v, want %v", t.Name, t.Shape, p.Shape))
		}
	}
	for _, p := range n.params {
		if !seen[p.Name] {
			problems = append(problems, fmt.Sprintf("missing tensor %q", p.Name))
		}
	}
	return n.weightsError(problems)
}

func (n *Network) weightsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	if len(problems) > 8 {
		problems = append(problems[:8], fmt.Sprintf("and %d more", len(problems)-8))
	}
	return fmt.Errorf("%w %q: %s", ErrWeights, n.name, strings.Join(problems, "; "))
}

// assign copies checked tensors (see checkHeader) into n's parameters,
// unless one holds a non-finite value.
func (n *Network) assign(ts []safetensors.Tensor) error {
	if err := n.checkHeader(infos(ts)); err != nil {
		return err
	}
	var problems []string
	for _, t := range ts {
		for _, v := range t.Data {
			if v != v || v > 3.4e38 || v < -3.4e38 {
				problems = append(problems, fmt.Sprintf("%s holds a non-finite value", t.Name))
				break
			}
		}
	}
	if err := n.weightsError(problems); err != nil {
		return err
	}
	for _, t := range ts {
		copy(n.byName[t.Name].Data, t.Data)
	}
	return nil
}

func infos(ts []safetensors.Tensor) []safetensors.Info {
	out := make([]safetensors.Info, len(ts))
	for i, t := range ts {
		out[i] = safetensors.Info{Name: t.Name, Dtype: "F32", Shape: t.Shape}
	}
	return out
}
