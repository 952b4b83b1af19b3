"""Every kernel's `*_scratch_bytes` C function against the Python twin the compiler sizes the arena with.

The arena planner reserves what the Python twin says; the kernel uses what its C function says. A
twin that drifts from its C function either wastes RAM or lets a kernel write past its scratch into a
neighbouring tensor, so each pair is compared over a grid of layer shapes (channel counts with tails
after 2, 4 and 8, widths odd and even, strides 1 and 2, kernels 1x1 to 5x5): the DSP family's in one
Cortex-M7 firmware under QEMU, the NEON depthwise kernel's in one AArch64 program under qemu-aarch64,
the reference in-place depthwise kernel's natively.
"""
from __future__ import annotations

import ctypes
import itertools
import subprocess
from pathlib import Path

import numpy as np

from mcucompile import __version__
from mcucompile.codegen.env import make_env
from mcucompile.kernels import arm_dsp, arm_dsp_int8, neon
from mcucompile.ops.depthwise_inplace import inplace_scratch_bytes
from mcucompile.project.fit import place
from mcucompile.run import run_elf
from mcucompile.targets import get_board, get_target

from . import cbuild
from .cbuild import RUNTIME
from .firmware_tools import need

CHANNELS = (1, 2, 3, 5, 8, 13, 16, 27, 64, 130)
WIDTHS = (1, 2, 5, 6, 11, 48)


def _k4(k: int) -> int:
    return (k + 3) // 4 * 4


# The DSP kernels with scratch, numbered as the firmware's switch calls them.
DSP_FUNCTIONS = ("mcu_pwconv_s8_dsp_scratch_bytes(c->in)", "mcu_pwconv_s8_dsp8_scratch_bytes(c->in)",
                 "mcu_pwconv_s8_wzp_dsp8_scratch_bytes(c->in)", "mcu_dwconv_s8_dsp_scratch_bytes(c->in)",
                 "mcu_conv_s8_dsp_scratch_bytes(&c->p, c->in)", "mcu_conv_s8_dsp8_scratch_bytes(&c->p, c->in)",
                 "mcu_conv_s8_wzp_dsp8_scratch_bytes(&c->p, c->in)",
                 "mcu_dwconv3x3_s8_dsp8_scratch_bytes(&c->p, c->in, c->out)")


def dsp_cases() -> list[dict]:
    """One dict per call: the function's number, its parameters and shapes, what it sizes, and the
    Python twin's bytes."""
    int16, int8 = arm_dsp.Conv(), arm_dsp_int8.Conv()
    cases = []

    def case(fn, what, want, kernel=(1, 1), stride=1, pad=0, in_shape=(4, 4, 1), out_shape=(4, 4, 1)):
        cases.append(dict(fn=fn, what=what, want=want, p=(*kernel, stride, stride, pad, pad, 0, -128, 127),
                          in_shape=in_shape, out_shape=out_shape))

    for c in CHANNELS:
        shape, pw = (4, 4, c), _k4(c)
        case(0, f"pwconv dsp c={c}", int16._scratch("pointwise", pw), in_shape=shape)
        case(1, f"pwconv dsp8 c={c}", int8._scratch("pointwise", pw), in_shape=shape)
        case(2, f"pwconv wzp dsp8 c={c}", int8._scratch("pointwise", pw), in_shape=shape)
        case(3, f"dwconv dsp c={c}", arm_dsp.dwconv_scratch_bytes(c), in_shape=shape)
        for kernel in ((1, 1), (3, 3), (5, 5), (1, 3)):
            k4 = _k4(kernel[0] * kernel[1] * c)
            for fn, twin, name in ((4, int16, "dsp"), (5, int8, "dsp8"), (6, int8, "wzp dsp8")):
                case(fn, f"conv {name} {kernel[0]}x{kernel[1]} c={c}", twin._scratch("conv", k4), kernel=kernel,
                     in_shape=shape)
        for out_w, stride in itertools.product(WIDTHS, (1, 2)):
            in_w = (out_w - 1) * stride + 2
            case(7, f"dwconv3x3 dsp8 s{stride} w={out_w} c={c}", arm_dsp.dwconv3x3_scratch_bytes(c, out_w, stride),
                 kernel=(3, 3), stride=stride, pad=1, in_shape=(in_w, in_w, c), out_shape=(out_w, out_w, c))
    return cases


MAIN = r"""
#include <stdint.h>

#include "mcu_nn_dsp.h"
#include "semihosting.h"

typedef struct {
    int32_t fn;
    mcu_dsp_params p;
    mcu_shape in, out;
} scratch_case;

static const scratch_case cases[{{ cases | length }}] = {
{% for c in cases %}
    { {{ c.fn }}, { {{ c.p | join(", ") }} }, { {{ c.in_shape | join(", ") }} }, { {{ c.out_shape | join(", ") }} } },
{% endfor %}
};

static int32_t sizes[{{ cases | length }}];

static int32_t size_of(const scratch_case *c)
{
    switch (c->fn) {
{% for f in functions %}
    case {{ loop.index0 }}:
        return {{ f }};
{% endfor %}
    default:
        return -1;
    }
}

int main(void)
{
    static const char path[] = "sizes.bin";
    int32_t handle;
    uint32_t i;
    for (i = 0; i < {{ cases | length }}u; i++) {
        sizes[i] = size_of(&cases[i]);
    }
    handle = sh_open(path, sizeof(path) - 1, SH_MODE_WB);
    if (handle < 0 || sh_write(handle, sizes, sizeof(sizes)) != 0) {
        sh_exit(2);
    }
    sh_close(handle);
    sh_exit(0);
}
"""


def _run_on_cortex_m7(cases, folder: Path) -> list[int]:
    board, target = get_board("mps2-an500"), get_target("cortex-m7")
    env = make_env()
    ctx = dict(name="scratch_twins", version=__version__, board=board, target=target, placement=place(board),
               weights_bytes=0, arena_bytes=0)
    for template, name in (("startup.c.j2", "startup.c"), ("semihosting.h.j2", "semihosting.h"),
                           ("linker.ld.j2", "link.ld")):
        (folder / name).write_text(env.get_template(f"firmware/{template}").render(ctx))
    (folder / "main.c").write_text(env.from_string(MAIN).render(cases=cases, functions=DSP_FUNCTIONS))
    sources = [folder / "startup.c", folder / "main.c", *sorted((RUNTIME / "arm_dsp").glob("*.c"))]
    elf = folder / "scratch_twins.elf"
    command = ["arm-none-eabi-gcc", *target.cpu_flags, "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
               "-ffunction-sections", "-fdata-sections", f"-I{RUNTIME / 'include'}", f"-I{folder}", "-nostartfiles",
               "--specs=nano.specs", "--specs=nosys.specs", "-Wl,--gc-sections", "-T", str(folder / "link.ld"),
               *map(str, sources), "-o", str(elf)]
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-4000:]
    run_elf(board, elf, [], folder, timeout=60)
    return np.frombuffer((folder / "sizes.bin").read_bytes(), "<i4").tolist()


def _mismatches(cases, got: list[int]) -> list[str]:
    assert len(got) == len(cases)
    return [f"{case['what']}: C {c} bytes, Python {case['want']}" for case, c in zip(cases, got) if c != case["want"]]


def test_dsp_scratch_functions_equal_their_python_twins(tmp_path):
    need("arm-none-eabi-gcc", "qemu-system-arm")
    cases = dsp_cases()
    assert _mismatches(cases, _run_on_cortex_m7(cases, tmp_path)) == []


NEON_MAIN = r"""
#include <stdio.h>

#include "mcu_nn_neon.h"

int main(void)
{
{% for c in channels %}
    printf("%ld\n", (long)mcu_dwconv3x3_s8_neon_scratch_bytes((mcu_shape){6, 6, {{ c }}}));
{% endfor %}
    return 0;
}
"""


def test_neon_depthwise_scratch_function_equals_its_python_twin(tmp_path):
    need("aarch64-linux-gnu-gcc", "qemu-aarch64")
    (tmp_path / "main.c").write_text(make_env().from_string(NEON_MAIN).render(channels=CHANNELS))
    exe = tmp_path / "twins"
    command = ["aarch64-linux-gnu-gcc", "-static", "-O2", "-std=c99", "-Wall", "-Wextra", "-Werror",
               f"-I{RUNTIME / 'include'}", str(tmp_path / "main.c"), str(RUNTIME / "neon" / "mcu_dwconv3x3_s8_neon.c"),
               "-o", str(exe)]
    built = subprocess.run(command, capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-4000:]
    ran = subprocess.run(["qemu-aarch64", "-cpu", "cortex-a72", str(exe)], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert [int(v) for v in ran.stdout.split()] == [neon.depthwise_scratch_bytes(c) for c in CHANNELS]


def test_inplace_depthwise_scratch_function_equals_its_python_twin():
    lib = cbuild.load_runtime()
    fn = lib.mcu_dwconv_s8_inplace_scratch_bytes
    fn.restype = ctypes.c_int32
    fn.argtypes = [cbuild.McuShape, cbuild.McuShape, ctypes.POINTER(cbuild.McuConvParams)]
    bad = []
    for (h, w), c, k, stride, top in itertools.product(((5, 5), (12, 7), (48, 48)), (1, 8, 13), (3, 5), (1, 2),
                                                       (0, 1, 2)):
        if top >= k:
            continue
        ho, wo = (h + 2 * top - k) // stride + 1, (w + 2 * top - k) // stride + 1
        if ho < 1 or wo < 1 or wo > w:
            continue
        params = cbuild.McuConvParams(k, k, stride, stride, top, top, cbuild.McuQuantIo(0, 0, -128, 127))
        got = fn(cbuild.McuShape(h, w, c), cbuild.McuShape(ho, wo, c), ctypes.byref(params))
        want = inplace_scratch_bytes((h, w), (ho, wo), c, k, stride, top)
        if got != want:
            bad.append(f"{h}x{w}x{c} k{k} s{stride} top{top}: C {got}, Python {want}")
    assert bad == []
