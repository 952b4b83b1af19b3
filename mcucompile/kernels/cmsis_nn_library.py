"""Finding a user's CMSIS-NN checkout, the sources a model needs from it, and its scratch sizes.

Nothing of CMSIS-NN is part of mcucompile: `--kernels cmsis-nn` reads the checkout named by the
CMSIS_NN_PATH environment variable at build time, and the generated Makefile/CMakeLists.txt
compile the needed files from there by path.

Which files: the closure, over function names, of the CMSIS-NN functions the model calls. Every
.c file under Source/ is scanned for the `arm_*` functions it defines (a name followed by its
parameter list and a `{` at the start of a line's declaration) and the `arm_*` names it calls;
files are added until every called name that some file defines is covered. A file pulled in that
the ISA's `#if` branches do not need costs compile time only (the linker drops it).

Scratch sizes: CMSIS-NN's `*_get_buffer_size` functions are compiled with the host's C compiler
and called there. Those functions pick their rule from the ISA macros of the compiler they are
built with, so on the host the explicitly suffixed `*_get_buffer_size_mve` / `*_get_buffer_size_dsp`
twins are called instead (CMSIS-NN provides them for exactly this: sizing on a host for a target),
chosen by the target's ISA features: Helium -> _mve, DSP extension -> _dsp. A target with neither
would use the plain function, which on a host without ARM_MATH_* takes the same branch as _dsp.
Some rules also depend on the compiler (Arm Compiler 6 vs GCC); the host build uses GCC, as the
firmware does.
"""
from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import McuCompileError

ENV = "CMSIS_NN_PATH"
HEADER = "arm_nnfunctions.h"
# Source folders that hold no s8 inference code a model here can call (Python bindings, C++).
SKIPPED_FOLDERS = ("Bindings",)

_CALL = re.compile(r"\b(arm_\w+)\s*\(")
# A definition: at the start of a line, a return type, the name, its parameters, then the body.
_DEFINITION = re.compile(r"^[A-Za-z_][\w \t\*]*?\b(arm_\w+)\s*\(([^;{}]*?)\)\s*\{", re.MULTILINE)
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def cmsis_nn_root() -> Path:
    """The checkout named by CMSIS_NN_PATH; a McuCompileError (one line) if it is unset or not CMSIS-NN."""
    value = os.environ.get(ENV, "")
    if not value:
        raise McuCompileError(f"--kernels cmsis-nn needs {ENV} set to a CMSIS-NN checkout "
                              f"(git clone https://github.com/ARM-software/CMSIS-NN)")
    root = Path(value).expanduser().resolve()
    if not (root / "Include" / HEADER).is_file() or not (root / "Source").is_dir():
        raise McuCompileError(f"{ENV}={value} is not a CMSIS-NN checkout (no Include/{HEADER} and Source/ there)")
    return root


@functools.lru_cache(maxsize=4)
def _index(root: Path) -> tuple[dict[str, str], dict[str, frozenset[str]]]:
    """Function name -> the file (relative to root) defining it; file -> names it calls."""
    defined: dict[str, str] = {}
    calls: dict[str, frozenset[str]] = {}
    for path in sorted((root / "Source").rglob("*.c")):
        rel = path.relative_to(root).as_posix()
        if any(part in SKIPPED_FOLDERS for part in path.relative_to(root / "Source").parts):
            continue
        text = _COMMENT.sub(" ", path.read_text(errors="replace"))
        for m in _DEFINITION.finditer(text):
            if not re.match(r"\s*static\b", text[m.start():m.start(1)]):
                defined.setdefault(m.group(1), rel)
        calls[rel] = frozenset(_CALL.findall(text))
    return defined, calls


def needed_sources(root: Path, functions) -> list[str]:
    """CMSIS-NN .c files (relative to root, sorted) defining `functions` and everything they call."""
    defined, calls = _index(root)
    missing = sorted(f for f in functions if f not in defined)
    if missing:
        raise McuCompileError(f"{ENV}={root}: this CMSIS-NN has no {', '.join(missing)} (too old a version?)")
    files: set[str] = set()
    todo = [defined[f] for f in functions]
    while todo:
        rel = todo.pop()
        if rel in files:
            continue
        files.add(rel)
        todo.extend(defined[name] for name in calls[rel] if name in defined and defined[name] not in files)
    return sorted(files)


# One query per line on stdin: kind and integers; one size per line on stdout.
_SIZER = r"""
#include <stdio.h>
#include "arm_nnfunctions.h"

#define SIZE(fn) SIZE_(fn, SUFFIX)
#define SIZE_(fn, s) SIZE__(fn, s)
#define SIZE__(fn, s) fn##s

int main(void)
{
    char kind[16];
    while (scanf("%15s", kind) == 1) {
        int v[16];
        for (int i = 0; i < 16; i++) {
            if (scanf("%d", &v[i]) != 1) {
                return 2;
            }
        }
        const cmsis_nn_dims in = {1, v[0], v[1], v[2]}, out = {1, v[3], v[4], v[5]};
        const cmsis_nn_tile stride = {v[9], v[8]}, pad = {v[11], v[10]}, one = {1, 1};
        const cmsis_nn_activation act = {-128, 127};
        int32_t size = -1;
        if (kind[0] == 'c') { /* conv: filter [out_c][kh][kw][in_c] */
            const cmsis_nn_dims filter = {v[5], v[6], v[7], v[2]};
            const cmsis_nn_conv_params p = {v[12], v[13], stride, pad, one, act};
            size = SIZE(arm_convolve_wrapper_s8_get_buffer_size)(&p, &in, &filter, &out);
        } else if (kind[0] == 'd') { /* depthwise: filter [1][kh][kw][c] */
            const cmsis_nn_dims filter = {1, v[6], v[7], v[5]};
            const cmsis_nn_dw_conv_params p = {v[12], v[13], 1, stride, pad, one, act};
            size = SIZE(arm_depthwise_conv_wrapper_s8_get_buffer_size)(&p, &in, &filter, &out);
        } else if (kind[0] == 'f') { /* fully connected: filter [accumulation depth n][.][.][out_c] */
            const cmsis_nn_dims filter = {v[2], 1, 1, v[5]};
            size = SIZE(arm_fully_connected_s8_get_buffer_size)(&filter);
        } else if (kind[0] == 'a') {
            size = SIZE(arm_avgpool_s8_get_buffer_size)(v[4], v[2]);
        }
        printf("%ld\n", (long)size);
    }
    return 0;
}
"""

SIZE_FUNCTIONS = ("arm_convolve_wrapper_s8_get_buffer_size", "arm_depthwise_conv_wrapper_s8_get_buffer_size",
                  "arm_fully_connected_s8_get_buffer_size", "arm_avgpool_s8_get_buffer_size")


def isa_suffix(target) -> str:
    if target.has("mve"):
        return "_mve"
    if target.has("dsp"):
        return "_dsp"
    return ""


@functools.lru_cache(maxsize=8)
def _sizer(root: Path, suffix: str) -> Path:
    """The host program answering size queries, built once per checkout and ISA for this process."""
    compiler = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not compiler:
        raise McuCompileError("--kernels cmsis-nn sizes its scratch with the host C compiler: no cc or gcc on PATH")
    sources = needed_sources(root, [f + suffix for f in SIZE_FUNCTIONS])
    tmp = Path(tempfile.mkdtemp(prefix="mcucompile-cmsis-nn-"))
    atexit.register(shutil.rmtree, tmp, True)
    (tmp / "sizes.c").write_text(_SIZER)
    exe = tmp / "sizes"
    command = [compiler, "-O0", "-w", f"-DSUFFIX={suffix}", f"-I{root / 'Include'}", str(tmp / "sizes.c"),
               *[str(root / s) for s in sources], "-o", str(exe)]
    built = subprocess.run(command, capture_output=True, text=True)
    if built.returncode != 0:
        first = (built.stderr.strip().splitlines() or ["(no message)"])[0]
        raise McuCompileError(f"{ENV}={root}: its *_get_buffer_size functions do not build on this host: {first}")
    return exe


@functools.lru_cache(maxsize=1024)
def _buffer_size(root: Path, suffix: str, query: tuple) -> int:
    ran = subprocess.run([str(_sizer(root, suffix))], input=" ".join(map(str, query)) + "\n",
                         capture_output=True, text=True)
    sizes = [int(v) for v in ran.stdout.split()]
    if ran.returncode != 0 or len(sizes) != 1 or sizes[0] < 0:
        raise McuCompileError(f"{ENV}={root}: the scratch sizing program failed (exit {ran.returncode})")
    return sizes[0]


def buffer_size(root: Path, target, kind: str, in_hwc, out_hwc, kernel=(1, 1), stride=(1, 1), pads=(0, 0),
                input_offset: int = 0, output_offset: int = 0) -> int:
    """Scratch bytes CMSIS-NN's wrapper for `kind` (conv, dwconv, fc, avgpool) asks for on `target`."""
    query = (kind, *in_hwc, *out_hwc, *kernel, *stride, *pads, input_offset, output_offset, 0, 0)
    return _buffer_size(root, isa_suffix(target), query)
