// Command govmm-nested runs one command on a nested test host: a Linux L1
// booted under QEMU TCG with an emulated AMD-V CPU, where kvm-amd gives a
// /dev/kvm with hardware-virtualization semantics on any machine (package
// nestedhost). The command runs as root in the L1, chrooted into this
// machine's root (read-only over virtio-9p, with fresh /proc, /sys, /dev and
// tmpfs /tmp and /run), in the same working directory and environment.
//
//	govmm-nested [-timeout 30m] [-m 4G] [-smp 2] [-v] -- CMD [ARGS...]
//	govmm-nested -fetch      only install QEMU and cache the L1 kernel
//
// Its exit status is the command's; 124 when -timeout expired, 1 when the
// nested host itself failed, 2 for a usage error, 130/143 on SIGINT/SIGTERM.
// The binary must be static (CGO_ENABLED=0): the L1 runs it as its /init.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/govmm/govmm/nestedhost"
)

func main() {
	if nestedhost.IsGuest() {
		nestedhost.GuestMain() // never returns
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func defaultCache() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "govmm", "nested")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "govmm-nested-cache")
	}
	return filepath.Join(home, ".cache", "govmm", "nested")
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("govmm-nested", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 30*time.Minute, "stop the L1 after this long (0: no limit)")
	mem := fs.String("m", "4G", "L1 memory, in QEMU's syntax")
	cpus := fs.Int("smp", 2, "L1 vCPUs")
	cache := fs.String("cache", defaultCache(), "where the L1 kernel is cached")
	verbose := fs.Bool("v", false, "say what the nested host does: downloads, the QEMU command line, boot time")
	fetch := fs.Bool("fetch", false, "only install QEMU and cache the L1 kernel, then exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: govmm-nested [flags] -- CMD [ARGS...]\n       govmm-nested -fetch")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !*fetch && fs.NArg() == 0 {
		fmt.Fprintln(stderr, "govmm-nested: no command given (govmm-nested -- CMD [ARGS...])")
		return 2
	}
	if *cpus < 1 || *cpus > 64 {
		fmt.Fprintf(stderr, "govmm-nested: -smp %d: want 1 to 64\n", *cpus)
		return 2
	}
	if *timeout < 0 {
		fmt.Fprintf(stderr, "govmm-nested: -timeout %v: must not be negative\n", *timeout)
		return 2
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "govmm-nested: %v\n", err)
		return 1
	}
	var log io.Writer = io.Discard
	if *verbose {
		log = stderr
	}
	// Downloads are announced even without -v: they take a while.
	assets, err := nestedhost.EnsureAssets(*cache, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "govmm-nested:", err)
		return 1
	}
	fmt.Fprintf(log, "govmm-nested: QEMU %s, L1 kernel %s, %d modules\n", assets.QEMU, assets.Version, len(assets.Modules))
	if *fetch {
		return 0
	}

	// SIGINT and SIGTERM stop the run: QEMU is killed, and the exit code
	// says which signal it was.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var sig atomic.Value
	go func() {
		if s, ok := <-sigs; ok {
			sig.Store(s)
			cancel()
		}
	}()

	res, err := nestedhost.Run(ctx, nestedhost.Options{
		Argv: fs.Args(), Env: guestEnv(os.Environ()),
		Timeout: *timeout, Memory: *mem, CPUs: *cpus,
		Init: self, Assets: assets, Output: stdout, Log: log,
	})
	fmt.Fprintf(log, "govmm-nested: L1 ready after %.1f s; whole run %.1f s\n", res.Boot.Seconds(), res.Total.Seconds())
	switch {
	case errors.Is(err, nestedhost.ErrTimeout):
		fmt.Fprintf(stderr, "govmm-nested: %v\n", err)
		return 124
	case err != nil && ctx.Err() != nil:
		s, _ := sig.Load().(os.Signal)
		fmt.Fprintf(stderr, "govmm-nested: stopped by %v; QEMU killed\n", s)
		if s == syscall.SIGINT {
			return 130
		}
		return 143
	case err != nil:
		fmt.Fprintln(stderr, "govmm-nested:", err)
		return 1
	}
	return res.Exit
}

// guestEnv is the command's environment: this process's, less what names
// places that do not exist in the L1.
func guestEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "TMPDIR=") {
			continue // the L1's /tmp is its own tmpfs
		}
		out = append(out, kv)
	}
	return out
}
