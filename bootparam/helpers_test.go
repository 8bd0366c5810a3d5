package bootparam

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"
)

// The helpers in this file write fields at offsets copied from the
// specifications (boot.rst, bootparam.h, start_info.h, the ELF64 gABI), not
// from the package's own constants, so that the tests check the code against
// the spec.

func put8(b []byte, off int, v uint8)   { b[off] = v }
func put16(b []byte, off int, v uint16) { binary.LittleEndian.PutUint16(b[off:], v) }
func put32(b []byte, off int, v uint32) { binary.LittleEndian.PutUint32(b[off:], v) }
func put64(b []byte, off int, v uint64) { binary.LittleEndian.PutUint64(b[off:], v) }

// bzSpec describes a synthetic bzImage.
type bzSpec struct {
	setupSects uint8 // raw value for 0x1F1; 0 means 4 sectors
	kernelLen  int   // bytes of protected-mode kernel
}

// Field values of the synthetic bzImage, distinct so that a field read from
// the wrong offset shows.
const (
	synthVersion       = 0x020F
	synthLoadflags     = 0x01
	synthXLoadflags    = 0x0001
	synthCmdlineSize   = 2047
	synthInitrdAddrMax = 0x7FFFFFFF
	synthKernelAlign   = 0x200000
	synthPrefAddress   = 0x1000000
	synthInitSize      = 0x1234000
	synthJumpByte      = 0x6A // header ends at 0x202+0x6A = 0x26C, as in 2.15 kernels
	synthHeaderEnd     = 0x26C
)

// synthBzImage builds a minimal bzImage by writing the setup header fields at
// their boot.rst offsets. The boot sector before 0x1F1 is filled with 0xDD,
// setup code after the header with 0xCC and the kernel with a counting pattern
// so that the tests can tell the regions apart.
func synthBzImage(s bzSpec) []byte {
	sects := int(s.setupSects)
	if sects == 0 {
		sects = 4 // boot.rst: "if the setup_sects field contains 0, the real value is 4"
	}
	setupLen := (sects + 1) * 512
	b := make([]byte, setupLen+s.kernelLen)
	for i := 0; i < 0x1F1; i++ {
		b[i] = 0xDD
	}
	for i := synthHeaderEnd; i < setupLen; i++ {
		b[i] = 0xCC
	}
	for i := range s.kernelLen {
		b[setupLen+i] = byte(i*7 + 1)
	}
	put8(b, 0x1F1, s.setupSects)            // setup_sects
	put16(b, 0x1F2, 1)                      // root_flags
	put32(b, 0x1F4, uint32(s.kernelLen/16)) // syssize
	put16(b, 0x1FA, 0xFFFD)                 // vid_mode: "ask"
	put16(b, 0x1FE, 0xAA55)                 // boot_flag
	put8(b, 0x200, 0xEB)                    // jump: short jmp
	put8(b, 0x201, synthJumpByte)           // ... to 0x202 + byte
	copy(b[0x202:], "HdrS")                 // header
	put16(b, 0x206, synthVersion)           // version
	put16(b, 0x20E, 0x1234)                 // kernel_version
	put8(b, 0x211, synthLoadflags)          // loadflags
	put32(b, 0x214, 0x100000)               // code32_start
	put32(b, 0x22C, synthInitrdAddrMax)     // initrd_addr_max
	put32(b, 0x230, synthKernelAlign)       // kernel_alignment
	put8(b, 0x234, 1)                       // relocatable_kernel
	put8(b, 0x235, 21)                      // min_alignment
	put16(b, 0x236, synthXLoadflags)        // xloadflags
	put32(b, 0x238, synthCmdlineSize)       // cmdline_size
	put32(b, 0x248, 0x3A3)                  // payload_offset
	put32(b, 0x24C, 0x2E406B)               // payload_length
	put64(b, 0x258, synthPrefAddress)       // pref_address
	put32(b, 0x260, synthInitSize)          // init_size
	put32(b, 0x264, 0x2E9020)               // handover_offset
	put32(b, 0x268, 0x2E8000)               // kernel_info_offset
	return b
}

// parseBz parses a bzImage held in memory.
func parseBz(data []byte) (*BzImage, error) {
	return ParseBzImage(bytes.NewReader(data), int64(len(data)))
}

// parseELF parses an ELF file held in memory.
func parseELF(data []byte) (*ELFKernel, error) {
	return ParseELF(bytes.NewReader(data), int64(len(data)))
}

// mustParseBz parses a synthetic image and fails the test on error.
func mustParseBz(t *testing.T, data []byte) *BzImage {
	t.Helper()
	img, err := parseBz(data)
	if err != nil {
		t.Fatalf("ParseBzImage: %v", err)
	}
	return img
}

// kernelBytes is the part of data that img says is the protected-mode
// kernel.
func kernelBytes(data []byte, img *BzImage) []byte {
	return data[img.KernelOffset : img.KernelOffset+img.KernelSize]
}

// segmentBytes is the part of data that s says are its file bytes.
func segmentBytes(data []byte, s Segment) []byte {
	return data[s.Offset : s.Offset+s.Filesz]
}

// diffBytes describes the first few byte differences between got and want.
func diffBytes(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("length %d, want %d", len(got), len(want))
	}
	var sb strings.Builder
	n := 0
	for i := range got {
		if got[i] != want[i] {
			if n < 16 {
				fmt.Fprintf(&sb, "\n  offset 0x%03X: got 0x%02X, want 0x%02X", i, got[i], want[i])
			}
			n++
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d bytes differ:%s", n, sb.String())
}

// checkBytes fails the test if got differs from want.
func checkBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Errorf("%s: %s", what, diffBytes(got, want))
	}
}

// wantErr fails the test unless err is non-nil and contains substr.
func wantErr(t *testing.T, err error, substr string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", substr)
	}
	if !strings.Contains(err.Error(), substr) {
		t.Fatalf("error %q does not contain %q", err, substr)
	}
}
