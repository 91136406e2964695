package safetensors

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/robustq/robustq/internal/atomicfile"
)

// MaxHeaderSize is the largest header length, in bytes, that Read and ReadFile
// accept. It is the limit the reference implementation uses.
const MaxHeaderSize = 100_000_000

// metadataKey is the reserved header key that holds the string metadata.
const metadataKey = "__metadata__"

// chunkSize is the size of the scratch buffer used to copy tensor data. It is
// a multiple of every supported element size.
const chunkSize = 1 << 16

// Sentinel errors. Every error returned by this package wraps one of them.
var (
	// ErrHeaderTooLarge reports a header length above MaxHeaderSize.
	ErrHeaderTooLarge = errors.New("safetensors: header too large")
	// ErrInvalidHeader reports a header that is not the expected JSON object:
	// bad JSON, invalid UTF-8, a missing, unknown, duplicated or mistyped field.
	ErrInvalidHeader = errors.New("safetensors: invalid header")
	// ErrUnsupportedDtype reports a dtype this package cannot read, either
	// unknown to the format or known but not a floating-point type it converts.
	ErrUnsupportedDtype = errors.New("safetensors: unsupported dtype")
	// ErrInvalidShape reports a negative dimension, an element count that
	// overflows, or a shape that disagrees with the data it describes.
	ErrInvalidShape = errors.New("safetensors: invalid shape")
	// ErrInvalidOffsets reports data offsets that are reversed, overlap, leave
	// a gap, or do not cover the buffer exactly.
	ErrInvalidOffsets = errors.New("safetensors: invalid data offsets")
	// ErrDuplicateName reports two tensors with the same name.
	ErrDuplicateName = errors.New("safetensors: duplicate tensor name")
	// ErrInvalidName reports an empty tensor name, the reserved name
	// "__metadata__", or a name or metadata string that is not valid UTF-8.
	ErrInvalidName = errors.New("safetensors: invalid name")
	// ErrTruncated reports input that ends before the header or the data it
	// announces.
	ErrTruncated = errors.New("safetensors: truncated input")
	// ErrValueRange reports an F64 value that is finite but too large in
	// magnitude for float32.
	ErrValueRange = errors.New("safetensors: value out of float32 range")
	// ErrLimit reports a header that lists more tensors, or more data, than
	// the ReadOptions in use allow.
	ErrLimit = errors.New("safetensors: size exceeds limit")
	// ErrChecksum reports a data section whose SHA-256 differs from the one
	// recorded under ChecksumKey: the tensor values were damaged or edited.
	ErrChecksum = errors.New("safetensors: data checksum mismatch")
)

// Tensor is a named float32 tensor stored in row-major (C) order.
type Tensor struct {
	// Name identifies the tensor in the file. It must be non-empty, valid
	// UTF-8, and not "__metadata__".
	Name string
	// Shape lists the dimensions. An empty (or nil) Shape is a scalar with one
	// element; a zero dimension makes an empty tensor.
	Shape []int
	// Data holds the elements; its length is the product of Shape.
	Data []float32
}

// dtype describes one element type of the format.
type dtype struct {
	name string
	size int
	// decode converts len(dst) elements from src, which holds exactly
	// len(dst)*size bytes. It reports the index of a value that cannot be
	// represented, or -1.
	decode func(dst []float32, src []byte) int
}

// supportedDtypes are the dtypes Read converts to float32.
var supportedDtypes = map[string]dtype{
	"F32":  {"F32", 4, decodeF32},
	"F64":  {"F64", 8, decodeF64},
	"F16":  {"F16", 2, decodeF16},
	"BF16": {"BF16", 2, decodeBF16},
}

// knownDtypes are the other dtype names of the format, rejected with a
// message that says they are known but unsupported.
var knownDtypes = []string{
	"BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64",
	"F8_E4M3", "F8_E5M2", "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64",
}

// lookupDtype returns the dtype called name; where names the tensor in
// error messages.
func lookupDtype(name, where string) (dtype, error) {
	if d, ok := supportedDtypes[name]; ok {
		return d, nil
	}
	if slices.Contains(knownDtypes, name) {
		return dtype{}, fmt.Errorf("%w: %s: %s (supported: F32, F64, F16, BF16)", ErrUnsupportedDtype, where, name)
	}
	return dtype{}, fmt.Errorf("%w: %s: unknown dtype %q", ErrUnsupportedDtype, where, name)
}

func decodeF32(dst []float32, src []byte) int {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
	return -1
}

func decodeF64(dst []float32, src []byte) int {
	for i := range dst {
		v := math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:]))
		f := float32(v)
		if math.IsInf(float64(f), 0) && !math.IsInf(v, 0) {
			return i
		}
		dst[i] = f
	}
	return -1
}

// halfToFloat32 converts an IEEE 754 binary16 value to float32 exactly.
func halfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h) & 0x3ff
	switch {
	case exp == 0:
		// Zero or subnormal: mant * 2^-24, exact in float32.
		f := float32(math.Ldexp(float64(mant), -24))
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		// Infinity or NaN; the NaN payload moves to the top of the mantissa.
		return math.Float32frombits(sign | 0xff<<23 | mant<<13)
	default:
		// Normal: rebias the exponent from 15 to 127.
		return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
	}
}

func decodeF16(dst []float32, src []byte) int {
	for i := range dst {
		dst[i] = halfToFloat32(binary.LittleEndian.Uint16(src[2*i:]))
	}
	return -1
}

func decodeBF16(dst []float32, src []byte) int {
	for i := range dst {
		// bfloat16 is the upper half of a float32.
		dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
	}
	return -1
}

// elemCount returns the number of elements of a tensor with the given shape,
// checking that count*elemSize fits in an int64 and count fits in an int.
// name is used in error messages.
func elemCount(name string, shape []int, elemSize int) (int, error) {
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("%w: tensor %q: negative dimension %d in %v", ErrInvalidShape, name, d, shape)
		}
		if d == 0 {
			return 0, nil
		}
	}
	limit := uint64(math.MaxInt64) / uint64(elemSize)
	if uint64(math.MaxInt) < limit {
		limit = uint64(math.MaxInt)
	}
	n := uint64(1)
	for _, d := range shape {
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > limit {
			return 0, fmt.Errorf("%w: tensor %q: element count of shape %v overflows", ErrInvalidShape, name, shape)
		}
		n = lo
	}
	return int(n), nil
}

// checkName reports whether a tensor name can be stored.
func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty tensor name", ErrInvalidName)
	case name == metadataKey:
		return fmt.Errorf("%w: tensor name %q is reserved", ErrInvalidName, name)
	case !utf8.ValidString(name):
		return fmt.Errorf("%w: tensor name %q is not valid UTF-8", ErrInvalidName, name)
	}
	return nil
}

// ChecksumKey is the metadata key under which a writer may record
// Checksum of its tensors; Read verifies it when present (files without it
// load as before).
const ChecksumKey = "data_sha256"

// Checksum returns the hex SHA-256 of the data section that Write produces
// for tensors: their values as little-endian F32, tensors sorted by name.
func Checksum(tensors []Tensor) string {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(tensors[a].Name, tensors[b].Name) })
	h := sha256.New()
	buf := make([]byte, 0, chunkSize)
	for _, i := range order {
		for _, v := range tensors[i].Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// Write writes tensors and metadata to w in the safetensors format, with
// every tensor stored as F32. Tensors are sorted by name in the header and the
// buffer, and metadata keys are sorted, so equal inputs give equal bytes. A
// nil or empty metadata map writes no "__metadata__" entry. The input slices
// are not modified. NaN and infinite values are data and are stored as they
// are.
//
// Write returns an error, and writes nothing, if a name is empty, reserved,
// invalid UTF-8 or duplicated, if a metadata string is invalid UTF-8, or if a
// shape has a negative dimension, overflows, or disagrees with len(Data).
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	order := make([]int, len(tensors))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(tensors[a].Name, tensors[b].Name) })

	for k, i := range order {
		t := &tensors[i]
		if err := checkName(t.Name); err != nil {
			return err
		}
		if k > 0 && tensors[order[k-1]].Name == t.Name {
			return fmt.Errorf("%w: %q", ErrDuplicateName, t.Name)
		}
		n, err := elemCount(t.Name, t.Shape, 4)
		if err != nil {
			return err
		}
		if n != len(t.Data) {
			return fmt.Errorf("%w: tensor %q: shape %v has %d elements but len(Data) is %d",
				ErrInvalidShape, t.Name, t.Shape, n, len(t.Data))
		}
	}
	keys := make([]string, 0, len(metadata))
	for k, v := range metadata {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return fmt.Errorf("%w: metadata entry %q: %q is not valid UTF-8", ErrInvalidName, k, v)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)

	header, err := buildHeader(tensors, order, metadata, keys)
	if err != nil {
		return err
	}

	bw := bufio.NewWriterSize(w, chunkSize)
	var prefix [8]byte
	binary.LittleEndian.PutUint64(prefix[:], uint64(len(header)))
	bw.Write(prefix[:])
	bw.Write(header)
	var elem [4]byte
	for _, i := range order {
		for _, v := range tensors[i].Data {
			binary.LittleEndian.PutUint32(elem[:], math.Float32bits(v))
			bw.Write(elem[:])
		}
	}
	// bufio.Writer keeps the first write error and returns it from Flush.
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("safetensors: writing: %w", err)
	}
	return nil
}

// buildHeader returns the JSON header, padded with spaces to a multiple of 8
// bytes. The inputs have been validated.
func buildHeader(tensors []Tensor, order []int, metadata map[string]string, keys []string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	// putString appends s as a JSON string. Encoder.Encode adds a newline,
	// which is removed.
	putString := func(s string) error {
		if err := enc.Encode(s); err != nil {
			return fmt.Errorf("%w: encoding %q: %w", ErrInvalidHeader, s, err)
		}
		buf.Truncate(buf.Len() - 1)
		return nil
	}

	buf.WriteByte('{')
	first := true
	if len(keys) > 0 {
		first = false
		putString(metadataKey)
		buf.WriteString(":{")
		for j, k := range keys {
			if j > 0 {
				buf.WriteByte(',')
			}
			if err := putString(k); err != nil {
				return nil, err
			}
			buf.WriteByte(':')
			if err := putString(metadata[k]); err != nil {
				return nil, err
			}
		}
		buf.WriteByte('}')
	}
	var offset int64
	for _, i := range order {
		t := &tensors[i]
		if !first {
			buf.WriteByte(',')
		}
		first = false
		if err := putString(t.Name); err != nil {
			return nil, err
		}
		buf.WriteString(`:{"dtype":"F32","shape":[`)
		for j, d := range t.Shape {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.WriteString(strconv.Itoa(d))
		}
		end := offset + 4*int64(len(t.Data))
		fmt.Fprintf(&buf, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	buf.WriteByte('}')
	for buf.Len()%8 != 0 {
		buf.WriteByte(' ')
	}
	return buf.Bytes(), nil
}

// WriteFile writes tensors and metadata to the named file as Write does. It
// writes a temporary file in the same directory, syncs it to disk and renames
// it over path, so path holds either its old contents or the complete new
// file. The file's mode is 0644. On error the temporary file is removed.
func WriteFile(path string, tensors []Tensor, metadata map[string]string) error {
	var werr error
	err := atomicfile.Write(path, func(w io.Writer) error {
		werr = Write(w, tensors, metadata)
		return werr
	})
	if err != nil && err != werr {
		return fmt.Errorf("safetensors: %w", err)
	}
	return err
}

// Default limits of ReadOptions.
const (
	// DefaultMaxTensors is the most tensors a header may list.
	DefaultMaxTensors = 1 << 16
	// DefaultMaxDataBytes is the largest data buffer a header may describe:
	// 2 GiB, a thousand times robustq's largest network.
	DefaultMaxDataBytes = 2 << 30
)

// Info describes one tensor as its header lists it.
type Info struct {
	Name  string
	Dtype string
	Shape []int
}

// ReadOptions bound and check what a read accepts, before any tensor data
// is read. The zero value applies the default limits and checks nothing
// else.
type ReadOptions struct {
	// MaxTensors is the most tensors the header may list; 0 means
	// DefaultMaxTensors.
	MaxTensors int
	// MaxDataBytes is the largest data buffer the header may describe; 0
	// means DefaultMaxDataBytes.
	MaxDataBytes int64
	// Check, when not nil, is called with every tensor of the parsed
	// header, in header order, before any data is read; an error it
	// returns ends the read and is returned as it is.
	Check func([]Info) error
}

// Read reads a safetensors file from r and returns its tensors sorted by
// name, and its metadata (nil when the file has no "__metadata__" entry).
// Read consumes r to its end: bytes after the last tensor are an error, as
// the format requires the buffer to be covered exactly. It applies the
// default limits (see ReadOptions).
//
// Memory grows with the bytes actually read, not with the sizes the header
// claims, so a short hostile input cannot cause a large allocation.
func Read(r io.Reader) ([]Tensor, map[string]string, error) {
	return ReadOptions{}.Read(r)
}

// ReadFile reads the named safetensors file as Read does. It checks the
// header's sizes against the file's size before reading the data.
func ReadFile(path string) ([]Tensor, map[string]string, error) {
	return ReadOptions{}.ReadFile(path)
}

// Read is the package's Read within o's limits and check.
func (o ReadOptions) Read(r io.Reader) ([]Tensor, map[string]string, error) {
	return o.read(r, -1)
}

// ReadFile is the package's ReadFile within o's limits and check.
func (o ReadOptions) ReadFile(path string) ([]Tensor, map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: %w", err)
	}
	size := int64(-1)
	if st.Mode().IsRegular() {
		size = st.Size()
	}
	ts, meta, err := o.read(bufio.NewReaderSize(f, chunkSize), size)
	if err != nil {
		return nil, nil, fmt.Errorf("%w (file %s)", err, path)
	}
	return ts, meta, nil
}

// entry is one tensor's header record.
type entry struct {
	name       string
	dt         dtype
	shape      []int
	count      int
	begin, end int64
}

// read reads a file from r. size is the total input size when known, else -1.
func (o ReadOptions) read(r io.Reader, size int64) ([]Tensor, map[string]string, error) {
	var prefix [8]byte
	if _, err := io.ReadFull(r, prefix[:]); err != nil {
		return nil, nil, ioError("reading header length", err)
	}
	n := binary.LittleEndian.Uint64(prefix[:])
	if n > MaxHeaderSize {
		return nil, nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrHeaderTooLarge, n, MaxHeaderSize)
	}
	if size >= 0 && n > uint64(size-8) {
		return nil, nil, fmt.Errorf("%w: header length %d exceeds the %d bytes after the length", ErrTruncated, n, size-8)
	}
	// ReadAll grows its buffer as data arrives, so a false header length on a
	// short stream costs no more memory than the stream holds.
	header, err := io.ReadAll(io.LimitReader(r, int64(n)))
	if err != nil {
		return nil, nil, fmt.Errorf("safetensors: reading header: %w", err)
	}
	if uint64(len(header)) < n {
		return nil, nil, fmt.Errorf("%w: header has %d of %d bytes", ErrTruncated, len(header), n)
	}
	maxTensors := o.MaxTensors
	if maxTensors <= 0 {
		maxTensors = DefaultMaxTensors
	}
	entries, meta, err := parseHeader(header, maxTensors)
	if err != nil {
		return nil, nil, err
	}
	if o.Check != nil {
		infos := make([]Info, len(entries))
		for i, e := range entries {
			infos[i] = Info{Name: e.name, Dtype: e.dt.name, Shape: e.shape}
		}
		if err := o.Check(infos); err != nil {
			return nil, nil, err
		}
	}
	total, err := checkLayout(entries)
	if err != nil {
		return nil, nil, err
	}
	maxData := o.MaxDataBytes
	if maxData <= 0 {
		maxData = DefaultMaxDataBytes
	}
	if total > maxData {
		return nil, nil, fmt.Errorf("%w: tensors cover %d bytes, limit %d", ErrLimit, total, maxData)
	}
	if size >= 0 {
		have := size - 8 - int64(n)
		if total < have {
			return nil, nil, fmt.Errorf("%w: buffer has %d bytes, %d more than the %d bytes the tensors cover", ErrInvalidOffsets, have, have-total, total)
		}
		if total > have {
			return nil, nil, fmt.Errorf("%w: tensors need %d bytes but the buffer has %d", ErrTruncated, total, have)
		}
	}

	out := make(map[string][]float32, len(entries))
	scratch := make([]byte, chunkSize)
	want, check := meta[ChecksumKey]
	h := sha256.New()
	if check {
		r = io.TeeReader(r, h)
	}
	for i := range entries {
		e := &entries[i]
		data, err := readData(r, e, scratch, size >= 0)
		if err != nil {
			return nil, nil, err
		}
		out[e.name] = data
	}
	// The buffer must end where the last tensor ends.
	if m, err := io.ReadFull(r, scratch[:1]); m > 0 {
		return nil, nil, fmt.Errorf("%w: data continues after the %d bytes the tensors cover", ErrInvalidOffsets, total)
	} else if err != nil && err != io.EOF {
		return nil, nil, fmt.Errorf("safetensors: reading: %w", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); check && got != want {
		return nil, nil, fmt.Errorf("%w: recorded %s, data %s", ErrChecksum, want, got)
	}

	tensors := make([]Tensor, 0, len(entries))
	for _, e := range entries {
		tensors = append(tensors, Tensor{Name: e.name, Shape: e.shape, Data: out[e.name]})
	}
	slices.SortFunc(tensors, func(a, b Tensor) int { return strings.Compare(a.Name, b.Name) })
	return tensors, meta, nil
}

// ioError wraps a read error, reporting a short read as ErrTruncated.
func ioError(what string, err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return fmt.Errorf("%w: %s", ErrTruncated, what)
	}
	return fmt.Errorf("safetensors: %s: %w", what, err)
}

// readData reads and converts one tensor's bytes. When sized is false the
// output grows in chunks as data arrives instead of being allocated from the
// header's count.
func readData(r io.Reader, e *entry, scratch []byte, sized bool) ([]float32, error) {
	capHint := e.count
	if !sized {
		capHint = min(e.count, chunkSize)
	}
	data := make([]float32, 0, capHint)
	remaining := e.end - e.begin
	for remaining > 0 {
		m := int(min(remaining, int64(len(scratch))))
		if _, err := io.ReadFull(r, scratch[:m]); err != nil {
			return nil, ioError(fmt.Sprintf("reading tensor %q", e.name), err)
		}
		k := m / e.dt.size
		start := len(data)
		data = slices.Grow(data, k)[:start+k]
		if bad := e.dt.decode(data[start:], scratch[:m]); bad >= 0 {
			// Only F64 reports bad values.
			v := math.Float64frombits(binary.LittleEndian.Uint64(scratch[8*bad:]))
			return nil, fmt.Errorf("%w: tensor %q element %d is %g", ErrValueRange, e.name, start+bad, v)
		}
		remaining -= int64(m)
	}
	return data, nil
}

// checkLayout checks the entries' byte ranges, sorts the entries by offset and
// returns the buffer length they cover.
func checkLayout(entries []entry) (int64, error) {
	for i := range entries {
		e := &entries[i]
		if e.end < e.begin {
			return 0, fmt.Errorf("%w: tensor %q: data_offsets [%d, %d] are reversed", ErrInvalidOffsets, e.name, e.begin, e.end)
		}
		if want := int64(e.count) * int64(e.dt.size); e.end-e.begin != want {
			return 0, fmt.Errorf("%w: tensor %q: %s shape %v needs %d bytes but data_offsets [%d, %d] span %d",
				ErrInvalidShape, e.name, e.dt.name, e.shape, want, e.begin, e.end, e.end-e.begin)
		}
	}
	slices.SortFunc(entries, func(a, b entry) int {
		if c := compareInt64(a.begin, b.begin); c != 0 {
			return c
		}
		if c := compareInt64(a.end, b.end); c != 0 {
			return c
		}
		return strings.Compare(a.name, b.name)
	})
	var pos int64
	for i := range entries {
		e := &entries[i]
		if e.begin > pos {
			return 0, fmt.Errorf("%w: gap of %d bytes before tensor %q at offset %d", ErrInvalidOffsets, e.begin-pos, e.name, e.begin)
		}
		if e.begin < pos {
			return 0, fmt.Errorf("%w: tensor %q at [%d, %d] overlaps the previous tensor, which ends at %d",
				ErrInvalidOffsets, e.name, e.begin, e.end, pos)
		}
		pos = e.end
	}
	return pos, nil
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// parseHeader parses the JSON header. It walks the tokens itself so that it
// can reject duplicate keys (encoding/json would keep the last) and anything
// other than the expected structure.
// It fails with ErrLimit once more than maxTensors tensors are listed.
func parseHeader(h []byte, maxTensors int) ([]entry, map[string]string, error) {
	if len(h) == 0 || h[0] != '{' {
		return nil, nil, fmt.Errorf("%w: header does not begin with '{'", ErrInvalidHeader)
	}
	if !utf8.Valid(h) {
		return nil, nil, fmt.Errorf("%w: header is not valid UTF-8", ErrInvalidHeader)
	}
	p := parser{dec: json.NewDecoder(bytes.NewReader(h))}
	p.dec.UseNumber()
	if err := p.delim('{', "header"); err != nil {
		return nil, nil, err
	}
	var (
		entries []entry
		meta    map[string]string
		seen    = make(map[string]bool)
	)
	for p.dec.More() {
		key, err := p.key("header")
		if err != nil {
			return nil, nil, err
		}
		if seen[key] {
			if key == metadataKey {
				return nil, nil, fmt.Errorf("%w: %q appears twice", ErrInvalidHeader, key)
			}
			return nil, nil, fmt.Errorf("%w: %q", ErrDuplicateName, key)
		}
		seen[key] = true
		if key == metadataKey {
			if meta, err = p.metadata(); err != nil {
				return nil, nil, err
			}
			continue
		}
		if key == "" {
			return nil, nil, fmt.Errorf("%w: empty tensor name", ErrInvalidName)
		}
		if len(entries) == maxTensors {
			return nil, nil, fmt.Errorf("%w: more than %d tensors", ErrLimit, maxTensors)
		}
		e, err := p.tensorInfo(key)
		if err != nil {
			return nil, nil, err
		}
		entries = append(entries, e)
	}
	if err := p.delim('}', "header"); err != nil {
		return nil, nil, err
	}
	// Only whitespace may follow the object.
	if tok, err := p.dec.Token(); err != io.EOF {
		if err != nil {
			return nil, nil, fmt.Errorf("%w: after the header object: %w", ErrInvalidHeader, err)
		}
		return nil, nil, fmt.Errorf("%w: unexpected %v after the header object", ErrInvalidHeader, tok)
	}
	return entries, meta, nil
}

// parser reads the header's JSON tokens.
type parser struct {
	dec *json.Decoder
}

func (p *parser) token(where string) (json.Token, error) {
	tok, err := p.dec.Token()
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrInvalidHeader, where, err)
	}
	return tok, nil
}

func (p *parser) delim(d json.Delim, where string) error {
	tok, err := p.token(where)
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("%w: %s: expected %q, found %v", ErrInvalidHeader, where, d, describe(tok))
	}
	return nil
}

// key reads an object key; json.Decoder guarantees keys are strings.
func (p *parser) key(where string) (string, error) {
	tok, err := p.token(where)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s: expected a key, found %v", ErrInvalidHeader, where, describe(tok))
	}
	return s, nil
}

func (p *parser) str(where string) (string, error) {
	tok, err := p.token(where)
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: %s: expected a string, found %v", ErrInvalidHeader, where, describe(tok))
	}
	return s, nil
}

// ints reads a JSON array of integers.
func (p *parser) ints(where string) ([]int64, error) {
	if err := p.delim('[', where); err != nil {
		return nil, err
	}
	vals := []int64{}
	for p.dec.More() {
		tok, err := p.token(where)
		if err != nil {
			return nil, err
		}
		num, ok := tok.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%w: %s: expected an integer, found %v", ErrInvalidHeader, where, describe(tok))
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %s is not a 64-bit integer", ErrInvalidHeader, where, num)
		}
		vals = append(vals, v)
	}
	if err := p.delim(']', where); err != nil {
		return nil, err
	}
	return vals, nil
}

func (p *parser) metadata() (map[string]string, error) {
	const where = metadataKey
	if err := p.delim('{', where); err != nil {
		return nil, err
	}
	meta := make(map[string]string)
	for p.dec.More() {
		k, err := p.key(where)
		if err != nil {
			return nil, err
		}
		if _, dup := meta[k]; dup {
			return nil, fmt.Errorf("%w: %s: key %q appears twice", ErrInvalidHeader, where, k)
		}
		v, err := p.str(fmt.Sprintf("%s[%q]", where, k))
		if err != nil {
			return nil, err
		}
		meta[k] = v
	}
	if err := p.delim('}', where); err != nil {
		return nil, err
	}
	return meta, nil
}

func (p *parser) tensorInfo(name string) (entry, error) {
	where := fmt.Sprintf("tensor %q", name)
	e := entry{name: name}
	if err := p.delim('{', where); err != nil {
		return e, err
	}
	var dtypeName string
	var shape, offsets []int64
	seen := make(map[string]bool, 3)
	for p.dec.More() {
		field, err := p.key(where)
		if err != nil {
			return e, err
		}
		if seen[field] {
			return e, fmt.Errorf("%w: %s: field %q appears twice", ErrInvalidHeader, where, field)
		}
		seen[field] = true
		fw := where + " " + field
		switch field {
		case "dtype":
			dtypeName, err = p.str(fw)
		case "shape":
			shape, err = p.ints(fw)
		case "data_offsets":
			offsets, err = p.ints(fw)
		default:
			err = fmt.Errorf("%w: %s: unknown field %q", ErrInvalidHeader, where, field)
		}
		if err != nil {
			return e, err
		}
	}
	if err := p.delim('}', where); err != nil {
		return e, err
	}
	for _, f := range []string{"dtype", "shape", "data_offsets"} {
		if !seen[f] {
			return e, fmt.Errorf("%w: %s: missing field %q", ErrInvalidHeader, where, f)
		}
	}
	dt, err := lookupDtype(dtypeName, where)
	if err != nil {
		return e, err
	}
	e.dt = dt
	e.shape = make([]int, len(shape))
	for i, d := range shape {
		if d < 0 {
			return e, fmt.Errorf("%w: %s: negative dimension %d in %v", ErrInvalidShape, where, d, shape)
		}
		if uint64(d) > uint64(math.MaxInt) {
			return e, fmt.Errorf("%w: %s: dimension %d does not fit in int", ErrInvalidShape, where, d)
		}
		e.shape[i] = int(d)
	}
	if e.count, err = elemCount(name, e.shape, dt.size); err != nil {
		return e, err
	}
	if len(offsets) != 2 {
		return e, fmt.Errorf("%w: %s: data_offsets has %d values, want 2", ErrInvalidOffsets, where, len(offsets))
	}
	if offsets[0] < 0 || offsets[1] < 0 {
		return e, fmt.Errorf("%w: %s: negative data_offsets %v", ErrInvalidOffsets, where, offsets)
	}
	e.begin, e.end = offsets[0], offsets[1]
	return e, nil
}

// describe names a JSON token for an error message.
func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return strconv.Quote(t.String())
	case string:
		return "string " + strconv.Quote(t)
	case json.Number:
		return "number " + string(t)
	case bool:
		return "boolean " + strconv.FormatBool(t)
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}
