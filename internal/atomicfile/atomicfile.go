// Package atomicfile writes files so that a crash leaves either the old
// contents or the complete new ones, never a partial file.
package atomicfile

import (
	"io"
	"os"
	"path/filepath"
)

// TempPattern is the os.CreateTemp pattern of the temporary file Write
// uses for a file called base; a cleanup can match "."+base+".tmp-*".
func TempPattern(base string) string { return "." + base + ".tmp-*" }

// Write calls write with a temporary file in path's folder, syncs the file,
// gives it mode 0644 and renames it over path; then it syncs the folder
// where the platform allows. On error the temporary file is removed and
// path is untouched. Errors from write are returned as they are.
func Write(path string, write func(io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPattern(base))
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	// Some file systems cannot sync a folder; the file is complete either
	// way, so that error is not reported.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// WriteBytes is Write with the bytes b.
func WriteBytes(path string, b []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}
