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

// checksumError wraps a data-checksum mismatch with ErrWeights.
func checksumError(err error) error {
	if errors.Is(err, safetensors.ErrChecksum) {
		return fmt.Errorf("%w: %w", ErrWeights, err)
	}
	return err
}

// Load reads parameters saved by Save (or by PyTorch's safetensors) into n.
// Every parameter of n must be present with the same shape and no other
// tensor may be; on any mismatch n is left unchanged and the error, wrapping
// ErrWeights, names the tensors concerned. A file with a "data_sha256"
// entry whose data does not match it is an error wrapping ErrWeights; a
// file without one (from elsewhere) loads unchecked. It returns the file's
// metadata.
func (n *Network) Load(r io.Reader) (map[string]string, error) {
	ts, meta, err := safetensors.Read(r)
	if err != nil {
		return nil, checksumError(err)
	}
	return meta, n.assign(ts)
}

// LoadFile is Load from a file.
func (n *Network) LoadFile(path string) (map[string]string, error) {
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, checksumError(err)
	}
	if err := n.assign(ts); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return meta, nil
}

func (n *Network) assign(ts []safetensors.Tensor) error {
	var problems []string
	found := map[string]safetensors.Tensor{}
	for _, t := range ts {
		p := n.byName[t.Name]
		if p == nil {
			problems = append(problems, fmt.Sprintf("unexpected tensor %q", t.Name))
			continue
		}
		if !slices.Equal(p.Shape, t.Shape) {
			problems = append(problems, fmt.Sprintf("%s has shape %v, want %v", t.Name, t.Shape, p.Shape))
			continue
		}
		for _, v := range t.Data {
			if v != v || v > 3.4e38 || v < -3.4e38 {
				problems = append(problems, fmt.Sprintf("%s holds a non-finite value", t.Name))
				break
			}
		}
		found[t.Name] = t
	}
	for _, p := range n.params {
		if _, ok := found[p.Name]; !ok && !slices.ContainsFunc(ts, func(t safetensors.Tensor) bool { return t.Name == p.Name }) {
			problems = append(problems, fmt.Sprintf("missing tensor %q", p.Name))
		}
	}
	if len(problems) > 0 {
		if len(problems) > 8 {
			problems = append(problems[:8], fmt.Sprintf("and %d more", len(problems)-8))
		}
		return fmt.Errorf("%w %q: %s", ErrWeights, n.name, strings.Join(problems, "; "))
	}
	for _, p := range n.params {
		copy(p.Data, found[p.Name].Data)
	}
	return nil
}
