package bootparam

import (
	"bytes"
	"testing"
)

// recordingReader is an io.ReaderAt over data that remembers which byte
// ranges were read.
type recordingReader struct {
	data  []byte
	reads [][2]int64 // [off, end) of each ReadAt
}

func (r *recordingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := bytes.NewReader(r.data).ReadAt(p, off)
	r.reads = append(r.reads, [2]int64{off, off + int64(n)})
	return n, err
}

// readInside reports whether any read touched [lo, hi).
func (r *recordingReader) readInside(lo, hi int64) bool {
	for _, x := range r.reads {
		if x[0] < hi && lo < x[1] {
			return true
		}
	}
	return false
}

// The parsers read headers, never the bytes a loader copies: a kernel is
// not held in memory twice.
func TestParseBzImageReadsOnlyTheSetupHeader(t *testing.T) {
	data := synthBzImage(bzSpec{setupSects: 7, kernelLen: 1 << 20})
	r := &recordingReader{data: data}
	img, err := ParseBzImage(r, int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	// bootparam.h: the setup header area of boot_params ends at 0x290.
	if r.readInside(0x290, int64(len(data))) {
		t.Errorf("reads %v go past the setup header (0x290)", r.reads)
	}
	// boot.rst: the protected-mode kernel follows the (setup_sects+1)
	// 512-byte sectors of the real-mode code.
	if img.KernelOffset != 8*512 || img.KernelSize != 1<<20 {
		t.Errorf("kernel at %d, %d bytes; want 4096, %d", img.KernelOffset, img.KernelSize, 1<<20)
	}
}

func TestParseELFReadsNoSegmentBytes(t *testing.T) {
	s := defaultELF()
	s.loadOff, s.filesz, s.memsz, s.segmentSz = 0x1000, 1<<20, 2<<20, 1<<20
	for _, sht := range []bool{false, true} {
		s.ptNote, s.shtNote = !sht, sht
		data := synthELF(s)
		r := &recordingReader{data: data}
		k, err := ParseELF(r, int64(len(data)))
		if err != nil {
			t.Fatalf("SHT_NOTE %v: %v", sht, err)
		}
		if r.readInside(0x1000, 0x1000+1<<20) {
			t.Errorf("SHT_NOTE %v: a read touched the PT_LOAD bytes [0x1000, +1 MiB)", sht)
		}
		if len(k.Segments) != 1 || k.Segments[0].Offset != 0x1000 || k.Segments[0].Filesz != 1<<20 || k.Segments[0].Memsz != 2<<20 {
			t.Errorf("SHT_NOTE %v: segments %+v", sht, k.Segments)
		}
	}
}

// A file that is shorter than its size said (it shrank after the stat)
// gives an error, not a panic or a half-read header.
func TestParseShortRead(t *testing.T) {
	bz := synthBzImage(bzSpec{setupSects: 1, kernelLen: 64})
	if _, err := ParseBzImage(bytes.NewReader(bz[:0x100]), int64(len(bz))); err == nil {
		t.Error("ParseBzImage accepted a reader shorter than the size")
	}
	elf := synthELF(defaultELF())
	if _, err := ParseELF(bytes.NewReader(elf[:0x190]), int64(len(elf))); err == nil {
		t.Error("ParseELF accepted a reader that ends inside the notes")
	}
}

// ParseELF does not read a note area larger than maxNotes into memory.
func TestParseELFBoundsNotes(t *testing.T) {
	s := defaultELF()
	s.notes = append(bytes.Repeat(note("GNU", 3, make([]byte, 1000)), 1100), s.notes...)
	data := synthELF(s)
	_, err := parseELF(data)
	wantErr(t, err, "bytes of notes; govmm reads at most 1048576")
}
