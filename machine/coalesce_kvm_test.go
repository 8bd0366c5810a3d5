//go:build kvm

package machine

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/kvm"
)

// The guests below are CPL-3 64-bit code (RawUser: every port open, IF=0),
// assembled with GNU as; each snippet's jumps stay inside it, so they
// concatenate.

// polledTX prints n bytes, n, n-1, ..., 1 (the low byte of the counter), the
// way Linux's serial8250_console_write does: wait for LSR.THRE, write THR;
// at the end, wait for THRE|TEMT (BOTH_EMPTY).
func polledTX(n uint32) []byte {
	b := []byte{
		0xb9, 0, 0, 0, 0, // mov ecx, n
		0x66, 0xba, 0xfd, 0x03, // 1: mov dx, 0x3fd
		0xec,       // 2: in al, dx
		0xa8, 0x20, // test al, 0x20
		0x74, 0xfb, // jz 2b
		0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8
		0x88, 0xc8, // mov al, cl
		0xee,       // out dx, al
		0xff, 0xc9, // dec ecx
		0x75, 0xec, // jnz 1b
		0x66, 0xba, 0xfd, 0x03, // mov dx, 0x3fd
		0xec,       // 3: in al, dx
		0x24, 0x60, // and al, 0x60
		0x3c, 0x60, // cmp al, 0x60
		0x75, 0xf9, // jne 3b
	}
	binary.LittleEndian.PutUint32(b[1:], n)
	return b
}

// outb writes v to port.
func outb(port uint16, v byte) []byte {
	return []byte{0x66, 0xba, byte(port), byte(port >> 8), 0xb0, v, 0xee} // mov dx, port; mov al, v; out dx, al
}

// thriTX writes n bytes (n, ..., 1) to THR without polling, each followed
// by an IIR read whose value goes to guests.PIOPort.
func thriTX(n uint32) []byte {
	b := []byte{
		0xb9, 0, 0, 0, 0, // mov ecx, n
		0x66, 0xba, 0xf8, 0x03, // 1: mov dx, 0x3f8
		0x88, 0xc8, // mov al, cl
		0xee,                   // out dx, al
		0x66, 0xba, 0xfa, 0x03, // mov dx, 0x3fa
		0xec,                   // in al, dx
		0x66, 0xba, 0x10, 0x05, // mov dx, 0x510
		0xee,       // out dx, al
		0xff, 0xc9, // dec ecx
		0x75, 0xeb, // jnz 1b
	}
	binary.LittleEndian.PutUint32(b[1:], n)
	return b
}

// pciConfigReads makes n configuration reads through mechanism #1, as
// Linux's pci_conf1_read, alternating between devices 0 and 1 over
// registers 0-0xfc, with Linux's type-1 probe's byte write to 0xCFB in
// between. Per round: CONFIG_ADDRESS (dword) and 0xCFB (byte) written, then
// CONFIG_ADDRESS read back, a dword read of 0xCFC and a word read of 0xCFE,
// each of the three values written to guests.PIOPort.
func pciConfigReads(n uint32) []byte {
	b := []byte{
		0xb9, 0, 0, 0, 0, // mov ecx, n
		0x89, 0xc8, // 1: mov eax, ecx
		0xc1, 0xe0, 0x0b, // shl eax, 11
		0x25, 0x00, 0x08, 0x00, 0x00, // and eax, 0x800
		0x89, 0xcb, // mov ebx, ecx
		0x81, 0xe3, 0xfc, 0x00, 0x00, 0x00, // and ebx, 0xfc
		0x09, 0xd8, // or eax, ebx
		0x0d, 0x00, 0x00, 0x00, 0x80, // or eax, 0x80000000
		0x66, 0xba, 0xf8, 0x0c, // mov dx, 0xcf8
		0xef,                   // out dx, eax
		0x66, 0xba, 0xfb, 0x0c, // mov dx, 0xcfb
		0xb0, 0x01, // mov al, 1
		0xee,                   // out dx, al
		0x66, 0xba, 0xf8, 0x0c, // mov dx, 0xcf8
		0xed,                   // in eax, dx
		0x66, 0xba, 0x10, 0x05, // mov dx, 0x510
		0xef,                   // out dx, eax
		0x66, 0xba, 0xfc, 0x0c, // mov dx, 0xcfc
		0xed,                   // in eax, dx
		0x66, 0xba, 0x10, 0x05, // mov dx, 0x510
		0xef,                   // out dx, eax
		0x66, 0xba, 0xfe, 0x0c, // mov dx, 0xcfe
		0x66, 0xed, // in ax, dx
		0x66, 0xba, 0x10, 0x05, // mov dx, 0x510
		0x66, 0xef, // out dx, ax
		0xff, 0xc9, // dec ecx
		0x75, 0xb7, // jnz 1b
	}
	binary.LittleEndian.PutUint32(b[1:], n)
	return b
}

// powerOff ends the run with exit 0 (ACPI S5): one port exit.
func powerOff() []byte { return acpiPMGuest(acpiPMPort, 5<<2|1<<5) }

// countdown is the console output of polledTX(n) and thriTX(n).
func countdown(n uint32) string {
	var b []byte
	for i := n; i > 0; i-- {
		b = append(b, byte(i))
	}
	return string(b)
}

// valueLog is a device at guests.PIOPort that keeps every value written.
type valueLog struct {
	mu   sync.Mutex
	vals []uint32
}

func (r *valueLog) Read(_ uint64, data []byte) {}

func (r *valueLog) Write(_ uint64, data []byte) {
	var b [4]byte
	copy(b[:], data)
	r.mu.Lock()
	r.vals = append(r.vals, binary.LittleEndian.Uint32(b[:]))
	r.mu.Unlock()
}

// timedWriter is a console that notes when the first byte arrived.
type timedWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	first time.Time
}

func (w *timedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first.IsZero() {
		w.first = time.Now()
	}
	return w.buf.Write(p)
}

type coalescedRun struct {
	res Result
	out string
	m   *Machine
	rec *valueLog
	// ioExits counts VCPU 0's KVM_EXIT_IO.
	ioExits uint64
	// stats is the -stats table.
	stats string
}

// runCoalesced runs a raw CPL-3 guest with coalescing on or off. It skips
// the test where KVM cannot coalesce port I/O.
func runCoalesced(t *testing.T, img []byte, on bool) coalescedRun {
	t.Helper()
	requireKVM(t)
	var out bytes.Buffer
	m, err := New(Config{MemSize: 16 << 20, RawImage: img, RawMode: RawUser, Console: &out, Stats: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	if m.coalesce == nil {
		t.Skip("this KVM cannot coalesce port I/O (KVM_CAP_COALESCED_PIO)")
	}
	rec := &valueLog{}
	if err := m.RegisterPIO("value-log", guests.PIOPort, 4, rec); err != nil {
		t.Fatal(err)
	}
	if !on {
		if err := m.coalesce.setEnabled(false); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res := m.Run(ctx)
	var st strings.Builder
	m.WriteStats(&st)
	return coalescedRun{res: res, out: out.String(), m: m, rec: rec, ioExits: m.vcpus[0].stats.count[kvm.ExitIO], stats: st.String()}
}

func accessesOf(m *Machine, name string) uint64 {
	for _, r := range m.pio.ranges {
		if r.name == name {
			return r.accesses.Load()
		}
	}
	return 0
}

// TestCoalescedPolledConsole: a guest that prints n bytes the way Linux's
// console does (LSR poll, THR write) prints the same bytes in the same
// order with coalescing, in n+2 port exits instead of 2n+2: the THR write
// is applied by the next LSR read's exit.
func TestCoalescedPolledConsole(t *testing.T) {
	const n = 1000
	img := append(polledTX(n), powerOff()...)
	for _, on := range []bool{true, false} {
		r := runCoalesced(t, img, on)
		if r.res.Code != ExitOK {
			t.Fatalf("coalescing %v: result %v", on, r.res)
		}
		if r.out != countdown(n) {
			t.Fatalf("coalescing %v: console has %d bytes, not the %d written in order", on, len(r.out), n)
		}
		want := uint64(2*n + 2) // n LSR reads and n THR writes, BOTH_EMPTY, power-off
		if on {
			want = n + 2
		}
		if r.ioExits != want {
			t.Errorf("coalescing %v: %d port exits, want %d", on, r.ioExits, want)
		}
		if a := accessesOf(r.m, "com1"); a != 2*n+1 {
			t.Errorf("coalescing %v: com1 accesses %d, want %d (exits and coalesced writes alike)", on, a, 2*n+1)
		}
		if on && !strings.Contains(r.stats, "coalesced writes (completed in KVM without an exit, applied at the next one): 1000 (com1 1000); COM1 THR zone (un)registered 1 times") {
			t.Errorf("stats:\n%s", r.stats)
		}
		t.Logf("coalescing %v: %d port exits for %d console bytes", on, r.ioExits, n)
	}
}

// TestCoalescedConsoleModes: when the guest enables the THR-empty interrupt
// (interrupt-driven output) every THR write exits again and raises THRE at
// once (IIR reads 0x02 right after each write); with DLAB set, offset 0 is
// the divisor latch and exits too; back in polled mode, THR writes are
// coalesced again. All 3n bytes arrive, in order.
func TestCoalescedConsoleModes(t *testing.T) {
	const n = 200
	var img []byte
	img = append(img, polledTX(n)...)
	img = append(img, outb(0x3f9, 0x02)...) // IER = ETBEI (Linux: UART_IER_THRI)
	img = append(img, thriTX(n)...)
	img = append(img, outb(0x3f9, 0x00)...) // IER = 0
	img = append(img, outb(0x3fb, 0x83)...) // LCR = DLAB | 8N1
	img = append(img, outb(0x3f8, 0x01)...) // DLL = 1 (115200 baud)
	img = append(img, outb(0x3fb, 0x03)...) // LCR = 8N1
	img = append(img, polledTX(n)...)
	img = append(img, powerOff()...)
	var outs [2]string
	var iirs [2][]uint32
	for i, on := range []bool{true, false} {
		r := runCoalesced(t, img, on)
		if r.res.Code != ExitOK {
			t.Fatalf("coalescing %v: result %v", on, r.res)
		}
		if want := countdown(n) + countdown(n) + countdown(n); r.out != want {
			t.Fatalf("coalescing %v: console %d bytes, want the %d written, in order", on, len(r.out), len(want))
		}
		// polled: n+1 and n+1 (THR coalesced), or 2n+1 twice; THRI: 3n
		// either way; IER twice, LCR twice, DLL, power-off.
		want := uint64(2*(2*n+1) + 3*n + 6)
		if on {
			want = uint64(2*(n+1) + 3*n + 6)
		}
		if r.ioExits != want {
			t.Errorf("coalescing %v: %d port exits, want %d", on, r.ioExits, want)
		}
		outs[i] = r.out
		r.rec.mu.Lock()
		iirs[i] = r.rec.vals
		r.rec.mu.Unlock()
		for j, v := range iirs[i] {
			if v != 0x02 {
				t.Fatalf("coalescing %v: IIR after THR write %d read %#x, want 0x02 (THRE pending)", on, j, v)
			}
		}
		if len(iirs[i]) != n {
			t.Fatalf("coalescing %v: %d IIR values, want %d", on, len(iirs[i]), n)
		}
		if on {
			r.m.coalesce.mu.Lock()
			thrOn := r.m.coalesce.thrOn
			r.m.coalesce.mu.Unlock()
			if !thrOn {
				t.Error("COM1's THR is not coalesced after the guest went back to polled output")
			}
		}
	}
	if outs[0] != outs[1] || !slices.Equal(iirs[0], iirs[1]) {
		t.Error("the guest saw a difference with coalescing")
	}
}

// TestCoalescedPCIConfigAddress: configuration reads through 0xCF8/0xCFC
// give the same values with CONFIG_ADDRESS coalesced, including the latch
// read back after an ignored byte write to 0xCFB, and two of the five
// pci-config exits per round go away.
func TestCoalescedPCIConfigAddress(t *testing.T) {
	const n = 300
	img := append(pciConfigReads(n), powerOff()...)
	var vals [2][]uint32
	for i, on := range []bool{true, false} {
		r := runCoalesced(t, img, on)
		if r.res.Code != ExitOK {
			t.Fatalf("coalescing %v: result %v", on, r.res)
		}
		// Per round: 3 reads and 3 writes to the value log, plus the two
		// CONFIG_ADDRESS writes without coalescing; then power-off.
		want := uint64(8*n + 1)
		if on {
			want = 6*n + 1
		}
		if r.ioExits != want {
			t.Errorf("coalescing %v: %d port exits, want %d", on, r.ioExits, want)
		}
		if a := accessesOf(r.m, "pci-config"); a != 5*n {
			t.Errorf("coalescing %v: pci-config accesses %d, want %d", on, a, 5*n)
		}
		r.rec.mu.Lock()
		vals[i] = r.rec.vals
		r.rec.mu.Unlock()
		if len(vals[i]) != 3*n {
			t.Fatalf("coalescing %v: %d values, want %d", on, len(vals[i]), 3*n)
		}
		t.Logf("coalescing %v: %d port exits, pci-config 0x%08x then %#x: %#x", on, r.ioExits, vals[i][0], vals[i][3], vals[i][4])
	}
	if !slices.Equal(vals[0], vals[1]) {
		for j := range vals[0] {
			if vals[0][j] != vals[1][j] {
				t.Fatalf("value %d: %#x with coalescing, %#x without", j, vals[0][j], vals[1][j])
			}
		}
	}
	distinct := map[uint32]bool{}
	for j := 1; j < 3*n; j += 3 {
		distinct[vals[0][j]] = true
	}
	if len(distinct) < 4 {
		t.Errorf("only %d distinct configuration dwords read: %v", len(distinct), distinct)
	}
	// The latch read back is the address written (bits 1:0 read 0); the
	// host bridge at 00:00.0 has a vendor ID.
	for j := 0; j < 3*n; j += 3 {
		round := uint32(n - j/3)
		addr := 0x80000000 | (round<<11)&0x800 | round&0xfc
		if vals[0][j] != addr {
			t.Fatalf("round %d: CONFIG_ADDRESS read %#x, want %#x", j/3, vals[0][j], addr)
		}
	}
}

// TestCoalescedOutputWithoutExits: a guest that writes to THR without
// polling LSR and then spins never exits again; its output still reaches
// the console within a few drain periods (and is there when the run ends).
func TestCoalescedOutputWithoutExits(t *testing.T) {
	requireKVM(t)
	img := append(outb(0x3f8, 'h'), outb(0x3f8, 'i')...)
	img = append(img, guests.Spin...)
	w := &timedWriter{}
	m, err := New(Config{MemSize: 16 << 20, RawImage: img, RawMode: RawUser, Console: w})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.coalesce == nil {
		t.Skip("this KVM cannot coalesce port I/O (KVM_CAP_COALESCED_PIO)")
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	res := m.Run(ctx)
	if res.Code != ExitTimeout {
		t.Fatalf("result %v", res)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf.String() != "hi" {
		t.Fatalf("console %q", w.buf.String())
	}
	// drainPeriod is 50 ms; the sampler's kick (500 ms) would be later.
	if d := w.first.Sub(start); d > 400*time.Millisecond {
		t.Errorf("output appeared after %v", d)
	}
}
