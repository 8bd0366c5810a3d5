package virtio_test

import (
	"errors"
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
)

func TestPCIIdentityAndCapabilities(t *testing.T) {
	e := newEnv(t, virtio.NewRNG())
	d := e.D
	// virtio 1.2 §4.1.2: vendor 0x1af4, device 0x1040 + 4 (entropy), revision 1.
	if got := d.CfgRead(0, 4); got != 0x1044_1af4 {
		t.Errorf("IDs = %#x, want 0x10441af4", got)
	}
	if got := d.CfgRead(8, 1); got != 1 {
		t.Errorf("revision = %d, want 1", got)
	}
	if got := d.CfgRead(0x2C, 2); got != 0x1af4 {
		t.Errorf("subsystem vendor = %#x", got)
	}
	if got := d.CfgRead(0x3D, 1); got != 1 {
		t.Errorf("interrupt pin = %d, want 1 (INTA#)", got)
	}
	// BAR 0: 64-bit memory.
	if got := d.CfgRead(0x10, 4) & 0x7; got != 0x4 {
		t.Errorf("BAR0 type bits = %#x, want 0x4", got)
	}
	// Walk the vendor capabilities and check their bodies byte by byte.
	type vcap struct{ bar, off, length, mult uint32 }
	caps := map[uint32]vcap{}
	for ptr := d.CfgRead(0x34, 1); ptr != 0; ptr = d.CfgRead(ptr+1, 1) {
		if d.CfgRead(ptr, 1) != 0x09 {
			continue
		}
		typ := d.CfgRead(ptr+3, 1)
		c := vcap{bar: d.CfgRead(ptr+4, 1), off: d.CfgRead(ptr+8, 4), length: d.CfgRead(ptr+12, 4)}
		wantLen := uint32(16)
		if typ == 2 || typ == 5 {
			wantLen = 20
		}
		if got := d.CfgRead(ptr+2, 1); got != wantLen {
			t.Errorf("cap type %d: cap_len %d, want %d", typ, got, wantLen)
		}
		if typ == 2 {
			c.mult = d.CfgRead(ptr+16, 4)
		}
		caps[typ] = c
	}
	if c, ok := caps[1]; !ok || c.bar != 0 || c.length < 0x38 {
		t.Errorf("common cap = %+v (present %v), want BAR 0, length >= 0x38", c, ok)
	}
	if c, ok := caps[2]; !ok || c.mult == 0 || c.length < 2 {
		t.Errorf("notify cap = %+v", c)
	}
	if c, ok := caps[3]; !ok || c.length < 1 {
		t.Errorf("ISR cap = %+v", c)
	}
	if _, ok := caps[5]; !ok {
		t.Error("no VIRTIO_PCI_CAP_PCI_CFG capability (§4.1.4.9: MUST)")
	}
	// Ioeventfds: one per queue, at the notify address of each.
	fds := e.T.Ioeventfds()
	if len(fds) != 1 || fds[0].Addr != d.Notify || fds[0].Len != 2 || fds[0].FD < 0 || fds[0].Queue != 0 {
		t.Errorf("Ioeventfds = %+v, notify at %#x", fds, d.Notify)
	}
}

// Offsets and widths straight from struct virtio_pci_common_cfg (virtio 1.2
// §4.1.4.3), as numbers.
func TestCommonCfgLayout(t *testing.T) {
	e := newEnv(t, virtio.NewRNG())
	d := e.D
	rd := d.CommonRead
	wr := d.CommonWrite
	wr(0x00, 4, 0) // device_feature_select
	if got := rd(0x04, 4); got&(fIndirect|fEventIdx) != fIndirect|fEventIdx {
		t.Errorf("device_feature[0] = %#x, want bits 28 and 29", got)
	}
	wr(0x00, 4, 1)
	if got := rd(0x04, 4); got != 1 { // VERSION_1 is bit 32
		t.Errorf("device_feature[1] = %#x, want 1", got)
	}
	if got := rd(0x00, 4); got != 1 {
		t.Errorf("device_feature_select reads %d", got)
	}
	wr(0x04, 4, 0xFFFFFFFF) // read-only
	if got := rd(0x04, 4); got != 1 {
		t.Errorf("device_feature changed by a write: %#x", got)
	}
	wr(0x08, 4, 1) // driver_feature_select
	wr(0x0C, 4, 1) // driver_feature (high word): VERSION_1
	if got := rd(0x0C, 4); got != 1 {
		t.Errorf("driver_feature[1] = %#x", got)
	}
	if got := rd(0x10, 2); got != 0xFFFF { // config_msix_vector after reset
		t.Errorf("config_msix_vector = %#x, want 0xffff", got)
	}
	if got := rd(0x12, 2); got != 1 { // num_queues
		t.Errorf("num_queues = %d, want 1", got)
	}
	wr(0x12, 2, 7)
	if got := rd(0x12, 2); got != 1 {
		t.Errorf("num_queues writable: %d", got)
	}
	if got := rd(0x14, 1); got != 0 { // device_status
		t.Errorf("device_status = %#x", got)
	}
	wr(0x14, 1, 1)
	if got := rd(0x14, 1); got != 1 {
		t.Errorf("device_status = %#x, want 1", got)
	}
	if got := rd(0x15, 1); got != 0 { // config_generation
		t.Errorf("config_generation = %d", got)
	}
	wr(0x16, 2, 0)                      // queue_select
	if got := rd(0x18, 2); got != 256 { // queue_size: the maximum after reset
		t.Errorf("queue_size = %d, want 256", got)
	}
	if got := rd(0x1A, 2); got != 0xFFFF {
		t.Errorf("queue_msix_vector = %#x", got)
	}
	if got := rd(0x1C, 2); got != 0 {
		t.Errorf("queue_enable = %d", got)
	}
	if got := rd(0x1E, 2); got != 0 {
		t.Errorf("queue_notify_off = %d", got)
	}
	wr(0x18, 2, 64)
	wr(0x20, 8, 0x0000_0001_0000_2000) // queue_desc, one 64-bit write
	wr(0x28, 4, 0x3000)                // queue_driver, low half
	wr(0x2C, 4, 0x2)                   // queue_driver, high half
	wr(0x30, 4, 0x4000)                // queue_device
	if got := rd(0x18, 2); got != 64 {
		t.Errorf("queue_size = %d, want 64", got)
	}
	if got := rd(0x20, 8); got != 0x1_0000_2000 {
		t.Errorf("queue_desc = %#x", got)
	}
	if got := rd(0x24, 4); got != 1 {
		t.Errorf("queue_desc high = %#x", got)
	}
	if got := rd(0x28, 8); got != 0x2_0000_3000 {
		t.Errorf("queue_driver = %#x", got)
	}
	if got := rd(0x30, 8); got != 0x4000 {
		t.Errorf("queue_device = %#x", got)
	}
	if got := rd(0x38, 2); got != 0 { // queue_notify_data
		t.Errorf("queue_notify_data = %d", got)
	}
	// A queue that does not exist reads size 0.
	wr(0x16, 2, 3)
	if got := rd(0x16, 2); got != 3 {
		t.Errorf("queue_select = %d", got)
	}
	if got := rd(0x18, 2); got != 0 {
		t.Errorf("queue_size of absent queue = %d, want 0", got)
	}
	// A vector beyond the MSI-X table reads back NO_VECTOR (§4.1.5.1.2.1);
	// the table has 1 + 1 entries.
	wr(0x10, 2, 1)
	if got := rd(0x10, 2); got != 1 {
		t.Errorf("config_msix_vector = %d, want 1", got)
	}
	wr(0x10, 2, 2)
	if got := rd(0x10, 2); got != 0xFFFF {
		t.Errorf("config_msix_vector out of range = %#x, want 0xffff", got)
	}
}

func TestFeatureNegotiation(t *testing.T) {
	e := newEnv(t, virtio.NewRNG())
	d := e.D
	offered := d.DeviceFeatures()
	if offered&fVersion1 == 0 {
		t.Fatalf("VERSION_1 not offered: %#x", offered)
	}
	q := e.NewQueue(16)
	cases := []struct {
		name     string
		features uint64
		ok       bool
	}{
		{"version1 only", fVersion1, true},
		{"all offered", offered, true},
		{"no VERSION_1", fEventIdx, false},
		{"unoffered bit 40", fVersion1 | 1<<40, false},
		{"unoffered bit 0", fVersion1 | 1, false},
	}
	for _, c := range cases {
		err := d.Init(virtiotest.InitOptions{Features: c.features, Queues: []*virtiotest.SplitQueue{q}, MSIX: true, SkipDriverOK: true})
		if c.ok && err != nil {
			t.Errorf("%s: %v", c.name, err)
		}
		if !c.ok && !errors.Is(err, virtiotest.ErrFeaturesRefused) {
			t.Errorf("%s: err = %v, want FEATURES_OK refused", c.name, err)
		}
		if !c.ok && d.Status() != 3 { // ACKNOWLEDGE | DRIVER
			t.Errorf("%s: status = %#x, want 0x3", c.name, d.Status())
		}
	}
	// DRIVER_OK without FEATURES_OK is refused.
	d.Reset()
	d.SetStatus(1)
	d.SetStatus(3)
	d.SetStatus(3 | 4)
	if got := d.Status(); got != 3 {
		t.Errorf("status after DRIVER_OK without FEATURES_OK = %#x, want 0x3", got)
	}
	// Driver features cannot change after FEATURES_OK.
	d.Reset()
	d.SetStatus(3)
	d.WriteDriverFeatures(fVersion1)
	d.SetStatus(3 | 8)
	d.WriteDriverFeatures(fVersion1 | fEventIdx)
	d.CommonWrite(0x08, 4, 0)
	if got := d.CommonRead(0x0C, 4); got != 0 {
		t.Errorf("driver_feature[0] changed after FEATURES_OK: %#x", got)
	}
}

func TestResetRestoresInitialState(t *testing.T) {
	e, q := startRNG(t, fVersion1, 16)
	d := e.D
	buf := e.Buf(32, 0)
	if _, err := q.AddChain(virtiotest.Buffer{Addr: buf, Len: 32, Write: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(0, q); err != nil {
		t.Fatal(err)
	}
	if err := d.Reset(); err != nil {
		t.Fatal(err)
	}
	d.CommonWrite(0x16, 2, 0)
	for _, f := range []struct {
		off  uint64
		n    int
		want uint64
	}{
		{0x10, 2, 0xFFFF}, {0x14, 1, 0}, {0x18, 2, 256}, {0x1A, 2, 0xFFFF}, {0x1C, 2, 0},
		{0x20, 8, 0}, {0x28, 8, 0}, {0x30, 8, 0},
	} {
		if got := d.CommonRead(f.off, f.n); got != f.want {
			t.Errorf("after reset, field %#x = %#x, want %#x", f.off, got, f.want)
		}
	}
	// And the device works again with fresh queues.
	q2 := e.NewQueue(8)
	if err := e.Start(fVersion1, q2); err != nil {
		t.Fatal(err)
	}
	if _, err := q2.AddChain(virtiotest.Buffer{Addr: buf, Len: 32, Write: true}); err != nil {
		t.Fatal(err)
	}
	u, err := e.Submit(0, q2)
	if err != nil || u.Len != 32 {
		t.Fatalf("after reset: used %+v, %v", u, err)
	}
}

func TestQueueEnableRejectsBadConfig(t *testing.T) {
	e := newEnv(t, virtio.NewRNG())
	d := e.D
	d.Reset()
	d.SetStatus(3)
	d.WriteDriverFeatures(fVersion1)
	d.SetStatus(3 | 8)
	bad := []struct {
		name              string
		size              uint64
		desc, avail, used uint64
	}{
		{"size not a power of two", 12, 0x10000, 0x11000, 0x12000},
		{"size above maximum", 512, 0x10000, 0x20000, 0x30000},
		{"misaligned descriptor table", 16, 0x10008, 0x11000, 0x12000},
		{"used ring outside RAM", 16, 0x10000, 0x11000, virtiotest.MemSize - 8},
	}
	for _, b := range bad {
		d.CommonWrite(0x16, 2, 0)
		d.CommonWrite(0x18, 2, b.size)
		d.CommonWrite(0x20, 8, b.desc)
		d.CommonWrite(0x28, 8, b.avail)
		d.CommonWrite(0x30, 8, b.used)
		d.CommonWrite(0x1C, 2, 1)
		if got := d.CommonRead(0x1C, 2); got != 0 {
			t.Errorf("%s: queue_enable = %d, want 0", b.name, got)
		}
		if d.Status()&0x40 == 0 {
			t.Errorf("%s: DEVICE_NEEDS_RESET not set", b.name)
		}
	}
}

func TestINTxFallbackAndISR(t *testing.T) {
	e := newEnv(t, virtio.NewRNG())
	q := e.NewQueue(16)
	if err := e.D.Init(virtiotest.InitOptions{Features: fVersion1, Queues: []*virtiotest.SplitQueue{q}}); err != nil {
		t.Fatal(err)
	}
	buf := e.Buf(8, 0)
	q.AddChain(virtiotest.Buffer{Addr: buf, Len: 8, Write: true})
	e.D.Kick(0)
	if err := e.IRQ.WaitHigh(virtiotest.Timeout); err != nil {
		t.Fatal(err)
	}
	// §4.1.4.5: bit 0 is the queue interrupt; reading clears it and
	// de-asserts INTx.
	if got := e.D.ReadISR(); got != 1 {
		t.Errorf("ISR = %#x, want 1", got)
	}
	if e.IRQ.Level() {
		t.Error("INTx still high after the ISR read")
	}
	if got := e.D.ReadISR(); got != 0 {
		t.Errorf("second ISR read = %#x, want 0", got)
	}
	if u, ok, _ := q.PopUsed(); !ok || u.Len != 8 {
		t.Errorf("used = %+v, %v", u, ok)
	}
}

// The VIRTIO_PCI_CAP_PCI_CFG window reaches BAR 0 through configuration
// space (§4.1.4.9): read num_queues through it.
func TestPCICfgCapabilityWindow(t *testing.T) {
	e := newEnv(t, virtio.NewConsole(nil))
	d := e.D
	c := d.CfgCap
	d.CfgWrite(c+4, 1, 0)    // bar
	d.CfgWrite(c+8, 4, 0x12) // offset of num_queues in BAR 0 (common cfg at 0)
	d.CfgWrite(c+12, 4, 2)   // length
	if got := d.CfgRead(c+16, 2); got != 2 {
		t.Errorf("num_queues through PCI_CFG = %d, want 2", got)
	}
	// Write device_status = ACKNOWLEDGE through the window.
	d.CfgWrite(c+8, 4, 0x14)
	d.CfgWrite(c+12, 4, 1)
	d.CfgWrite(c+16, 1, 1)
	if got := d.Status(); got != 1 {
		t.Errorf("status = %d, want 1", got)
	}
}
