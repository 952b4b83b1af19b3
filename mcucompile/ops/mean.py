"""Mean over height and width of an NHWC tensor; the int8 form is TFLite Micro's int8 MEAN, bit for bit.

A pre-quantized model states the output's own scale and zero point, which need not be the input's
(unlike avg_pool), so the mean requantizes. TFLite Micro computes, for count = H * W:
  * at prepare time, (multiplier, shift) = QuantizeMultiplier(double(in_scale) / double(out_scale));
  * at run time, 1 / count folded into it: s = min(floor(log2 count), 32, 31 + shift),
    multiplier' = (int64(multiplier) << s) / count (truncating), shift' = shift - s;
  * per channel, out = clamp(MultiplyByQuantizedMultiplier(sum - in_zp * count, multiplier', shift')
    + out_zp, -128, 127), the sum taken over the H * W int8 values in int32.
Equal input and output parameters take the same path (multiplier 2^30, shift 1). Every factor is
static, so the compiler does both stages once (mean_params); the C twin is
runtime_c/ref/mcu_mean_s8_ref.c. A float model's mean over H and W is an avg_pool instead.

Node attrs: keep_dims (output [1, 1, 1, C], else [1, C]); multiplier and shift, set by
attach_params once the input and output tensors carry their QParams.
"""
from __future__ import annotations

import numpy as np

from ..errors import QuantError, ShapeError
from ..quant.fixedpoint import multiply_by_quantized_multiplier, quantize_multiplier, wrap_int32

OP = "mean"
AXES = (1, 2)  # the only reduction the op takes: H and W of [1, H, W, C]
# sum - in_zp * count spans +-255 * count and must stay inside int32.
MAX_COUNT = ((1 << 31) - 1) // 255


def output_shape(node, graph) -> tuple[int, ...]:
    _, _, _, c = graph.tensor(node.inputs[0]).shape
    return (1, 1, 1, c) if node.attrs.get("keep_dims", True) else (1, c)


def macs(node, graph) -> int:
    return 0  # additions only, as for average pooling


def mean_params(input_scale: float, output_scale: float, count: int, label: str = "mean") -> tuple[int, int]:
    """(multiplier, shift) for mean_s8: TFLite Micro's prepare-time multiplier with 1 / count folded in.

    The scales are float32 in a model, so they are rounded to float32 before the double-precision
    ratio, as TFLite Micro's `static_cast<double>(params.scale)` sees them.
    """
    if not 1 <= count <= MAX_COUNT:
        raise ShapeError(f"{label}: a mean over {count:,} values (at most {MAX_COUNT:,}, so that the int32 sum "
                         "cannot overflow)")
    real = float(np.float32(input_scale)) / float(np.float32(output_scale))
    try:
        multiplier, shift = quantize_multiplier(real)
    except ValueError as exc:
        raise QuantError(f"{label}: input scale / output scale = {real!r} cannot be requantized in int32 "
                         f"({exc})") from None
    s = min(count.bit_length() - 1, 32, 31 + shift)
    return int((multiplier << s) // count), shift - s


def attach_params(node, x, y) -> None:
    """Store on a mean node the kernel's (multiplier, shift) for its input and output tensors."""
    _, h, w, _ = x.shape
    node.attrs["multiplier"], node.attrs["shift"] = mean_params(
        x.qparams.scalar_scale, y.qparams.scalar_scale, h * w, f"node '{node.name}'")


def mean_s8(x: np.ndarray, input_zp: int, output_zp: int, multiplier: int, shift: int) -> np.ndarray:
    """int8 reference: x [H, W, C] -> [C], the mean of each channel requantized to the output's parameters."""
    x = np.asarray(x)
    count = x.shape[0] * x.shape[1]
    sums = x.astype(np.int64).sum(axis=(0, 1))
    shifted = wrap_int32(sums - int(input_zp) * count)
    y = multiply_by_quantized_multiplier(shifted, multiplier, shift) + int(output_zp)
    return np.clip(y, -128, 127).astype(np.int8)


def run_float(node, graph, inputs):
    keep = node.attrs.get("keep_dims", True)
    return inputs[0].astype(np.float64).mean(axis=AXES, keepdims=keep).astype(np.float32)


def run_int8(node, graph, inputs):
    a = node.attrs
    y = mean_s8(inputs[0][0], graph.tensor(node.inputs[0]).qparams.scalar_zero_point,
                graph.tensor(node.outputs[0]).qparams.scalar_zero_point, a["multiplier"], a["shift"])
    return y.reshape(output_shape(node, graph))
