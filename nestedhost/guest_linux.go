package nestedhost

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
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
	for _, m := range []struct{ src, dst, fstype, opts string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
	} {
		if err := mount(m.src, m.dst, m.fstype, 0, m.opts); err != nil {
			return fail("%v", err)
		}
	}
	if err := commandConsole(); err != nil {
		return fail("%v", err)
	}
	if err := loadModules(l1Mods); err != nil {
		return fail("%v", err)
	}
	if err := mount(runTag, l1Run, "9p", 0, p9Opts); err != nil {
		return fail("%v", err)
	}
	if err := mount(hostRootTag, l1Root, "9p", unix.MS_RDONLY, p9Opts+",ro,cache=loose"); err != nil {
		return fail("%v", err)
	}
	b, err := os.ReadFile(filepath.Join(l1Run, jobFile))
	if err != nil || json.Unmarshal(b, &j) != nil || len(j.Argv) == 0 {
		return fail("cannot read the job (%v)", err)
	}
	// The host's /tmp stays visible (a checkout there is a common CI
	// layout), under an overlay whose upper layer is this L1's memory.
	if err := mount("tmpfs", l1Tmp, "tmpfs", 0, "mode=0755"); err != nil {
		return fail("%v", err)
	}
	for _, d := range []string{l1Tmp + "/upper", l1Tmp + "/work"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fail("%v", err)
		}
	}
	if err := os.Chmod(l1Tmp+"/upper", 0o1777); err != nil {
		return fail("%v", err)
	}
	if err := mount("overlay", l1Root+"/tmp", "overlay", 0,
		"lowerdir="+l1Root+"/tmp,upperdir="+l1Tmp+"/upper,workdir="+l1Tmp+"/work"); err != nil {
		return fail("%v", err)
	}
	// Fresh kernel file systems and scratch space inside the host's root:
	// the command sees this L1's /proc, /sys and /dev (with /dev/kvm), and
	// writes to /tmp and /run land in memory, never on the host.
	for _, m := range []struct{ src, dst, fstype, opts string }{
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"devtmpfs", "/dev", "devtmpfs", ""},
		{"devpts", "/dev/pts", "devpts", "newinstance,ptmxmode=0666"},
		{"tmpfs", "/dev/shm", "tmpfs", ""},
		{"tmpfs", "/run", "tmpfs", "mode=0755"},
	} {
		if err := mount(m.src, l1Root+m.dst, m.fstype, 0, m.opts); err != nil {
			return fail("%v", err)
		}
	}
	writeReady()
	// The status is written from inside the chroot, where the run
	// directory is out of sight: keep it open.
	fd, err := unix.Open(l1Run, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fail("open %s: %v", l1Run, err)
	}
	runDirFd = fd
	if err := unix.Chroot(l1Root); err != nil {
		return fail("chroot %s: %v", l1Root, err)
	}
	if err := os.Chdir(j.Dir); err != nil {
		return fail("the working directory is not visible in the L1: %v", err)
	}
	return j, nil
}

// runJob runs the command and returns its exit status.
func runJob(j job) status {
	// exec.Command looks Argv[0] up in this process's PATH: use the job's.
	os.Setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	for _, kv := range j.Env {
		if p, ok := strings.CutPrefix(kv, "PATH="); ok {
			os.Setenv("PATH", p)
		}
	}
	cmd := exec.Command(j.Argv[0], j.Argv[1:]...)
	cmd.Env = j.Env
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr // stdin: /dev/null
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return status{Exit: 0}
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return status{Exit: 128 + int(ws.Signal())}
		}
		return status{Exit: ee.ExitCode()}
	}
	return status{Exit: 127, Error: fmt.Sprintf("%s: %v", j.Argv[0], err)}
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

// mount makes dst (creating it) and mounts src there.
func mount(src, dst, fstype string, flags uintptr, opts string) error {
	if err := os.MkdirAll(dst, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("mkdir %s: %w", dst, err)
	}
	if err := unix.Mount(src, dst, fstype, flags, opts); err != nil {
		return fmt.Errorf("mount %s (%s) on %s: %w", src, fstype, dst, err)
	}
	return nil
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
