"""Targets as data: what a build for each one needs to know.

A target is a CPU: its compiler flags, the ISA features its kernel variants check, the kernel
families `--kernels auto` uses on it (kernels/), and the platform it runs on. A platform is what a
project for a group of targets is: the compiler that builds it, which project files are written
(project/), how `mcucompile run` executes it and what `run --profile` counts (run.py). Adding a
target is an entry here plus its kernels; adding a kind of project is a Platform, its writer and its
runner. A Cortex-M target also has a board (boards.py): its memory map, a separate choice
(`--board`), so one target serves several boards.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import McuCompileError
from .boards import BOARDS, Board, MemoryRegion

__all__ = ["BOARDS", "Board", "MemoryRegion", "PLATFORMS", "Platform", "TARGETS", "Target", "get_board", "get_target",
           "resolve"]


@dataclass(frozen=True)
class Platform:
    """How a project for a group of targets is written, compiled, run and timed."""

    name: str
    compiler: str  # the C compiler the project is built with
    project: str  # which files project/ writes: "host", "firmware" or "linux" (project/writer.PROJECTS)
    runner: str  # how run.py executes it: "native", "qemu-system" (a board's machine) or "qemu-user"
    counter: str | None  # what `run --profile` counts with: "firmware" (SysTick in QEMU, DWT->CYCCNT on a
    #                      board), "plugin" (qemu-user's TCG plugin: executed instructions), None: nothing
    compiled_by_build: bool  # `build` compiles it too when the compiler is there (and reports what it linked)
    model_interface_runner: bool  # its runner takes and gives the model's own types and layout (-m, <name>_run)
    on_board: bool  # a board's memory map: fit check, linker script, --board / --weights-in / --arena-in
    install: str  # the Debian packages that provide its tools, for error messages


PLATFORMS = {
    "host": Platform("host", compiler="gcc", project="host", runner="native", counter=None,
                     compiled_by_build=False, model_interface_runner=True, on_board=False, install="gcc make"),
    # The firmware's harness reads int8 or float inputs and writes int8 outputs (RAM for no more).
    "cortex-m": Platform("cortex-m", compiler="arm-none-eabi-gcc", project="firmware", runner="qemu-system",
                         counter="firmware", compiled_by_build=True, model_interface_runner=False, on_board=True,
                         install="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm make"),
    # Compiled by `run`, not `build`: CMake's build tree records the folder it was made in, and
    # `build` writes in a staging folder that it then renames.
    "linux-aarch64": Platform("linux-aarch64", compiler="aarch64-linux-gnu-gcc", project="linux", runner="qemu-user",
                              counter="plugin", compiled_by_build=False, model_interface_runner=True, on_board=False,
                              install="gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user cmake"),
}


@dataclass(frozen=True)
class Target:
    name: str
    platform: Platform
    alignment: int = 16  # arena offset alignment in bytes
    cpu_flags: tuple[str, ...] = ()  # compiler flags selecting CPU, ISA and float ABI
    # ISA features: "dsp" (SMLAD/SXTB16), "mve" (Helium), "fpu"; "neon" (AArch64 Advanced SIMD), "dotprod" (SDOT)
    features: frozenset[str] = frozenset()
    default_board: str | None = None
    qemu_cpu: str | None = None  # the `-cpu` of qemu-user, for a platform run under it
    # The kernel families `--kernels auto` uses on it, best first (kernels/__init__.py); the
    # portable reference takes whatever they leave.
    kernel_families: tuple[str, ...] = ()

    def has(self, feature: str) -> bool:
        return feature in self.features


def _m(cpu: str, fpu: str | None, features: set[str], board: str, families: tuple[str, ...]) -> Target:
    flags = (f"-mcpu={cpu}", "-mthumb", "-mfloat-abi=hard") + ((f"-mfpu={fpu}",) if fpu else ())
    return Target(cpu, PLATFORMS["cortex-m"], cpu_flags=flags, features=frozenset(features), default_board=board,
                  kernel_families=families)


def _a(cpu: str, features: set[str], families: tuple[str, ...]) -> Target:
    # -mcpu sets the ISA and tunes for the core: cortex-a76 is Armv8.2-A with the dot-product extension.
    return Target(cpu, PLATFORMS["linux-aarch64"], cpu_flags=(f"-mcpu={cpu}",), features=frozenset(features),
                  qemu_cpu=cpu, kernel_families=families)


TARGETS = {
    "host": Target("host", PLATFORMS["host"]),
    # CPU flags as the toolchain README measured them; -mcpu=cortex-m55 enables MVE and its FPU itself.
    "cortex-m4": _m("cortex-m4", "fpv4-sp-d16", {"dsp", "fpu"}, "mps2-an386", ("arm-dsp",)),
    "cortex-m7": _m("cortex-m7", "fpv5-d16", {"dsp", "fpu"}, "mps2-an500", ("arm-dsp",)),
    "cortex-m33": _m("cortex-m33", "fpv5-sp-d16", {"dsp", "fpu"}, "mps2-an505", ("arm-dsp",)),
    "cortex-m55": _m("cortex-m55", None, {"dsp", "fpu", "mve"}, "mps3-an547", ("mve", "arm-dsp")),
    # Application processors (Raspberry Pi 3 / 4 / 5 class), AArch64 Linux.
    "cortex-a53": _a("cortex-a53", {"neon", "fpu"}, ("neon",)),
    "cortex-a72": _a("cortex-a72", {"neon", "fpu"}, ("neon",)),
    "cortex-a76": _a("cortex-a76", {"neon", "dotprod", "fpu"}, ("neon-dotprod", "neon")),
}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise McuCompileError(f"target '{name}' is not known; targets: {', '.join(TARGETS)}") from None


def get_board(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise McuCompileError(f"board '{name}' is not known; boards: {', '.join(BOARDS)}") from None


def resolve(target_name: str | None, board_name: str | None) -> tuple[Target, Board | None]:
    """The target and board of a build. A board alone implies its CPU; a target alone its default board."""
    if board_name is None:
        target = get_target(target_name or "host")
        return target, (get_board(target.default_board) if target.default_board else None)
    board = get_board(board_name)
    if target_name in (None, "host"):
        return get_target(board.cpu), board
    target = get_target(target_name)
    if target.name != board.cpu:
        raise McuCompileError(f"board {board.name} has a {board.cpu}, not a {target.name}; "
                              f"use --target {board.cpu} or leave --target out")
    return target, board
