"""Chain optimal: a two-ended search that meets the lower bound on chain-shaped networks.

The shape. In MobileNetV1 each step reads the tensor the previous step wrote and writes one
new tensor, perhaps with some scratch that lives only during the step. So at every step the
live set is an input, an output and scratch, and the lower bound (see plan.py) is the largest
sum of those at one step. It can be met by ping-pong: keep the input against one end of the
arena and put the output against the other end. The output becomes the next step's input, and
it already sits against an end, so the next output goes to the opposite end, and so on; the
input and output never collide, and scratch fits in the gap between them whenever the arena is
as large as that step's live sum. Sizes change from step to step, which is why fixed halves or
a fixed order would not do: only "this end or that end", decided per tensor, always works.

The search. For a trial arena size, buffers are taken in order of first use (share_with chains
as one block). Each is given one of two places: the lowest offset where it fits ("bottom") or
the highest one below the arena's end ("top"), in both cases avoiding only the blocks live at
one of its steps. The two places may be gaps in the middle, so the search is not limited to
pure ping-pong. A depth-first search tries both, preferring the end opposite to the block most
recently written, and backtracks when a block finds no room. The future of a partial plan
depends only on the placed blocks still live when the next block starts, since every later
block starts no sooner; a partial plan that failed is remembered by exactly that state, and
the same state is never searched twice. On a chain only the input and the step's scratch are
live at a block's start, so there are few such states and the search stays exhaustive within
the two choices at a handful of visited states per block (one per block on MobileNetV1). It
therefore finds a plan at the lower bound whenever ping-pong has one: on the chain shape above,
with any sizes, scratch and in-place steps, always (given buffers that ask for no alignment
stricter than the plan's; the visit budget below covers thousands of layers).

Around it. The trial arena is first the lower bound; a plan there is optimal, and the plan says
so. If the search cannot meet it (graphs where several long-lived tensors overlap, such as
residual connections), the result of greedy_by_size is kept as an upper bound, and a binary
search over trial sizes between the two (each a multiple of the alignment) looks for a smaller
plan than greedy's. The search is not exact in general (arena planning is NP-hard), and its work
per trial is capped by a count of visited states rather than by a clock, so the same model
always gets the same plan; the result is never worse than greedy_by_size.
"""
from __future__ import annotations

from .buffers import Buffer, Unit, align_down, align_up, make_units
from .greedy_by_size import place_greedy_by_size
from .placement import highest_fit, lowest_fit
from .plan import ArenaPlan, lower_bound, plan_from_units

# Visited partial plans allowed per trial arena size; a MobileNet chain needs about one per block.
NODE_BUDGET = 20_000


def plan_chain_optimal(buffers: list[Buffer], alignment: int = 16, node_budget: int = NODE_BUDGET) -> ArenaPlan:
    buffers = list(buffers)
    units = make_units(buffers, alignment)
    bound = lower_bound(buffers, alignment)

    greedy = place_greedy_by_size(units)
    best_offsets, best_arena = greedy, _arena(units, greedy, alignment)
    if best_arena == bound:
        notes = ["greedy placement already meets the lower bound: optimal"]
        return plan_from_units(buffers, units, best_offsets, alignment, "chain_optimal", notes)

    found = _two_ended_search(units, bound, node_budget)
    if found is not None:
        notes = ["two-ended search meets the lower bound: optimal"]
        return plan_from_units(buffers, units, found, alignment, "chain_optimal", notes)

    # Binary search between the bound (no plan found) and the best plan so far.
    tried = [bound]
    lo, hi = bound, best_arena
    while hi - lo > alignment:
        trial = align_down((lo + hi) // 2, alignment)
        tried.append(trial)
        found = _two_ended_search(units, trial, node_budget)
        if found is None:
            lo = trial
        else:
            best_offsets, best_arena = found, _arena(units, found, alignment)
            hi = best_arena
    source = "greedy_by_size placement" if best_offsets is greedy else "two-ended search"
    notes = [
        f"no two-ended plan found at the lower bound of {bound:,} bytes; tried arenas of "
        + ", ".join(f"{t:,}" for t in tried)
        + f" bytes; kept the {source} ({best_arena:,} bytes); not proven optimal"
    ]
    return plan_from_units(buffers, units, best_offsets, alignment, "chain_optimal", notes)


def _arena(units: list[Unit], offsets: dict[int, int], alignment: int) -> int:
    return align_up(max((offsets[u.index] + u.size for u in units), default=0), alignment)


def _two_ended_search(units: list[Unit], capacity: int, budget: int) -> dict[int, int] | None:
    """Offsets (unit index -> offset) that keep every block below `capacity`, or None if the
    search finds none within `budget` visited states."""
    order = sorted(units, key=lambda u: (u.first, u.last, -u.size, u.name))
    n = len(order)
    offsets: list[int] = [0] * n  # offsets[k] is where order[k] sits, valid for k < depth
    failed: set[tuple] = set()
    frames: list[list] = []  # per depth: [state key, candidate offsets, next candidate to try]
    visited = 0

    depth = 0
    while depth < n:
        u = order[depth]
        live = [k for k in range(depth) if order[k].last >= u.first]
        key = (depth, tuple(offsets[k] for k in live), tuple(live))
        candidates: list[int] = []
        if key not in failed:
            visited += 1
            if visited > budget:
                return None
            busy = [(offsets[k], offsets[k] + order[k].size) for k in live]
            candidates = _candidates(u, busy, capacity, offsets, live, order)
        frames.append([key, candidates, 0])

        # Take the next untried candidate, backtracking out of exhausted depths.
        while frames:
            frame = frames[-1]
            if frame[2] < len(frame[1]):
                offsets[len(frames) - 1] = frame[1][frame[2]]
                frame[2] += 1
                break
            failed.add(frame[0])
            frames.pop()
        if not frames:
            return None
        depth = len(frames)
    return {order[k].index: offsets[k] for k in range(n)}


def _candidates(u: Unit, busy, capacity: int, offsets: list[int], live: list[int], order: list[Unit]) -> list[int]:
    bottom = lowest_fit(busy, u.size, u.align, capacity)
    top = highest_fit(busy, u.size, u.align, capacity)
    places = [p for p in (bottom, top) if p is not None]
    if len(places) == 2 and places[0] == places[1]:
        places = places[:1]
    # Ping-pong first: away from the end where the most recently written live block sits.
    if len(places) == 2 and live:
        newest = max(live, key=lambda k: (order[k].first, k))
        centre = offsets[newest] + order[newest].size / 2
        if centre < capacity / 2:
            places.reverse()
    return places
