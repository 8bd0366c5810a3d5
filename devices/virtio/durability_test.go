package virtio_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
)

// Killing the VMM cannot lose what is in the host's page cache, so the kill
// test below would pass with a FLUSH that skips fsync. What proves that a
// FLUSH (virtio 1.2 §5.2.6) reaches stable storage is the order of events
// at the backing: the image is still a real file, wrapped by syncSpy, which
// logs every write and Sync and can hold or fail a Sync.

// syncSpy is a virtio.BlockBacking over the real image file. WriteAt, ReadAt
// and Close are the file's; Sync is logged, may call inSync, may wait on
// hold, and then either fails with failNext or really fsyncs.
type syncSpy struct {
	*os.File

	mu sync.Mutex
	// log is "write" per WriteAt and "sync" per Sync that reached the file.
	log []string
	// calls counts Sync calls, returned those that returned.
	calls, returned int
	// failNext, if set, is what the next Sync returns (instead of fsync).
	failNext error
	// inSync runs inside Sync, on the device's worker goroutine, before
	// hold; hold, if not nil, must be closed for Sync to go on.
	inSync func()
	hold   chan struct{}
}

func newSyncSpy(t *testing.T, path string, flag int) *syncSpy {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &syncSpy{File: f}
}

func (s *syncSpy) WriteAt(p []byte, off int64) (int, error) {
	s.mu.Lock()
	s.log = append(s.log, "write")
	s.mu.Unlock()
	return s.File.WriteAt(p, off)
}

func (s *syncSpy) Sync() error {
	s.mu.Lock()
	s.calls++
	in, hold, fail := s.inSync, s.hold, s.failNext
	s.failNext = nil
	s.mu.Unlock()
	if in != nil {
		in()
	}
	if hold != nil {
		<-hold
	}
	err := fail
	if err == nil {
		err = s.File.Sync()
	}
	s.mu.Lock()
	if fail == nil {
		s.log = append(s.log, "sync")
	}
	s.returned++
	s.mu.Unlock()
	return err
}

// counts returns (calls, returned).
func (s *syncSpy) counts() (int, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls, s.returned
}

func (s *syncSpy) events() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.log, " ")
}

// startSpiedBlock serves the image at path through spy, as a read-write
// (or read-only) disk driven by the fake guest driver.
func startSpiedBlock(t *testing.T, path string, readOnly bool) (*blockEnv, *syncSpy) {
	t.Helper()
	flag := os.O_RDWR
	if readOnly {
		flag = os.O_RDONLY
	}
	spy := newSyncSpy(t, path, flag)
	st, err := spy.Stat()
	if err != nil {
		t.Fatal(err)
	}
	dev, err := virtio.NewBlockBacking(spy, st.Size(), readOnly, "disk.img")
	if err != nil {
		t.Fatal(err)
	}
	b := startBlock(t, dev, fVersion1)
	b.path = path
	return b, spy
}

// A FLUSH calls Sync once, after the writes before it, and the guest sees it
// complete (used element, status byte, interrupt) only after Sync returned.
func TestBlockFlushCompletesAfterSync(t *testing.T) {
	b, spy := startSpiedBlock(t, makeImage(t), false)
	want := writeKnownBlocks(t, b)
	calls0, _ := spy.counts()

	st := b.Buf(1, 0xEE)
	if _, err := b.q.AddChain(
		virtiotest.Buffer{Addr: b.header(tFlush, 0), Len: 16},
		virtiotest.Buffer{Addr: st, Len: 1, Write: true}); err != nil {
		t.Fatal(err)
	}
	usedBefore, err := b.q.UsedIdx()
	if err != nil {
		t.Fatal(err)
	}
	// What the device had published when it called Sync, read on its own
	// goroutine: no race, and no timing.
	type seen struct {
		used   uint16
		status byte
	}
	atSync := make(chan seen, 1)
	hold := make(chan struct{})
	// Cleanups run last-in first-out: Sync is released before the
	// environment's Close waits for the worker, even on a failure.
	release := sync.OnceFunc(func() {
		spy.mu.Lock()
		spy.inSync, spy.hold = nil, nil
		spy.mu.Unlock()
		close(hold)
	})
	t.Cleanup(release)
	spy.mu.Lock()
	spy.inSync = func() {
		u, _ := b.q.UsedIdx()
		atSync <- seen{u, b.Bytes(st, 1)[0]}
	}
	spy.hold = hold
	spy.mu.Unlock()
	msiBefore := b.MSI.Total(1)
	b.D.Kick(0)

	var s seen
	select {
	case s = <-atSync:
	case <-time.After(virtiotest.Timeout):
		t.Fatal("FLUSH did not call Sync")
	}
	if s.used != usedBefore || s.status != 0xEE {
		t.Fatalf("when Sync was called: used.idx %d (was %d), status %#x (was 0xee)", s.used, usedBefore, s.status)
	}
	// While Sync is held, the request stays pending: nothing published,
	// no interrupt. The device writes nothing before hold is closed, so
	// reading here does not race with it.
	time.Sleep(50 * time.Millisecond)
	if _, ret := spy.counts(); ret != calls0 {
		t.Fatalf("Sync returned while held (%d returns, %d before the FLUSH)", ret, calls0)
	}
	if u, _ := b.q.UsedIdx(); u != usedBefore || b.Bytes(st, 1)[0] != 0xEE || b.MSI.Total(1) != msiBefore {
		t.Fatalf("FLUSH completed while Sync was still running: used.idx %d, status %#x, interrupts %d -> %d",
			u, b.Bytes(st, 1)[0], msiBefore, b.MSI.Total(1))
	}
	release()
	if err := b.WaitQueue(0); err != nil {
		t.Fatal(err)
	}
	u, ok, err := b.q.PopUsed()
	if err != nil || !ok {
		t.Fatalf("no used element after Sync returned: %v", err)
	}
	if u.Len != 1 || b.Bytes(st, 1)[0] != sOK {
		t.Fatalf("FLUSH: used %+v status %d, want len 1 and OK", u, b.Bytes(st, 1)[0])
	}
	if calls, ret := spy.counts(); calls-calls0 != 1 || ret != calls {
		t.Fatalf("FLUSH made %d Sync calls (%d returned), want 1", calls-calls0, ret)
	}
	// The sync came after the OUT's writes reached the file.
	if ev := spy.events(); !strings.HasSuffix(ev, "write sync") {
		t.Fatalf("backing saw %q, want the writes then one sync", ev)
	}
	checkKnownBlocks(t, b.path, want)
}

// Each FLUSH syncs again: a FLUSH after more writes is not answered from
// the earlier one.
func TestBlockFlushSyncsEveryTime(t *testing.T) {
	b, spy := startSpiedBlock(t, makeImage(t), false)
	for i := 1; i <= 3; i++ {
		writeKnownBlocks(t, b)
		if n, st := b.do(t, tFlush, 0); st != sOK || n != 1 {
			t.Fatalf("FLUSH %d: status %d used %d", i, st, n)
		}
		if calls, _ := spy.counts(); calls != i {
			t.Fatalf("after FLUSH %d: %d Sync calls", i, calls)
		}
	}
	if ev := spy.events(); ev != "write sync write sync write sync" {
		t.Fatalf("backing saw %q", ev)
	}
}

// A Sync that fails makes the FLUSH fail with VIRTIO_BLK_S_IOERR, and every
// later FLUSH too, even if the host would now sync: the writes may be lost
// (see flushPolicy in block.go). Reads and writes go on; Close reports it.
func TestBlockFlushSyncFailureIsIOErr(t *testing.T) {
	b, spy := startSpiedBlock(t, makeImage(t), false)
	want := writeKnownBlocks(t, b)
	eio := fmt.Errorf("fsync: %w", syscall.EIO)
	spy.mu.Lock()
	spy.failNext = eio
	spy.mu.Unlock()
	if n, st := b.do(t, tFlush, 0); st != sIOErr || n != 1 {
		t.Fatalf("FLUSH with failing Sync: status %d used %d, want IOERR(1) and 1", st, n)
	}
	if calls, _ := spy.counts(); calls != 1 {
		t.Fatalf("%d Sync calls, want 1", calls)
	}
	if n, st := b.do(t, tFlush, 0); st != sIOErr || n != 1 {
		t.Errorf("FLUSH after a failed Sync: status %d used %d, want IOERR(1) (sticky)", st, n)
	}
	if calls, _ := spy.counts(); calls != 1 {
		t.Errorf("%d Sync calls after the failure, want none more", calls-1)
	}
	if b.D.Status()&0x40 != 0 {
		t.Error("a failed FLUSH set DEVICE_NEEDS_RESET")
	}
	dst := b.Buf(uint64(len(want)), 0)
	if n, st := b.do(t, tIn, 10, virtiotest.Buffer{Addr: dst, Len: uint32(len(want)), Write: true}); st != sOK || n != uint32(len(want))+1 {
		t.Fatalf("IN after a failed FLUSH: status %d used %d", st, n)
	}
	if !bytes.Equal(b.Bytes(dst, uint64(len(want))), want) {
		t.Error("IN after a failed FLUSH read other data")
	}
	writeKnownBlocks(t, b)
	if err := b.Close(); !errors.Is(err, syscall.EIO) {
		t.Errorf("Close after a failed FLUSH = %v, want EIO", err)
	}
}

// Decision for a read-only disk (-disk PATH,ro): FLUSH answers OK without
// syncing. The device refuses every write (§5.2.6.2), so there is nothing
// of its own to make durable; Close does not sync either.
func TestBlockFlushReadOnlySkipsSync(t *testing.T) {
	b, spy := startSpiedBlock(t, makeImage(t), true)
	if f := b.D.DeviceFeatures(); f&(1<<9) == 0 || f&(1<<5) == 0 {
		t.Fatalf("features %#x: want FLUSH and RO", f)
	}
	if n, st := b.do(t, tFlush, 0); st != sOK || n != 1 {
		t.Fatalf("FLUSH on RO: status %d used %d, want OK and 1", st, n)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if calls, _ := spy.counts(); calls != 0 {
		t.Errorf("read-only disk: %d Sync calls, want 0", calls)
	}
	if ev := spy.events(); ev != "" {
		t.Errorf("read-only disk: backing saw %q", ev)
	}
}

const durabilityEnv = "GOVMM_VIRTIO_BLK_DURABILITY_IMAGE"

// TestBlockDurabilityChild is the child half of TestBlockDurabilityKill:
// it writes and flushes through the device, says so, and waits to be
// killed.
func TestBlockDurabilityChild(t *testing.T) {
	path := os.Getenv(durabilityEnv)
	if path == "" {
		t.Skip("child of TestBlockDurabilityKill only")
	}
	b, spy := startSpiedBlock(t, path, false)
	writeKnownBlocks(t, b)
	if n, st := b.do(t, tFlush, 0); st != sOK || n != 1 {
		t.Fatalf("FLUSH: status %d used %d", st, n)
	}
	// The kill cannot tell a page-cache write from a durable one: the
	// data got there through a real fsync that returned first.
	if calls, ret := spy.counts(); calls != 1 || ret != 1 || !strings.HasSuffix(spy.events(), "write sync") {
		t.Fatalf("FLUSH: %d Sync calls, %d returned, backing saw %q", calls, ret, spy.events())
	}
	os.Stdout.WriteString("FLUSHED\n")
	time.Sleep(time.Minute) // killed long before
}

// The VMM process dies by SIGKILL right after the guest's FLUSH completed:
// the data must be in the image when it is opened again.
func TestBlockDurabilityKill(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	path := makeImage(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestBlockDurabilityChild$", "-test.v")
	cmd.Env = append(os.Environ(), durabilityEnv+"="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	flushed := make(chan bool, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if strings.HasPrefix(s.Text(), "FLUSHED") {
				flushed <- true
				return
			}
		}
		flushed <- false
	}()
	select {
	case ok := <-flushed:
		if !ok {
			cmd.Wait()
			t.Fatal("child exited without flushing")
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal("child did not flush in time")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	want := make([]byte, 8*512)
	for i := range want {
		want[i] = byte(i*7 + i/512)
	}
	checkKnownBlocks(t, path, want)
}
