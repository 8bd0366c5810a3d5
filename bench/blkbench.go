package bench

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// The blkbench guest's interface (testdata/guests/blkbench/params.h).
const (
	// ParamsAddr is where the host writes BlkParams before the run.
	ParamsAddr   = 0xF000
	paramsMagic  = 0x50424247
	paramsLen    = 0x60
	MarkPort     = 0x511
	MarkPortSize = 4
	markStart    = 1
	markEnd      = 2
	markFail     = 0x100

	// BlkModeRead reads Count bytes sequentially; BlkModeKick writes the
	// queue notify register Count times with the device live (DRIVER_OK,
	// its worker waiting on the eventfd); BlkModeKickIdle does the same
	// before DRIVER_OK, with nobody waiting.
	BlkModeRead     = 1
	BlkModeKick     = 2
	BlkModeKickIdle = 3

	// StampXor is XORed into each 4 KiB page's byte offset to make the
	// stamp at the start of the page (MakeDisk, check_pages).
	StampXor = 0x62622d6d6d766f67 // "govmm-bb"
)

// blkFailures names the guest's failure codes (enum fail).
var blkFailures = map[uint32]string{
	1: "parameters not filled in", 2: "no virtio-blk (1af4:1042) on PCI bus 0",
	3: "virtio capability missing", 4: "device reset did not complete",
	5: "feature negotiation failed", 6: "queue 0 unusable", 7: "request status not OK",
	8: "data stamp mismatch", 9: "bad parameters", 10: "unexpected used-ring entry",
}

// BlkParams is struct params: the inputs the host fills in. Stamp is
// normally StampXor.
type BlkParams struct {
	Mode     uint32
	Count    uint64
	ReqBytes uint32
	Inflight uint32
	BufBase  uint64
	Stamp    uint64
}

// Encode renders the parameter block (outputs zeroed).
func (p BlkParams) Encode() []byte {
	b := make([]byte, paramsLen)
	le := binary.LittleEndian
	le.PutUint32(b[0x00:], paramsMagic)
	le.PutUint32(b[0x04:], p.Mode)
	le.PutUint64(b[0x08:], p.Count)
	le.PutUint32(b[0x10:], p.ReqBytes)
	le.PutUint32(b[0x14:], p.Inflight)
	le.PutUint64(b[0x18:], p.BufBase)
	le.PutUint64(b[0x20:], p.Stamp)
	return b
}

// BlkResult is what the guest wrote back.
type BlkResult struct {
	Error, Detail       uint32
	Bytes, Requests     uint64
	Pages, BAR0, Notify uint64
	QueueSize           uint32
}

// DecodeBlkResult reads the outputs from the parameter block.
func DecodeBlkResult(b []byte) (BlkResult, error) {
	if len(b) < paramsLen {
		return BlkResult{}, fmt.Errorf("blkbench: parameter block of %d bytes", len(b))
	}
	le := binary.LittleEndian
	return BlkResult{
		Error: le.Uint32(b[0x28:]), Detail: le.Uint32(b[0x2c:]),
		Bytes: le.Uint64(b[0x30:]), Requests: le.Uint64(b[0x38:]), Pages: le.Uint64(b[0x40:]),
		BAR0: le.Uint64(b[0x48:]), Notify: le.Uint64(b[0x50:]), QueueSize: le.Uint32(b[0x58:]),
	}, nil
}

// Err describes a guest-reported failure, or nil.
func (r BlkResult) Err() error {
	if r.Error == 0 {
		return nil
	}
	what := blkFailures[r.Error]
	if what == "" {
		what = "unknown failure"
	}
	return fmt.Errorf("blkbench guest: %s (code %d, detail %#x)", what, r.Error, r.Detail)
}

// ParamsLen is the size of the parameter block.
func ParamsLen() int { return paramsLen }

// Marks is the PIO device at MarkPort: it timestamps the guest's start and
// end marks. Register it with machine.RegisterPIO(MarkPort, MarkPortSize).
type Marks struct {
	mu         sync.Mutex
	start, end time.Time
	fail       uint32
	other      int
}

// Read implements bus.Device: the port reads zero.
func (m *Marks) Read(_ uint64, data []byte) { clear(data) }

// Write implements bus.Device.
func (m *Marks) Write(off uint64, data []byte) {
	now := time.Now()
	var v uint32
	if off == 0 && len(data) == 4 {
		v = binary.LittleEndian.Uint32(data)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case v == markStart && m.start.IsZero():
		m.start = now
	case v == markEnd && !m.start.IsZero() && m.end.IsZero():
		m.end = now
	case v&markFail != 0 && m.fail == 0:
		m.fail = v &^ markFail
	default:
		m.other++
	}
}

// Elapsed returns the time between the start and end marks.
func (m *Marks) Elapsed() (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.fail != 0:
		return 0, fmt.Errorf("blkbench guest: failure mark %d (%s)", m.fail, blkFailures[m.fail])
	case m.other != 0:
		return 0, fmt.Errorf("blkbench guest: %d unexpected marks", m.other)
	case m.start.IsZero() || m.end.IsZero():
		return 0, fmt.Errorf("blkbench guest: start mark %v, end mark %v", !m.start.IsZero(), !m.end.IsZero())
	}
	return m.end.Sub(m.start), nil
}

// BuildBlkbench compiles testdata/guests/blkbench with gcc into outDir and
// returns the flat image's path.
func BuildBlkbench(root, outDir string) (string, error) {
	src := filepath.Join(root, "testdata", "guests", "blkbench")
	elf := filepath.Join(outDir, "blkbench.elf")
	bin := filepath.Join(outDir, "blkbench.bin")
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	steps := [][]string{
		{"gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-nostdlib", "-fno-pie", "-no-pie",
			"-mno-red-zone", "-mgeneral-regs-only", "-fno-stack-protector", "-fno-asynchronous-unwind-tables",
			"-static", "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
			"-Wl,-T," + filepath.Join(src, "link.ld"), "-o", elf, filepath.Join(src, "blkbench.c")},
		{"objcopy", "-O", "binary", elf, bin},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("%s: %v\n%s", strings.Join(s, " "), err, out)
		}
	}
	return bin, nil
}

// MakeDisk writes a disk image of size bytes (a multiple of 4096) full of
// pseudo-random data, each 4 KiB page starting with its byte offset XOR
// StampXor, and syncs it: real blocks, not a sparse file.
func MakeDisk(path string, size uint64) error {
	if size == 0 || size%4096 != 0 {
		return fmt.Errorf("disk size %d is not a positive multiple of 4096", size)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	const chunk = 1 << 20
	buf := make([]byte, chunk)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i+8 <= len(buf); i += 8 {
		binary.LittleEndian.PutUint64(buf[i:], r.Uint64())
	}
	for off := uint64(0); off < size; off += chunk {
		n := min(chunk, size-off)
		for p := uint64(0); p < n; p += 4096 {
			binary.LittleEndian.PutUint64(buf[p:], (off+p)^StampXor)
		}
		if _, err := f.WriteAt(buf[:n], int64(off)); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
