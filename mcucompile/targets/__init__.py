"""Targets as data: what a build for each one needs to know.

A target is a CPU: its compiler flags, the ISA features later kernel selection looks at, the
runtime_c/ folder its kernels come from, and the board it runs on by default (a QEMU machine,
see boards.py). The board is a separate choice (`--board`), so one target serves several boards.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import McuCompileError
from .boards import BOARDS, Board, MemoryRegion

__all__ = ["BOARDS", "Board", "MemoryRegion", "TARGETS", "Target", "get_board", "get_target", "resolve"]


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "host" builds a native runner; "mcu" a firmware image
    alignment: int = 16  # arena offset alignment in bytes
    cpu_flags: tuple[str, ...] = ()  # arm-none-eabi-gcc flags selecting CPU, ISA and float ABI
    features: frozenset[str] = frozenset()  # ISA features: "dsp" (SMLAD/SXTB16), "mve" (Helium), "fpu"
    default_board: str | None = None

    def has(self, feature: str) -> bool:
        return feature in self.features


def _m(cpu: str, fpu: str | None, features: set[str], board: str) -> Target:
    flags = (f"-mcpu={cpu}", "-mthumb", "-mfloat-abi=hard") + ((f"-mfpu={fpu}",) if fpu else ())
    return Target(cpu, "mcu", cpu_flags=flags, features=frozenset(features), default_board=board)


TARGETS = {
    "host": Target("host", "host"),
    # CPU flags as the toolchain README measured them; -mcpu=cortex-m55 enables MVE and its FPU itself.
    "cortex-m4": _m("cortex-m4", "fpv4-sp-d16", {"dsp", "fpu"}, "mps2-an386"),
    "cortex-m7": _m("cortex-m7", "fpv5-d16", {"dsp", "fpu"}, "mps2-an500"),
    "cortex-m33": _m("cortex-m33", "fpv5-sp-d16", {"dsp", "fpu"}, "mps2-an505"),
    "cortex-m55": _m("cortex-m55", None, {"dsp", "fpu", "mve"}, "mps3-an547"),
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
