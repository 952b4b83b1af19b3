"""Greedy by size: the arena planner TensorFlow Lite Micro ships, re-derived for our buffers.

Buffers are placed one at a time, largest first (ties: the earlier first use, then the name, so
the plan never depends on input order). Each goes at the lowest offset, rounded up to its
alignment, where it fits without touching any already-placed buffer that is live at one of the
same steps; buffers live at other times are ignored, so a small tensor can drop into the space
a large one leaves free before it is written or after it dies.

Largest first is what makes this work well in general: the big tensors settle at the bottom,
and smaller ones fill the gaps around them. It is not optimal, and chains show why. In
MobileNet the largest activation is placed at offset 0; its producer's input, placed later,
cannot go there as well, so it stacks above, and the arena ends up holding three tensors' worth
where two would do. `chain_optimal` handles that shape.
"""
from __future__ import annotations

from .buffers import Buffer, make_units
from .placement import lowest_fit
from .plan import ArenaPlan, plan_from_units


def place_greedy_by_size(units) -> dict[int, int]:
    """Unit index -> offset; also the fallback that chain_optimal starts from."""
    order = sorted(units, key=lambda u: (-u.size, u.first, u.name))
    offsets: dict[int, int] = {}
    placed = []
    for u in order:
        busy = [(offsets[v.index], offsets[v.index] + v.size) for v in placed if v.overlaps_in_time(u)]
        offsets[u.index] = lowest_fit(busy, u.size, u.align)
        placed.append(u)
    return offsets


def plan_greedy_by_size(buffers: list[Buffer], alignment: int = 16) -> ArenaPlan:
    buffers = list(buffers)
    units = make_units(buffers, alignment)
    return plan_from_units(buffers, units, place_greedy_by_size(units), alignment, "greedy_by_size")
