package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// file builds a safetensors file from a header string (used as is, without
// padding) and the buffer bytes.
func file(header string, buffer []byte) []byte {
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	out = append(out, header...)
	return append(out, buffer...)
}

// le32 returns the little-endian bytes of float32 values.
func le32(vals ...float32) []byte {
	var out []byte
	for _, v := range vals {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
	}
	return out
}

// le64 returns the little-endian bytes of float64 values.
func le64(vals ...float64) []byte {
	var out []byte
	for _, v := range vals {
		out = binary.LittleEndian.AppendUint64(out, math.Float64bits(v))
	}
	return out
}

// le16 returns the little-endian bytes of raw 16-bit patterns.
func le16(vals ...uint16) []byte {
	var out []byte
	for _, v := range vals {
		out = binary.LittleEndian.AppendUint16(out, v)
	}
	return out
}

// sameTensors reports whether a and b hold the same names, shapes and
// bit-identical data (so NaN payloads and -0 count). A nil and an empty shape
// are the same scalar shape.
func sameTensors(a, b []Tensor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name || !slices.Equal(a[i].Shape, b[i].Shape) || len(a[i].Data) != len(b[i].Data) {
			return false
		}
		for j := range a[i].Data {
			if math.Float32bits(a[i].Data[j]) != math.Float32bits(b[i].Data[j]) {
				return false
			}
		}
	}
	return true
}

func sameMeta(a, b map[string]string) bool {
	if (a == nil) != (b == nil) || len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func sortedByName(ts []Tensor) []Tensor {
	out := slices.Clone(ts)
	slices.SortFunc(out, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// roundTripTensors covers a scalar, empty tensors, several ranks and special
// float values, given out of name order.
func roundTripTensors() []Tensor {
	nanPayload := math.Float32frombits(0x7fc01234)
	return []Tensor{
		{Name: "z.weight", Shape: []int{2, 3}, Data: []float32{1, -2, 3.5, 0, float32(math.Copysign(0, -1)), 1e-45}},
		{Name: "scalar", Shape: []int{}, Data: []float32{42}},
		{Name: "empty", Shape: []int{0}, Data: []float32{}},
		{Name: "empty2d", Shape: []int{3, 0}, Data: nil},
		{Name: "a.bias", Shape: []int{4}, Data: []float32{float32(math.NaN()), nanPayload, float32(math.Inf(1)), float32(math.Inf(-1))}},
		{Name: "conv/ü<&>\"\\", Shape: []int{1, 1, 2, 1}, Data: []float32{math.MaxFloat32, -math.SmallestNonzeroFloat32}},
	}
}

// normalize turns nil shapes and data into empty slices, the form Read returns.
func normalize(ts []Tensor) []Tensor {
	out := make([]Tensor, len(ts))
	for i, t := range ts {
		out[i] = Tensor{Name: t.Name, Shape: append([]int{}, t.Shape...), Data: append([]float32{}, t.Data...)}
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		meta map[string]string
	}{
		{"no metadata", nil},
		{"metadata", map[string]string{"format": "pt", "": "empty key", "bits": "3", "q<&>": "ü\n\"x\""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := roundTripTensors()
			orig := normalize(in)
			var buf bytes.Buffer
			if err := Write(&buf, in, tc.meta); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if !sameTensors(in, orig) {
				t.Fatal("Write modified its input")
			}
			if n := binary.LittleEndian.Uint64(buf.Bytes()); n%8 != 0 {
				t.Errorf("header length %d is not padded to a multiple of 8", n)
			}
			got, meta, err := Read(bytes.NewReader(buf.Bytes()))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if want := sortedByName(normalize(in)); !sameTensors(got, want) {
				t.Errorf("Read returned\n%v\nwant\n%v", got, want)
			}
			if !sameMeta(meta, tc.meta) {
				t.Errorf("metadata %v, want %v", meta, tc.meta)
			}
			for _, g := range got {
				if g.Shape == nil || g.Data == nil {
					t.Errorf("tensor %q: Read returned a nil Shape or Data", g.Name)
				}
			}

			path := filepath.Join(t.TempDir(), "m.safetensors")
			if err := WriteFile(path, in, tc.meta); err != nil {
				t.Fatalf("WriteFile: %v", err)
			}
			onDisk, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(onDisk, buf.Bytes()) {
				t.Error("WriteFile and Write produced different bytes")
			}
			got2, meta2, err := ReadFile(path)
			if err != nil {
				t.Fatalf("ReadFile: %v", err)
			}
			if !sameTensors(got2, got) || !sameMeta(meta2, tc.meta) {
				t.Error("ReadFile and Read disagree")
			}
		})
	}
}

func TestWriteByteExact(t *testing.T) {
	// Given out of order: Write must put "a" before "b" in header and buffer.
	tensors := []Tensor{
		{Name: "b", Shape: []int{}, Data: []float32{1}},
		{Name: "a", Shape: []int{2}, Data: []float32{-2, 0.5}},
	}
	meta := map[string]string{"k": "v"}

	// The header JSON, compact, metadata first, then tensors sorted by name:
	//   {"__metadata__":{"k":"v"},                             26 bytes
	//   "a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},  53 bytes (a: 2 floats = bytes 0..8)
	//   "b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}  53 bytes (b: scalar = bytes 8..12)
	// 132 bytes, padded with 4 spaces to 136 = 0x88, a multiple of 8.
	header := `{"__metadata__":{"k":"v"},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"b":{"dtype":"F32","shape":[],"data_offsets":[8,12]}}` +
		"    "
	var want []byte
	// N = 136 as a little-endian uint64.
	want = append(want, 0x88, 0, 0, 0, 0, 0, 0, 0)
	want = append(want, header...)
	// IEEE 754 single precision, little-endian:
	// -2   = 0xC0000000, 0.5 = 0x3F000000 (tensor "a"), 1 = 0x3F800000 (tensor "b").
	want = append(want,
		0x00, 0x00, 0x00, 0xC0,
		0x00, 0x00, 0x00, 0x3F,
		0x00, 0x00, 0x80, 0x3F,
	)
	if len(header) != 136 || len(want) != 156 {
		t.Fatalf("test is inconsistent: header %d bytes, file %d bytes", len(header), len(want))
	}

	var buf bytes.Buffer
	if err := Write(&buf, tensors, meta); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("Write produced\n%q\nwant\n%q", buf.Bytes(), want)
	}

	got, gotMeta, err := Read(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if !sameTensors(got, sortedByName(normalize(tensors))) || !sameMeta(gotMeta, meta) {
		t.Errorf("Read of the hand-written file gave %v %v", got, gotMeta)
	}
}

func TestWriteEmpty(t *testing.T) {
	// No tensors, no metadata: header "{}" padded with 6 spaces to 8 bytes.
	want := append([]byte{8, 0, 0, 0, 0, 0, 0, 0}, "{}      "...)
	var buf bytes.Buffer
	if err := Write(&buf, nil, map[string]string{}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("got %q, want %q", buf.Bytes(), want)
	}
	ts, meta, err := Read(&buf)
	if err != nil || len(ts) != 0 || meta != nil {
		t.Errorf("Read = %v, %v, %v; want no tensors, nil metadata, nil error", ts, meta, err)
	}
}

func TestWriteDeterministic(t *testing.T) {
	in := roundTripTensors()
	meta := map[string]string{"a": "1", "b": "2", "c": "3", "d": "4", "e": "5"}
	var first bytes.Buffer
	if err := Write(&first, in, meta); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		rev := slices.Clone(in)
		slices.Reverse(rev)
		if i%2 == 1 {
			rev = in
		}
		// A fresh map each time so its iteration order varies.
		m := make(map[string]string)
		for k, v := range meta {
			m[k] = v
		}
		var buf bytes.Buffer
		if err := Write(&buf, rev, m); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(buf.Bytes(), first.Bytes()) {
			t.Fatal("Write output depends on input order or map iteration order")
		}
	}
}

func TestReadOtherDtypes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		dtype  string
		buffer []byte
		want   []float32
	}{
		{
			// IEEE 754 binary16: 0x3C00 = 1, 0xC000 = -2, 0x0001 = 2^-24 (smallest
			// subnormal), 0x8400 = -2^-14 (smallest normal), 0x7BFF = 65504 (largest),
			// 0x7C00 = +Inf, 0x8000 = -0.
			name: "F16", dtype: "F16",
			buffer: le16(0x3C00, 0xC000, 0x0001, 0x8400, 0x7BFF, 0x7C00, 0x8000),
			want: []float32{1, -2, float32(math.Ldexp(1, -24)), -float32(math.Ldexp(1, -14)), 65504,
				float32(math.Inf(1)), float32(math.Copysign(0, -1))},
		},
		{
			// bfloat16 is the top 16 bits of a float32: 0x3F80 -> 0x3F800000 = 1,
			// 0xC0A0 -> 0xC0A00000 = -5, 0x7F80 -> +Inf, 0x0001 -> 0x00010000.
			name: "BF16", dtype: "BF16",
			buffer: le16(0x3F80, 0xC0A0, 0x7F80, 0x0001),
			want:   []float32{1, -5, float32(math.Inf(1)), math.Float32frombits(0x00010000)},
		},
		{
			// float64 rounds to the nearest float32 (Go's conversion is IEEE
			// round-to-nearest-even); infinities stay infinite.
			name: "F64", dtype: "F64",
			buffer: le64(0.1, -3, 1e-50, math.Inf(-1), math.MaxFloat32),
			want:   []float32{float32(0.1), -3, 0, float32(math.Inf(-1)), math.MaxFloat32},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := `{"x":{"dtype":"` + tc.dtype + `","shape":[` + strconv.Itoa(len(tc.want)) + `],"data_offsets":[0,` + strconv.Itoa(len(tc.buffer)) + `]}}`
			got, _, err := Read(bytes.NewReader(file(h, tc.buffer)))
			if err != nil {
				t.Fatal(err)
			}
			want := []Tensor{{Name: "x", Shape: []int{len(tc.want)}, Data: tc.want}}
			if !sameTensors(got, want) {
				t.Errorf("got %v, want %v", got[0].Data, tc.want)
			}
		})
	}

	// F16 NaN stays NaN.
	got, _, err := Read(bytes.NewReader(file(`{"n":{"dtype":"F16","shape":[],"data_offsets":[0,2]}}`, le16(0x7E00))))
	if err != nil || !math.IsNaN(float64(got[0].Data[0])) {
		t.Errorf("F16 NaN: got %v, %v", got, err)
	}
}

// sentinels lists every sentinel error of the package.
var sentinels = []error{
	ErrHeaderTooLarge, ErrInvalidHeader, ErrUnsupportedDtype, ErrInvalidShape,
	ErrInvalidOffsets, ErrDuplicateName, ErrInvalidName, ErrTruncated, ErrValueRange, ErrChecksum,
}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

func TestReadErrors(t *testing.T) {
	f32 := func(name, shape, offsets string) string {
		return `"` + name + `":{"dtype":"F32","shape":` + shape + `,"data_offsets":` + offsets + `}`
	}
	hugeLen := binary.LittleEndian.AppendUint64(nil, 1<<62)
	tooLong := binary.LittleEndian.AppendUint64(nil, MaxHeaderSize+1)
	shortHeader := append(binary.LittleEndian.AppendUint64(nil, 100), `{"a":1}`...)

	for _, tc := range []struct {
		name  string
		input []byte
		want  error
		msg   string // if set, the error message must contain it
	}{
		{"empty input", nil, ErrTruncated, ""},
		{"short length", []byte{1, 2, 3}, ErrTruncated, ""},
		{"header length 2^62", hugeLen, ErrHeaderTooLarge, ""},
		{"header length just over limit", tooLong, ErrHeaderTooLarge, ""},
		{"header shorter than its length", shortHeader, ErrTruncated, ""},
		{"zero header length", file("", nil), ErrInvalidHeader, ""},
		{"header not starting with brace", file(` {}`, nil), ErrInvalidHeader, ""},
		{"header is an array", file(`[]`, nil), ErrInvalidHeader, ""},
		{"invalid JSON", file(`{"a":`, nil), ErrInvalidHeader, ""},
		{"missing colon", file(`{"a" {}}`, nil), ErrInvalidHeader, ""},
		{"trailing comma", file(`{`+f32("a", "[1]", "[0,4]")+`,}`, le32(1)), ErrInvalidHeader, ""},
		{"trailing garbage", file(`{} x`, nil), ErrInvalidHeader, ""},
		{"second object", file(`{}{}`, nil), ErrInvalidHeader, ""},
		{"invalid UTF-8", file("{\"\xff\":{}}", nil), ErrInvalidHeader, ""},
		{"tensor not an object", file(`{"a":[1]}`, nil), ErrInvalidHeader, ""},
		{"missing dtype", file(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, le32(1)), ErrInvalidHeader, ""},
		{"missing shape", file(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, le32(1)), ErrInvalidHeader, ""},
		{"missing offsets", file(`{"a":{"dtype":"F32","shape":[1]}}`, le32(1)), ErrInvalidHeader, ""},
		{"unknown field", file(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}}`, le32(1)), ErrInvalidHeader, ""},
		{"duplicate field", file(`{"a":{"dtype":"F32","dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, le32(1)), ErrInvalidHeader, ""},
		{"dtype not a string", file(`{"a":{"dtype":32,"shape":[1],"data_offsets":[0,4]}}`, le32(1)), ErrInvalidHeader, ""},
		{"fractional dimension", file(`{`+f32("a", "[1.0]", "[0,4]")+`}`, le32(1)), ErrInvalidHeader, ""},
		{"dimension beyond int64", file(`{`+f32("a", "[9223372036854775808]", "[0,4]")+`}`, le32(1)), ErrInvalidHeader, ""},
		{"shape not an array", file(`{`+f32("a", "1", "[0,4]")+`}`, le32(1)), ErrInvalidHeader, ""},
		{"metadata not an object", file(`{"__metadata__":"x"}`, nil), ErrInvalidHeader, ""},
		{"metadata value not a string", file(`{"__metadata__":{"k":1}}`, nil), ErrInvalidHeader, ""},
		{"metadata duplicate key", file(`{"__metadata__":{"k":"1","k":"2"}}`, nil), ErrInvalidHeader, ""},
		{"metadata twice", file(`{"__metadata__":{},"__metadata__":{}}`, nil), ErrInvalidHeader, ""},
		{"unknown dtype", file(`{"a":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}`, le32(1)), ErrUnsupportedDtype, ""},
		{"integer dtype", file(`{"a":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, le64(1)), ErrUnsupportedDtype, ""},
		{"negative dimension", file(`{`+f32("a", "[-1,2]", "[0,4]")+`}`, le32(1)), ErrInvalidShape, ""},
		{"shape product overflows", file(`{`+f32("a", "[4294967296,4294967296]", "[0,4]")+`}`, le32(1)), ErrInvalidShape, ""},
		{"bytes overflow int64", file(`{`+f32("a", "[4611686018427387904]", "[0,4]")+`}`, le32(1)), ErrInvalidShape, ""},
		{"shape disagrees with offsets", file(`{`+f32("a", "[2]", "[0,4]")+`}`, le32(1)), ErrInvalidShape, ""},
		{"scalar with no bytes", file(`{`+f32("a", "[]", "[0,0]")+`}`, nil), ErrInvalidShape, ""},
		{"one offset", file(`{`+f32("a", "[1]", "[4]")+`}`, le32(1)), ErrInvalidOffsets, ""},
		{"three offsets", file(`{`+f32("a", "[1]", "[0,4,8]")+`}`, le32(1)), ErrInvalidOffsets, ""},
		{"negative offset", file(`{`+f32("a", "[1]", "[-4,0]")+`}`, le32(1)), ErrInvalidOffsets, ""},
		{"reversed offsets", file(`{`+f32("a", "[1]", "[4,0]")+`}`, le32(1)), ErrInvalidOffsets, ""},
		{"does not start at 0", file(`{`+f32("a", "[1]", "[4,8]")+`}`, le32(1, 2)), ErrInvalidOffsets, `gap of 4 bytes before tensor "a"`},
		{"gap", file(`{`+f32("a", "[1]", "[0,4]")+`,`+f32("b", "[1]", "[8,12]")+`}`, le32(1, 2, 3)), ErrInvalidOffsets, `gap of 4 bytes before tensor "b"`},
		{"overlap", file(`{`+f32("a", "[2]", "[0,8]")+`,`+f32("b", "[2]", "[4,12]")+`}`, le32(1, 2, 3)), ErrInvalidOffsets, `overlaps`},
		{"same range twice", file(`{`+f32("a", "[1]", "[0,4]")+`,`+f32("b", "[1]", "[0,4]")+`}`, le32(1)), ErrInvalidOffsets, `overlaps`},
		{"trailing bytes", file(`{`+f32("a", "[1]", "[0,4]")+`}`, le32(1, 2)), ErrInvalidOffsets, `the 4 bytes the tensors cover`},
		{"bytes but no tensors", file(`{}`, le32(1)), ErrInvalidOffsets, `the 0 bytes the tensors cover`},
		{"offsets beyond the file", file(`{`+f32("a", "[2]", "[0,8]")+`}`, le32(1)), ErrTruncated, ""},
		{"data truncated mid element", file(`{`+f32("a", "[1]", "[0,4]")+`}`, []byte{0, 0}), ErrTruncated, ""},
		{"duplicate names", file(`{`+f32("a", "[1]", "[0,4]")+`,`+f32("a", "[1]", "[4,8]")+`}`, le32(1, 2)), ErrDuplicateName, `"a"`},
		{"empty name", file(`{`+f32("", "[1]", "[0,4]")+`}`, le32(1)), ErrInvalidName, ""},
		{"F64 beyond float32", file(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}`, le64(1, 1e300)), ErrValueRange, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := func(how string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s: no error, want %v", how, tc.want)
				}
				if !errors.Is(err, tc.want) {
					t.Errorf("%s: error %q does not wrap %q", how, err, tc.want)
				}
				if !strings.HasPrefix(err.Error(), "safetensors: ") {
					t.Errorf("%s: error %q lacks the package prefix", how, err)
				}
				if !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("%s: error %q does not mention %q", how, err, tc.msg)
				}
			}
			ts, meta, err := Read(bytes.NewReader(tc.input))
			check("Read", err)
			if ts != nil || meta != nil {
				t.Errorf("Read returned data with an error: %v %v", ts, meta)
			}
			// iotest-style one-byte reads must give the same result.
			_, _, err = Read(&oneByteReader{tc.input})
			check("Read one byte at a time", err)

			path := filepath.Join(t.TempDir(), "bad.safetensors")
			if err := os.WriteFile(path, tc.input, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err = ReadFile(path)
			check("ReadFile", err)
		})
	}
}

// oneByteReader returns at most one byte per Read call.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func TestReadHostileSizesDoNotAllocate(t *testing.T) {
	// Each input is under 200 bytes but claims far more: a 100 MB header, or a
	// tensor of 2^28 float32 values (1 GiB; small enough to be valid on 32-bit
	// platforms too). Reading must fail with ErrTruncated after allocating
	// about as much as the input holds.
	bigHeader := append(binary.LittleEndian.AppendUint64(nil, MaxHeaderSize), `{"a":`...)
	bigTensor := file(`{"a":{"dtype":"F32","shape":[268435456],"data_offsets":[0,1073741824]}}`, le32(1, 2, 3))
	for name, input := range map[string][]byte{"header": bigHeader, "tensor": bigTensor} {
		t.Run(name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, _, err := Read(bytes.NewReader(input))
			runtime.ReadMemStats(&after)
			if !errors.Is(err, ErrTruncated) {
				t.Errorf("error %v, want ErrTruncated", err)
			}
			// 8 MiB: generous room for the 64 KiB scratch buffer, the first
			// 64 Ki-element chunk (256 KiB) and bookkeeping; far below what the
			// header claims.
			const limit = 8 << 20
			if got := after.TotalAlloc - before.TotalAlloc; got > limit {
				t.Errorf("allocated %d bytes reading a %d-byte input", got, len(input))
			}
		})
	}
}

// errReader returns its data, then err.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestReadReaderError(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, roundTripTensors(), nil); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()
	cause := errors.New("connection reset")
	// Cut inside the length, the header and the data.
	for _, cut := range []int{4, 20, len(full) - 3} {
		_, _, err := Read(&errReader{data: full[:cut], err: cause})
		if !errors.Is(err, cause) || !strings.HasPrefix(err.Error(), "safetensors: ") {
			t.Errorf("cut at %d: error %v, want a prefixed error wrapping the reader's", cut, err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	ok := Tensor{Name: "ok", Shape: []int{1}, Data: []float32{1}}
	for _, tc := range []struct {
		name    string
		tensors []Tensor
		meta    map[string]string
		want    error
	}{
		{"empty name", []Tensor{ok, {Name: "", Shape: []int{}, Data: []float32{1}}}, nil, ErrInvalidName},
		{"reserved name", []Tensor{{Name: "__metadata__", Shape: []int{}, Data: []float32{1}}}, nil, ErrInvalidName},
		{"invalid UTF-8 name", []Tensor{{Name: "a\xff", Shape: []int{}, Data: []float32{1}}}, nil, ErrInvalidName},
		{"invalid UTF-8 metadata", []Tensor{ok}, map[string]string{"k": "\xfe"}, ErrInvalidName},
		{"duplicate names", []Tensor{ok, {Name: "x", Shape: []int{}, Data: []float32{1}}, ok}, nil, ErrDuplicateName},
		{"negative dimension", []Tensor{{Name: "a", Shape: []int{-2, -3}, Data: make([]float32, 6)}}, nil, ErrInvalidShape},
		{"shape overflow", []Tensor{{Name: "a", Shape: []int{math.MaxInt / 2, 3}, Data: nil}}, nil, ErrInvalidShape},
		{"too little data", []Tensor{{Name: "a", Shape: []int{2, 2}, Data: make([]float32, 3)}}, nil, ErrInvalidShape},
		{"too much data", []Tensor{{Name: "a", Shape: []int{0}, Data: make([]float32, 1)}}, nil, ErrInvalidShape},
		{"scalar without data", []Tensor{{Name: "a", Shape: nil, Data: nil}}, nil, ErrInvalidShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := Write(&buf, tc.tensors, tc.meta)
			if !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "safetensors: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
			if buf.Len() != 0 {
				t.Errorf("Write wrote %d bytes before failing", buf.Len())
			}
		})
	}
}

func TestWriteNaNAllowed(t *testing.T) {
	var buf bytes.Buffer
	if err := Write(&buf, []Tensor{{Name: "n", Shape: []int{1}, Data: []float32{float32(math.NaN())}}}, nil); err != nil {
		t.Fatalf("NaN is data and must be written: %v", err)
	}
}

// failWriter fails after accepting n bytes.
type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errors.New("disk full")
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriteWriterError(t *testing.T) {
	err := Write(&failWriter{n: 10}, roundTripTensors(), nil)
	if err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("error %v, want a prefixed error carrying the writer's", err)
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "model.safetensors")
	first := []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1, 2}}}
	second := []Tensor{{Name: "w", Shape: []int{3}, Data: []float32{3, 4, 5}}}

	listing := func() []string {
		t.Helper()
		ents, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	wantOnly := []string{"model.safetensors"}

	if err := WriteFile(path, first, nil); err != nil {
		t.Fatal(err)
	}
	if got := listing(); !slices.Equal(got, wantOnly) {
		t.Errorf("directory holds %v after WriteFile, want %v", got, wantOnly)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", st.Mode().Perm())
	}

	// Overwriting replaces the contents.
	if err := WriteFile(path, second, nil); err != nil {
		t.Fatal(err)
	}
	got, _, err := ReadFile(path)
	if err != nil || !sameTensors(got, second) {
		t.Errorf("after overwrite ReadFile = %v, %v; want %v", got, err, second)
	}

	// A failed write leaves the old file intact and no temporary file.
	bad := []Tensor{{Name: "w", Shape: []int{2}, Data: []float32{1}}}
	if err := WriteFile(path, bad, nil); !errors.Is(err, ErrInvalidShape) {
		t.Errorf("WriteFile of a bad tensor: error %v, want ErrInvalidShape", err)
	}
	if got := listing(); !slices.Equal(got, wantOnly) {
		t.Errorf("directory holds %v after a failed WriteFile, want %v", got, wantOnly)
	}
	got, _, err = ReadFile(path)
	if err != nil || !sameTensors(got, second) {
		t.Errorf("failed WriteFile changed the file: %v, %v", got, err)
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "m.safetensors")
	err := WriteFile(path, []Tensor{{Name: "a", Shape: []int{}, Data: []float32{1}}}, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want a prefixed error wrapping os.ErrNotExist", err)
	}
}

func TestReadFileMissing(t *testing.T) {
	_, _, err := ReadFile(filepath.Join(t.TempDir(), "absent.safetensors"))
	if err == nil || !strings.HasPrefix(err.Error(), "safetensors: ") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("error %v, want a prefixed error wrapping os.ErrNotExist", err)
	}
}

func TestReadAcceptsPaddingAndOrder(t *testing.T) {
	// Header with spaces, newlines and tabs, tensors listed out of offset and
	// name order, an empty tensor sitting between two others: all valid.
	h := "{\n\t\"b\": {\"shape\": [2], \"dtype\": \"F32\", \"data_offsets\": [4, 12]},\n" +
		"\t\"e\": {\"dtype\": \"F32\", \"shape\": [0, 7], \"data_offsets\": [4, 4]},\n" +
		"\t\"a\": {\"data_offsets\": [0, 4], \"dtype\": \"F32\", \"shape\": []}\n}      "
	got, meta, err := Read(bytes.NewReader(file(h, le32(9, 7, 8))))
	if err != nil {
		t.Fatal(err)
	}
	want := []Tensor{
		{Name: "a", Shape: []int{}, Data: []float32{9}},
		{Name: "b", Shape: []int{2}, Data: []float32{7, 8}},
		{Name: "e", Shape: []int{0, 7}, Data: []float32{}},
	}
	if !sameTensors(got, want) || meta != nil {
		t.Errorf("got %v %v, want %v", got, meta, want)
	}
}

// A file that records Checksum under ChecksumKey fails to load when one bit
// of its data changes (a sign bit, an exponent bit); the same damage in a
// file without the entry loads, with other values, as files from elsewhere
// always did.
func TestChecksum(t *testing.T) {
	ts := []Tensor{{Name: "b", Shape: []int{2}, Data: []float32{0.5, -1}}, {Name: "a", Shape: []int{1, 2}, Data: []float32{3, 4}}}
	write := func(meta map[string]string) []byte {
		var buf bytes.Buffer
		if err := Write(&buf, ts, meta); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	with := write(map[string]string{ChecksumKey: Checksum(ts)})
	if _, _, err := Read(bytes.NewReader(with)); err != nil {
		t.Fatalf("intact file: %v", err)
	}
	without := write(nil)
	for _, bit := range []int{7, 6} { // the last byte holds a sign bit and exponent bits of the last value
		bad := slices.Clone(with)
		bad[len(bad)-1] ^= 1 << bit
		if _, _, err := Read(bytes.NewReader(bad)); !errors.Is(err, ErrChecksum) {
			t.Errorf("bit %d flipped: %v, want ErrChecksum", bit, err)
		}
		bad = slices.Clone(without)
		bad[len(bad)-1] ^= 1 << bit
		if got, _, err := Read(bytes.NewReader(bad)); err != nil || slices.Equal(got[1].Data, ts[0].Data) {
			t.Errorf("bit %d flipped without a checksum: %v, %v", bit, got, err)
		}
	}
}

func TestReadOptionsLimits(t *testing.T) {
	// Three tensors of 2 floats (24 bytes of data).
	ts := []Tensor{
		{Name: "a", Shape: []int{2}, Data: []float32{1, 2}},
		{Name: "b", Shape: []int{2}, Data: []float32{3, 4}},
		{Name: "c", Shape: []int{1, 2}, Data: []float32{5, 6}},
	}
	var buf bytes.Buffer
	if err := Write(&buf, ts, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		opts ReadOptions
		want error
	}{
		{"defaults", ReadOptions{}, nil},
		{"tensors at limit", ReadOptions{MaxTensors: 3}, nil},
		{"too many tensors", ReadOptions{MaxTensors: 2}, ErrLimit},
		{"data at limit", ReadOptions{MaxDataBytes: 24}, nil},
		{"too much data", ReadOptions{MaxDataBytes: 23}, ErrLimit},
	} {
		_, _, err := c.opts.Read(bytes.NewReader(buf.Bytes()))
		if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: error %v, want %v", c.name, err, c.want)
		}
	}
}

func TestReadOptionsCheckRunsBeforeData(t *testing.T) {
	// A 64 MiB tensor whose data never arrives: Check must see the header
	// and stop the read before a byte of data is read or allocated.
	input := file(`{"big":{"dtype":"F32","shape":[4,4194304],"data_offsets":[0,67108864]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[67108864,67108868]}}`, nil)
	stop := errors.New("unexpected tensor")
	var got []Info
	opts := ReadOptions{Check: func(infos []Info) error {
		got = infos
		return stop
	}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := opts.Read(bytes.NewReader(input))
	runtime.ReadMemStats(&after)
	if err != stop {
		t.Fatalf("error %v, want Check's error as it is", err)
	}
	want := []Info{{"big", "F32", []int{4, 4194304}}, {"b", "BF16", []int{2}}}
	if len(got) != len(want) {
		t.Fatalf("Check saw %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Name != want[i].Name || got[i].Dtype != want[i].Dtype || !slices.Equal(got[i].Shape, want[i].Shape) {
			t.Errorf("Check saw %v, want %v (header order)", got[i], want[i])
		}
	}
	// 1 MiB: the header's bookkeeping; the tensor alone would be 64 MiB.
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes before Check rejected the header", n)
	}
}

func TestReadManyTinyTensorsStopsAtLimit(t *testing.T) {
	// A header listing DefaultMaxTensors+1 empty tensors: parsing stops at
	// the limit with ErrLimit.
	var h strings.Builder
	h.WriteString("{")
	for i := range DefaultMaxTensors + 1 {
		if i > 0 {
			h.WriteString(",")
		}
		fmt.Fprintf(&h, `"t%d":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}`, i)
	}
	h.WriteString("}")
	_, _, err := Read(bytes.NewReader(file(h.String(), nil)))
	if !errors.Is(err, ErrLimit) {
		t.Fatalf("error %v, want ErrLimit", err)
	}
}
