package machine

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
)

// input is a guest file opened by Plan. A regular file is read through r
// only where Plan needs to parse it; its other bytes are planned as ranges
// of file. Anything else (a pipe, a character device) has no size up front
// and cannot be read twice, so it is read whole into data. Close it before
// Plan returns: a Plan keeps no file open.
type input struct {
	// file is set for a regular file, data otherwise.
	file *guestFile
	data []byte
	// r reads the file (or data); size is its length in bytes.
	r    io.ReaderAt
	size int64
	// f is the open file Close closes: nil for data, or once closed.
	f *os.File
}

// openInput opens a user-supplied file for flag. It refuses a directory and
// a file longer than limit bytes (what says what the limit is); errors name
// the flag and the file.
func openInput(flag, path string, limit uint64, what string) (*input, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fileError(flag, path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fileError(flag, path, err)
	}
	if st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s %s: is a directory", flag, path)
	}
	tooBig := func(size string) error {
		return fmt.Errorf("%s %s: %s is more than %s", flag, path, size, what)
	}
	if st.Mode().IsRegular() {
		if uint64(st.Size()) > limit {
			f.Close()
			return nil, tooBig(mib(uint64(st.Size())))
		}
		return &input{file: &guestFile{flag: flag, path: path, info: st}, r: f, size: st.Size(), f: f}, nil
	}
	defer f.Close()
	// A pipe or device has no size: read one byte past the limit.
	b, err := io.ReadAll(io.LimitReader(f, int64(min(limit, math.MaxInt64-1))+1))
	if err != nil {
		return nil, fileError(flag, path, err)
	}
	if uint64(len(b)) > limit {
		return nil, tooBig("the file")
	}
	return &input{data: b, r: bytes.NewReader(b), size: int64(len(b))}, nil
}

// Close closes the file, if one is still open.
func (in *input) Close() error {
	if in.f == nil {
		return nil
	}
	err := in.f.Close()
	in.f = nil
	return err
}

// readAll returns all of in's bytes: a regular file is read into a buffer of
// exactly its size.
func (in *input) readAll() ([]byte, error) {
	if in.file == nil {
		return in.data, nil
	}
	b := make([]byte, in.size)
	if n, err := in.r.ReadAt(b, 0); n < len(b) {
		return nil, fmt.Errorf("%s %s: the file shrank to %d bytes while govmm read it (%v)", in.file.flag, in.file.path, n, err)
	}
	return b, nil
}

// chunk plans in's bytes [off, off+n) at addr, followed by zero bytes of
// zeros: a range of the file for a regular file, else the bytes read.
func (in *input) chunk(addr, off, n, zero uint64) chunk {
	if in.file != nil {
		return chunk{addr: addr, file: in.file, off: off, n: n, zero: zero}
	}
	return chunk{addr: addr, data: in.data[off : off+n : off+n], zero: zero}
}

// readInput reads a user-supplied file for flag whole (see openInput for
// what it refuses).
func readInput(flag, path string, limit uint64, what string) ([]byte, error) {
	in, err := openInput(flag, path, limit, what)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	return in.readAll()
}

// mib formats a byte count in MiB for errors.
func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
