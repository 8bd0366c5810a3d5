# govmm: build, test and demo. `make test` works on a fresh machine of this
# project's kind: it installs what it needs with apt, builds the test kernel
# once (about 8 minutes on 2 cores, cached in $(CACHE)), then runs every test.

GO      ?= go
# Every build and test is without cgo, like the release binary: a cgo test
# binary's threads come from glibc, which makes a forbidden system call
# under the sandbox's filter (internal/nocgo).
export CGO_ENABLED := 0
BUILD   := build
CACHE   := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/govmm
# FUZZTIME bounds each fuzz target's run inside `make test`.
FUZZTIME ?= 10s

GOVMM     := $(BUILD)/govmm
NESTED    := $(BUILD)/govmm-nested
INIT      := $(BUILD)/init
INITRAMFS := $(BUILD)/initramfs.cpio

.PHONY: all build nested test unit kvmtests fuzz demo kernel initramfs tools vet bench clean

all: build

# CGO_ENABLED=0: a static binary, with no libc or loader mapped (a smaller
# resident set: see make bench, row 4).
#
# GOLDFLAGS turns transparent huge pages off for the Go heap
# (GODEBUG=disablethp=1 as the binary's default). Where the host's THP mode
# is "always" (Debian's default), a heap of a few hundred KiB otherwise
# fills whole 2 MiB pages: in a test-kernel boot on the nested test host,
# 4.4 MiB of anonymous memory instead of 1.7 (docs/HOST-KVM.md). Guest RAM
# keeps its MADV_HUGEPAGE. The go command has no //go:debug for this
# setting, hence the linker flag; DefaultGODEBUG is empty for go 1.26, so
# the flag replaces nothing.
GOLDFLAGS := -X=runtime.godebugDefault=disablethp=1

# build makes build/govmm and build/govmm-usernet, the user-mode network
# helper govmm starts for -net user (it looks beside its own binary).
build:
	CGO_ENABLED=0 $(GO) build -ldflags='$(GOLDFLAGS)' -o $(GOVMM) ./cmd/govmm
	CGO_ENABLED=0 $(GO) build -ldflags='$(GOLDFLAGS)' -o $(BUILD)/govmm-usernet ./cmd/govmm-usernet

# nested builds govmm-nested, the nested test host (static: the L1 runs it as
# its /init), and installs QEMU and caches the L1 kernel if they are missing.
nested:
	CGO_ENABLED=0 $(GO) build -o $(NESTED) ./cmd/govmm-nested
	@$(NESTED) -fetch

demo: build
	$(GOVMM) demo

# tools installs what the tests use from Debian: gcc for the test /init,
# mke2fs for disk images, iasl (acpica-tools) to disassemble the ACPI
# tables and ping (iputils-ping) for the tap network test. The kernel build
# installs its own packages.
tools:
	@command -v gcc >/dev/null && command -v mke2fs >/dev/null && command -v iasl >/dev/null && command -v ping >/dev/null || { \
	  echo "make: installing gcc, e2fsprogs, acpica-tools and iputils-ping with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev e2fsprogs acpica-tools iputils-ping; }

# kernel builds (or reuses) the test kernel and prints its cache directory.
kernel:
	@scripts/build-kernel.sh

$(INIT): testdata/init/init.c | tools
	@mkdir -p $(BUILD)
	gcc -static -nostdlib -ffreestanding -Os -fno-pie -no-pie -fno-stack-protector \
	    -fno-asynchronous-unwind-tables -Wl,--build-id=none -Wl,-z,noseparate-code \
	    -Wall -Wextra -Werror -o $@ $<

initramfs: $(INITRAMFS)
$(INITRAMFS): $(INIT) build
	$(GOVMM) initramfs -o $@ -init $(INIT)

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { gofmt -l .; echo "gofmt: files above need formatting"; exit 1; }
	$(GO) vet ./...
	$(GO) vet -tags kvm,nestedhost ./...

# unit runs the unit tests: everything a plain `go test ./...` builds. They
# need no KVM. The KVM and e2e tests are in files with the kvm build tag.
unit:
	GOVMM_KERNEL_DIR=$$(scripts/build-kernel.sh --print-dir) $(GO) test -count=1 ./...

# kvmtests runs every KVM and e2e test on each KVM host this machine offers
# (this machine's /dev/kvm as "host", the nested test host as "nested") and
# ends with one "<host>: N passed, N failed, N skipped" line per host.
kvmtests: build nested $(INITRAMFS)
	@kdir=$$(scripts/build-kernel.sh) && sdir=$$(scripts/fetch-stock-kernel.sh) && \
	  GOVMM_KERNEL_DIR=$$kdir GOVMM_STOCK_DIR=$$sdir GOVMM_BIN=$(CURDIR)/$(GOVMM) GOVMM_INITRAMFS=$(CURDIR)/$(INITRAMFS) \
	  $(GO) run ./testhosts -govmm-nested $(NESTED)

# fuzz runs every fuzz target for FUZZTIME.
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# test is what CI runs: vet, the unit tests, the fuzz targets for a bounded
# time, then every KVM and e2e test on every KVM host (kvmtests), which ends
# the output with one summary line per host. No KVM or e2e test may skip.
test: vet tools $(INITRAMFS)
	@echo "make: test kernel (built once, then cached in $(CACHE))"
	@scripts/build-kernel.sh >/dev/null
	@echo "make: unit tests (go test ./...: no KVM needed)"
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory fuzz
	@echo "make: KVM and e2e tests on each KVM host (boots take minutes on an emulated-ring-0 host)"
	@$(MAKE) --no-print-directory kvmtests

# bench prints the benchmark table (bench/README.md). Rows 1-6 run here;
# rows 7-9 boot the test kernel and Debian's stock kernel with govmm and
# with QEMU (microvm and pc) side by side, inside one L1 boot of the nested
# test host (and here too when this machine's KVM runs ring 0 in hardware).
# About 30-40 minutes on a loaded 2-core machine; progress goes to stderr.
# make test runs it with -quick (TestQuickSuite).
bench: build nested $(INITRAMFS)
	@kdir=$$(scripts/build-kernel.sh) && sdir=$$(scripts/fetch-stock-kernel.sh) && \
	  $(GO) run ./bench/cmd/govmm-bench -govmm $(GOVMM) -initramfs $(INITRAMFS) -kernel-dir $$kdir \
	    -stock-dir $$sdir -nested $(NESTED)

clean:
	rm -rf $(BUILD)
