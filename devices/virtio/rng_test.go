package virtio_test

import (
	"bytes"
	"testing"

	"github.com/govmm/govmm/devices/virtio/virtiotest"
)

func TestRNGFillsBuffers(t *testing.T) {
	e, q := startRNG(t, fVersion1|fEventIdx, 16)
	a := e.Buf(4096, 0)
	b := e.Buf(1000, 0)
	q.AddChain(virtiotest.Buffer{Addr: a, Len: 3000, Write: true}, virtiotest.Buffer{Addr: a + 3000, Len: 1096, Write: true})
	u, err := e.Submit(0, q)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len != 4096 {
		t.Fatalf("used len %d, want 4096", u.Len)
	}
	first := e.Bytes(a, 4096)
	// 1096 zero bytes at the end of a 4096-byte random fill would be a
	// 2^-8768 event: check both descriptors were filled.
	if bytes.Equal(first[3000:], make([]byte, 1096)) || bytes.Equal(first[:3000], make([]byte, 3000)) {
		t.Fatal("buffer not filled")
	}
	q.AddChain(virtiotest.Buffer{Addr: b, Len: 1000, Write: true})
	if u, err := e.Submit(0, q); err != nil || u.Len != 1000 {
		t.Fatalf("second request: %+v %v", u, err)
	}
	if bytes.Equal(e.Bytes(b, 1000), first[:1000]) {
		t.Fatal("two requests returned the same bytes")
	}
}

func TestRNGBoundsRequest(t *testing.T) {
	e, q := startRNG(t, fVersion1, 16)
	const n = 100 << 10
	a := e.Buf(n, 0xAB)
	q.AddChain(virtiotest.Buffer{Addr: a, Len: n, Write: true})
	u, err := e.Submit(0, q)
	if err != nil {
		t.Fatal(err)
	}
	if u.Len != 64<<10 {
		t.Fatalf("used len %d, want 65536", u.Len)
	}
	if !bytes.Equal(e.Bytes(a+64<<10, n-64<<10), bytes.Repeat([]byte{0xAB}, n-64<<10)) {
		t.Fatal("bytes past the bound were written")
	}
}
