"""Patch-based execution of a network's first layers, as the planner sees it (after MCUNetV2, Lin et
al. 2021): the figures of a schedule, before any code runs it.

A stage is the first N layers of a chain (each layer reads the one before). Its output is computed
band by band: bands span the full width and `band` rows of the stage's last output, and each band is
computed from its receptive field of the stage input through every layer of the stage, into small
band buffers. For output rows [a, b) a layer with kernel height k, stride s and top padding p needs
input rows [max(0, a s - p), min(H, (b - 1) s - p + k)); walking that back from the stage's last layer
gives every layer's rows in each band. Rows two bands both need (the halos) are either computed again
by each (recomputed: extra MACs are the price, and a band buffer lives only from its layer's step to
the next), or computed once and cached (the band buffer keeps the rows the next layer reads again,
moved to its start, and lives through the whole band: more workspace for no extra MAC; MCUNetV2
chose recompute for its simplicity, but at one row per band the cached buffers are small).

Memory while the stage runs: the stage input and output (whole tensors, outside the stage), and a
workspace holding the band buffers (the first layer reads the stage input, the last writes the stage
output rows in place) and each layer's scratch. The workspace is planned by the arena planners over
the stage's own steps, so its size is a verified plan, and the bound it is measured against is the
most bytes live at one step.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import plan_arena
from .buffers import Buffer
from .plan import ArenaPlan, verify_plan


@dataclass(frozen=True)
class RowWindow:
    """One layer of a stage, by rows: bands span the full width, so only the vertical window matters."""

    name: str
    kernel_h: int
    stride_h: int
    pad_top: int
    in_h: int
    out_h: int
    in_row_bytes: int  # one row of the input, all columns and channels (int8)
    out_row_bytes: int
    row_macs: int  # MACs of one output row
    scratch: int = 0  # the kernel's scratch bytes for a call

    def input_rows(self, a: int, b: int) -> tuple[int, int]:
        """Input rows [lo, hi) that output rows [a, b) read (padding rows excluded)."""
        return max(0, a * self.stride_h - self.pad_top), min(self.in_h, (b - 1) * self.stride_h - self.pad_top +
                                                           self.kernel_h)


@dataclass
class PatchSchedule:
    layers: list[RowWindow]  # the stage, first layer first
    band: int  # rows of the stage output per band
    rows: list[list[tuple[int, int]]]  # per band, per layer: the output rows it computes
    workspace_bytes: int  # the planned workspace (band buffers and scratch)
    workspace_bound_bytes: int  # the most bytes live at one step of a band
    extra_macs: int  # MACs computed more than once (recomputed halos)
    workspace_offsets: dict[str, int]  # "band i" / "scratch i" -> offset in the workspace
    # Per band, per layer: the first output row its band buffer holds once the layer has run. With
    # cached halos (`cached`) the buffer keeps the rows of the band before that the next layer reads
    # again, moved to its start, and the layer computes only the rows after them; else each band
    # recomputes them (starts are the rows' own starts).
    starts: list[list[int]] | None = None
    cached: bool = False

    def buffer_start(self, band: int, layer: int) -> int:
        return self.starts[band][layer] if self.starts else self.rows[band][layer][0]

    def kept(self, band: int, layer: int) -> tuple[int, int]:
        """(rows moved, rows they move by) in layer's band buffer before its call in `band`: the rows of
        the band before that stay, moved to the buffer's start; (0, 0) when nothing stays."""
        start, (first, end) = self.buffer_start(band, layer), self.rows[band][layer]
        if not self.cached or band == 0 or first <= start or end == first:  # nothing kept, or no call
            return 0, 0
        return first - start, start - self.buffer_start(band - 1, layer)

    @property
    def stage_macs(self) -> int:
        return sum(w.row_macs * w.out_h for w in self.layers)

    @property
    def stage_output_bytes(self) -> int:
        return self.layers[-1].out_h * self.layers[-1].out_row_bytes


def _workspace_buffers(layers: list[RowWindow], rows, starts, cached: bool) -> tuple[list[Buffer], int]:
    """The workspace's buffers over a band's steps, and the most bytes live at one step. Layer i's band
    buffer (every layer but the last, which writes the stage output) holds its rows from its start on,
    sized for the largest band; it is written at step i and read at step i + 1, or, where halos are
    cached and it keeps rows for the next band, live at every step. Scratch lives at its layer's step."""
    n = len(layers)
    r, s = np.asarray(rows, np.int64).reshape(-1, n, 2), np.asarray(starts, np.int64).reshape(-1, n)
    sizes = [int(v) * w.out_row_bytes for v, w in zip((r[:, :, 1] - s).max(axis=0), layers)]
    keeps = [cached and bool(v) for v in (r[:, :, 0] > s).any(axis=0)]
    buffers = []
    for i, w in enumerate(layers):
        if i < n - 1:
            buffers.append(Buffer(f"band {i}", sizes[i], 0 if keeps[i] else i, n - 1 if keeps[i] else i + 1))
        if w.scratch:
            buffers.append(Buffer(f"scratch {i}", w.scratch, i, i))
    bound = max((sum(b.size for b in buffers if b.first <= step <= b.last) for step in range(n)), default=0)
    return buffers, bound


def workspace_plan(patch: PatchSchedule, alignment: int = 1) -> ArenaPlan:
    """The workspace as a plan over the stage's steps, checked by verify_plan (each band buffer and
    scratch inside the workspace, aligned, and no two live at one step on a common byte)."""
    starts = [[patch.buffer_start(k, i) for i in range(len(patch.layers))] for k in range(len(patch.rows))]
    buffers, _ = _workspace_buffers(patch.layers, patch.rows, starts, patch.cached)
    plan = ArenaPlan(buffers, dict(patch.workspace_offsets), patch.workspace_bytes, "patch workspace", alignment)
    verify_plan(plan)
    return plan


def band_rows(layers: list[RowWindow], a: int, b: int) -> list[tuple[int, int]]:
    """The output rows each layer computes for stage-output rows [a, b), first layer first."""
    rows = [(a, b)]
    for w in reversed(layers[1:]):
        rows.append(w.input_rows(*rows[-1]))
    return rows[::-1]


def _bands(layers: list[RowWindow], band: int, cached: bool = False):
    """The rows, buffer starts, recomputed MACs, buffers and workspace bound of computing the stage's
    output `band` rows at a time, before any arena is planned (the planning is what costs)."""
    out_h = layers[-1].out_h
    if cached:
        rows, starts = _cached_rows(layers, band)
    else:
        rows = [band_rows(layers, a, min(a + band, out_h)) for a in range(0, out_h, band)]
        starts = [[a for a, _ in r] for r in rows]
    computed = [sum(r[i][1] - r[i][0] for r in rows) for i in range(len(layers))]
    extra = sum((computed[i] - w.out_h) * w.row_macs for i, w in enumerate(layers))
    buffers, bound = _workspace_buffers(layers, rows, starts, cached)
    return rows, starts, extra, buffers, bound


def _cached_rows(layers: list[RowWindow], band: int) -> tuple[list, list]:
    """Per band, per layer, the output rows computed with cached halos (each row once: from the first
    row no band has computed yet up to the last the next layer reads) and the first row the band
    buffer holds (the first the next layer reads)."""
    n, out_h = len(layers), layers[-1].out_h
    done = [0] * n  # rows of each layer computed by the bands so far
    rows, starts = [], []
    for a in range(0, out_h, band):
        band_rows_, band_starts = [(0, 0)] * n, [0] * n
        need = (a, min(a + band, out_h))  # the last layer's rows: a partition of the stage output
        for i in range(n - 1, -1, -1):
            lo, hi = need
            new = (done[i], max(hi, done[i]))
            if new[1] > new[0]:
                start = new[0] if i == n - 1 else min(lo, new[0])
            else:  # nothing new for the next layer: the buffer keeps what it holds, where it holds it
                start = starts[-1][i] if starts else 0
            band_rows_[i], band_starts[i] = new, start
            done[i] = new[1]
            need = layers[i].input_rows(*new) if i and new[1] > new[0] else (done[i - 1],) * 2 if i else (0, 0)
        rows.append(band_rows_)
        starts.append(band_starts)
    return rows, starts


def schedule(layers: list[RowWindow], band: int, alignment: int = 16, cached: bool = False) -> PatchSchedule:
    """The schedule computing the stage's output `band` rows at a time, halos recomputed or `cached`."""
    rows, starts, extra, buffers, bound = _bands(layers, band, cached)
    plan = plan_arena(buffers, alignment) if buffers else None
    return PatchSchedule(layers, band, rows, plan.arena_bytes if plan else 0, bound, extra,
                         dict(plan.offsets) if plan else {}, starts if cached else None, cached)


def row_windows(program) -> list[RowWindow]:
    """The program's leading chain of convolution layers (conv, pointwise, depthwise), as RowWindows:
    where a patch stage can be."""
    from ..codegen.bands import band_capable
    from ..kernels.common import layer_geometry

    graph = program.graph
    out, previous = [], program.graph_input
    for layer in program.layers:
        node = layer.node
        if layer.op not in ("conv2d", "depthwise_conv2d") or layer.input != previous or not band_capable(layer):
            break
        g = layer_geometry(node, graph)
        (h, w, c), (ho, wo, co) = g.in_shape, g.out_shape
        out.append(RowWindow(layer.name, g.kernel[0], g.strides[0], g.pads[0], h, ho, w * c, wo * co,
                             layer.macs // ho, layer.scratch))
        previous = layer.output
    return out


def step_bytes(program) -> list[int]:
    """Bytes live in the arena at each step of the layer-by-layer plan (tensors and scratch)."""
    plan = program.plan
    if plan is None:
        return [0] * len(program.layers)
    return [sum(b.size for b in plan.buffers if b.first <= step <= b.last) for step in range(len(program.layers))]


@dataclass
class PatchOption:
    schedule: PatchSchedule
    peak_bound_bytes: int  # the whole model's bound: the stage step and every step after it


# A schedule within this fraction of the smallest peak may be chosen for fewer recomputed MACs: the
# last few hundred bytes of RAM are rarely worth a third more MACs (VWW: 27,312 B at +16% MACs,
# 28,992 B at +9.6%).
PEAK_SLACK = 0.10
# What `--memory auto` may spend: recomputed MACs up to this fraction of the model's (MCUNetV2 reports
# about 10% for its networks). `--memory patch` takes the smallest arena whatever it recomputes.
AUTO_RECOMPUTE = 0.10


def patch_options(program, alignment: int = 16, max_recompute: float | None = None) -> list[PatchOption]:
    """The stages (the first N >= 2 layers of the leading chain), band heights and halo handling
    (recomputed or cached) that best_patch may choose from, with the whole model's bound: the stage step (its output and workspace) and every
    step after it. Only those recomputing at most `max_recompute` of the model's MACs, if given, and
    only those whose bound can come within PEAK_SLACK of the smallest: an option is planned (the
    costly part) in the order of its lower bound, the live bytes of its stage output and busiest band
    step, until that bound passes the smallest planned peak by more than PEAK_SLACK (a planned peak
    is never below its lower bound, so no option skipped could be chosen)."""
    windows = row_windows(program)
    steps = step_bytes(program)
    limit = None if max_recompute is None else max_recompute * sum(layer.macs for layer in program.layers)
    candidates = []
    for n in range(2, len(windows) + 1):
        after = max(steps[n:], default=0)
        output = windows[n - 1].out_h * windows[n - 1].out_row_bytes
        for band in range(1, windows[n - 1].out_h + 1):
            for cached in (False, True):
                _, _, extra, _, bound = _bands(windows[:n], band, cached)
                if limit is None or extra <= limit:
                    candidates.append((max(after, output + bound), n, band, cached, after))
    options, smallest = [], None
    for lower, n, band, cached, after in sorted(candidates):
        if smallest is not None and lower > smallest * (1 + PEAK_SLACK):
            break
        s = schedule(windows[:n], band, alignment, cached)
        options.append(PatchOption(s, max(after, s.stage_output_bytes + s.workspace_bytes)))
        smallest = min(smallest or options[-1].peak_bound_bytes, options[-1].peak_bound_bytes)
    return options


def best_patch(program, alignment: int = 16, max_recompute: float | None = None) -> PatchOption | None:
    """The schedule to run: among those within PEAK_SLACK of the smallest peak, the fewest extra MACs
    (then the smaller peak, the shorter stage); only schedules recomputing at most `max_recompute` of
    the model's MACs, if given. None when none is below the layer-by-layer peak."""
    options = patch_options(program, alignment, max_recompute)
    steps = step_bytes(program)
    if not options or min(o.peak_bound_bytes for o in options) >= max(steps):
        return None
    smallest = min(o.peak_bound_bytes for o in options)
    near = [o for o in options if o.peak_bound_bytes <= smallest * (1 + PEAK_SLACK)]
    return min(near, key=lambda o: (o.schedule.extra_macs, o.peak_bound_bytes, len(o.schedule.layers)))
