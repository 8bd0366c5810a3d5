#!/usr/bin/env bash
# Fetches Debian's stock cloud kernel and a static busybox for the e2e tests
# of a distribution kernel (e2e/stock_test.go), caches them outside the
# clone and prints the cache directory:
#
#   $XDG_CACHE_HOME/govmm/stock/<kernel package>_<version>+busybox_<version>/
#       vmlinuz  config               from linux-image-<abi>-cloud-amd64
#       busybox                       from busybox-static (bin/busybox)
#       complete                      written last: the package versions
#
# linux-image-cloud-amd64 is a metapackage: apt-cache depends names the
# versioned package it stands for. Both packages are fetched with apt-get
# download (no install, no dpkg database change). A complete entry is reused
# without downloading; apt-get update runs only when apt's lists do not know
# a package or a download fails (stale lists).
#
#   scripts/fetch-stock-kernel.sh
set -euo pipefail

meta=linux-image-cloud-amd64
bbpkg=busybox-static
cache="${XDG_CACHE_HOME:-$HOME/.cache}/govmm/stock"
export DEBIAN_FRONTEND=noninteractive

say() { echo "fetch-stock-kernel: $*" >&2; }

updated=0
update_lists() {
  [ "$updated" = 0 ] || return 1
  say "apt-get update ($1)"
  apt-get update -qq >&2
  updated=1
}

# resolve sets kpkg, kver and bbver from apt's lists, with one apt-cache
# call: the metapackage's Depends names the versioned package and its
# version ("linux-image-6.1.0-57-cloud-amd64 (= 6.1.192-3)").
resolve() {
  local out
  out=$(apt-cache show --no-all-versions "$meta" "$bbpkg" 2>/dev/null || true)
  read -r kpkg kver < <(printf '%s\n' "$out" | awk -v m="$meta" '
    $1 == "Package:" { p = $2 }
    p == m && $1 == "Depends:" {
      for (i = 2; i <= NF; i++) if ($i ~ /^linux-image-/) {
        v = ($(i+1) == "(=") ? $(i+2) : ""; sub(/[),]+$/, "", v); print $i, v; exit
      }
    }') || true
  if [ -n "${kpkg:-}" ] && [ -z "${kver:-}" ]; then
    kver=$(apt-cache policy "$kpkg" 2>/dev/null | awk '$1 == "Candidate:" && $2 != "(none)" { print $2; exit }')
  fi
  bbver=$(printf '%s\n' "$out" | awk -v m="$bbpkg" '$1 == "Package:" { p = $2 } p == m && $1 == "Version:" { print $2; exit }')
  [ -n "${kpkg:-}" ] && [ -n "${kver:-}" ] && [ -n "$bbver" ]
}

if ! resolve; then
  update_lists "apt knows no $meta or $bbpkg"
  resolve || { say "apt-cache cannot resolve $meta (got '${kpkg:-}') and $bbpkg (got '${bbver:-}')"; exit 1; }
fi

# The directory name carries both versions, without an epoch's colon.
entry="$cache/${kpkg}_${kver#*:}+busybox_${bbver#*:}"
mark="$kpkg $kver
$bbpkg $bbver"
if [ -f "$entry/complete" ] && [ "$(cat "$entry/complete")" = "$mark" ]; then
  echo "$entry"
  exit 0
fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/download-XXXXXX")
trap 'rm -rf "$work"' EXIT
say "downloading $kpkg $kver and $bbpkg $bbver with apt-get download (once; cached in $entry)"
# As root into a directory that apt's sandbox user _apt cannot enter:
# download as root rather than have apt warn about it.
download() { (cd "$work" && apt-get download -qq -o APT::Sandbox::User=root "$kpkg=$kver" "$bbpkg=$bbver" >&2); }
if ! download; then
  # Lists that name a version the mirror no longer has: update and retry.
  update_lists "apt-get download failed" || exit 1
  resolve || { say "apt-cache cannot resolve $meta and $bbpkg after apt-get update"; exit 1; }
  entry="$cache/${kpkg}_${kver#*:}+busybox_${bbver#*:}"
  mark="$kpkg $kver
$bbpkg $bbver"
  rm -f "$work"/*.deb
  download
fi

kdeb=$(ls "$work"/"${kpkg}"_*.deb)
bbdeb=$(ls "$work"/"${bbpkg}"_*.deb)
stage="$work/entry"
mkdir -p "$stage" "$work/k" "$work/b"
# Only ./boot of the kernel package (vmlinuz and config): its modules are
# not needed, the tests boot with an initramfs. (Its System.map is a
# placeholder: the real one is in the -dbg package.)
dpkg-deb --fsys-tarfile "$kdeb" | tar -x -C "$work/k" ./boot
dpkg-deb -x "$bbdeb" "$work/b"
kernels=("$work"/k/boot/vmlinuz-*)
if [ ${#kernels[@]} != 1 ] || [ ! -f "${kernels[0]}" ]; then
  say "$kpkg holds ${#kernels[@]} boot/vmlinuz-* files, want 1"
  exit 1
fi
abi=${kernels[0]##*/vmlinuz-}
cp "${kernels[0]}" "$stage/vmlinuz"
cp "$work/k/boot/config-$abi" "$stage/config"
cp "$work/b/bin/busybox" "$stage/busybox"
chmod 0755 "$stage/busybox"
printf '%s\n' "$mark" > "$stage/complete"
rm -rf "$entry"
mv "$stage" "$entry"
say "cached $(du -sh "$entry" | cut -f1) in $entry"
echo "$entry"
