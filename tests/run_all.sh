#!/usr/bin/env bash
# Set-up, then the whole test suite. CI runs exactly this (through .ci/run). The red-team suite runs in
# it as tests/test_redteam.py; `python -m tests.redteam` prints its counts table alone.
set -euo pipefail
cd "$(dirname "$0")/.."
bash examples/setup.sh
# The QEMU tests must run wherever the toolchain was installed: forbid their skipping here.
export MCUCOMPILE_REQUIRE_QEMU=1
exec python3 -m pytest -n 2 --dist loadgroup -q "$@"
