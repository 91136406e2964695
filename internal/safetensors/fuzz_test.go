package safetensors

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// FuzzRead checks that Read never panics, that every error is a prefixed
// sentinel, and that whatever Read accepts satisfies the package invariants
// and survives Write and Read again unchanged.
func FuzzRead(f *testing.F) {
	seeds := [][]Tensor{
		nil,
		roundTripTensors(),
		{{Name: "s", Shape: []int{}, Data: []float32{1}}},
		{{Name: "e", Shape: []int{0}, Data: nil}, {Name: "w", Shape: []int{2, 2}, Data: []float32{1, 2, 3, 4}}},
	}
	for i, ts := range seeds {
		var meta map[string]string
		if i%2 == 1 {
			meta = map[string]string{"format": "pt", ChecksumKey: Checksum(ts)}
		}
		var buf bytes.Buffer
		if err := Write(&buf, ts, meta); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(file(`{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}`, le16(0x3C00, 0x7E00)))
	f.Add(file(`{"b":{"dtype":"BF16","shape":[1,1],"data_offsets":[0,2]}}`, le16(0xC0A0)))
	f.Add(file(`{"d":{"dtype":"F64","shape":[],"data_offsets":[0,8]},"f":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}`, append(le64(0.1), le32(2)...)))

	f.Fuzz(func(t *testing.T, data []byte) {
		ts, meta, err := Read(bytes.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "safetensors: ") || !wrapsSentinel(err) {
				t.Fatalf("error %q is not a prefixed sentinel error", err)
			}
			if ts != nil || meta != nil {
				t.Fatal("Read returned data with an error")
			}
			return
		}
		for i, x := range ts {
			if i > 0 && ts[i-1].Name >= x.Name {
				t.Fatalf("names not sorted and unique: %q then %q", ts[i-1].Name, x.Name)
			}
			if err := checkName(x.Name); err != nil {
				t.Fatal(err)
			}
			n, err := elemCount(x.Name, x.Shape, 4)
			if err != nil || n != len(x.Data) {
				t.Fatalf("tensor %q: shape %v, %d elements (%v)", x.Name, x.Shape, len(x.Data), err)
			}
		}
		var buf bytes.Buffer
		if err := Write(&buf, ts, meta); err != nil {
			t.Fatalf("Write of Read's output: %v", err)
		}
		ts2, meta2, err := Read(&buf)
		if err != nil {
			t.Fatalf("Read of Write's output: %v", err)
		}
		if !sameTensors(ts, ts2) || !sameMeta(meta, meta2) {
			t.Fatal("Write then Read changed the tensors or metadata")
		}
		if !slices.IsSortedFunc(ts2, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatal("second Read not sorted")
		}
	})
}
