"""Depthwise 2-D convolution, channel multiplier 1: filter [kh, kw, C], NHWC activations."""
from __future__ import annotations

import numpy as np

from ..quant.fixedpoint import requantize
from ._windows import conv_output_size, pad_hw

OP = "depthwise_conv2d"
WEIGHT_CHANNEL_AXIS = 2  # of the filter [kh, kw, C]: the (output) channel


def output_shape(node, graph) -> tuple[int, ...]:
    _, h, w, c = graph.tensor(node.inputs[0]).shape
    kh, kw, _ = graph.tensor(node.inputs[1]).shape
    (sh, sw), (top, left, bottom, right) = node.attrs["strides"], node.attrs["pads"]
    return (1, conv_output_size(h, kh, sh, top, bottom), conv_output_size(w, kw, sw, left, right), c)


def macs(node, graph) -> int:
    kh, kw, c = graph.tensor(node.inputs[1]).shape
    _, ho, wo, _ = graph.tensor(node.outputs[0]).shape
    return ho * wo * c * kh * kw


def _correlate(x: np.ndarray, w: np.ndarray, stride, pads) -> np.ndarray:
    kh, kw, c = w.shape
    sh, sw = stride
    ho = conv_output_size(x.shape[0], kh, sh, pads[0], pads[2])
    wo = conv_output_size(x.shape[1], kw, sw, pads[1], pads[3])
    xp = pad_hw(x, pads)
    acc = np.zeros((ho, wo, c), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            acc += xp[i : i + (ho - 1) * sh + 1 : sh, j : j + (wo - 1) * sw + 1 : sw] * w[i, j]
    return acc


def depthwise_conv2d_s8(*, x, w, bias, stride, pads, input_zp, output_zp, multiplier, shift, act_min, act_max,
                        weight_zp: int = 0):
    """int8 reference: x [H, W, C], w [kh, kw, C], bias [C] int32 -> [Ho, Wo, C] (padding = input zero point).

    weight_zp: a per-tensor weight zero point (uint8 models); products are (x - input_zp) * (w - weight_zp).
    """
    acc = _correlate(x.astype(np.float64) - input_zp, w.astype(np.float64) - weight_zp, stride, pads).astype(np.int64)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return requantize(acc, multiplier, shift, output_zp, act_min, act_max)


def run_float(node, graph, inputs):
    y = _correlate(inputs[0][0].astype(np.float64), inputs[1].astype(np.float64), node.attrs["strides"], node.attrs["pads"])
    if len(inputs) > 2:
        y = y + inputs[2]
    return y.astype(np.float32)[None]


def run_int8(node, graph, inputs):
    from ._quantized import conv_kwargs

    bias = inputs[2] if len(inputs) > 2 else None
    return depthwise_conv2d_s8(x=inputs[0][0], w=inputs[1], bias=bias, weight_zp=node.attrs.get("weight_zp", 0),
                               **conv_kwargs(node, graph))[None]
