package initramfs

import (
	"bufio"
	"fmt"
	"io"
	"os"

	"github.com/u-root/u-root/pkg/cpio"
)

// writeEntries writes the planned entries and the trailer to w.
//
// The root "." goes straight to the writer. Everything after it goes through
// cpio.WriteRecordsAndDirs, which would add any missing parent directory (mode
// 0777); plan already listed every parent, with mode 0755, before its
// contents, so the writer's de-duplication drops those extra records.
func writeEntries(w io.Writer, entries []entry) error {
	bw := bufio.NewWriter(w) // the newc writer makes many tiny writes per record
	rw := cpio.Newc.Writer(bw)
	for i, e := range entries {
		info := cpio.Info{
			Ino:    uint64(i + 1), // unique and reproducible
			Mode:   e.mode,
			NLink:  1,
			Rmajor: e.rmajor,
			Rminor: e.rminor,
			Name:   e.name,
			// MTime, UID, GID stay 0 for reproducible output.
		}
		var err error
		switch {
		case e.name == ".":
			err = rw.WriteRecord(cpio.Record{Info: info})
		case e.hostPath != "":
			err = writeHostFile(rw, info, e)
		case e.data != nil:
			err = cpio.WriteRecordsAndDirs(rw, []cpio.Record{cpio.StaticRecord(e.data, info)})
		default: // directories and devices have no contents
			err = cpio.WriteRecordsAndDirs(rw, []cpio.Record{{Info: info}})
		}
		if err != nil {
			return fmt.Errorf("initramfs: writing %q: %w", e.name, err)
		}
	}
	if err := cpio.WriteTrailer(rw); err != nil {
		return fmt.Errorf("initramfs: writing trailer: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("initramfs: %w", err)
	}
	return nil
}

// writeHostFile copies one host file into the archive, holding it open only
// while it is copied. The size checked by plan goes into the header; if the
// file has changed size since, the archive would be corrupt, so it fails.
func writeHostFile(rw cpio.RecordWriter, info cpio.Info, e entry) error {
	f, err := os.Open(e.hostPath)
	if err != nil {
		return fmt.Errorf("%s: %w", e.arg, err)
	}
	defer f.Close()
	info.FileSize = uint64(e.size)
	rec := cpio.Record{Info: info, ReaderAt: io.NewSectionReader(f, 0, e.size)}
	if err := cpio.WriteRecordsAndDirs(rw, []cpio.Record{rec}); err != nil {
		return fmt.Errorf("%s: %w", e.arg, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%s: %w", e.arg, err)
	}
	if fi.Size() != e.size {
		return fmt.Errorf("%s: %s changed size while being copied (%d -> %d bytes)", e.arg, e.hostPath, e.size, fi.Size())
	}
	return nil
}
