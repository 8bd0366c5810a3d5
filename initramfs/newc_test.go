package initramfs

import (
	"fmt"
	"strconv"
	"testing"
)

// This test parses the archive by hand, following the kernel's
// Documentation/driver-api/early-userspace/buffer-format.rst, so that it does
// not depend on the same library that wrote the bytes:
//
//	c_magic     6 bytes  "070701"
//	13 fields   8 hex digits each: ino mode uid gid nlink mtime filesize
//	            devmajor devminor rdevmajor rdevminor namesize check
//	name        namesize bytes, NUL included, then NULs up to a multiple of 4
//	data        filesize bytes, then NULs up to a multiple of 4

const (
	newcMagic     = "070701"
	newcFields    = 13
	newcHeaderLen = len(newcMagic) + newcFields*8 // 110
)

// Field indexes in a newc header.
const (
	fIno = iota
	fMode
	fUID
	fGID
	fNLink
	fMTime
	fFileSize
	fDevMajor
	fDevMinor
	fRdevMajor
	fRdevMinor
	fNameSize
	fCheck
)

// rawRecord is one record decoded by hand.
type rawRecord struct {
	f    [newcFields]uint64
	name string
	data []byte
}

// parseNewc decodes the record at off and returns it with the offset of the
// next record. It checks the magic, the hex fields, the NUL and the padding.
func parseNewc(b []byte, off int) (rawRecord, int, error) {
	var r rawRecord
	if off%4 != 0 {
		return r, 0, fmt.Errorf("record at %d is not 4-byte aligned", off)
	}
	if len(b)-off < newcHeaderLen {
		return r, 0, fmt.Errorf("record at %d: %d bytes left, want a %d-byte header", off, len(b)-off, newcHeaderLen)
	}
	if m := string(b[off : off+6]); m != newcMagic {
		return r, 0, fmt.Errorf("record at %d: magic %q, want %q", off, m, newcMagic)
	}
	for i := range r.f {
		s := string(b[off+6+8*i : off+6+8*i+8])
		v, err := strconv.ParseUint(s, 16, 32)
		if err != nil {
			return r, 0, fmt.Errorf("record at %d: field %d is %q, not 8 hex digits", off, i, s)
		}
		r.f[i] = v
	}
	p := off + newcHeaderLen
	n := int(r.f[fNameSize])
	if n < 1 || p+n > len(b) || b[p+n-1] != 0 {
		return r, 0, fmt.Errorf("record at %d: bad namesize %d (name must fit and end in NUL)", off, n)
	}
	r.name = string(b[p : p+n-1])
	p, err := skipPad(b, p+n)
	if err != nil {
		return r, 0, fmt.Errorf("record %q: name %w", r.name, err)
	}
	size := int(r.f[fFileSize])
	if p+size > len(b) {
		return r, 0, fmt.Errorf("record %q: filesize %d runs past the end", r.name, size)
	}
	r.data = b[p : p+size]
	p, err = skipPad(b, p+size)
	if err != nil {
		return r, 0, fmt.Errorf("record %q: data %w", r.name, err)
	}
	return r, p, nil
}

// skipPad checks the NUL padding from p up to the next multiple of 4.
func skipPad(b []byte, p int) (int, error) {
	for ; p%4 != 0; p++ {
		if p >= len(b) || b[p] != 0 {
			return 0, fmt.Errorf("padding at %d is missing or not NUL", p)
		}
	}
	return p, nil
}

func TestNewcFirstRecordBytes(t *testing.T) {
	b := writeArchive(t, Spec{Init: []byte("x")})

	// The first record is the root directory "." with its 110-byte header,
	// a 2-byte name (".\0"), already 4-aligned, and no data.
	r, next, err := parseNewc(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if r.name != "." || r.f[fMode] != 0o040755 || r.f[fNameSize] != 2 || r.f[fFileSize] != 0 {
		t.Errorf("first record: name %q mode %#o namesize %d filesize %d; want \".\" 040755 2 0",
			r.name, r.f[fMode], r.f[fNameSize], r.f[fFileSize])
	}
	for _, i := range []int{fUID, fGID, fMTime, fRdevMajor, fRdevMinor, fCheck} {
		if r.f[i] != 0 {
			t.Errorf("first record: field %d = %d, want 0", i, r.f[i])
		}
	}
	if next != 112 {
		t.Errorf("second record starts at %d, want 112 (110 + 2)", next)
	}
}

func TestNewcWholeArchive(t *testing.T) {
	b := writeArchive(t, Spec{Init: []byte("12345")}) // 5 bytes: data needs 3 bytes of padding
	var recs []rawRecord
	for off := 0; off < len(b); {
		r, next, err := parseNewc(b, off)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
		off = next
		if r.name == "TRAILER!!!" {
			if off != len(b) {
				t.Errorf("%d bytes after the trailer, want 0", len(b)-off)
			}
			break
		}
	}
	wantNames := []string{".", "dev", "dev/console", "init", "TRAILER!!!"}
	if len(recs) != len(wantNames) {
		t.Fatalf("got %d records, want %d", len(recs), len(wantNames))
	}
	inos := map[uint64]bool{}
	for i, r := range recs {
		if r.name != wantNames[i] {
			t.Errorf("record %d: name %q, want %q", i, r.name, wantNames[i])
		}
		if r.name != "TRAILER!!!" {
			if r.f[fIno] == 0 || inos[r.f[fIno]] {
				t.Errorf("%s: inode %d is zero or reused", r.name, r.f[fIno])
			}
			inos[r.f[fIno]] = true
		}
	}
	con, ini, tr := recs[2], recs[3], recs[4]
	if con.f[fMode] != 0o020600 || con.f[fRdevMajor] != 5 || con.f[fRdevMinor] != 1 {
		t.Errorf("dev/console: mode %#o rdev %d,%d; want 020600 5,1", con.f[fMode], con.f[fRdevMajor], con.f[fRdevMinor])
	}
	if ini.f[fMode] != 0o100755 || string(ini.data) != "12345" {
		t.Errorf("init: mode %#o data %q; want 0100755 \"12345\"", ini.f[fMode], ini.data)
	}
	if tr.f[fMode] != 0 || tr.f[fFileSize] != 0 {
		t.Errorf("trailer: mode %#o filesize %d; want 0 0", tr.f[fMode], tr.f[fFileSize])
	}
}
