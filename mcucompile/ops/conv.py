"""Standard 2-D convolution (groups = 1): filter [Cout, kh, kw, Cin], NHWC activations."""
from __future__ import annotations

import numpy as np

from ..quant.fixedpoint import requantize
from ._windows import conv_output_size, pad_hw, windows

OP = "conv2d"
WEIGHT_CHANNEL_AXIS = 0  # of the filter [Cout, kh, kw, Cin]: the output channel


def output_shape(node, graph) -> tuple[int, ...]:
    _, h, w, _ = graph.tensor(node.inputs[0]).shape
    cout, kh, kw, _ = graph.tensor(node.inputs[1]).shape
    (sh, sw), (top, left, bottom, right) = node.attrs["strides"], node.attrs["pads"]
    return (1, conv_output_size(h, kh, sh, top, bottom), conv_output_size(w, kw, sw, left, right), cout)


def macs(node, graph) -> int:
    cout, kh, kw, cin = graph.tensor(node.inputs[1]).shape
    _, ho, wo, _ = graph.tensor(node.outputs[0]).shape
    return ho * wo * cout * kh * kw * cin


def _correlate(x: np.ndarray, w: np.ndarray, stride, pads, pad_value=0.0) -> np.ndarray:
    """sum over (kh, kw, Cin) of padded x windows times w, in float64 (exact for int8 products)."""
    cout, kh, kw, cin = w.shape
    ho = conv_output_size(x.shape[0], kh, stride[0], pads[0], pads[2])
    wo = conv_output_size(x.shape[1], kw, stride[1], pads[1], pads[3])
    patches = windows(pad_hw(x, pads, pad_value), (kh, kw), stride, (ho, wo))  # [Ho, Wo, Cin, kh, kw]
    return np.tensordot(patches, w.transpose(3, 1, 2, 0), axes=((2, 3, 4), (0, 1, 2)))


def conv2d_s8(*, x, w, bias, stride, pads, input_zp, output_zp, multiplier, shift, act_min, act_max,
              weight_zp: int = 0) -> np.ndarray:
    """int8 reference: x [H, W, Cin], w [Cout, kh, kw, Cin], bias [Cout] int32 -> [Ho, Wo, Cout].

    Padding is with the input zero point, i.e. padded positions add nothing to the accumulator.
    Products of int8 values summed in float64 are exact far beyond any layer's size (< 2^53).
    weight_zp: the per-tensor weight zero point of a uint8 model (moved to int8); products are
    then (x - input_zp) * (w - weight_zp), as TFLite's uint8 kernels compute them.
    """
    acc = _correlate(x.astype(np.float64) - input_zp, w.astype(np.float64) - weight_zp, stride, pads)
    acc = acc.astype(np.int64)
    if bias is not None:
        acc = acc + bias.astype(np.int64)
    return requantize(acc, multiplier, shift, output_zp, act_min, act_max)


def run_float(node, graph, inputs):
    x, w = inputs[0][0], inputs[1]
    y = _correlate(x.astype(np.float64), w.astype(np.float64), node.attrs["strides"], node.attrs["pads"])
    if len(inputs) > 2:
        y = y + inputs[2]
    return y.astype(np.float32)[None]


def run_int8(node, graph, inputs):
    from ._quantized import conv_kwargs

    x, w = inputs[0][0], inputs[1]
    bias = inputs[2] if len(inputs) > 2 else None
    return conv2d_s8(x=x, w=w, bias=bias, weight_zp=node.attrs.get("weight_zp", 0), **conv_kwargs(node, graph))[None]
