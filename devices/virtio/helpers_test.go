package virtio_test

import (
	"testing"

	"github.com/govmm/govmm/devices/virtio"
	"github.com/govmm/govmm/devices/virtio/virtiotest"
)

// Feature bits by number, from virtio 1.2 §6 and §5.2.3, so tests do not
// check the code against itself.
const (
	fIndirect = 1 << 28
	fEventIdx = 1 << 29
	fVersion1 = 1 << 32
)

func newEnv(t *testing.T, dev virtio.Device) *virtiotest.Env {
	t.Helper()
	e, err := virtiotest.NewEnv(dev)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// startRNG returns an initialized entropy device with one queue of size n.
func startRNG(t *testing.T, features uint64, n uint16) (*virtiotest.Env, *virtiotest.SplitQueue) {
	t.Helper()
	e := newEnv(t, virtio.NewRNG())
	q := e.NewQueue(n)
	if err := e.Start(features, q); err != nil {
		t.Fatal(err)
	}
	return e, q
}
