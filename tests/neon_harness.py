"""One static AArch64 Linux executable that runs many NEON kernel calls under qemu-aarch64 and returns
every output (the twin of tests/mve_firmware.py for Cortex-A).

    calls = [layer_call(layer, "x0", x), ...]        # a compiler Layer's own call template, or
    calls = [KernelCall("mcu_pwconv_s8_sdot(&io, 16, 8, 4, x0, w0, rq0, out)", arrays=[...], out_bytes=64)]
    outputs = run_calls(calls, tmp_path, dotprod=True)          # one bytes object per call, in order

Each call names the C arrays it reads (`arrays`: (name, ctype, numpy data), emitted as constants)
and statements that write `out_bytes` bytes through the pointer `out` (and may use `scratch_bytes`
bytes at `scratch`). Output and scratch sit between guard bands that must be intact after the call;
a guard overwritten exits with status 3 naming the call. All outputs go to one file. The executable
is built with aarch64-linux-gnu-gcc -O2 -static for baseline Armv8-A (run as a Cortex-A72) or
Armv8.2-A with the dot product (run as a Cortex-A76). Every call is bracketed by the markers of an
instruction-counting QEMU plugin (no-ops otherwise); given one, run_calls also returns the counts.
"""
from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcucompile.codegen.env import make_env

from .cbuild import RUNTIME

GUARD = 64  # bytes before and after each output and scratch buffer that must keep GUARD_BYTE
GUARD_BYTE = 0x5A
CPUS = {False: ("-march=armv8-a", "cortex-a72"), True: ("-march=armv8.2-a+dotprod", "cortex-a76")}


@dataclass
class KernelCall:
    statement: str  # C statements writing through `out`, in a block of their own
    arrays: list[tuple[str, str, np.ndarray]] = field(default_factory=list)
    out_bytes: int = 0
    scratch_bytes: int = 0


def layer_call(layer, input_name: str, x: np.ndarray) -> KernelCall:
    """`layer` (a codegen.program.Layer) as generated code calls it: its call template rendered with
    the input array `input_name` (holding x), the output at `out` and its scratch at `scratch`."""
    layer.scratch_location = "scratch"
    statement = make_env().get_template(layer.call_template).render(l=layer, src=input_name, dst="out")
    arrays = [(input_name, "int8_t", np.asarray(x, np.int8))] + [(a.name, a.ctype, a.data) for a in layer.arrays]
    return KernelCall(statement, arrays, int(np.prod(layer.out_shape)), layer.scratch)


MAIN = r"""
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mcu_nn_neon.h"

#define ICOUNT_BEGIN() __asm__ volatile("mov x9, x9" ::: "memory")
#define ICOUNT_END() __asm__ volatile("mov x10, x10" ::: "memory")

{% for a in arrays %}
static const {{ a[1] }} {{ a[0] }}[{{ a[2].size }}] __attribute__((aligned(16))) = {
{{ a[2] | c_array }}
};
{% endfor %}

static int8_t outputs[{{ total }}];
static int8_t out_buffer[{{ guard }} + {{ largest }} + {{ guard }}] __attribute__((aligned(16)));
static int8_t scratch_buffer[{{ guard }} + {{ largest_scratch }} + {{ guard }}] __attribute__((aligned(16)));

/* The guard bands around the first `used` bytes after `guard` bytes of buffer. */
static int guards_intact(const int8_t *buffer, int used, int size)
{
    int i;
    for (i = 0; i < size; i++) {
        if ((i < {{ guard }} || i >= {{ guard }} + used) && (uint8_t)buffer[i] != {{ guard_byte }}u) {
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    FILE *f;
{% for c in calls %}
    {
        int8_t *out = out_buffer + {{ guard }};
        int8_t *scratch = scratch_buffer + {{ guard }};
        (void)scratch;
        memset(out_buffer, {{ guard_byte }}, sizeof(out_buffer));
        memset(scratch_buffer, {{ guard_byte }}, sizeof(scratch_buffer));
        ICOUNT_BEGIN();
        {
{{ c.statement }}
        }
        ICOUNT_END();
        if (!guards_intact(out_buffer, {{ c.out_bytes }}, sizeof(out_buffer)) ||
            !guards_intact(scratch_buffer, {{ c.scratch_bytes }}, sizeof(scratch_buffer))) {
            fprintf(stderr, "call {{ loop.index0 }} wrote outside its output or scratch\n");
            return 3;
        }
        memcpy(outputs + {{ offsets[loop.index0] }}, out, {{ c.out_bytes }});
    }
{% endfor %}
    f = fopen("outputs.bin", "wb");
    if (f == NULL || fwrite(outputs, 1, {{ total }}, f) != {{ total }}u || fclose(f) != 0) {
        return 2;
    }
    return 0;
}
"""


def build(calls: list[KernelCall], folder: Path, dotprod: bool) -> Path:
    """The executable running `calls`, built in `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    offsets = np.concatenate([[0], np.cumsum([c.out_bytes for c in calls])]).astype(int).tolist()
    arrays = [a for c in calls for a in c.arrays]
    main = make_env().from_string(MAIN).render(
        arrays=arrays, calls=calls, offsets=offsets, total=offsets[-1], guard=GUARD, guard_byte=GUARD_BYTE,
        largest=max(c.out_bytes for c in calls), largest_scratch=max(c.scratch_bytes for c in calls))
    (folder / "main.c").write_text(main)
    sources = [folder / "main.c", *sorted((RUNTIME / "neon").glob("*.c"))]
    exe = folder / "neon_kernels"
    command = ["aarch64-linux-gnu-gcc", CPUS[dotprod][0], "-O2", "-static", "-std=c99", "-Wall", "-Wextra", "-Werror",
               f"-I{RUNTIME / 'include'}", *map(str, sources), "-o", str(exe)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"aarch64 build failed:\n{result.stderr[-4000:]}")
    return exe


def run_calls(calls: list[KernelCall], folder: Path, dotprod: bool, plugin: str | None = None,
              timeout: float = 120):
    """Build and run `calls` in order; each call's output bytes, and with `plugin` (a built
    libicount.so) also each call's executed instructions."""
    folder = Path(folder)
    exe = build(calls, folder, dotprod)
    command = ["qemu-aarch64", "-cpu", CPUS[dotprod][1]] + (["-plugin", plugin] if plugin else []) + [str(exe)]
    result = subprocess.run(command, capture_output=True, text=True, cwd=folder, timeout=timeout)
    if result.returncode != 0:
        raise AssertionError(f"{exe.name} exited with {result.returncode}: {result.stderr[-2000:]}")
    raw = (folder / "outputs.bin").read_bytes()
    total = sum(c.out_bytes for c in calls)
    assert len(raw) == total, f"{len(raw)} output bytes, expected {total}"
    offsets = np.concatenate([[0], np.cumsum([c.out_bytes for c in calls])]).astype(int)
    outputs = [raw[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
    if plugin is None:
        return outputs
    counts = [int(n) for n in re.findall(r"icount: region \d+ = (\d+) insns", result.stderr)]
    assert len(counts) == len(calls), result.stderr[-2000:]
    return outputs, counts
