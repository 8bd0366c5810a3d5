#!/usr/bin/env bash
# Builds the govmm test kernel (bzImage and vmlinux) from Debian's
# linux-source-6.1 and caches it outside the clone, keyed by the config
# fragment's hash, the source version and the recipe number below. Prints
# the cache directory.
#
#   scripts/build-kernel.sh [--print-dir]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
frag="$here/testdata/kernel/govmm.config"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/govmm"

need_pkgs=()
for p in linux-source-6.1 flex bison libelf-dev libssl-dev bc make gcc xz-utils; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
  echo "build-kernel: installing ${need_pkgs[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1)
# recipe names the way this script turns the fragment into a kernel: bump it
# when a change to the steps below changes the result.
recipe=1
key=$( (cat "$frag"; echo "$srcver recipe=$recipe") | sha256sum | cut -c1-16)
out="$cache/kernel-$key"
if [ "${1:-}" = "--print-dir" ]; then echo "$out"; exit 0; fi
if [ -f "$out/bzImage" ] && [ -f "$out/vmlinux" ]; then
  echo "$out"
  exit 0
fi

tarball=$(ls /usr/src/linux-source-6.1.tar.* | head -n1)
work="$cache/build-$key"
rm -rf "$work"
mkdir -p "$work"
# A failed or interrupted build leaves nothing behind.
trap 'rm -rf "$work" "$out.tmp"' EXIT
echo "build-kernel: unpacking $tarball into $work" >&2
tar -C "$work" -xf "$tarball"
src=$(echo "$work"/linux-source-6.1)
cd "$src"
echo "build-kernel: make tinyconfig + $frag" >&2
make -s tinyconfig >&2
scripts/kconfig/merge_config.sh -m .config "$frag" >/dev/null
make -s olddefconfig >&2
# Every line of the fragment must survive olddefconfig, or a dependency is missing.
missing=0
while read -r line; do
  case "$line" in CONFIG_*=*) grep -qx "$line" .config || { echo "build-kernel: $line did not stick" >&2; missing=1; } ;; esac
done < "$frag"
[ "$missing" = 0 ] || exit 1
echo "build-kernel: make -j$(nproc) bzImage (about 6 minutes on 2 cores)" >&2
start=$(date +%s)
make -s -j"$(nproc)" bzImage >&2
echo "build-kernel: built in $(( $(date +%s) - start )) s" >&2
mkdir -p "$out.tmp"
cp arch/x86/boot/bzImage vmlinux System.map .config "$out.tmp/"
rm -rf "$out"
mv "$out.tmp" "$out"
cd /
rm -rf "$work"
echo "$out"
