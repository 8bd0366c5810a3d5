package machine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/govmm/govmm/memory"
)

// guestFile is a regular file whose bytes Plan leaves in the file: load
// reads them straight into guest memory, after checking that the file is
// still the one Plan parsed.
type guestFile struct {
	// flag and path name the file in errors ("-kernel", "/boot/bzImage").
	flag, path string
	// info is what Plan's fstat saw. Load refuses the file if its size,
	// modification time or identity (device and inode) differ from it.
	info os.FileInfo
}

// writeChunks writes p's planned content to mem in order: bytes held in
// the Plan are copied, ranges of a guest file are read from the file
// straight into guest memory (no buffer in between). Each file is opened
// once and checked against what Plan saw before its first range is read
// and again once every chunk is written, so that a file replaced or
// rewritten since Plan (or while it was read) fails the load instead of
// booting a guest that was never checked. Every file is closed on return.
func (p *Plan) writeChunks(mem *memory.Memory) error {
	open := map[*guestFile]*os.File{}
	defer func() {
		for _, f := range open {
			f.Close()
		}
	}()
	for _, c := range p.chunks {
		if c.file == nil {
			if err := mem.Write(memory.GuestAddress(c.addr), c.data); err != nil {
				return fmt.Errorf("loading the guest: %w", err)
			}
		} else {
			f := open[c.file]
			if f == nil {
				var err error
				if f, err = c.file.open(); err != nil {
					return err
				}
				open[c.file] = f
			}
			if err := c.file.readInto(mem, f, c.addr, c.off, c.n); err != nil {
				return err
			}
		}
		if c.zero > 0 {
			if err := mem.Zero(memory.GuestAddress(c.addr+c.size()), c.zero); err != nil {
				return fmt.Errorf("loading the guest: %w", err)
			}
		}
	}
	for g, f := range open {
		if err := g.check(f); err != nil {
			return err
		}
	}
	return nil
}

// open opens g for load and checks that it is the file Plan saw.
func (g *guestFile) open() (*os.File, error) {
	f, err := os.Open(g.path)
	if err != nil {
		return nil, fileError(g.flag, g.path, err)
	}
	if err := g.check(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// readInto reads n bytes of f at off into guest memory at addr.
func (g *guestFile) readInto(mem *memory.Memory, f *os.File, addr, off, n uint64) error {
	dst, err := mem.Slice(memory.GuestAddress(addr), n)
	if err != nil {
		return fmt.Errorf("loading the guest: %w", err)
	}
	if _, err := f.ReadAt(dst, int64(off)); err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("the file ends before byte %d", off+n)
		}
		return fileError(g.flag, g.path, err)
	}
	return nil
}

// check compares the open file f with what Plan saw: the same file (device
// and inode), size and modification time. The error is one line naming
// the flag and the file and what changed.
func (g *guestFile) check(f *os.File) error {
	st, err := f.Stat()
	if err != nil {
		return fileError(g.flag, g.path, err)
	}
	var what []string
	if !os.SameFile(st, g.info) {
		what = append(what, "it is another file now")
	}
	if st.Size() != g.info.Size() {
		what = append(what, fmt.Sprintf("size %d -> %d bytes", g.info.Size(), st.Size()))
	}
	if !st.ModTime().Equal(g.info.ModTime()) {
		what = append(what, fmt.Sprintf("modified %s -> %s", g.info.ModTime().Format(time.RFC3339Nano), st.ModTime().Format(time.RFC3339Nano)))
	}
	if len(what) > 0 {
		return fmt.Errorf("%s %s: the file changed after govmm checked it (%s); run govmm again to boot the new file", g.flag, g.path, strings.Join(what, ", "))
	}
	return nil
}
