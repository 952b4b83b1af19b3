"""Fully connected layer: weights [Cout, Cin], input [1, Cin]."""
from __future__ import annotations

import numpy as np

from ..quant.fixedpoint import requantize

OP = "fully_connected"
WEIGHT_CHANNEL_AXIS = 0  # of the weights [Cout, Cin]: the output feature


def output_shape(node, graph) -> tuple[int, ...]:
    return (1, graph.tensor(node.inputs[1]).shape[0])


def macs(node, graph) -> int:
    cout, cin = graph.tensor(node.inputs[1]).shape
    return cout * cin


def fully_connected_s8(*, x, w, bias, input_zp, output_zp, multiplier, shift, act_min, act_max, weight_zp: int = 0):
    """int8 reference: x [Cin], w [Cout, Cin], bias [Cout] int32 -> [Cout].

    weight_zp: a per-tensor weight zero point (uint8 models); products are (x - input_zp) * (w - weight_zp).
    """
    acc = ((x.astype(np.float64) - input_zp) @ (w.astype(np.float64) - weight_zp).T).astype(np.int64)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return requantize(acc, multiplier, shift, output_zp, act_min, act_max)


def run_float(node, graph, inputs):
    y = inputs[0].reshape(1, -1).astype(np.float64) @ inputs[1].astype(np.float64).T
    if len(inputs) > 2:
        y = y + inputs[2]
    return y.astype(np.float32)


def run_int8(node, graph, inputs):
    from ._quantized import conv_kwargs

    bias = inputs[2] if len(inputs) > 2 else None
    kwargs = conv_kwargs(node, graph)
    del kwargs["stride"], kwargs["pads"]
    return fully_connected_s8(x=inputs[0].reshape(-1), w=inputs[1], bias=bias, weight_zp=node.attrs.get("weight_zp", 0),
                              **kwargs)[None]
