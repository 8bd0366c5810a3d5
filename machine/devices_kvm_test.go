//go:build kvm

package machine

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/govmm/govmm/guests"
	"github.com/govmm/govmm/memory"
	"github.com/govmm/govmm/mptable"
)

// TestTwelveVirtioDevicesOnKVM builds a machine with 12 virtio devices on
// a real VM (10 disks, the RNG and the console): every device gets its own
// slot, the INTx pins go round-robin over 16..23, the ioeventfds of all
// devices bind, the MP table describes exactly the manager's routes, the
// shared pins take KVM_IRQ_LINE from several sources without error, and
// the machine runs and closes cleanly.
func TestTwelveVirtioDevicesOnKVM(t *testing.T) {
	requireKVM(t)
	dir := t.TempDir()
	var disks []Disk
	for i := range 10 {
		p := filepath.Join(dir, fmt.Sprint("disk", i))
		if err := os.WriteFile(p, make([]byte, 4096), 0o600); err != nil {
			t.Fatal(err)
		}
		disks = append(disks, Disk{Path: p})
	}
	m, err := New(Config{MemSize: 16 << 20, RawImage: guests.Hello, RawMode: RawUser, Disks: disks, RNG: true, VirtioConsole: true})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()

	routes := m.devs.intxRoutes()
	if len(routes) != 12 {
		t.Fatalf("%d INTx routes, want 12: %v", len(routes), routes)
	}
	ioeventfds := 0
	for i, r := range routes {
		if r.slot != uint8(2+i) || r.pin != 0 || r.gsi != uint32(pciINTxBase+i%pciINTxPins) {
			t.Errorf("route %d: %+v, want slot %d INTA GSI %d", i, r, 2+i, pciINTxBase+i%pciINTxPins)
		}
	}
	for _, p := range m.devs.pciDevs {
		ioeventfds += len(p.bound)
	}
	// A disk and the RNG have one queue each, the console two.
	if ioeventfds != 10+1+2 {
		t.Errorf("%d ioeventfds bound, want 13", ioeventfds)
	}

	// The MP table's PCI INTx entries are the routes.
	if err := m.writeMPTable(); err != nil {
		t.Fatal(err)
	}
	tbl := make([]byte, mptable.Size(mptable.Config{CPUs: 1, PCI: true, PCIIRQs: make([]mptable.PCIIRQ, 12)}))
	if err := m.mem.Read(memory.GuestAddress(mptableAddr), tbl); err != nil {
		t.Fatal(err)
	}
	var got []intxRoute
	for off := 16 + 44; off < len(tbl); {
		switch tbl[off] {
		case 0:
			off += 20
			continue
		case 3:
			// type, interrupt type, flags, source bus, source IRQ,
			// destination I/O APIC, destination pin (MP §4.3.4).
			if flags := binary.LittleEndian.Uint16(tbl[off+2:]); flags == 0x000F && tbl[off+4] == 0 {
				got = append(got, intxRoute{slot: tbl[off+5] >> 2, pin: tbl[off+5] & 3, gsi: uint32(tbl[off+7])})
			}
		}
		off += 8
	}
	if fmt.Sprint(got) != fmt.Sprint(routes) {
		t.Errorf("MP table INTx entries %v, want %v", got, routes)
	}

	// Two sources on one real pin: raise both, lower both.
	l := m.devs.line(pciINTxBase)
	a, b := l.attach("test a"), l.attach("test b")
	a.SetLevel(true)
	b.SetLevel(true)
	a.SetLevel(false)
	if l.asserted() != 1 {
		t.Errorf("%d sources asserting, want 1", l.asserted())
	}
	b.SetLevel(false)
	a.detach()
	b.detach()
	if n := l.errs.Load(); n != 0 {
		t.Errorf("KVM_IRQ_LINE failed %d times", n)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if res := m.Run(ctx); res.Code != ExitOK {
		t.Fatalf("result %v", res)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}
