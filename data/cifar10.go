package data

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// CIFAR-10 constants.
const (
	// MaxCIFAR10Records is the largest number of records one CIFAR-10 batch
	// file or stream may hold (the official files hold 10,000 each).
	MaxCIFAR10Records = 1 << 17

	cifarSide     = 32
	cifarChannels = 3
	cifarClasses  = 10
	cifarPixels   = cifarChannels * cifarSide * cifarSide // 3072
	cifarRecord   = 1 + cifarPixels                       // label byte + pixels
	cifarFolder   = "cifar-10-batches-bin"
	cifarArchive  = "cifar-10-binary.tar.gz"
	// cifarChunk is the number of records read at a time from a batch file.
	cifarChunk = 256

	// CIFAR10Env names the environment variable that gives LoadCIFAR10 the
	// path to read: the official archive or a folder ReadCIFAR10 accepts.
	CIFAR10Env = "ROBUSTQ_CIFAR10"
)

// LoadCIFAR10 reads split (SplitTrain or SplitTest) of CIFAR-10 from the
// path in the environment variable ROBUSTQ_CIFAR10 (see ReadCIFAR10). When
// the variable is unset, the error wraps ErrNotFound and says how to set
// it; CIFAR-10 is never downloaded.
func LoadCIFAR10(split string) (*Dataset, error) {
	if _, err := cifarBatchNames(split); err != nil {
		return nil, err
	}
	p := os.Getenv(CIFAR10Env)
	if p == "" {
		return nil, fmt.Errorf("%w: CIFAR-10: set %s to the official cifar-10-binary.tar.gz or its extracted folder", ErrNotFound, CIFAR10Env)
	}
	return ReadCIFAR10(p, split)
}

// CIFAR10Classes returns the names of the ten CIFAR-10 classes, indexed by
// label, as listed in the release's batches.meta.txt.
func CIFAR10Classes() []string {
	return []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}
}

// cifarBatchNames returns the batch files of split, in dataset order.
func cifarBatchNames(split string) ([]string, error) {
	switch split {
	case SplitTrain:
		return []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}, nil
	case SplitTest:
		return []string{"test_batch.bin"}, nil
	}
	return nil, fmt.Errorf("%w: %q (want %q or %q)", ErrSplit, split, SplitTrain, SplitTest)
}

// newCIFAR10 returns a CIFAR-10 Dataset with room for n examples.
func newCIFAR10(name string, n int) *Dataset {
	return &Dataset{
		Name:     name,
		Channels: cifarChannels, Height: cifarSide, Width: cifarSide,
		Classes: cifarClasses,
		X:       make([]float32, n*cifarPixels),
		Y:       make([]int, n),
	}
}

// DecodeCIFAR10 decodes CIFAR-10 records in the official binary layout from
// r until EOF: each record is one label byte in [0, 10) followed by 3,072
// pixel bytes, the 32×32 red, green and blue planes in turn, each row-major.
// The input must hold at least one and at most MaxCIFAR10Records whole
// records, within the default Limits. The result has Name "cifar10".
func DecodeCIFAR10(r io.Reader) (*Dataset, error) {
	return Limits{}.DecodeCIFAR10(r)
}

// DecodeCIFAR10 is the package's DecodeCIFAR10 within l.
func (l Limits) DecodeCIFAR10(r io.Reader) (*Dataset, error) {
	return decodeCIFAR10(r, int(min(MaxCIFAR10Records, l.maxExamples(cifarPixels))))
}

func decodeCIFAR10(r io.Reader, maxRecords int) (*Dataset, error) {
	const what = "CIFAR-10 records"
	buf, err := readAtMost(r, int64(maxRecords)*cifarRecord, what)
	if errors.Is(err, ErrTooLarge) {
		return nil, fmt.Errorf("%w: %s: more than %d records", ErrTooLarge, what, maxRecords)
	}
	if err != nil {
		return nil, err
	}
	if len(buf) == 0 {
		return nil, fmt.Errorf("%w: %s: empty input", ErrFormat, what)
	}
	if len(buf)%cifarRecord != 0 {
		return nil, fmt.Errorf("%w: %s: %d bytes after the last whole record (a record is %d bytes)",
			ErrTruncated, what, len(buf)%cifarRecord, cifarRecord)
	}
	n := len(buf) / cifarRecord
	d := newCIFAR10("cifar10", n)
	scale := unitScale()
	if err := decodeCIFARRecords(buf, d.X, d.Y, &scale, 0, what); err != nil {
		return nil, err
	}
	return d, nil
}

// decodeCIFARRecords decodes len(y) records from src into x and y; first is
// the index of the first record in its file, for error messages.
func decodeCIFARRecords(src []byte, x []float32, y []int, scale *[256]float32, first int, what string) error {
	for i := range y {
		rec := src[i*cifarRecord : (i+1)*cifarRecord]
		if rec[0] >= cifarClasses {
			return fmt.Errorf("%w: %s: record %d has label %d, want < %d", ErrLabel, what, first+i, rec[0], cifarClasses)
		}
		y[i] = int(rec[0])
		px := x[i*cifarPixels : (i+1)*cifarPixels]
		for j, b := range rec[1:] {
			px[j] = scale[b]
		}
	}
	return nil
}

// cifarCount checks the byte size of a batch file and returns its number of
// records.
func cifarCount(size int64, what string) (int, error) {
	switch {
	case size <= 0:
		return 0, fmt.Errorf("%w: %s: no records", ErrFormat, what)
	case size%cifarRecord != 0:
		return 0, fmt.Errorf("%w: %s: size %d is not a multiple of the record size %d", ErrFormat, what, size, cifarRecord)
	case size/cifarRecord > MaxCIFAR10Records:
		return 0, fmt.Errorf("%w: %s: %d records, limit %d", ErrTooLarge, what, size/cifarRecord, MaxCIFAR10Records)
	}
	return int(size / cifarRecord), nil
}

// ReadCIFAR10 reads split (SplitTrain or SplitTest) of CIFAR-10 from the
// official binary release. path may be
//
//   - the extracted cifar-10-batches-bin folder,
//   - a folder holding cifar-10-batches-bin or cifar-10-binary.tar.gz, or
//   - the cifar-10-binary.tar.gz archive itself (or an uncompressed tar),
//     which is streamed, never extracted to disk.
//
// The training split is data_batch_1.bin to data_batch_5.bin in that order,
// the test split test_batch.bin; in an archive, files are matched by base
// name wherever they sit. Each file must hold a whole number of records
// (see DecodeCIFAR10), at most MaxCIFAR10Records, and the split must fit
// the default Limits. The result's Name is "cifar10-train" or
// "cifar10-test".
//
// From a folder, pixels are decoded straight into the result. From an
// archive, whose members may come in any order, the needed files are first
// held as bytes (a quarter of the result's size) and then decoded.
func ReadCIFAR10(path, split string) (*Dataset, error) {
	return Limits{}.ReadCIFAR10(path, split)
}

// ReadCIFAR10 is the package's ReadCIFAR10 within l.
func (l Limits) ReadCIFAR10(path, split string) (*Dataset, error) {
	names, err := cifarBatchNames(split)
	if err != nil {
		return nil, err
	}
	name := "cifar10-" + split
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: CIFAR-10: %w", ErrNotFound, err)
	}
	if err != nil {
		return nil, fmt.Errorf("data: CIFAR-10: %w", err)
	}
	if st.Mode().IsRegular() {
		return l.readCIFARArchive(path, names, name)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("%w: CIFAR-10: %s is neither a folder nor a file", ErrFormat, path)
	}
	dirs := []string{path, filepath.Join(path, cifarFolder)}
	for _, dir := range dirs {
		if isRegular(filepath.Join(dir, names[0])) {
			return l.readCIFARDir(dir, names, name)
		}
	}
	if arch := filepath.Join(path, cifarArchive); isRegular(arch) {
		return l.readCIFARArchive(arch, names, name)
	}
	return nil, fmt.Errorf("%w: CIFAR-10: no %s in %s, no %s",
		ErrNotFound, names[0], strings.Join(dirs, " or "), filepath.Join(path, cifarArchive))
}

func isRegular(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}

// readCIFARDir decodes the named batch files of dir straight into one
// Dataset, sized from the files' sizes.
func (l Limits) readCIFARDir(dir string, names []string, name string) (*Dataset, error) {
	counts := make([]int, len(names))
	total := 0
	for i, n := range names {
		p := filepath.Join(dir, n)
		st, err := os.Stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: CIFAR-10: %w", ErrNotFound, err)
		}
		if err != nil {
			return nil, fmt.Errorf("data: CIFAR-10: %w", err)
		}
		if counts[i], err = cifarCount(st.Size(), p); err != nil {
			return nil, err
		}
		total += counts[i]
		if err := l.check(int64(total), cifarPixels, "CIFAR-10 "+dir); err != nil {
			return nil, err
		}
	}
	d := newCIFAR10(name, total)
	scale := unitScale()
	chunk := make([]byte, cifarChunk*cifarRecord)
	off := 0
	for i, n := range names {
		p := filepath.Join(dir, n)
		x := d.X[off*cifarPixels : (off+counts[i])*cifarPixels]
		y := d.Y[off : off+counts[i]]
		if err := readCIFARFile(p, x, y, chunk, &scale); err != nil {
			return nil, err
		}
		off += counts[i]
	}
	return d, nil
}

// readCIFARFile decodes exactly len(y) records from the file p into x and y,
// cifarChunk records at a time.
func readCIFARFile(p string, x []float32, y []int, chunk []byte, scale *[256]float32) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("data: CIFAR-10: %w", err)
	}
	defer f.Close()
	for first := 0; first < len(y); first += cifarChunk {
		k := min(cifarChunk, len(y)-first)
		buf := chunk[:k*cifarRecord]
		if _, err := io.ReadFull(f, buf); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return fmt.Errorf("%w: %s: file shrank while being read", ErrTruncated, p)
			}
			return wrapRead(err, p)
		}
		if err := decodeCIFARRecords(buf, x[first*cifarPixels:(first+k)*cifarPixels], y[first:first+k], scale, first, p); err != nil {
			return err
		}
	}
	return expectEOF(f, p)
}

// readCIFARArchive streams a tar or tar.gz archive once, to its end, keeps
// the bytes of the named members, and decodes them in the order of names.
// Reading to the end makes gzip verify its checksum and length, so a
// damaged archive is an error rather than different images, and a second
// member with a needed name is an error wherever it comes.
func (l Limits) readCIFARArchive(arch string, names []string, name string) (*Dataset, error) {
	f, err := os.Open(arch)
	if err != nil {
		return nil, fmt.Errorf("data: CIFAR-10: %w", err)
	}
	defer f.Close()
	return l.decodeCIFARArchive(f, arch, names, name)
}

// decodeCIFARArchive is readCIFARArchive on the archive's bytes, read from
// f; arch names it in messages.
func (l Limits) decodeCIFARArchive(f io.Reader, arch string, names []string, name string) (*Dataset, error) {
	r, err := maybeGunzip(f, arch)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(r)
	want := make(map[string]int, len(names))
	for i, n := range names {
		want[n] = i
	}
	blocks := make([][]byte, len(names))
	kept := int64(0) // records in the members kept so far
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, wrapRead(err, arch+" (tar)")
		}
		i, ok := want[path.Base(hdr.Name)]
		if !ok || !hdr.FileInfo().Mode().IsRegular() {
			continue
		}
		what := arch + ": " + hdr.Name
		if blocks[i] != nil {
			return nil, fmt.Errorf("%w: %s: second member named %s", ErrFormat, what, names[i])
		}
		n, err := cifarCount(hdr.Size, what)
		if err != nil {
			return nil, err
		}
		kept += int64(n)
		if err := l.check(kept, cifarPixels, what); err != nil {
			return nil, err
		}
		if blocks[i], err = readExact(tr, hdr.Size, what); err != nil {
			return nil, err
		}
	}
	// The tar's end-of-archive blocks may leave padding and the gzip
	// trailer unread.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return nil, wrapRead(err, arch)
	}
	var missing []string
	total := 0
	for i, b := range blocks {
		if b == nil {
			missing = append(missing, names[i])
		}
		total += len(b) / cifarRecord
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w: CIFAR-10: %s holds no %s", ErrNotFound, arch, strings.Join(missing, ", "))
	}
	d := newCIFAR10(name, total)
	scale := unitScale()
	off := 0
	for i, b := range blocks {
		n := len(b) / cifarRecord
		if err := decodeCIFARRecords(b, d.X[off*cifarPixels:(off+n)*cifarPixels], d.Y[off:off+n], &scale, 0, arch+": "+names[i]); err != nil {
			return nil, err
		}
		blocks[i] = nil // let the bytes go before the next block
		off += n
	}
	return d, nil
}
