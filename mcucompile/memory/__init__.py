"""The static arena: one fixed offset for every activation and scratch buffer, chosen ahead of time.

Each planner in ALGORITHMS takes the buffers and the plan-wide alignment and returns an
ArenaPlan; `plan_arena` runs the ones asked for, checks every plan with `verify_plan` (a planner
bug must fail the build, never corrupt tensors on the device) and keeps the smallest arena, the
earlier-listed planner on a tie. Planners are deterministic, so the same model always gets the
same plan.
"""
from __future__ import annotations

from .buffers import Buffer, PlanError
from .chain_optimal import plan_chain_optimal
from .greedy_by_size import plan_greedy_by_size
from .plan import ArenaPlan, lower_bound, verify_plan

ALGORITHMS = {
    "greedy_by_size": plan_greedy_by_size,
    "chain_optimal": plan_chain_optimal,
}

__all__ = ["ALGORITHMS", "ArenaPlan", "Buffer", "PlanError", "lower_bound", "plan_arena", "verify_plan"]


def plan_arena(buffers, alignment: int = 16, algorithms=tuple(ALGORITHMS)) -> ArenaPlan:
    buffers = list(buffers)
    names = [algorithms] if isinstance(algorithms, str) else list(algorithms)
    if not names:
        raise PlanError(f"no arena planner asked for; choose from {', '.join(ALGORITHMS)}")
    unknown = [n for n in names if n not in ALGORITHMS]
    if unknown:
        raise PlanError(f"unknown arena planner '{unknown[0]}'; choose from {', '.join(ALGORITHMS)}")

    best = None
    sizes = []
    for name in names:
        plan = ALGORITHMS[name](buffers, alignment)
        verify_plan(plan)
        sizes.append(f"{name} {plan.arena_bytes:,}")
        if best is None or plan.arena_bytes < best.arena_bytes:
            best = plan
    if len(names) > 1:
        best.notes.append("arena bytes by planner: " + ", ".join(sizes))
    return best
