"""Finding room for one block among blocks already placed, shared by the planners.

`busy` is a list of half-open byte ranges [start, end) held by the placed blocks that are live
at some step the new block is live at; blocks live at other times never get in the way.
"""
from __future__ import annotations

from .buffers import align_down, align_up


def free_gaps(busy: list[tuple[int, int]], limit: int | None = None) -> list[tuple[int, int]]:
    """The free byte ranges below `limit` (no limit: the last gap is open-ended, end None)."""
    gaps = []
    cursor = 0
    for start, end in sorted(busy):
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if limit is None:
        gaps.append((cursor, None))
    elif cursor < limit:
        gaps.append((cursor, limit))
    return gaps


def lowest_fit(busy: list[tuple[int, int]], size: int, align: int, limit: int | None = None) -> int | None:
    """The lowest aligned offset where `size` bytes fit (first fit), or None if nothing below `limit`."""
    for start, end in free_gaps(busy, limit):
        offset = align_up(start, align)
        if end is None or offset + size <= end:
            return offset
    return None


def highest_fit(busy: list[tuple[int, int]], size: int, align: int, limit: int) -> int | None:
    """The highest aligned offset where `size` bytes fit below `limit`, or None."""
    for start, end in reversed(free_gaps(busy, limit)):
        offset = align_down(end - size, align)
        if offset >= start:
            return offset
    return None
