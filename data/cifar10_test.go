package data

import (
	"archive/tar"
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// cifarRecords returns records with the given labels; the pixel bytes of
// record i, channel c, row r, column q are pixel(tag, i, c, r, q), so that
// records from different files (tags) differ.
func cifarRecords(tag int, labels []byte) []byte {
	var b []byte
	for i, l := range labels {
		b = append(b, l)
		for c := range 3 {
			for r := range 32 {
				for q := range 32 {
					b = append(b, pixel(tag, i, c, r, q))
				}
			}
		}
	}
	return b
}

func pixel(tag, i, c, r, q int) byte { return byte(tag*53 + i*31 + c*101 + r*7 + q*3) }

func TestDecodeCIFAR10Layout(t *testing.T) {
	labels := []byte{3, 0, 9}
	d, err := DecodeCIFAR10(bytes.NewReader(cifarRecords(1, labels)))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 3 || d.Channels != 3 || d.Height != 32 || d.Width != 32 || d.Classes != 10 || d.Name != "cifar10" {
		t.Fatalf("got %q with %d examples of %dx%dx%d, %d classes", d.Name, d.Len(), d.Channels, d.Height, d.Width, d.Classes)
	}
	if diff := cmp.Diff([]int{3, 0, 9}, d.Y); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
	// NCHW: example i, channel c (R, G, B in file order), row r, column q.
	for i := range 3 {
		x, _ := d.At(i)
		for c := range 3 {
			for r := range 32 {
				for q := range 32 {
					want := float32(pixel(1, i, c, r, q)) / 255
					if got := x[c*1024+r*32+q]; got != want {
						t.Fatalf("example %d channel %d (%d,%d) = %v, want %v", i, c, r, q, got, want)
					}
				}
			}
		}
	}
}

func TestDecodeCIFAR10Hostile(t *testing.T) {
	good := cifarRecords(0, []byte{1, 2})
	for _, tc := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"label only", []byte{1}, ErrTruncated},
		{"one byte short", good[:len(good)-1], ErrTruncated},
		{"one byte over", append(slices.Clone(good), 0), ErrTruncated},
		{"label 10", cifarRecords(0, []byte{4, 10}), ErrLabel},
		{"label 255", cifarRecords(0, []byte{255}), ErrLabel},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := DecodeCIFAR10(bytes.NewReader(tc.in))
			if !errors.Is(err, tc.want) {
				t.Fatalf("DecodeCIFAR10 = %v, %v; want error wrapping %v", d, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "data: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	// The record limit, lowered so the test stays small.
	if _, err := decodeCIFAR10(bytes.NewReader(cifarRecords(0, []byte{1, 2, 3})), 2); !errors.Is(err, ErrTooLarge) {
		t.Errorf("3 records, limit 2: err = %v, want ErrTooLarge", err)
	}
	if d, err := decodeCIFAR10(bytes.NewReader(cifarRecords(0, []byte{1, 2})), 2); err != nil || d.Len() != 2 {
		t.Errorf("2 records, limit 2: %v, %v", d, err)
	}
}

// synthCIFAR describes a synthetic release: record counts per file, labels
// equal to the file's position (0-4 train, 5 test) so order is visible.
var synthCIFARFiles = []struct {
	name string
	n    int
}{
	{"data_batch_1.bin", 2}, {"data_batch_2.bin", 3}, {"data_batch_3.bin", 1},
	{"data_batch_4.bin", 2}, {"data_batch_5.bin", 1}, {"test_batch.bin", 3},
}

func synthCIFARFile(k int) []byte {
	return cifarRecords(k, bytes.Repeat([]byte{byte(k)}, synthCIFARFiles[k].n))
}

// wantSynthCIFAR returns the dataset the synthetic release must decode to.
func wantSynthCIFAR(t *testing.T, split string) *Dataset {
	t.Helper()
	ks := []int{5}
	if split == SplitTrain {
		ks = []int{0, 1, 2, 3, 4}
	}
	var all []byte
	for _, k := range ks {
		all = append(all, synthCIFARFile(k)...)
	}
	d, err := DecodeCIFAR10(bytes.NewReader(all))
	if err != nil {
		t.Fatal(err)
	}
	d.Name = "cifar10-" + split
	return d
}

// writeCIFARDir writes the synthetic release files into dir.
func writeCIFARDir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for k, f := range synthCIFARFiles {
		if err := os.WriteFile(filepath.Join(dir, f.name), synthCIFARFile(k), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

type tarMember struct {
	name string
	body []byte
	dir  bool
}

func tarBytes(t testing.TB, members []tarMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	for _, m := range members {
		h := &tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.body)), Typeflag: tar.TypeReg}
		if m.dir {
			h = &tar.Header{Name: m.name, Mode: 0o755, Typeflag: tar.TypeDir}
		}
		if err := w.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(m.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// synthArchive returns the synthetic release as tar members in the shuffled
// order of the official archive, with the folder entry and the meta file.
func synthArchive() []tarMember {
	ms := []tarMember{{name: "cifar-10-batches-bin/", dir: true}}
	for _, k := range []int{3, 4, 1, -1, 0, 2, 5} {
		if k < 0 {
			ms = append(ms, tarMember{name: "cifar-10-batches-bin/batches.meta.txt", body: []byte(strings.Join(CIFAR10Classes(), "\n"))})
			continue
		}
		ms = append(ms, tarMember{name: "cifar-10-batches-bin/" + synthCIFARFiles[k].name, body: synthCIFARFile(k)})
	}
	return ms
}

func writeFile(t *testing.T, p string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadCIFAR10Sources(t *testing.T) {
	root := t.TempDir()
	parent := filepath.Join(root, "extracted")
	folder := filepath.Join(parent, "cifar-10-batches-bin")
	writeCIFARDir(t, folder)
	archDir := filepath.Join(root, "archived")
	if err := os.Mkdir(archDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tgz := writeFile(t, filepath.Join(archDir, "cifar-10-binary.tar.gz"), gz(t, tarBytes(t, synthArchive())))
	plainTar := writeFile(t, filepath.Join(root, "plain.tar"), tarBytes(t, synthArchive()))

	for _, split := range []string{SplitTrain, SplitTest} {
		want := wantSynthCIFAR(t, split)
		for _, src := range []struct{ name, path string }{
			{"batches folder", folder}, {"its parent", parent}, {"tar.gz", tgz},
			{"folder holding tar.gz", archDir}, {"plain tar", plainTar},
		} {
			d, err := ReadCIFAR10(src.path, split)
			if err != nil {
				t.Errorf("%s %s: %v", split, src.name, err)
				continue
			}
			if diff := cmp.Diff(want, d); diff != "" {
				t.Errorf("%s %s (-want +got):\n%s", split, src.name, diff)
			}
		}
	}
}

func TestReadCIFAR10Hostile(t *testing.T) {
	root := t.TempDir()
	arch := func(name string, members []tarMember) string {
		return writeFile(t, filepath.Join(root, name), gz(t, tarBytes(t, members)))
	}
	valid := synthArchive()
	var noBatch3 []tarMember
	for _, m := range valid {
		if !strings.HasSuffix(m.name, "data_batch_3.bin") {
			noBatch3 = append(noBatch3, m)
		}
	}
	fullTgz := gz(t, tarBytes(t, valid))
	badLabel := slices.Clone(valid)
	badLabel[5] = tarMember{name: "cifar-10-batches-bin/data_batch_1.bin", body: cifarRecords(0, []byte{1, 12})}

	// A folder with a data_batch_2.bin of the wrong size, and one without data_batch_4.bin.
	oddDir := filepath.Join(root, "odd")
	writeCIFARDir(t, oddDir)
	writeFile(t, filepath.Join(oddDir, "data_batch_2.bin"), cifarRecords(1, []byte{1})[:100])
	missDir := filepath.Join(root, "miss")
	writeCIFARDir(t, missDir)
	if err := os.Remove(filepath.Join(missDir, "data_batch_4.bin")); err != nil {
		t.Fatal(err)
	}
	labelDir := filepath.Join(root, "label")
	writeCIFARDir(t, labelDir)
	writeFile(t, filepath.Join(labelDir, "test_batch.bin"), cifarRecords(0, []byte{0, 1, 10}))

	for _, tc := range []struct {
		name, path, split string
		want              error
		mention           string // a word the message must contain
	}{
		{"no batches", arch("meta.tgz", valid[3:4]), SplitTrain, ErrNotFound, "data_batch_1.bin"},
		{"empty tar", arch("empty.tgz", nil), SplitTest, ErrNotFound, "test_batch.bin"},
		{"missing batch", arch("miss.tgz", noBatch3), SplitTrain, ErrNotFound, "data_batch_3.bin"},
		{"duplicate", arch("dup.tgz", append(slices.Clone(valid[:3]), valid[2])), SplitTrain, ErrFormat, "second member named data_batch_5.bin"},
		{"odd member size", arch("odd.tgz", []tarMember{{name: "test_batch.bin", body: make([]byte, 3074)}}), SplitTest, ErrFormat, "3073"},
		{"empty member", arch("zero.tgz", []tarMember{{name: "test_batch.bin"}}), SplitTest, ErrFormat, "no records"},
		{"member label", arch("label.tgz", badLabel), SplitTrain, ErrLabel, "data_batch_1.bin"},
		{"cut archive", writeFile(t, filepath.Join(root, "cut.tgz"), fullTgz[:len(fullTgz)/2]), SplitTest, ErrTruncated, ""},
		{"not an archive", writeFile(t, filepath.Join(root, "noise.bin"), bytes.Repeat([]byte{7}, 2000)), SplitTest, ErrFormat, "tar"},
		{"batch file, not archive", writeFile(t, filepath.Join(root, "b.bin"), cifarRecords(0, []byte{1})), SplitTest, ErrFormat, ""},
		{"folder odd size", oddDir, SplitTrain, ErrFormat, "data_batch_2.bin"},
		{"folder missing file", missDir, SplitTrain, ErrNotFound, "data_batch_4.bin"},
		{"folder label", labelDir, SplitTest, ErrLabel, "record 2"},
		{"empty folder", t.TempDir(), SplitTest, ErrNotFound, "cifar-10-binary.tar.gz"},
		{"no such path", filepath.Join(root, "nope"), SplitTest, ErrNotFound, "nope"},
		{"bad split", oddDir, "valid", ErrSplit, "valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ReadCIFAR10(tc.path, tc.split)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReadCIFAR10 = %v, %v; want error wrapping %v", d, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "data: ") || !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q: want the package prefix and %q", err, tc.mention)
			}
		})
	}
}

// TestReadCIFAR10BoundedAlloc checks that a tar member declaring the largest
// size the default Limits allow over a few bytes of data does not allocate
// that size.
func TestReadCIFAR10BoundedAlloc(t *testing.T) {
	var buf bytes.Buffer
	w := tar.NewWriter(&buf)
	size := Limits{}.maxExamples(cifarPixels) * cifarRecord // about 268 MB
	if err := w.WriteHeader(&tar.Header{Name: "test_batch.bin", Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(cifarRecords(0, []byte{1, 2})); err != nil {
		t.Fatal(err)
	}
	// Not closing w: the archive ends inside the member, as a hostile one would.
	p := writeFile(t, filepath.Join(t.TempDir(), "lie.tgz"), gz(t, buf.Bytes()))
	var err error
	got := allocDuring(func() { _, err = ReadCIFAR10(p, SplitTest) })
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("err = %v, want ErrTruncated", err)
	}
	// Buffers grow from 64 KiB as data arrives; a few MiB at most (the
	// gzip and bufio readers included), far below the declared 268 MB.
	if got > 4<<20 {
		t.Errorf("allocated %d bytes, want at most %d", got, 4<<20)
	}
}

// devCIFAR returns the official archive named by ROBUSTQ_CIFAR10, or skips.
func devCIFAR(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("reads the 170 MB CIFAR-10 archive; skipped with -short")
	}
	p := os.Getenv(CIFAR10Env)
	if p == "" {
		t.Skipf("set %s to the official cifar-10-binary.tar.gz to run this test", CIFAR10Env)
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s: %v", CIFAR10Env, err)
	}
	return p
}

func TestLoadCIFAR10WithoutEnv(t *testing.T) {
	t.Setenv(CIFAR10Env, "")
	_, err := LoadCIFAR10(SplitTest)
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), CIFAR10Env) {
		t.Errorf("error %v, want ErrNotFound naming %s", err, CIFAR10Env)
	}
	if _, err := LoadCIFAR10("validation"); !errors.Is(err, ErrSplit) {
		t.Errorf("unknown split: error %v, want ErrSplit", err)
	}
}

func TestCIFAR10Real(t *testing.T) {
	p := devCIFAR(t)
	for _, tc := range []struct {
		split    string
		n        int
		first    []int
		perClass int
		mean     []float64 // per-channel pixel mean in [0, 1]
	}{
		// Counts, first labels and per-class counts: /work/shared/data/README.md
		// (facts of the official release). Training channel means 0.4914, 0.4822,
		// 0.4465: the normalisation constants widely used for CIFAR-10 (e.g. in
		// the pytorch-cifar training scripts).
		{SplitTrain, 50000, []int{6, 9, 9, 4, 1, 1, 2, 7, 8, 3}, 5000, []float64{0.4914, 0.4822, 0.4465}},
		{SplitTest, 10000, []int{3, 8, 8, 0, 6}, 1000, nil},
	} {
		t.Run(tc.split, func(t *testing.T) {
			d, err := ReadCIFAR10(p, tc.split)
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
			for c, k := range d.ClassCounts() {
				if k != tc.perClass {
					t.Errorf("class %d: %d examples, want %d", c, k, tc.perClass)
				}
			}
			for c, want := range tc.mean {
				var s float64
				for i := range d.Len() {
					x, _ := d.At(i)
					for _, v := range x[c*1024 : (c+1)*1024] {
						s += float64(v)
					}
				}
				// Given to 4 decimals, so exact to 5e-5.
				if got := s / float64(d.Len()*1024); math.Abs(got-want) > 5e-5 {
					t.Errorf("channel %d mean %.5f, want %.4f", c, got, want)
				}
			}
		})
	}
}

// A damaged tar.gz is an error, never different images: one flipped bit
// anywhere in the compressed data (gzip's CRC-32 covers the whole
// decompressed archive, read to its end), a cut trailer, and a second
// member with a needed name after all of them were found.
func TestReadCIFAR10ArchiveIntegrity(t *testing.T) {
	dir := t.TempDir()
	good := gz(t, tarBytes(t, synthArchive()))
	want, err := ReadCIFAR10(writeFile(t, filepath.Join(dir, "good.tar.gz"), good), SplitTest)
	if err != nil {
		t.Fatal(err)
	}
	if want.Len() == 0 {
		t.Fatal("no test images")
	}
	// The deflate data lies between the 10-byte header and the 8-byte trailer.
	for k := range 24 {
		bad := slices.Clone(good)
		pos := 10 + (len(good)-18)*k/24
		bad[pos] ^= 1 << (k % 8)
		got, err := ReadCIFAR10(writeFile(t, filepath.Join(dir, "flip.tar.gz"), bad), SplitTest)
		if err == nil {
			same := slices.Equal(got.X, want.X) && slices.Equal(got.Y, want.Y)
			t.Errorf("bit %d of byte %d flipped: no error (same images: %v)", k%8, pos, same)
		}
	}
	if _, err := ReadCIFAR10(writeFile(t, filepath.Join(dir, "cut.tar.gz"), good[:len(good)-4]), SplitTest); !errors.Is(err, ErrTruncated) {
		t.Errorf("cut trailer: %v, want ErrTruncated", err)
	}
	dup := append(synthArchive(), tarMember{name: "other/test_batch.bin", body: synthCIFARFile(5)})
	if _, err := ReadCIFAR10(writeFile(t, filepath.Join(dir, "dup.tar.gz"), gz(t, tarBytes(t, dup))), SplitTest); !errors.Is(err, ErrFormat) {
		t.Errorf("second test_batch.bin at the end: %v, want ErrFormat", err)
	}
}
