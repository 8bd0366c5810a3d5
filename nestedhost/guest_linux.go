package nestedhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/govmm/govmm/guestinit"
)

// Where the L1's /init mounts things, inside its initramfs.
const (
	l1Root = "/host"      // this machine's root, read-only; the command's "/"
	l1Run  = "/nestedrun" // the run directory, read-write
	l1Mods = "/modules"   // the .ko files, in load order
	l1Tmp  = "/scratch"   // a tmpfs for the /tmp overlay's upper layer
	p9Opts = "trans=virtio,version=9p2000.L,msize=512000"
)

// IsGuest reports whether this process is the L1's /init.
func IsGuest() bool { return os.Getpid() == 1 }

// GuestMain is the L1's /init. It never returns: it powers the L1 off, after
// writing the command's status (or why there was none) to the run directory.
func GuestMain() {
	st := guest()
	if st.Error != "" {
		fmt.Fprintf(os.Stderr, "nestedhost (L1): %s\n", st.Error)
	}
	if b, err := json.Marshal(st); err == nil {
		writeStatus(b)
	}
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {} // PID 1 must not exit: that would panic the L1
}

// guest does the work of GuestMain and returns the status to report.
func guest() status {
	j, err := prepare()
	if err != nil {
		return status{Exit: -1, Error: err.Error()}
	}
	return runJob(j)
}

// prepare loads the modules, mounts everything, reads the job, and chroots
// into the host's root. It returns the job to run.
func prepare() (job, error) {
	var j job
	fail := func(format string, a ...any) (job, error) { return j, fmt.Errorf(format, a...) }
	if err := guestinit.MountAll(guestinit.EarlyMounts()); err != nil {
		return fail("%v", err)
	}
	if err := commandConsole(); err != nil {
		return fail("%v", err)
	}
	if err := guestinit.LoopbackUp(); err != nil {
		return fail("%v", err)
	}
	if err := loadModules(l1Mods); err != nil {
		return fail("%v", err)
	}
	if err := mount(runTag, l1Run, 0, p9Opts); err != nil {
		return fail("%v", err)
	}
	if err := mount(hostRootTag, l1Root, unix.MS_RDONLY, p9Opts+",ro,cache=loose"); err != nil {
		return fail("%v", err)
	}
	b, err := os.ReadFile(filepath.Join(l1Run, jobFile))
	if err != nil || json.Unmarshal(b, &j) != nil || len(j.Argv) == 0 {
		return fail("cannot read the job (%v)", err)
	}
	// The host's /tmp stays visible (a checkout there is a common CI
	// layout), under an overlay whose upper layer is this L1's memory.
	if err := guestinit.Overlay(l1Root+"/tmp", l1Root+"/tmp", l1Tmp); err != nil {
		return fail("%v", err)
	}
	// Fresh kernel file systems and scratch space inside the host's root:
	// the command sees this L1's /proc, /sys and /dev (with /dev/kvm), and
	// writes to /tmp and /run land in memory, never on the host.
	if err := guestinit.MountAll(guestinit.SystemMounts(l1Root)); err != nil {
		return fail("%v", err)
	}
	writeReady()
	// The status is written from inside the chroot, where the run
	// directory is out of sight: keep it open.
	fd, err := unix.Open(l1Run, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail("open %s: %v", l1Run, err)
	}
	runDirFd = fd
	if err := guestinit.EnterRoot(l1Root, j.Dir); err != nil {
		return fail("%v", err)
	}
	return j, nil
}

// runJob runs the command and returns its exit status.
func runJob(j job) status {
	cmd := guestinit.Command(j.Argv, j.Env)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr // stdin: /dev/null
	code, msg := guestinit.Status(cmd.Run())
	if msg != "" {
		msg = j.Argv[0] + ": " + msg
	}
	return status{Exit: code, Error: msg}
}

// runDirFd is the run directory, opened before the chroot (-1 before).
var runDirFd = -1

// writeStatus writes the status file through runDirFd when the run
// directory is out of sight, and fsyncs it: the L1 powers off right after.
func writeStatus(b []byte) {
	dir := runDirFd
	if dir < 0 {
		writeSynced(filepath.Join(l1Run, statusFile), b)
		return
	}
	fd, err := unix.Openat(dir, statusFile, unix.O_WRONLY|unix.O_CREAT|unix.O_TRUNC|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return
	}
	unix.Write(fd, b)
	unix.Fsync(fd)
	unix.Close(fd)
}

// mount mounts the 9p share tag at dst (creating it).
func mount(tag, dst string, flags uintptr, opts string) error {
	return guestinit.Mount{Source: tag, Target: dst, FSType: "9p", Flags: flags, Data: opts}.Do()
}

// loadModules loads every .ko in dir in name order (the host numbered them
// in dependency order) with finit_module(2).
func loadModules(dir string) error {
	mods, err := filepath.Glob(filepath.Join(dir, "*.ko"))
	if err != nil {
		return err
	}
	sort.Strings(mods)
	for _, m := range mods {
		f, err := os.Open(m)
		if err != nil {
			return err
		}
		err = unix.FinitModule(int(f.Fd()), "", 0)
		f.Close()
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("insmod %s: %w", filepath.Base(m), err)
		}
	}
	return nil
}

// commandConsole makes ttyS0, the serial port the host streams, this
// process's stdout and stderr. The kernel's own console is ttyS1, which the
// host keeps in a log file, so kernel messages never mix with the command's
// output. Output post-processing is turned off, so "\n" is not sent as
// "\r\n".
func commandConsole() error {
	fd, err := unix.Open("/dev/ttyS0", unix.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		return fmt.Errorf("open /dev/ttyS0: %w", err)
	}
	if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		t.Oflag &^= unix.OPOST
		unix.IoctlSetTermios(fd, unix.TCSETS, t)
	}
	for _, to := range []int{1, 2} {
		if err := unix.Dup2(fd, to); err != nil {
			return fmt.Errorf("dup2 ttyS0: %w", err)
		}
	}
	return unix.Close(fd)
}

// writeReady records the L1's boot time and whether /dev/kvm works.
func writeReady() {
	var rd ready
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			rd.Uptime, _ = strconv.ParseFloat(f[0], 64)
		}
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		rd.Kernel = unix.ByteSliceToString(u.Release[:])
	}
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		rd.KVM = true
		f.Close()
	}
	if b, err := json.Marshal(rd); err == nil {
		writeSynced(filepath.Join(l1Run, readyFile), b)
	}
}

// writeSynced writes a small file and fsyncs it, so the host sees it even
// though the L1 powers off right after.
func writeSynced(path string, b []byte) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	f.Write(b)
	f.Sync()
	f.Close()
}
