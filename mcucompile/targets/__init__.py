"""Targets as data: what a build for each one needs to know."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import McuCompileError


@dataclass(frozen=True)
class Target:
    name: str
    kind: str  # "host" builds a native runner; "mcu" a firmware image
    alignment: int = 16  # arena offset alignment in bytes
    kernel_variant: str = "ref"


TARGETS = {
    "host": Target("host", "host"),
}


def get_target(name: str) -> Target:
    try:
        return TARGETS[name]
    except KeyError:
        raise McuCompileError(f"target '{name}' is not known; targets: {', '.join(TARGETS)}") from None
