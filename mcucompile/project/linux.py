"""The Linux (Cortex-A, AArch64) half of a project: a CMake project that cross-compiles the model
into a static library and a runner executable.

    model.c model.h model_weights.s/.bin runtime/   the model: libmodel.a, for any application
    runner/main.c runner/profile.c             model_run INPUT OUTPUT, and per-layer figures
    CMakeLists.txt aarch64-linux-gnu.cmake     cmake -S . -B build -DCMAKE_TOOLCHAIN_FILE=aarch64-linux-gnu.cmake
    README.md report.json

The runner is the host runner's main.c (one template: the same command line and file formats),
linked statically so that `qemu-aarch64` runs it without an AArch64 root file system. Built with
MCU_PROFILE, it times every layer with clock_gettime (meaningful on a real board) and marks each
layer and each whole invoke with no-op instructions that `mcucompile run --profile` counts under
QEMU with its TCG plugin (run.py).
"""
from __future__ import annotations

from ..codegen.env import make_env
from .host import runner_context

TOOLCHAIN_FILE = "aarch64-linux-gnu.cmake"


def render_linux(program, target, board, placement, runtime_sources: list[str],
                 constants_source: str) -> dict[str, str]:
    env = make_env()
    ctx = dict(runner_context(program, runtime_sources, constants_source), target=target, toolchain_file=TOOLCHAIN_FILE,
               num_layers=len(program.layers), profile=True)
    files = {
        "CMakeLists.txt": "linux/CMakeLists.txt.j2",
        TOOLCHAIN_FILE: "linux/aarch64-linux-gnu.cmake.j2",
        "runner/main.c": "host/main.c.j2",
        "runner/profile.c": "linux/profile.c.j2",
        "README.md": "linux/README.md.j2",
    }
    return {path: env.get_template(template).render(ctx) for path, template in files.items()}
