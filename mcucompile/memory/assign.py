"""From a lowered program to arena buffers: liveness, scratch, in-place layers, the chosen plan.

Step i is layer i. A tensor lives from the layer that writes it to the last layer that reads it;
a layer's scratch lives during that layer only. The caller's input and output buffers stay outside
the arena unless `io_in_arena` is asked for, in which case the input lives at step 0 and the
output from its producer to the end.

In-place depthwise layers (the output written over the input, with a few rows of scratch) are
chosen one at a time, most crowded step first, and kept only where they make the arena smaller:
they cost a row copy per output row, so they are not used where they save nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from . import plan_arena
from .buffers import Buffer
from .plan import ArenaPlan, lower_bound


@dataclass
class MemoryLayout:
    plan: ArenaPlan | None
    locations: dict[str, str]  # tensor or scratch buffer name -> C expression of its first byte
    offsets: dict[str, int] = field(default_factory=dict)  # ... -> its arena offset, for those in the arena
    inplace: set[int] = field(default_factory=set)  # indices of layers that run in place
    patch: object = None  # memory.patch.PatchSchedule of the first layers, when they run by bands
    tensor_arena_bytes: int = 0  # the arena the tensors alone need (no scratch)
    lower_bound_bytes: int = 0  # tensor-level lower bound: most bytes of tensors live at one step
    scratch_bytes: int = 0  # the largest scratch buffer of any layer

    @property
    def arena_bytes(self) -> int:
        return self.plan.arena_bytes if self.plan else 0


def scratch_name(layer) -> str:
    """Unique even where a model repeats a node name (the layer's index is part of it)."""
    return f"{layer.name} (scratch of layer {layer.index})"


def _tensor_buffers(layers, graph_in: str, graph_out: str, sizes: dict[str, int], io_in_arena: bool,
                    inplace: set[int]) -> list[Buffer]:
    first: dict[str, int] = {}
    last: dict[str, int] = {}
    if io_in_arena:
        first[graph_in] = 0
    for layer in layers:
        first.setdefault(layer.output, layer.index)
        last[layer.input] = layer.index
    if io_in_arena:
        last[graph_out] = len(layers) - 1
    shared = {layer.output: layer.input for layer in layers if layer.index in inplace}
    buffers = []
    for name, start in first.items():
        if not io_in_arena and name in (graph_in, graph_out):
            continue
        buffers.append(Buffer(name, sizes[name], start, max(last.get(name, start), start), share_with=shared.get(name)))
    return buffers


def _scratch_buffers(layers, inplace: set[int]) -> list[Buffer]:
    buffers = []
    for layer in layers:
        size = layer.inplace_scratch if layer.index in inplace else layer.scratch
        if size:
            buffers.append(Buffer(scratch_name(layer), size, layer.index, layer.index))
    return buffers


def inplace_candidates(layers, graph_in: str, graph_out: str, io_in_arena: bool) -> list[int]:
    """Layers that can run in place: they have an in-place kernel, and nothing reads their input later."""
    last_read = {}
    for layer in layers:
        last_read[layer.input] = layer.index
    result = []
    for layer in layers:
        if not layer.inplace_kernel or last_read[layer.input] != layer.index:
            continue
        if not io_in_arena and (layer.input == graph_in or layer.output == graph_out):
            continue  # the caller's input is const, and the caller's output is not ours to read
        result.append(layer.index)
    return result


PATCH_WORKSPACE = "patch workspace"


def _patched(buffers: list[Buffer], layers, patch) -> list[Buffer]:
    """The buffers with the first len(patch.layers) layers run as one patch stage: their tensors but the
    last are band buffers in the stage's workspace, the stage output is written from the stage's
    first step on, and their scratch is in the workspace too."""
    n = len(patch.layers)
    inside = {layers[i].output for i in range(n - 1)} | {scratch_name(layers[i]) for i in range(n)}
    out = []
    for b in buffers:
        if b.name in inside:
            continue
        if b.name == layers[n - 1].output:
            b = Buffer(b.name, b.size, 0, b.last)
        out.append(b)
    if patch.workspace_bytes:
        out.append(Buffer(PATCH_WORKSPACE, patch.workspace_bytes, 0, n - 1))
    return out


def assign_memory(layers, graph_in: str, graph_out: str, sizes: dict[str, int], alignment: int,
                  io_in_arena: bool = False, allow_inplace: bool = True, patch=None) -> MemoryLayout:
    """The arena plan; with `patch` (a memory.patch.PatchSchedule), its layers run by bands."""
    stage = len(patch.layers) if patch else 0
    if patch:
        from .patch import workspace_plan

        workspace_plan(patch, alignment)  # the band buffers' offsets, checked as any plan is

    def plan_with(inplace: set[int]) -> ArenaPlan | None:
        buffers = _tensor_buffers(layers, graph_in, graph_out, sizes, io_in_arena, inplace)
        buffers += _scratch_buffers(layers, inplace)
        if patch:
            buffers = _patched(buffers, layers, patch)
        return plan_arena(buffers, alignment=alignment) if buffers else None

    inplace: set[int] = set()
    best = plan_with(inplace)
    if allow_inplace and best is not None:
        candidates = [i for i in inplace_candidates(layers, graph_in, graph_out, io_in_arena) if i >= stage]
        live = {step: sum(b.size for b in best.live_at(step)) for step in range(len(layers))}
        for index in sorted(candidates, key=lambda i: (-live.get(i, 0), i)):
            trial = plan_with(inplace | {index})
            if trial.arena_bytes < best.arena_bytes:
                inplace, best = inplace | {index}, trial

    plain_tensors = _tensor_buffers(layers, graph_in, graph_out, sizes, io_in_arena, set())
    tensors_only = _tensor_buffers(layers, graph_in, graph_out, sizes, io_in_arena, inplace)
    offsets = dict(best.offsets) if best is not None else {}
    if patch and patch.workspace_bytes:  # the band buffers, at their places in the stage's workspace
        base = best.offsets[PATCH_WORKSPACE]
        for i in range(stage):
            for key, name in ((f"band {i}", layers[i].output), (f"scratch {i}", scratch_name(layers[i]))):
                if key in patch.workspace_offsets:
                    offsets[name] = base + patch.workspace_offsets[key]
    locations = {} if io_in_arena else {graph_in: "input", graph_out: "output"}
    locations.update((name, f"(arena + {offset})") for name, offset in offsets.items())
    scratch = [b.size for b in _scratch_buffers(layers, inplace)]
    return MemoryLayout(
        plan=best,
        locations=locations,
        offsets=offsets,
        inplace=inplace,
        patch=patch,
        tensor_arena_bytes=plan_arena(tensors_only, alignment=alignment).arena_bytes if tensors_only else 0,
        lower_bound_bytes=lower_bound(plain_tensors) if plain_tensors else 0,
        scratch_bytes=max(scratch, default=0),
    )
