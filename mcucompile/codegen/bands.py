"""The calls of a patch stage (memory/patch.py): each layer of the stage once per band, on rows.

A band call is the layer's own kernel call with the shapes of its rows: the input is the rows the
band's outputs read, starting at the first one that exists (rows above the image are padding), so
the call's top padding is what is left of the layer's padding above that row; rows past the input's
end are the image's own bottom padding, which the kernels already treat as such. The first layer
reads the stage input in place, the last writes its rows of the stage output in place, and the
layers between write band buffers in the stage's workspace. Nothing changes the arithmetic: each
output value is computed from the same inputs by the same kernel, so the bytes are the layer-by-layer
ones.

Only kernels whose call takes the rows from its shapes can run a band: the call templates listed in
BAND_TEMPLATES, each checked byte for byte in tests/test_patch.py.
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
    src: str  # C expression: the first input row the call reads
    dst: str  # C expression: where its first output row goes


def _offset(base: str, offset: int) -> str:
    return base if offset == 0 else f"({base} + {offset})"


def stage_calls(layers: list[Layer], patch, locations: dict[str, str]) -> list[list[BandCall]]:
    """Per band, the stage's calls in order."""
    windows = patch.layers
    n = len(windows)
    bands = []
    for rows in patch.rows:
        calls = []
        for i, (w, layer) in enumerate(zip(windows, layers[:n])):
            a, b = rows[i]
            lo, hi = w.input_rows(a, b) if i == 0 else rows[i - 1]
            pad = w.pad_top + lo - a * w.stride_h
            assert 0 <= pad <= w.pad_top and (i == 0 or (lo, hi) == w.input_rows(a, b)), (layer.name, rows)
            src = _offset(locations[layer.input], lo * w.in_row_bytes) if i == 0 else locations[layer.input]
            dst = _offset(locations[layer.output], a * w.out_row_bytes) if i == n - 1 else locations[layer.output]
            calls.append(BandCall(band_view(layer, hi - lo, b - a, pad), layer.index, src, dst))
        bands.append(calls)
    return bands
