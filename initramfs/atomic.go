package initramfs

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// writeFileAtomic creates path with mode perm from what write produces. The
// bytes go to a temporary file in the same directory, which is renamed over
// path only after write succeeded and the data reached the disk, so a failure
// never leaves a half-written file at path (an old file there stays intact).
func writeFileAtomic(path string, perm os.FileMode, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := write(tmp); err != nil {
		return err
	}
	if err := tmp.Chmod(perm); err != nil { // CreateTemp uses 0600
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp.Name(), err)
	}
	return nil
}
