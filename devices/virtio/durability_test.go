package virtio_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/govmm/govmm/devices/virtio"
)

const durabilityEnv = "GOVMM_VIRTIO_BLK_DURABILITY_IMAGE"

// TestBlockDurabilityChild is the child half of TestBlockDurabilityKill:
// it writes and flushes through the device, says so, and waits to be
// killed.
func TestBlockDurabilityChild(t *testing.T) {
	path := os.Getenv(durabilityEnv)
	if path == "" {
		t.Skip("child of TestBlockDurabilityKill only")
	}
	dev, err := virtio.NewBlock(path, false)
	if err != nil {
		t.Fatal(err)
	}
	b := startBlock(t, dev, fVersion1)
	writeKnownBlocks(t, b)
	if n, st := b.do(t, tFlush, 0); st != sOK || n != 1 {
		t.Fatalf("FLUSH: status %d used %d", st, n)
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
