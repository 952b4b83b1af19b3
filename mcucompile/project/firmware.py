"""The firmware half of a project: startup, main, semihosting, linker script, Makefile, CMake, README.

Layout of a firmware project (the model files are the same as for the host):

    model.c model.h model_weights.s/.bin runtime/   the model: what goes into an application
    firmware/startup.c main.c semihosting.h    the test harness: reads inputs from host files
    firmware/<board>.ld                        the board's memory map and the placement
    Makefile CMakeLists.txt arm-none-eabi.cmake README.md report.json

Everything is rendered from templates/firmware/ and depends only on the Program, the target,
the board and the placement, so the same inputs give byte-identical files.
"""
from __future__ import annotations

from .. import __version__
from ..codegen.env import make_env
from ..kernels.cmsis_nn import project_sources as cmsis_nn_project_sources
from .fit import Placement

FIRMWARE_DIR = "firmware"

QEMU_FLAGS = ("-display", "none", "-monitor", "none", "-serial", "none")


def qemu_base_command(board) -> list[str]:
    """qemu-system-arm with the board's machine, no devices, and deterministic time (1 ns per instruction)."""
    return ["qemu-system-arm", "-M", board.qemu_machine, *QEMU_FLAGS, "-icount", "shift=0"]


def counter(board) -> dict:
    """How main.c times layers: SysTick under QEMU (instructions), DWT->CYCCNT on hardware (cycles)."""
    if board.is_qemu:
        if board.counter_hz % 1_000_000:
            raise ValueError(f"{board.name}: SysTick clock {board.counter_hz} Hz is not a whole number of MHz")
        return {"kind": "systick", "hz": board.counter_hz, "per_tick": 1e9 / board.counter_hz,
                "unit": "instructions"}
    return {"kind": "dwt", "hz": 0, "per_tick": 1, "unit": "cycles"}


def render_firmware(program, target, board, placement: Placement, runtime_sources: list[str],
                    constants_source: str) -> dict[str, str]:
    """Relative path -> text of every firmware-specific file."""
    env = make_env()
    cpu_flags = list(board.cpu_flags or target.cpu_flags)
    per_tick = counter(board)["per_tick"]
    ctx = dict(
        name=program.name,
        NAME=program.name.upper(),
        version=__version__,
        target=target,
        board=board,
        placement=placement,
        cpu_flags=cpu_flags,
        runtime_sources=runtime_sources,
        constants_source=constants_source,
        weights_bytes=program.weights_bytes,
        arena_bytes=program.arena_bytes,
        counter=dict(counter(board), per_tick=f"{per_tick:g}"),
        qemu_command=qemu_base_command(board) if board.is_qemu else [],
        io_in_arena=program.io_in_arena,
        input_shape=list(program.input_tensor.shape),
        input_size=program.input_tensor.size,
        output_shape=list(program.output_tensor.shape),
        cmsis_nn=cmsis_nn_project_sources(program),  # None unless --kernels cmsis-nn
    )
    files = {
        f"{FIRMWARE_DIR}/semihosting.h": "firmware/semihosting.h.j2",
        f"{FIRMWARE_DIR}/startup.c": "firmware/startup.c.j2",
        f"{FIRMWARE_DIR}/main.c": "firmware/main.c.j2",
        f"{FIRMWARE_DIR}/{board.name}.ld": "firmware/linker.ld.j2",
        "Makefile": "firmware/Makefile.j2",
        "CMakeLists.txt": "firmware/CMakeLists.txt.j2",
        "arm-none-eabi.cmake": "firmware/arm-none-eabi.cmake.j2",
        "README.md": "firmware/README.md.j2",
    }
    return {path: env.get_template(template).render(ctx) for path, template in files.items()}
