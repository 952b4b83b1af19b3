"""One Cortex-M55 firmware that runs many Helium kernel calls in QEMU and returns every output.

    calls = [KernelCall("mcu_pwconv_s8_mve(&io0, 16, 8, 4, in0, w0, rq0, out)", arrays=[...], out_bytes=64), ...]
    outputs = run_calls(calls, tmp_path)          # one bytes object per call, in order

Each call names the C arrays it reads (`arrays`: (name, ctype, numpy data), emitted as constants, or
as writable buffers for `mutable=True`) and a statement that writes `out_bytes` bytes through the
pointer `out`. The harness (mcucompile's own startup.c, semihosting.h and linker script for
mps3-an547) gives every output a guard band, checks it after the call, and writes all outputs to
one host file through semihosting; a guard overwritten exits with status 3 naming the call.
"""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcucompile import __version__
from mcucompile.codegen.env import make_env
from mcucompile.project.fit import place
from mcucompile.run import run_elf
from mcucompile.targets import get_board, get_target

from .cbuild import RUNTIME

BOARD = "mps3-an547"
GUARD = 16  # bytes after each output that must still hold GUARD_BYTE after the call
GUARD_BYTE = 0x5A


@dataclass
class KernelCall:
    statement: str  # C statement writing through `out`
    arrays: list[tuple[str, str, np.ndarray]] = field(default_factory=list)
    out_bytes: int = 0
    setup: str = ""  # C declarations placed before the statement (parameter structs)


MAIN = r"""
#include <stdint.h>
#include <string.h>

#include "mcu_nn_mve.h"
#include "semihosting.h"

{% for a in arrays %}
static const {{ a[1] }} {{ a[0] }}[{{ a[2].size }}] __attribute__((aligned(16))) = {
{{ a[2] | c_array }}
};
{% endfor %}

static int8_t outputs[{{ total }}] __attribute__((aligned(16)));
static int8_t scratch[{{ largest }} + {{ guard }}] __attribute__((aligned(16)));

static int guard_intact(void)
{
    int i;
    for (i = 0; i < {{ guard }}; i++) {
        if ((uint8_t)scratch[{{ largest }} + i] != {{ guard_byte }}u) {
            return 0;
        }
    }
    return 1;
}

int main(void)
{
    static const char path[] = "outputs.bin";
    int32_t handle;
{% for c in calls %}
    {
        int8_t *out = scratch;
{{ c.setup }}
        memset(scratch, {{ guard_byte }}, sizeof(scratch));
        {{ c.statement }};
        if ({{ c.out_bytes }} > {{ largest }} || !guard_intact()) {
            sh_write0("call {{ loop.index0 }} wrote past its output\n");
            sh_exit(3);
        }
        memcpy(outputs + {{ offsets[loop.index0] }}, scratch, {{ c.out_bytes }});
    }
{% endfor %}
    handle = sh_open(path, sizeof(path) - 1, SH_MODE_WB);
    if (handle < 0 || sh_write(handle, outputs, {{ total }}) != 0) {
        sh_exit(2);
    }
    sh_close(handle);
    sh_exit(0);
}
"""


def run_calls(calls: list[KernelCall], folder: Path, timeout: float = 120) -> list[bytes]:
    """Build one image running `calls` in order on mps3-an547 and return each call's output bytes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    board, target = get_board(BOARD), get_target("cortex-m55")
    env = make_env()
    ctx = dict(name="mve_kernels", version=__version__, board=board, target=target, placement=place(board),
               weights_bytes=0, arena_bytes=0)
    (folder / "startup.c").write_text(env.get_template("firmware/startup.c.j2").render(ctx))
    (folder / "semihosting.h").write_text(env.get_template("firmware/semihosting.h.j2").render(ctx))
    (folder / "link.ld").write_text(env.get_template("firmware/linker.ld.j2").render(ctx))
    offsets = np.concatenate([[0], np.cumsum([c.out_bytes for c in calls])]).tolist()
    arrays = [a for c in calls for a in c.arrays]
    main = env.from_string(MAIN).render(arrays=arrays, calls=calls, offsets=offsets, total=offsets[-1],
                                         largest=max(c.out_bytes for c in calls), guard=GUARD, guard_byte=GUARD_BYTE)
    (folder / "main.c").write_text(main)
    sources = [folder / "startup.c", folder / "main.c", *sorted((RUNTIME / "arm_mve").glob("*.c"))]
    flags = list(target.cpu_flags) + ["-O2", "-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections",
                                      "-fdata-sections", f"-I{RUNTIME / 'include'}", f"-I{folder}"]
    elf = folder / "mve_kernels.elf"
    command = ["arm-none-eabi-gcc", *flags, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs",
               "-Wl,--gc-sections", "-T", str(folder / "link.ld"), *map(str, sources), "-o", str(elf)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise AssertionError(f"firmware build failed:\n{result.stderr[-4000:]}")
    run_elf(board, elf, [], folder, timeout=timeout)
    raw = (folder / "outputs.bin").read_bytes()
    assert len(raw) == offsets[-1], f"{len(raw)} output bytes, expected {offsets[-1]}"
    return [raw[a:b] for a, b in zip(offsets[:-1], offsets[1:])]
