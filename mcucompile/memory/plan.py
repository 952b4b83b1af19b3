"""An arena plan (one offset per buffer), the bound it is measured against, and its checker.

The lower bound: at any step, the buffers live at that step must all sit in the arena at once,
so the arena is at least the largest per-step sum of live bytes. Two refinements keep it a
bound for this project's plans. A `share_with` chain is planned as one block, as large as its
largest member, from the first member's first step to the last member's last step, and it
counts that way here too (so an in-place step counts its input and output once, not twice).
And since every offset is a multiple of the plan's alignment and the arena is rounded up to
it, each live block holds its size rounded up to the alignment (the next block above it cannot
start sooner, nor can the arena end sooner); `lower_bound(buffers, alignment)` adds sizes
rounded that way. A plan whose arena equals that bound is optimal: no plan that keeps each
chain as one block is smaller. (When the members of a chain differ in size, a plan could also
use the bytes above the smaller member while it alone is live; neither planner does that.)

`verify_plan` checks what the C code relies on, buffer by buffer and independently of how the
plan was made: every offset aligned, every buffer inside the arena, each in-place buffer at its
partner's offset, and no two buffers live at a common step holding a common byte.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field

from .buffers import Buffer, PlanError, Unit, align_up, check_alignment, make_units

__all__ = ["ArenaPlan", "PlanError", "lower_bound", "plan_from_units", "verify_plan"]


@dataclass
class ArenaPlan:
    buffers: list[Buffer]
    offsets: dict[str, int]  # buffer name -> byte offset in the arena
    arena_bytes: int
    algorithm: str
    alignment: int = 1  # every offset is a multiple of this (and of the buffer's own align)
    notes: list[str] = field(default_factory=list)  # what the planner found out, for people

    def live_at(self, step: int) -> list[Buffer]:
        """Buffers live at `step`, lowest offset first."""
        live = [b for b in self.buffers if b.first <= step <= b.last]
        return sorted(live, key=lambda b: (self.offsets[b.name], b.name))

    @property
    def lower_bound_bytes(self) -> int:
        """The per-step live-bytes bound, sizes as given."""
        return lower_bound(self.buffers)

    @property
    def aligned_lower_bound_bytes(self) -> int:
        """The bound with each size rounded up to the plan's alignment: what `is_optimal` compares to."""
        return lower_bound(self.buffers, self.alignment)

    @property
    def is_optimal(self) -> bool:
        return self.arena_bytes == self.aligned_lower_bound_bytes

    def to_dict(self) -> dict:
        out = {
            "algorithm": self.algorithm,
            "arena_bytes": self.arena_bytes,
            "alignment": self.alignment,
            "lower_bound_bytes": self.lower_bound_bytes,
            "aligned_lower_bound_bytes": self.aligned_lower_bound_bytes,
            "optimal": self.is_optimal,
            "notes": list(self.notes),
            "buffers": [],
        }
        for b in self.buffers:
            entry = {"name": b.name, "size": b.size, "first": b.first, "last": b.last, "offset": self.offsets[b.name]}
            if b.share_with is not None:
                entry["share_with"] = b.share_with
            out["buffers"].append(entry)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "ArenaPlan":
        """The plan to_dict wrote (report.json's memory_plan), for rendering it again."""
        buffers = [Buffer(b["name"], b["size"], b["first"], b["last"], share_with=b.get("share_with"))
                   for b in d["buffers"]]
        return cls(buffers, {b["name"]: b["offset"] for b in d["buffers"]}, d["arena_bytes"], d["algorithm"],
                   d["alignment"], list(d["notes"]))

    def render_text(self, width: int = 64) -> str:
        """The plan as a table, one line per buffer, then one map line per step.

        In the map each column stands for arena_bytes/width bytes and shows the symbol of the
        buffer covering most of those bytes at that step ('.' when free), lowest offset left.
        """
        symbols = _symbols(len(self.buffers))
        lines = [f"arena plan ({self.algorithm}): {self.arena_bytes:,} bytes, alignment {self.alignment}"]
        bound = self.aligned_lower_bound_bytes
        unaligned = self.lower_bound_bytes
        label = f"lower bound {bound:,} bytes" + (f" ({unaligned:,} before alignment)" if unaligned != bound else "")
        if self.is_optimal:
            lines.append(f"{label}: the plan is optimal")
        else:
            lines.append(f"{label}: the plan is {self.arena_bytes - bound:,} bytes above it")
        lines += [f"note: {n}" for n in self.notes]

        name_w = max([4] + [len(b.name) for b in self.buffers])
        lines.append(f"  sym  {'name':<{name_w}} {'size':>9} {'first':>5} {'last':>5} {'offset':>9} {'end':>9}")
        for sym, b in zip(symbols, self.buffers):
            off = self.offsets[b.name]
            shared = f"  (in place over {b.share_with})" if b.share_with else ""
            lines.append(
                f"  {sym:<3}  {b.name:<{name_w}} {b.size:>9,} {b.first:>5} {b.last:>5} "
                f"{off:>9,} {off + b.size:>9,}{shared}"
            )
        if not self.buffers or self.arena_bytes == 0:
            return "\n".join(lines)

        width = min(width, self.arena_bytes)  # no column narrower than a byte
        cell = self.arena_bytes / width
        per_column = f"{cell:,.1f}".rstrip("0").rstrip(".")
        lines.append(f"step map (bytes per column: {per_column}; '.' = free):")
        sym_of = dict(zip((b.name for b in self.buffers), symbols))
        first = min(b.first for b in self.buffers)
        last = max(b.last for b in self.buffers)
        for step in range(first, last + 1):
            live = self.live_at(step)
            row = []
            for c in range(width):
                lo, hi = c * cell, (c + 1) * cell
                best, best_cover = ".", 0.0
                for b in live:
                    off = self.offsets[b.name]
                    cover = min(hi, off + b.size) - max(lo, off)
                    if cover > best_cover:
                        best, best_cover = sym_of[b.name], cover
                row.append(best)
            used = sum(b.size for b in live)
            lines.append(f"  {step:>4} |{''.join(row)}| {used:,} live")
        return "\n".join(lines)


def _symbols(n: int) -> list[str]:
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits
    return [alphabet[i % len(alphabet)] for i in range(n)]


def lower_bound(buffers, alignment: int = 1) -> int:
    """The largest sum of live bytes at any one step, a share_with chain counting as one block.

    With alignment > 1 every size is first rounded up to it, which is still a bound for plans
    that align offsets and the arena to `alignment` (see the module docstring).
    """
    check_alignment(alignment)
    live: dict[int, int] = {}
    for u in make_units(list(buffers)):
        for step in range(u.first, u.last + 1):
            live[step] = live.get(step, 0) + align_up(u.size, alignment)
    return max(live.values(), default=0)


def plan_from_units(
    buffers: list[Buffer],
    units: list[Unit],
    unit_offsets: dict[int, int],
    alignment: int,
    algorithm: str,
    notes: list[str] | None = None,
) -> ArenaPlan:
    """Spread each unit's offset to its members and round the arena up to the alignment."""
    offsets = {}
    end = 0
    for u in units:
        for m in u.members:
            offsets[m.name] = unit_offsets[u.index]
            end = max(end, unit_offsets[u.index] + m.size)
    ordered = {b.name: offsets[b.name] for b in buffers}
    return ArenaPlan(
        buffers=list(buffers),
        offsets=ordered,
        arena_bytes=align_up(end, alignment),
        algorithm=algorithm,
        alignment=alignment,
        notes=list(notes or []),
    )


def verify_plan(plan: ArenaPlan) -> None:
    """Raise PlanError on the first broken invariant, naming the buffers involved."""
    check_alignment(plan.alignment)
    make_units(plan.buffers)  # share_with targets exist and each in-place write is safe
    if plan.arena_bytes < 0 or plan.arena_bytes % plan.alignment:
        raise PlanError(f"arena of {plan.arena_bytes} bytes is not a multiple of the alignment {plan.alignment}")
    names = {b.name for b in plan.buffers}
    for name in plan.offsets:
        if name not in names:
            raise PlanError(f"the plan gives an offset to '{name}', which is not one of its buffers")

    for b in plan.buffers:
        if b.name not in plan.offsets:
            raise PlanError(f"buffer '{b.name}' has no offset in the plan")
        off = plan.offsets[b.name]
        align = max(plan.alignment, b.align)
        if off < 0 or off % align:
            raise PlanError(f"buffer '{b.name}' is at offset {off}, which is not a multiple of {align}")
        if off + b.size > plan.arena_bytes:
            raise PlanError(
                f"buffer '{b.name}' (bytes {off}..{off + b.size}) ends past the arena of {plan.arena_bytes} bytes"
            )
        if b.share_with is not None and plan.offsets[b.share_with] != off:
            raise PlanError(
                f"buffer '{b.name}' is written in place over '{b.share_with}' but sits at offset {off}, "
                f"not {plan.offsets[b.share_with]}"
            )

    # Sweep in order of first step: a buffer can only collide with those still live when it starts.
    order = sorted(plan.buffers, key=lambda b: (b.first, b.name))
    for i, a in enumerate(order):
        a_off = plan.offsets[a.name]
        for b in order[i + 1 :]:
            if b.first > a.last:
                break
            if b.share_with == a.name or a.share_with == b.name:
                continue  # in place: same offset by design, handoff step checked by make_units
            b_off = plan.offsets[b.name]
            lo, hi = max(a_off, b_off), min(a_off + a.size, b_off + b.size)
            if lo < hi:
                raise PlanError(
                    f"buffers '{a.name}' (steps {a.first}..{a.last}, bytes {a_off}..{a_off + a.size}) and "
                    f"'{b.name}' (steps {b.first}..{b.last}, bytes {b_off}..{b_off + b.size}) are both live "
                    f"at steps {max(a.first, b.first)}..{min(a.last, b.last)} and share bytes {lo}..{hi}"
                )
