package guestinit

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// channelDevice is the virtio console that carries the frames.
const channelDevice = "/dev/hvc0"

// outputGrace is how long the command's output may go on after it exited
// (a background process that still holds stdout): then the exit status is
// sent and the machine powered off.
const outputGrace = time.Second

// IsExecInit reports whether this process is the init of a govmm exec
// guest: PID 1, with a job in its initramfs.
func IsExecInit() bool {
	if os.Getpid() != 1 {
		return false
	}
	_, err := os.Stat(JobPath)
	return err == nil
}

// ExecMain is the exec guest's /init. It never returns: it powers the
// machine off when the command is done or could not run.
func ExecMain() {
	execInit()
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {} // PID 1 must not exit: that would panic the kernel
}

// execInit does ExecMain's work; a failure is reported on the kernel
// console and, once it is open, on the channel.
func execInit() {
	var ch *channel
	fail := func(err error) {
		fmt.Fprintf(os.Stderr, "govmm exec (guest init): %v\n", err)
		if ch != nil {
			ch.send(FrameError, []byte(err.Error()))
			ch.drain()
		}
	}
	if err := MountAll(EarlyMounts()); err != nil {
		fail(err)
		return
	}
	if err := LoopbackUp(); err != nil {
		fail(err)
		return
	}
	b, err := os.ReadFile(JobPath)
	if err != nil {
		fail(err)
		return
	}
	j, err := ParseJob(b)
	if err != nil {
		fail(err)
		return
	}
	if j.Console {
		if err := enterJobRoot(j); err != nil {
			fail(err)
			return
		}
		runOnConsole(j)
		return
	}
	if ch, err = openChannel(channelDevice); err != nil {
		fail(err)
		return
	}
	ch.send(FrameReady, []byte(ProtocolVersion))
	if err := enterJobRoot(j); err != nil {
		fail(err)
		return
	}
	code, msg := ch.run(j)
	if msg != "" {
		ch.send(FrameStderr, []byte("govmm exec: "+msg+"\n"))
	}
	ch.send(FrameExit, ExitPayload(code))
	ch.drain()
}

// enterJobRoot builds the job's root (setupRoot) and makes it the root and
// working directory of this process.
func enterJobRoot(j Job) error {
	if err := setupRoot(j); err != nil {
		return err
	}
	return EnterRoot(newRoot, j.Dir)
}

// setupRoot builds the command's root at newRoot: the root share under an
// overlay, the read-write shares, fresh kernel file systems.
func setupRoot(j Job) error {
	if err := j.RootMount().Do(); err != nil {
		return err
	}
	if err := Overlay(newRoot, lowerDir, scratchDir); err != nil {
		return err
	}
	if err := MountAll(j.RWMounts(newRoot)); err != nil {
		return err
	}
	return MountAll(SystemMounts(newRoot))
}

// runOnConsole runs the command in a new session whose controlling
// terminal is the console this init got from the kernel (stdin), so that
// an interactive shell has job control and ^C.
func runOnConsole(j Job) {
	// The root's own /dev/console, so that ttyname(3) finds the
	// terminal (the kernel opened the initramfs's node for this init).
	tty := os.Stdin
	if f, err := os.OpenFile("/dev/console", os.O_RDWR, 0); err == nil {
		defer f.Close()
		tty = f
	}
	var err error
	for _, ctty := range []bool{true, false} {
		cmd := Command(j.Argv, j.Env)
		cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: ctty, Ctty: 0}
		if err = cmd.Start(); err == nil {
			err = cmd.Wait()
			break
		}
		// Without a controlling terminal, the shell still runs.
	}
	if _, msg := Status(err); msg != "" {
		fmt.Fprintf(os.Stderr, "govmm (guest init): %s: %s\n", j.Argv[0], msg)
	}
}

// channel is the raw virtio console; whole frames are written under mu.
type channel struct {
	f  *os.File
	mu sync.Mutex
}

// openChannel opens the console and puts it in raw mode (cfmakeraw).
func openChannel(dev string) (*channel, error) {
	f, err := os.OpenFile(dev, os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, err
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	var terr error
	rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			terr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		terr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	if terr != nil {
		f.Close()
		return nil, fmt.Errorf("%s: raw mode: %w", dev, terr)
	}
	return &channel{f: f}, nil
}

// send writes one frame; errors are dropped (the host is gone).
func (c *channel) send(typ byte, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.f.Write(AppendFrame(make([]byte, 0, HeaderLen+len(payload)), typ, payload))
}

// drain waits until the console has handed every byte to the host
// (tcdrain): the machine powers off right after.
func (c *channel) drain() {
	if rc, err := c.f.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { unix.IoctlSetInt(int(fd), unix.TCSBRK, 1) })
	}
}

// run runs the job's command with its stdio on the channel and returns its
// exit status.
func (c *channel) run(j Job) (int, string) {
	cmd := Command(j.Argv, j.Env)
	inR, inW, err := os.Pipe()
	if err != nil {
		return 126, err.Error()
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return 126, err.Error()
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		return 126, err.Error()
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = inR, outW, errW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	errW.Close()
	if err != nil {
		inW.Close()
		return Status(err)
	}
	go c.feed(inW)
	var wg sync.WaitGroup
	for _, s := range []struct {
		r   *os.File
		typ byte
	}{{outR, FrameStdout}, {errR, FrameStderr}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.forward(s.r, s.typ)
		}()
	}
	err = cmd.Wait()
	// Output still in the pipes is sent; a process left behind that
	// keeps them open gets outputGrace.
	outR.SetReadDeadline(time.Now().Add(outputGrace))
	errR.SetReadDeadline(time.Now().Add(outputGrace))
	wg.Wait()
	return Status(err)
}

// forward sends what r yields as frames of type typ until r ends.
func (c *channel) forward(r *os.File, typ byte) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			c.send(typ, buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// feed writes FrameStdin payloads to the command's stdin and closes it at
// FrameStdinEOF. Once the command stops reading (EPIPE), further input is
// read and dropped, so that the host is never blocked.
func (c *channel) feed(w *os.File) {
	open := true
	for {
		f, err := ReadFrame(c.f)
		if err != nil {
			if !errors.Is(err, io.EOF) {
				fmt.Fprintf(os.Stderr, "govmm exec (guest init): channel: %v\n", err)
			}
			if open {
				w.Close()
			}
			return
		}
		switch {
		case !open:
		case f.Type == FrameStdin:
			if _, err := w.Write(f.Payload); err != nil {
				w.Close()
				open = false
			}
		case f.Type == FrameStdinEOF:
			w.Close()
			open = false
		}
	}
}
