"""The calls of a patch stage (memory/patch.py): each layer of the stage once per band, on rows.

A band call is the layer's own kernel call with the shapes of its rows (with cached halos, only the
rows no band has computed before; the band buffer keeps the rows the next layer reads again, moved to
its start by one memmove): the input is the rows the band's outputs read, starting at the first one that exists (rows above the image are padding), so
the call's top padding is what is left of the layer's padding above that row; rows past the input's
end are the image's own bottom padding, which the kernels already treat as such. The first layer
reads the stage input in place, the last writes its rows of the stage output in place, and the
layers between write band buffers in the stage's workspace. Nothing changes the arithmetic: each
output value is computed from the same inputs by the same kernel, so the bytes are the layer-by-layer
ones.

Only kernels whose call takes the rows from its shapes can run a band: the call templates listed in
BAND_TEMPLATES, each checked byte for byte in tests/test_patch.py.

Consecutive bands whose calls differ only in where the first layer reads and the last layer writes,
by the same step from band to band (the bands between the first and the last, which meet no padding),
run as one C loop (`band_runs`): one call per layer instead of one per layer and band, so the stage
costs little more flash than the layers run whole.
"""
from __future__ import annotations

import dataclasses

from .program import Layer

# Call templates whose kernels take any number of rows and a top padding from 0 up to the layer's.
BAND_TEMPLATES = frozenset({"calls/conv.j2", "calls/conv_wzp.j2", "calls/dsp_conv.j2", "calls/conv_mve.j2",
                            "calls/pwconv_mve.j2", "calls/neon_conv.j2", "calls/neon_dwconv.j2",
                            "calls/neon_pwconv.j2"})


def band_capable(layer: Layer) -> bool:
    """Whether the layer's call can run a band (a stage's layers are never chosen to run in place)."""
    return layer.call_template in BAND_TEMPLATES


def band_view(layer: Layer, in_rows: int, out_rows: int, pad_top: int) -> Layer:
    """LAYER as one band's call: IN_ROWS input rows, OUT_ROWS output rows, PAD_TOP rows of padding above."""
    params = dict(layer.params)
    geometry = params.get("geometry")
    if isinstance(geometry, dict):
        params["geometry"] = {**geometry, "pad_top": pad_top}
    elif isinstance(geometry, (tuple, list)):  # the DSP family: (kh, kw, sh, sw, pad_top, pad_left)
        params["geometry"] = (*geometry[:4], pad_top, *geometry[5:])
    for key, rows in (("in_shape", in_rows), ("out_shape", out_rows)):
        if key in params:  # the DSP family's (h, w, c)
            params[key] = (rows, *params[key][1:])
    if "pixels" in params:  # pointwise kernels over a run of pixels
        params["pixels"] = out_rows * layer.out_shape[2]
    n, _, w, c = layer.in_shape
    no, _, wo, co = layer.out_shape
    return dataclasses.replace(layer, in_shape=(n, in_rows, w, c), out_shape=(no, out_rows, wo, co), params=params)


@dataclasses.dataclass
class BandCall:
    layer: Layer  # the band's view of the layer
    index: int  # the layer's index (its profile slot)
    rows: tuple[int, int, int]  # (input rows, output rows, top padding): what the view varies
    src_at: tuple[str, int]  # (buffer, byte offset) of the first input row the call reads
    dst_at: tuple[str, int]  # ... of where its first output row goes
    # Cached halos: (from, bytes) of the rows the band buffer keeps for the next layer, moved from that
    # offset to its start before the call; (0, 0): nothing moves.
    move: tuple[int, int] = (0, 0)
    steps: tuple[int, int] = (0, 0)  # in a band loop: how far src and dst move from one band to the next

    @property
    def src(self) -> str:
        """C expression of the first input row (in a loop, in terms of `band`)."""
        return _stepped(*self.src_at, self.steps[0])

    @property
    def dst(self) -> str:
        return _stepped(*self.dst_at, self.steps[1])


@dataclasses.dataclass
class BandRun:
    """Bands first .. first + count - 1, as one C loop (`band` from 0 to count - 1) when count > 1."""

    first: int
    count: int
    calls: list[BandCall]  # the first band's calls; in a loop, src/dst are expressions in `band`


LOOP_VARIABLE = "band"


def _stepped(base: str, offset: int, step: int) -> str:
    """`base + offset + band * step` as C, without the terms that are 0."""
    terms = [base] + ([str(offset)] if offset else []) + ([f"{LOOP_VARIABLE} * {step}"] if step else [])
    return base if len(terms) == 1 else f"({' + '.join(terms)})"


def stage_calls(layers: list[Layer], patch, locations: dict[str, str]) -> list[list[BandCall]]:
    """Per band, the stage's calls in order (a layer with no new rows in a band has none)."""
    windows = patch.layers
    n = len(windows)
    held = [0] * n  # rows of each layer's output computed so far (its buffer holds them from its start)
    bands = []
    for k, rows in enumerate(patch.rows):
        calls = []
        for i, (w, layer) in enumerate(zip(windows, layers[:n])):
            a, b = rows[i]
            if a == b:
                continue
            lo, hi = w.input_rows(a, b)
            pad = w.pad_top + lo - a * w.stride_h
            assert 0 <= pad <= w.pad_top, (layer.name, rows)
            if i == 0:  # the stage input, in place
                src_at = (locations[layer.input], lo * w.in_row_bytes)
            else:  # the previous layer's band buffer, which holds its rows from its start
                start = patch.buffer_start(k, i - 1)
                assert start <= lo and hi <= held[i - 1], (layer.name, k, rows)
                src_at = (locations[layer.input], (lo - start) * w.in_row_bytes)
            start = patch.buffer_start(k, i)
            dst_at = (locations[layer.output], a * w.out_row_bytes if i == n - 1 else (a - start) * w.out_row_bytes)
            kept, by = patch.kept(k, i) if i < n - 1 else (0, 0)
            move = (by * w.out_row_bytes, kept * w.out_row_bytes) if kept and by else (0, 0)
            calls.append(BandCall(band_view(layer, hi - lo, b - a, pad), layer.index, (hi - lo, b - a, pad), src_at,
                                  dst_at, move))
            held[i] = b
        bands.append(calls)
    return bands


def _step(previous: list[BandCall], band: list[BandCall]) -> tuple | None:
    """The calls' (src, dst) offset steps from PREVIOUS to BAND, or None if they differ otherwise."""
    steps = []
    for p, c in zip(previous, band):
        if (p.index, p.rows, p.src_at[0], p.dst_at[0], p.move) != (c.index, c.rows, c.src_at[0], c.dst_at[0], c.move):
            return None
        steps.append((c.src_at[1] - p.src_at[1], c.dst_at[1] - p.dst_at[1]))
    return tuple(steps)


def band_runs(bands: list[list[BandCall]]) -> list[BandRun]:
    """The bands grouped into runs of equal calls whose addresses advance by the same steps."""
    runs: list[tuple[int, int, tuple | None]] = []  # (first, count, steps)
    for k in range(len(bands)):
        if runs and len(bands[k]) == len(bands[k - 1]):
            first, count, steps = runs[-1]
            step = _step(bands[k - 1], bands[k])
            if step is not None and (count == 1 or step == steps):
                runs[-1] = (first, count + 1, step)
                continue
        runs.append((k, 1, None))
    out = []
    for first, count, steps in runs:
        calls = bands[first]
        if count > 1:  # the first band's addresses plus band * step, band counting from 0 in the run
            calls = [dataclasses.replace(c, steps=step) for c, step in zip(calls, steps)]
        out.append(BandRun(first, count, calls))
    return out
