"""Average pooling (windowed or global) over NHWC; padded positions are not counted.

int8: the output keeps the input's scale and zero point (as TFLite requires), so the kernel only
divides the window sum by the number of valid elements, rounding half away from zero.
"""
from __future__ import annotations

import numpy as np

from ._windows import conv_output_size, pad_hw, windows

OP = "avg_pool"


def output_shape(node, graph) -> tuple[int, ...]:
    _, h, w, c = graph.tensor(node.inputs[0]).shape
    (kh, kw), (sh, sw) = node.attrs["kernel"], node.attrs["strides"]
    top, left, bottom, right = node.attrs["pads"]
    return (1, conv_output_size(h, kh, sh, top, bottom), conv_output_size(w, kw, sw, left, right), c)


def macs(node, graph) -> int:
    # Pooling adds but multiplies nothing; MAC counts (as the literature quotes them) leave it out.
    return 0


def _window_sums(x: np.ndarray, kernel, stride, pads) -> tuple[np.ndarray, np.ndarray]:
    ho = conv_output_size(x.shape[0], kernel[0], stride[0], pads[0], pads[2])
    wo = conv_output_size(x.shape[1], kernel[1], stride[1], pads[1], pads[3])
    sums = windows(pad_hw(x, pads), kernel, stride, (ho, wo)).sum(axis=(3, 4))
    ones = np.ones(x.shape[:2] + (1,), dtype=x.dtype)
    counts = windows(pad_hw(ones, pads), kernel, stride, (ho, wo)).sum(axis=(3, 4))
    return sums, counts


def avgpool_s8(*, x, kernel, stride, pads, act_min, act_max, rounding: str = "half_away") -> np.ndarray:
    """int8 reference: x [H, W, C] -> [Ho, Wo, C].

    rounding "half_up" is TFLite's uint8 kernel, (sum + count / 2) / count on values >= 0; on the
    int8 values (uint8 - 128) that is floor((sum + count // 2) / count).
    """
    sums, counts = _window_sums(x.astype(np.int64), kernel, stride, pads)
    if rounding == "half_up":
        avg = (sums + counts // 2) // counts
    else:
        avg = np.sign(sums) * ((np.abs(sums) + counts // 2) // counts)
    return np.clip(avg, act_min, act_max).astype(np.int8)


def run_float(node, graph, inputs):
    a = node.attrs
    sums, counts = _window_sums(inputs[0][0].astype(np.float64), a["kernel"], a["strides"], a["pads"])
    return (sums / counts).astype(np.float32)[None]


def run_int8(node, graph, inputs):
    a = node.attrs
    return avgpool_s8(x=inputs[0][0], kernel=a["kernel"], stride=a["strides"], pads=a["pads"],
                      act_min=a["act_min"], act_max=a["act_max"], rounding=a.get("rounding", "half_away"))[None]
