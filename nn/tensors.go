package nn

import (
	"io"

	"github.com/robustq/robustq/internal/safetensors"
)

// Tensor is a named float32 tensor in row-major order, as stored in a
// safetensors file.
type Tensor struct {
	Name  string
	Shape []int
	// Data holds the values; its length is the product of Shape (1 for an
	// empty Shape, a scalar).
	Data []float32
}

// WriteTensors writes tensors and string metadata to w in the safetensors
// format (every tensor as F32, sorted by name), with the SHA-256 of the
// data under the metadata key "data_sha256", which ReadTensors checks. It
// writes nothing and returns an error if a name is empty, duplicated or
// "__metadata__", or a shape disagrees with its data.
func WriteTensors(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	ts := toSafetensors(tensors)
	return safetensors.Write(w, ts, checksummed(metadata, ts))
}

// WriteTensorsFile is WriteTensors to a file, written atomically (a
// temporary file in the same folder, renamed into place).
func WriteTensorsFile(path string, tensors []Tensor, metadata map[string]string) error {
	ts := toSafetensors(tensors)
	return safetensors.WriteFile(path, ts, checksummed(metadata, ts))
}

// ReadTensors reads a safetensors file (F32, F16, BF16 or F64 tensors,
// converted to float32) and returns its tensors sorted by name and its
// metadata. A "data_sha256" entry that does not match the data is an
// error wrapping ErrWeights.
func ReadTensors(r io.Reader) ([]Tensor, map[string]string, error) {
	ts, meta, err := safetensors.Read(r)
	if err != nil {
		return nil, nil, readError(err)
	}
	return fromSafetensors(ts), meta, nil
}

// ReadTensorsFile is ReadTensors from a file.
func ReadTensorsFile(path string) ([]Tensor, map[string]string, error) {
	ts, meta, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, nil, readError(err)
	}
	return fromSafetensors(ts), meta, nil
}

func toSafetensors(tensors []Tensor) []safetensors.Tensor {
	ts := make([]safetensors.Tensor, len(tensors))
	for i, t := range tensors {
		ts[i] = safetensors.Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	return ts
}

func fromSafetensors(ts []safetensors.Tensor) []Tensor {
	out := make([]Tensor, len(ts))
	for i, t := range ts {
		out[i] = Tensor{Name: t.Name, Shape: t.Shape, Data: t.Data}
	}
	return out
}

// checksummed returns a copy of metadata with the checksum of ts added.
func checksummed(metadata map[string]string, ts []safetensors.Tensor) map[string]string {
	m := make(map[string]string, len(metadata)+1)
	for k, v := range metadata {
		m[k] = v
	}
	m[safetensors.ChecksumKey] = safetensors.Checksum(ts)
	return m
}
