package hostnet

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// userReadyTimeout bounds the helper's start, up to its ready line. It
// takes milliseconds on a host with hardware virtualization; the nested
// test host emulates its CPU (TCG) and is far slower.
const userReadyTimeout = 60 * time.Second

// userReapGrace is how long a helper that failed to start has to exit by
// itself before it is killed.
const userReapGrace = 5 * time.Second

// UserConfig configures user-mode networking.
type UserConfig struct {
	// MAC is the guest's MAC address: it gets the static DHCP lease
	// 10.0.2.15. Required.
	MAC net.HardwareAddr
	// Forwards are host to guest TCP port forwards: StartUser listens on
	// each HostAddr, and the gateway connects each accepted connection to
	// the guest's GuestPort.
	Forwards []Forward
	// DNS are the host DNS servers the guest's queries are relayed to, as
	// "IP" (port 53) or "IP:PORT". Empty: the helper reads the nameserver
	// lines of /etc/resolv.conf once, at start.
	DNS []string
	// NoSandbox runs the helper without its seccomp filter (govmm
	// -sandbox=off).
	NoSandbox bool
}

// UserProc is user-mode networking in a helper process: the gateway (a
// gVisor netstack with DHCP, a DNS relay, NAT through host sockets and the
// port forwards) runs in govmm-usernet, confined by its own seccomp
// filter, so that govmm neither links it nor makes its socket calls. The
// device's side is FD, a socket with one bare Ethernet frame per record.
type UserProc struct {
	fd   int
	cmd  *exec.Cmd
	once sync.Once
}

// StartUser starts user-mode networking: it binds the Forwards' host
// addresses, makes the frame socket pair, starts the helper (see
// findUserHelper for where it is looked for) with the gateway's end and
// the listeners, and waits for it to serve. Call it during set-up, before
// govmm's sandbox. Errors are one line starting "user network: "; a
// forward whose address is taken is named (ListenForward).
func StartUser(cfg UserConfig) (*UserProc, error) {
	p, err := startUser(cfg)
	if err != nil {
		return nil, fmt.Errorf("user network: %w", err)
	}
	return p, nil
}

func startUser(cfg UserConfig) (*UserProc, error) {
	if len(cfg.MAC) != 6 || cfg.MAC[0]&1 != 0 {
		return nil, fmt.Errorf("guest MAC %q is not a unicast Ethernet address", cfg.MAC)
	}
	// The helper's descriptors 3, 4, ...: the frame socket, the listeners.
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close() // the helper has its own copies
		}
	}()
	for _, fw := range cfg.Forwards {
		ln, err := ListenForward(fw)
		if err != nil {
			return nil, err
		}
		f, err := ln.File()
		ln.Close()
		if err != nil {
			return nil, fmt.Errorf("forward %s to guest port %d: %w", fw.HostAddr, fw.GuestPort, err)
		}
		files = append(files, f)
	}
	path, err := findUserHelper()
	if err != nil {
		return nil, err
	}
	dev, frames, err := NewFramePair()
	if err != nil {
		return nil, err
	}
	files = append([]*os.File{frames}, files...)
	r, w, err := os.Pipe()
	if err != nil {
		unix.Close(dev)
		return nil, err
	}
	defer r.Close()
	cmd := exec.Command(path, userHelperArgs(cfg)...)
	cmd.ExtraFiles = files
	cmd.Stdout = w
	cmd.Stderr = os.Stderr
	// Its own process group: a ^C on the terminal is for govmm (or the
	// guest), and the helper ends when govmm closes the socket.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		unix.Close(dev)
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := awaitReady(r, cmd, path); err != nil {
		unix.Close(dev)
		return nil, err
	}
	return &UserProc{fd: dev, cmd: cmd}, nil
}

// userHelperArgs are the helper's arguments for cfg.
func userHelperArgs(cfg UserConfig) []string {
	args := []string{"-mac", cfg.MAC.String()}
	if len(cfg.Forwards) > 0 {
		var ports []string
		for _, fw := range cfg.Forwards {
			ports = append(ports, strconv.Itoa(int(fw.GuestPort)))
		}
		args = append(args, "-forwards", strings.Join(ports, ","))
	}
	if len(cfg.DNS) > 0 {
		args = append(args, "-dns", strings.Join(cfg.DNS, ","))
	}
	if cfg.NoSandbox {
		args = append(args, "-sandbox=off")
	}
	return args
}

// awaitReady reads the helper's first line from r, for at most
// userReadyTimeout. Unless it is UserHelperReady the helper is reaped,
// and the error is its line, or says how it ended.
func awaitReady(r *os.File, cmd *exec.Cmd, path string) error {
	_ = r.SetReadDeadline(time.Now().Add(userReadyTimeout))
	line, err := bufio.NewReaderSize(io.LimitReader(r, 4096), 4096).ReadString('\n')
	line = strings.TrimSpace(line)
	if err == nil && line == UserHelperReady {
		return nil
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		cmd.Process.Kill()
		cmd.Wait()
		return fmt.Errorf("%s: not ready after %v", path, userReadyTimeout)
	}
	werr := reap(cmd)
	switch {
	case line != "":
		return errors.New(line) // one line, e.g. "user network: ..."
	case werr != nil:
		return fmt.Errorf("%s exited before it was ready: %v", path, werr)
	}
	return fmt.Errorf("%s exited before it was ready", path)
}

// reap waits for the helper to exit, killing it after userReapGrace.
func reap(cmd *exec.Cmd) error {
	t := time.AfterFunc(userReapGrace, func() { cmd.Process.Kill() })
	defer t.Stop()
	return cmd.Wait()
}

// FD is the device's side of the network: a non-blocking socket on which
// each read returns one Ethernet frame and each write sends one, with no
// virtio_net_hdr. End of file (or EPIPE) on it means the helper is gone.
func (p *UserProc) FD() int { return p.fd }

// VnetHdr reports false: frames on FD are bare Ethernet frames.
func (p *UserProc) VnetHdr() bool { return false }

// Pid is the helper's process ID.
func (p *UserProc) Pid() int { return p.cmd.Process.Pid }

// Close closes FD; the helper then reads end of file on its end, closes
// the forwards and every connection, and exits by itself. Close only
// closes a descriptor, a call govmm's sandbox allows; it neither signals
// nor waits for the helper (Wait does). A second call does nothing.
func (p *UserProc) Close() error {
	p.once.Do(func() { unix.Close(p.fd) })
	return nil
}

// Wait waits for the helper to exit, after Close, and reaps it. It makes
// wait4, which govmm's sandbox forbids: a run under it leaves the exited
// helper to be reaped when govmm exits.
func (p *UserProc) Wait() error { return p.cmd.Wait() }
