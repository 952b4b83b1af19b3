"""What the arena planner is given: buffers with a size and a lifetime in steps.

A step is one layer of the topologically ordered, single-threaded network. A buffer is live
from the step that writes it (`first`) through the last step that reads it (`last`), both
inclusive, so two buffers may share bytes only if their step ranges are disjoint.

In-place ops (a depthwise conv writing its output over its input) are declared with
`share_with`: the output starts at the input's offset, and the input must be dead once that
step has run. The planners never see such buffers one by one; `make_units` joins every
`share_with` chain into one `Unit`, a block as large as its largest member and live over the
union of the members' lives, so the placement code only ever moves plain blocks.
"""
from __future__ import annotations

from dataclasses import dataclass

from mcucompile.errors import McuCompileError


class PlanError(McuCompileError):
    """Buffers that cannot be planned as given, or a plan that breaks one of its invariants."""


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int  # bytes, > 0
    first: int  # the step that writes it
    last: int  # the last step that reads it (inclusive)
    align: int = 1  # offset alignment in bytes, a power of two; the plan's alignment also applies
    share_with: str | None = None  # in-place: same offset as this buffer, which dies at step `first`

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise PlanError(f"buffer '{self.name}' has size {self.size}; sizes must be > 0 bytes")
        if not 0 <= self.first <= self.last:
            raise PlanError(
                f"buffer '{self.name}' lives from step {self.first} to step {self.last}; "
                "need 0 <= first <= last"
            )
        if not is_power_of_two(self.align):
            raise PlanError(f"buffer '{self.name}' asks for alignment {self.align}; need a power of two")
        if self.share_with == self.name:
            raise PlanError(f"buffer '{self.name}' cannot share_with itself")

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Unit:
    """One block the placement code moves: a lone buffer, or a `share_with` chain of them."""

    index: int  # position in the list make_units returns
    members: tuple[Buffer, ...]  # the chain's root (the buffer the others are written over) first
    size: int  # the largest member
    first: int
    last: int
    align: int  # the plan's alignment and every member's, whichever is strictest

    @property
    def name(self) -> str:
        return self.members[0].name

    def overlaps_in_time(self, other: Unit) -> bool:
        return self.first <= other.last and other.first <= self.last


def is_power_of_two(n: int) -> bool:
    return n >= 1 and n & (n - 1) == 0


def align_up(n: int, align: int) -> int:
    return -(-n // align) * align


def align_down(n: int, align: int) -> int:
    return n // align * align


def check_alignment(alignment: int) -> None:
    if not is_power_of_two(alignment):
        raise PlanError(f"arena alignment {alignment} is not a power of two")


def make_units(buffers: list[Buffer], alignment: int = 1) -> list[Unit]:
    """Join share_with chains into units, checking that each in-place write is safe.

    Units come out in the order of their roots in `buffers`, members in the order of `buffers`
    after the root, so everything downstream is deterministic.
    """
    check_alignment(alignment)
    by_name: dict[str, Buffer] = {}
    for b in buffers:
        if b.name in by_name:
            raise PlanError(f"two buffers are named '{b.name}'")
        by_name[b.name] = b

    for b in buffers:
        if b.share_with is None:
            continue
        target = by_name.get(b.share_with)
        if target is None:
            raise PlanError(f"buffer '{b.name}' shares with '{b.share_with}', which is not a buffer")
        if target.first > b.first or target.last > b.first:
            raise PlanError(
                f"buffer '{b.name}' (steps {b.first}..{b.last}) is written over '{target.name}' "
                f"(steps {target.first}..{target.last}), which must be live at step {b.first} "
                "at the latest and dead after it"
            )

    def root_of(b: Buffer) -> Buffer:
        seen = {b.name}
        while b.share_with is not None:
            b = by_name[b.share_with]
            if b.name in seen:
                raise PlanError(f"share_with forms a cycle through '{b.name}'")
            seen.add(b.name)
        return b

    chains: dict[str, list[Buffer]] = {}
    for b in buffers:
        chains.setdefault(root_of(b).name, [])
    for b in buffers:
        chain = chains[root_of(b).name]
        if b.share_with is None:
            chain.insert(0, b)
        else:
            chain.append(b)

    units = []
    for members in chains.values():
        _check_chain(members)
        units.append(
            Unit(
                index=len(units),
                members=tuple(members),
                size=max(m.size for m in members),
                first=min(m.first for m in members),
                last=max(m.last for m in members),
                align=max([alignment] + [m.align for m in members]),
            )
        )
    return units


def _check_chain(members: list[Buffer]) -> None:
    """Members of a chain share one offset, so no two may be live together, except that an
    in-place step both reads its input and writes its output."""
    for i, a in enumerate(members):
        for b in members[i + 1 :]:
            if not a.overlaps_in_time(b):
                continue
            handoff = (b.share_with == a.name and a.last == b.first) or (
                a.share_with == b.name and b.last == a.first
            )
            if not handoff:
                lo, hi = max(a.first, b.first), min(a.last, b.last)
                raise PlanError(
                    f"buffers '{a.name}' and '{b.name}' would share an offset through share_with "
                    f"but are both live at steps {lo}..{hi}"
                )
