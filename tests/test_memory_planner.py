"""Arena planner tests: small hand-worked cases with exact byte counts, the verifier, and a
MobileNetV1-shaped chain that must meet its lower bound."""
from __future__ import annotations

import itertools
import json
import random

import pytest

from mcucompile.errors import McuCompileError
from mcucompile.memory import ALGORITHMS, ArenaPlan, Buffer, PlanError, lower_bound, plan_arena, verify_plan
from mcucompile.memory.buffers import align_up, make_units
from mcucompile.memory.placement import lowest_fit

ALL = sorted(ALGORITHMS)


def chain(sizes: list[int]) -> list[Buffer]:
    """t0 is the network input, read at step 0; step k reads t[k] and writes t[k+1], which the
    next step reads; the last tensor is the output, live only at the step that writes it."""
    steps = len(sizes) - 1
    return [Buffer(f"t{k}", s, max(k - 1, 0), min(k, steps - 1)) for k, s in enumerate(sizes)]


# --- hand cases -------------------------------------------------------------------------------

# a is read at step 1, where b is written; b is read at step 2, where c is written.
THREE = [Buffer("a", 100, 0, 1), Buffer("b", 50, 1, 2), Buffer("c", 80, 2, 3)]


@pytest.mark.parametrize("algorithm", ALL)
def test_three_buffers_unaligned(algorithm):
    # a and c never meet, so both can sit at 0; b meets both and goes above a: 100 + 50.
    plan = ALGORITHMS[algorithm](THREE, alignment=1)
    verify_plan(plan)
    assert plan.arena_bytes == 150
    assert plan.offsets == {"a": 0, "b": 100, "c": 0}


@pytest.mark.parametrize("algorithm", ALL)
def test_three_buffers_aligned_16(algorithm):
    # a's 100 bytes push b to 112; b ends at 162, and the arena rounds up to 176.
    plan = ALGORITHMS[algorithm](THREE, alignment=16)
    verify_plan(plan)
    assert plan.arena_bytes == 176
    assert plan.offsets == {"a": 0, "b": 112, "c": 0}
    assert plan.is_optimal


@pytest.mark.parametrize("algorithm", ALL)
def test_alignment_pads_buffers_live_together(algorithm):
    together = [Buffer(n, 10, 0, 0) for n in "xyz"]
    assert ALGORITHMS[algorithm](together, alignment=1).arena_bytes == 30
    # Offsets 0, 16, 32; the last ends at 42, the arena at 48.
    plan = ALGORITHMS[algorithm](together, alignment=16)
    verify_plan(plan)
    assert plan.arena_bytes == 48
    assert sorted(plan.offsets.values()) == [0, 16, 32]


def test_buffer_alignment_stricter_than_plan():
    bufs = [Buffer("a", 20, 0, 0), Buffer("w", 8, 0, 0, align=64)]
    # Largest first: a at 0, so w must wait for 64, the first multiple of 64 past a. End 72 -> 80.
    greedy = ALGORITHMS["greedy_by_size"](bufs, alignment=16)
    assert (greedy.offsets, greedy.arena_bytes) == ({"a": 0, "w": 64}, 80)
    # w at 0 and a above it at 16 fit in 48, the bound (32 + 16).
    best = ALGORITHMS["chain_optimal"](bufs, alignment=16)
    assert (best.offsets, best.arena_bytes) == ({"a": 16, "w": 0}, 48)
    verify_plan(greedy)
    verify_plan(best)


# Scaled-down start of MobileNet: the largest tensor (t3) is written from the second smallest.
SMALL_CHAIN = chain([3, 2, 2, 4])


def test_greedy_by_size_loses_on_a_chain():
    # By size: t3 at 0, t0 at 0, t1 above t0 at 3, t2 meets t1 (3..5) and t3 (0..4): at 5. End 7.
    greedy = ALGORITHMS["greedy_by_size"](SMALL_CHAIN, alignment=1)
    assert greedy.arena_bytes == 7
    assert greedy.offsets == {"t3": 0, "t0": 0, "t1": 3, "t2": 5}
    # Ping-pong: t0 at 0, t1 at the top (4), t2 at 0, t3 at the top (2). The bound, 2 + 4 = 6.
    best = ALGORITHMS["chain_optimal"](SMALL_CHAIN, alignment=1)
    verify_plan(best)
    assert best.arena_bytes == 6 == lower_bound(SMALL_CHAIN)
    assert best.offsets == {"t0": 0, "t1": 4, "t2": 0, "t3": 2}
    assert best.is_optimal and "optimal" in best.render_text()


def test_plan_arena_keeps_the_smallest_and_first_listed_on_ties():
    plan = plan_arena(SMALL_CHAIN, alignment=1)
    assert (plan.algorithm, plan.arena_bytes) == ("chain_optimal", 6)
    assert plan_arena(SMALL_CHAIN, alignment=1, algorithms=("greedy_by_size",)).arena_bytes == 7
    # Both planners give 150 here; the first listed wins.
    assert plan_arena(THREE, alignment=1).algorithm == "greedy_by_size"
    assert plan_arena(THREE, alignment=1, algorithms=("chain_optimal", "greedy_by_size")).algorithm == "chain_optimal"


def test_plan_arena_rejects_unknown_planner():
    with pytest.raises(PlanError, match="unknown arena planner 'tetris'.*greedy_by_size"):
        plan_arena(THREE, algorithms=("tetris",))


# x is the network input; a -> b is an in-place step (b written over a at step 1).
IN_PLACE = [
    Buffer("x", 40, 0, 0),
    Buffer("a", 100, 0, 1),
    Buffer("b", 100, 1, 2, share_with="a"),
    Buffer("c", 50, 2, 3),
]


@pytest.mark.parametrize("algorithm", ALL)
def test_share_with_places_output_over_input(algorithm):
    plan = ALGORITHMS[algorithm](IN_PLACE, alignment=1)
    verify_plan(plan)
    assert plan.offsets["a"] == plan.offsets["b"]
    # The a/b block (100 bytes, steps 0..2) plus c at step 2: 150, not the 200 of a and b apart.
    assert plan.arena_bytes == 150 == lower_bound(IN_PLACE)
    apart = [Buffer(b.name, b.size, b.first, b.last) for b in IN_PLACE]
    assert lower_bound(apart) == 200


def test_share_with_that_would_clobber_a_live_input_is_refused():
    bad = [Buffer("a", 100, 0, 3), Buffer("b", 100, 1, 2, share_with="a")]
    with pytest.raises(PlanError, match="'b'.*written over 'a'"):
        plan_arena(bad)
    with pytest.raises(PlanError, match="not a buffer"):
        plan_arena([Buffer("b", 10, 1, 2, share_with="ghost")])


def test_lower_bound_hand_cases():
    assert lower_bound([]) == 0
    assert lower_bound(THREE) == 150  # step 1: a + b
    assert lower_bound(THREE, alignment=16) == 176  # 112 + 64 at step 1
    assert lower_bound([Buffer("a", 5, 0, 9), Buffer("b", 7, 3, 3), Buffer("c", 11, 9, 12)]) == 16


def test_buffer_rejects_nonsense():
    with pytest.raises(PlanError, match="size 0"):
        Buffer("a", 0, 0, 0)
    with pytest.raises(PlanError, match="first <= last"):
        Buffer("a", 4, 3, 2)
    with pytest.raises(PlanError, match="power of two"):
        Buffer("a", 4, 0, 0, align=24)
    assert issubclass(PlanError, McuCompileError)


# --- the verifier -----------------------------------------------------------------------------


def test_verifier_names_the_two_overlapping_buffers():
    plan = ArenaPlan(buffers=THREE, offsets={"a": 0, "b": 64, "c": 0}, arena_bytes=176, algorithm="hand", alignment=16)
    with pytest.raises(PlanError, match=r"'a'.*'b'.*both live at steps 1\.\.1 and share bytes 64\.\.100"):
        verify_plan(plan)


def test_verifier_catches_misaligned_out_of_arena_and_broken_share():
    def plan(offsets, arena=176, bufs=THREE):
        return ArenaPlan(buffers=bufs, offsets=offsets, arena_bytes=arena, algorithm="hand", alignment=16)

    verify_plan(plan({"a": 0, "b": 112, "c": 0}))
    with pytest.raises(PlanError, match="'b' is at offset 104, which is not a multiple of 16"):
        verify_plan(plan({"a": 0, "b": 104, "c": 0}))
    with pytest.raises(PlanError, match="'c'.*ends past the arena of 176"):
        verify_plan(plan({"a": 0, "b": 112, "c": 112}))
    with pytest.raises(PlanError, match="not a multiple of the alignment"):
        verify_plan(plan({"a": 0, "b": 112, "c": 0}, arena=170))
    with pytest.raises(PlanError, match="'c' has no offset"):
        verify_plan(plan({"a": 0, "b": 112}))
    with pytest.raises(PlanError, match="'b' is written in place over 'a' but sits at offset 112"):
        verify_plan(plan({"x": 0, "a": 0, "b": 112, "c": 0}, arena=224, bufs=IN_PLACE))


# --- a MobileNetV1 chain ----------------------------------------------------------------------

# MobileNetV1 (Howard et al. 2017, Table 1) at width 0.25 on a 96x96x3 input: every layer's
# output as HxWxC. The second-to-last depthwise conv is stride 1 (the table's "s2" there is a
# known typo: its output stays 7x7 at 224). Then global average pool, FC to 1000, softmax.
MOBILENET_025_96 = (
    [(96, 96, 3), (48, 48, 8), (48, 48, 8), (48, 48, 16)]
    + [(24, 24, 16), (24, 24, 32), (24, 24, 32), (24, 24, 32)]
    + [(12, 12, 32), (12, 12, 64), (12, 12, 64), (12, 12, 64)]
    + [(6, 6, 64), (6, 6, 128)]
    + [(6, 6, 128)] * 10
    + [(3, 3, 128), (3, 3, 256), (3, 3, 256), (3, 3, 256)]
    + [(1, 1, 256), (1, 1, 1000), (1, 1, 1000)]
)
MOBILENET_SIZES = [h * w * c for h, w, c in MOBILENET_025_96]


def test_mobilenet_chain_meets_the_lower_bound():
    bufs = chain(MOBILENET_SIZES)
    bound = 48 * 48 * 8 + 48 * 48 * 16  # step 2: the pointwise conv reads 48x48x8, writes 48x48x16
    assert bound == 55_296 == lower_bound(bufs) == lower_bound(bufs, alignment=16)
    plan = ALGORITHMS["chain_optimal"](bufs, alignment=16)
    verify_plan(plan)
    assert plan.arena_bytes == 55_296 and plan.is_optimal
    assert ALGORITHMS["greedy_by_size"](bufs, alignment=16).arena_bytes == 64_512
    chosen = plan_arena(bufs)
    assert (chosen.algorithm, chosen.arena_bytes) == ("chain_optimal", 55_296)
    data = json.loads(json.dumps(chosen.to_dict()))
    assert data["arena_bytes"] == data["lower_bound_bytes"] == 55_296 and data["optimal"]
    assert [b["name"] for b in data["buffers"]] == [b.name for b in bufs]
    assert {b.name for b in chosen.live_at(2)} == {"t2", "t3"}


def test_mobilenet_chain_with_in_place_depthwise_and_scratch():
    # Stride-1 depthwise convs write over their input; every conv gets a scratch buffer.
    bufs = []
    steps = len(MOBILENET_SIZES) - 1
    for k, size in enumerate(MOBILENET_SIZES):
        first, last = max(k - 1, 0), min(k, steps - 1)
        in_place = 0 < k < steps and MOBILENET_SIZES[k - 1] == size and k % 2 == 0
        bufs.append(Buffer(f"t{k}", size, first, last, share_with=f"t{k - 1}" if in_place else None))
        if k < steps:
            bufs.append(Buffer(f"scratch{k}", 64 + 8 * k, k, k))
    plan = ALGORITHMS["chain_optimal"](bufs, alignment=16)
    verify_plan(plan)
    assert plan.is_optimal and plan.arena_bytes == lower_bound(bufs, alignment=16)
    assert all(plan.offsets[b.name] == plan.offsets[b.share_with] for b in bufs if b.share_with)


# --- properties on seeded random inputs ------------------------------------------------------


def exact_arena(bufs, alignment):
    """Smallest arena by brute force: some order of lowest-offset placement reaches the optimum."""
    units = make_units(bufs, alignment)
    best = None
    for order in itertools.permutations(units):
        offsets, placed = {}, []
        for u in order:
            busy = [(offsets[v.index], offsets[v.index] + v.size) for v in placed if v.overlaps_in_time(u)]
            offsets[u.index] = lowest_fit(busy, u.size, u.align)
            placed.append(u)
        arena = align_up(max(offsets[u.index] + u.size for u in units), alignment)
        best = arena if best is None else min(best, arena)
    return best


def test_random_graphs_give_valid_plans_between_bound_and_greedy():
    rng = random.Random(7)
    for _ in range(150):
        alignment = rng.choice([1, 4, 16])
        bufs = []
        for i in range(rng.randint(1, 5)):
            first = rng.randint(0, 4)
            bufs.append(Buffer(f"b{i}", rng.randint(1, 100), first, first + rng.randint(0, 3)))
        greedy = ALGORITHMS["greedy_by_size"](bufs, alignment)
        best = ALGORITHMS["chain_optimal"](bufs, alignment)
        verify_plan(greedy)
        verify_plan(best)
        assert lower_bound(bufs, alignment) <= exact_arena(bufs, alignment) <= best.arena_bytes <= greedy.arena_bytes


def test_random_chains_meet_the_lower_bound():
    rng = random.Random(11)
    for _ in range(100):
        steps = rng.randint(1, 30)
        alignment = rng.choice([1, 8, 16])
        bufs = [Buffer("t0", rng.randint(1, 5000), 0, 0)]
        for k in range(steps):
            bufs += [Buffer(f"s{k}_{j}", rng.randint(1, 3000), k, k) for j in range(rng.randint(0, 2))]
            in_place = k > 0 and rng.random() < 0.3
            share = f"t{k}" if in_place else None
            bufs.append(Buffer(f"t{k + 1}", rng.randint(1, 5000), k, min(k + 1, steps - 1), share_with=share))
        plan = ALGORITHMS["chain_optimal"](bufs, alignment)
        verify_plan(plan)
        assert plan.arena_bytes == lower_bound(bufs, alignment), plan.render_text()


def test_plans_do_not_depend_on_input_order():
    bufs = chain(MOBILENET_SIZES) + [Buffer(f"s{k}", 100 + k, k, k) for k in range(0, 30, 3)]
    shuffled = bufs[:]
    random.Random(3).shuffle(shuffled)
    for name in ALL:
        assert ALGORITHMS[name](bufs, 16).offsets == ALGORITHMS[name](shuffled, 16).offsets


# --- output for people ------------------------------------------------------------------------


def test_render_text_lists_every_buffer_and_maps_every_step():
    plan = plan_arena(SMALL_CHAIN, alignment=1)
    text = plan.render_text(width=6)
    for name in ("t0", "t1", "t2", "t3"):
        assert name in text
    # Arena 6 in six columns, one byte each: t2 (C) at 0..2 and t3 (D) at 2..6 at step 2.
    assert "|CCDDDD|" in text


def test_render_png_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from mcucompile.memory.render import render_png

    path = tmp_path / "plan.png"
    render_png(plan_arena(chain(MOBILENET_SIZES)), path, title="MobileNetV1 0.25 at 96x96")
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
