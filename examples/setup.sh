#!/usr/bin/env bash
# Installs everything mcucompile, its examples and its tests need on a fresh Debian machine:
# the Arm cross toolchain and QEMU from Debian, then this package (editable) with its test extras.
# torch is pinned to 2.13.0 in pyproject.toml: pip takes the CPU wheel; an unpinned torch would pull
# a CUDA build of several GB.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(gcc clang make cmake gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm qemu-user
              gcc-aarch64-linux-gnu libc6-dev-arm64-cross llvm-19  # llvm-19: llvm-mca for run --profile cycles
              chromium)  # headless, the test that renders report.html
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# `mcucompile run --profile` on a Cortex-A target counts instructions with a QEMU TCG plugin of
# ours, compiled against QEMU's qemu-plugin.h. No Debian binary package ships that header, so it is
# taken from the source package of the installed QEMU (into the user's cache, not this repository).
PLUGIN_H="${XDG_CACHE_HOME:-$HOME/.cache}/mcucompile/qemu-plugin.h"
if [ ! -f "$PLUGIN_H" ]; then
    echo "setup: fetching qemu-plugin.h from Debian's qemu source package"
    work=$(mktemp -d)
    chmod 755 "$work"  # apt's download sandbox user must be able to write there
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
    codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
    printf 'deb-src http://deb.debian.org/debian %s main\ndeb-src http://deb.debian.org/debian-security %s-security main\n' \
        "$codename" "$codename" > "$work/sources.list"
    apt_own=(-o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
             -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
    version=$(dpkg-query -W -f='${source:Version}' qemu-user)
    $SUDO apt-get "${apt_own[@]}" -qq update
    (cd "$work" && apt-get "${apt_own[@]}" -qq source --download-only "qemu=$version" >/dev/null)
    mkdir -p "$(dirname "$PLUGIN_H")"
    tar -xJf "$work"/qemu_*.orig.tar.xz -C "$work" --wildcards '*/include/qemu/qemu-plugin.h'
    cp "$work"/qemu-*/include/qemu/qemu-plugin.h "$PLUGIN_H"
    rm -rf "$work"
fi

echo "setup: installing mcucompile with its test extras"
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
