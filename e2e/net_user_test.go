//go:build kvm

package e2e

// User-mode networking (issue 9): no privilege, no tap. The guest runs
// busybox from Debian's busybox-static (the stock kernel's cache) through
// govmm exec, so it needs guest user space: on an emulated-ring-0 host
// testhosts runs these tests on the nested test host only.

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// userBlob is what each transfer moves: 10 MiB.
const userBlob = 10 << 20

// udhcpcScript is busybox udhcpc's hook (networking/udhcp/dhcpc.c runs it
// with "bound" and the lease in the environment): it configures eth0 and
// prints the lease for the test.
const udhcpcScript = `#!%[1]s sh
case "$1" in
bound|renew)
	%[1]s ip addr add "$ip/$mask" dev "$interface"
	%[1]s ip route add default via "$router"
	echo "lease: ip=$ip router=$router dns=$dns"
	;;
esac
`

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// randomBlob returns n random bytes.
func randomBlob(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// hostfwdExchange connects to the forwarded port until the guest's nc
// answers, then sends out and reads exactly len(out) bytes back, and
// returns them. The forwarder accepts before the guest listens; an early
// try ends with no data, and is retried.
func hostfwdExchange(addr string, out []byte, limit time.Duration) ([]byte, error) {
	deadline := time.Now().Add(limit)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			last = err
			time.Sleep(500 * time.Millisecond)
			continue
		}
		c.SetDeadline(time.Now().Add(5 * time.Minute))
		wrote := make(chan error, 1)
		go func() {
			_, err := c.Write(out)
			wrote <- err
		}()
		in := make([]byte, len(out))
		n, err := io.ReadFull(c, in)
		if n == 0 {
			c.Close()
			<-wrote
			last = fmt.Errorf("connection closed before any data (guest not listening yet?): %v", err)
			time.Sleep(500 * time.Millisecond)
			continue
		}
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("read %d of %d bytes: %w", n, len(out), err)
		}
		if err := <-wrote; err != nil {
			c.Close()
			return nil, fmt.Errorf("write: %w", err)
		}
		return in, c.Close()
	}
	return nil, fmt.Errorf("no exchange with the guest within %v: %v", limit, last)
}

// requireUserNetHelper makes sure govmm finds its user-network helper,
// govmm-usernet: in $GOVMM_USERNET, beside GOVMM_BIN (make build puts
// build/govmm-usernet beside build/govmm), or else built here for this
// test (when the harness built govmm itself).
func requireUserNetHelper(t *testing.T) {
	t.Helper()
	if os.Getenv("GOVMM_USERNET") != "" {
		return
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(paths.bin), "govmm-usernet")); err == nil {
		return
	}
	p := filepath.Join(t.TempDir(), "govmm-usernet")
	cmd := exec.Command("go", "build", "-o", p, "./cmd/govmm-usernet")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0") // its seccomp filter needs it
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/govmm-usernet: %v\n%s", err, out)
	}
	t.Setenv("GOVMM_USERNET", p)
}

// TestNetUserDHCPWgetHostfwd: with -net user the guest gets 10.0.2.15 by
// DHCP; busybox wget fetches 10 MiB from an HTTP server on the host's
// 127.0.0.1 through the gateway address; and through hostfwd the host
// exchanges 10 MiB each way with busybox nc in the guest. Every checksum
// matches.
//
//testhosts:hardware-only
func TestNetUserDHCPWgetHostfwd(t *testing.T) {
	h, dir := requireStock(t)
	requireUserNetHelper(t)
	bb := filepath.Join(dir, "busybox")
	tmp := t.TempDir()
	script := filepath.Join(tmp, "udhcpc.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(udhcpcScript, bb)), 0o755); err != nil {
		t.Fatal(err)
	}

	// The HTTP server the guest reaches at 10.0.2.2: loopback only.
	blob := randomBlob(t, userBlob)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
		w.Write(blob)
	})}
	go srv.Serve(l)
	defer srv.Close()
	httpPort := l.Addr().(*net.TCPAddr).Port

	fwdPort := freePort(t)
	const guestPort = 8080
	guest := strings.Join([]string{
		"set -e",
		"bb=" + bb,
		"$bb ip link set lo up",
		"$bb ip link set eth0 up",
		"$bb udhcpc -i eth0 -f -q -n -t 10 -s " + script,
		fmt.Sprintf("echo \"wget $($bb wget -q -O - http://10.0.2.2:%d/blob | $bb sha256sum)\"", httpPort),
		fmt.Sprintf("$bb head -c %d /dev/urandom > /dev/shm/out", userBlob),
		"echo \"sent $($bb sha256sum < /dev/shm/out)\"",
		fmt.Sprintf("$bb nc -l -p %d < /dev/shm/out > /dev/shm/in", guestPort),
		"echo \"got $($bb sha256sum < /dev/shm/in)\"",
	}, "\n")

	toGuest := randomBlob(t, userBlob)
	type exchange struct {
		back []byte
		err  error
	}
	done := make(chan exchange, 1)
	go func() {
		back, err := hostfwdExchange(fmt.Sprintf("127.0.0.1:%d", fwdPort), toGuest, execTimeout)
		done <- exchange{back, err}
	}()
	r := runExec(t, nil, "", execArgs("-net", fmt.Sprintf("user,hostfwd=tcp:127.0.0.1:%d-:%d", fwdPort, guestPort), "--", bb, "sh", "-c", guest)...)
	if r.code != 0 {
		t.Fatalf("%s: guest script failed\n%s", h, r)
	}
	var ex exchange
	select {
	case ex = <-done:
	case <-time.After(time.Minute):
		t.Fatalf("%s: the host side of the hostfwd exchange did not finish\n%s", h, r)
	}
	out := string(r.stdout)
	t.Logf("%s: guest output:\n%s", h, out)
	if !strings.Contains(out, "lease: ip=10.0.2.15 router=10.0.2.2 dns=10.0.2.2") {
		t.Errorf("%s: no DHCP lease of 10.0.2.15 via 10.0.2.2\n%s", h, out)
	}
	if want := "wget " + sha(blob); !strings.Contains(out, want) {
		t.Errorf("%s: wget checksum: want %q\n%s", h, want, out)
	}
	if ex.err != nil {
		t.Fatalf("%s: hostfwd: %v\n%s", h, ex.err, out)
	}
	if want := "sent " + sha(ex.back); !strings.Contains(out, want) {
		t.Errorf("%s: guest→host through hostfwd: the host got %d bytes with sha256 %s, not what the guest sent\n%s", h, len(ex.back), sha(ex.back), out)
	}
	if want := "got " + sha(toGuest); !strings.Contains(out, want) {
		t.Errorf("%s: host→guest through hostfwd: the guest's checksum is not the host's %s\n%s", h, sha(toGuest), out)
	}
	if bytes.Equal(ex.back, toGuest) {
		t.Errorf("%s: the guest echoed the host's bytes instead of sending its own", h)
	}
}
