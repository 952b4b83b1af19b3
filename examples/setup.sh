#!/usr/bin/env bash
# Installs everything mcucompile, its examples and its tests need on a fresh Debian machine:
# the Arm cross toolchain and QEMU from Debian, then this package (editable) with its test extras.
# torch is pinned to 2.13.0 in pyproject.toml: pip takes the CPU wheel; an unpinned torch would pull
# a CUDA build of several GB.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(gcc clang make cmake gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

echo "setup: installing mcucompile with its test extras"
python3 -m pip install -q --disable-pip-version-check -e ".[test]"
