# govmm: build, test and demo. `make test` works on a fresh machine of this
# project's kind: it installs what it needs with apt, builds the test kernel
# once (about 8 minutes on 2 cores, cached in $(CACHE)), then runs every test.

GO      ?= go
BUILD   := build
CACHE   := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/govmm
# FUZZTIME bounds each fuzz target's run inside `make test`.
FUZZTIME ?= 10s

GOVMM     := $(BUILD)/govmm
INIT      := $(BUILD)/init
INITRAMFS := $(BUILD)/initramfs.cpio

.PHONY: all build test unit fuzz demo kernel initramfs tools vet bench clean

all: build

# CGO_ENABLED=0: a static binary, with no libc or loader mapped (a smaller
# resident set: see make bench, row 4).
build:
	CGO_ENABLED=0 $(GO) build -o $(GOVMM) ./cmd/govmm

demo: build
	$(GOVMM) demo

# tools installs what the tests use from Debian: gcc for the test /init and
# mke2fs for disk images. The kernel build installs its own packages.
tools:
	@command -v gcc >/dev/null && command -v mke2fs >/dev/null || { \
	  echo "make: installing gcc and e2fsprogs with apt-get"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev e2fsprogs; }

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

# unit runs every package's tests except the kernel boots (e2e): the unit
# tests and the KVM tests with hand-assembled guests, in seconds.
unit:
	$(GO) test $$($(GO) list ./... | grep -v /e2e)

# fuzz runs every fuzz target for FUZZTIME.
fuzz:
	@FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

# test is what CI runs: vet, every unit/KVM/e2e test (no skips on a machine
# with /dev/kvm), then the fuzz targets for a bounded time.
test: vet tools $(INITRAMFS)
	@echo "make: test kernel (built once, then cached in $(CACHE))"
	@kdir=$$(scripts/build-kernel.sh) && \
	  echo "make: go test ./... (kernel boots take minutes on an emulated-ring-0 host) with GOVMM_KERNEL_DIR=$$kdir" && \
	  GOVMM_KERNEL_DIR=$$kdir GOVMM_BIN=$(CURDIR)/$(GOVMM) GOVMM_INITRAMFS=$(CURDIR)/$(INITRAMFS) \
	  $(GO) test -count=1 -timeout 45m ./...
	@$(MAKE) --no-print-directory fuzz

# bench prints the issue-5 benchmark table (about 6 minutes here; row 6
# boots the test kernel twice). make test runs it with -quick (TestQuickSuite).
bench: build $(INITRAMFS)
	@kdir=$$(scripts/build-kernel.sh) && \
	  $(GO) run ./bench/cmd/govmm-bench -govmm $(GOVMM) -initramfs $(INITRAMFS) -kernel-dir $$kdir

clean:
	rm -rf $(BUILD)
