"""Softmax over the last axis; the int8 form is TFLite Micro's int8 -> int8 reference, bit for bit.

int8 arithmetic, per row, with d = x - max(row) <= 0:
  * d < diff_min: the probability rounds to nothing, output -128;
  * otherwise d is rescaled by input_multiplier * 2^input_left_shift (beta * input_scale folded
    in) to a Q5.26 number, exponentiated in fixed point (Q0.31) and summed in Q12.19;
  * 1 / sum comes from Newton-Raphson on the sum normalised to [1, 2), and each output is
    exp * (1 / sum) rounded to the fixed output scale 1/256 with zero point -128.
The C twin is runtime_c/ref/mcu_softmax_s8_ref.c.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import QuantError
from ..quant.fixedpoint import (count_leading_zeros_u32, exp_on_negative_values_q5_26, one_over_one_plus_x_for_x_in_0_1,
                                quantize_multiplier_greater_than_one, rounding_divide_by_pot,
                                saturating_rounding_doubling_high_mul, wrap_int32)

# Integer bits of the exp() input (Q5.26) and of the sum of exponentials (Q12.19), as in TFLite.
SCALED_DIFF_INTEGER_BITS = 5
ACCUMULATION_INTEGER_BITS = 12
# The output parameters are fixed by TFLite's int8 kernel: scale 1/256, zero point -128.
OUTPUT_SCALE = 1.0 / 256.0
OUTPUT_ZERO_POINT = -128

OP = "softmax"


def attach_params(node, input_scale: float) -> None:
    """Store on a softmax node the int8 kernel's parameters for its input scale."""
    try:
        mult, shift, diff_min = softmax_params(input_scale, node.attrs.get("beta", 1.0))
    except QuantError as exc:
        raise QuantError(f"node '{node.name}' ({OP}): {exc}") from None
    node.attrs.update(input_multiplier=mult, input_left_shift=shift, diff_min=diff_min)


def output_shape(node, graph) -> tuple[int, ...]:
    return graph.tensor(node.inputs[0]).shape


def macs(node, graph) -> int:
    return 0


def run_float(node, graph, inputs):
    x = inputs[0].astype(np.float64) * node.attrs.get("beta", 1.0)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def run_int8(node, graph, inputs):
    x = inputs[0]
    a = node.attrs
    rows = x.reshape(-1, x.shape[-1])
    return softmax_s8(rows, a["input_multiplier"], a["input_left_shift"], a["diff_min"]).reshape(x.shape)


def softmax_params(input_scale: float, beta: float = 1.0) -> tuple[int, int, int]:
    """(input_multiplier, input_left_shift, diff_min) as TFLite Micro computes them.

    PreprocessSoftmaxScaling(beta, input_scale, 5): the real multiplier beta * input_scale * 2^26,
    capped at 2^31 - 1, goes through QuantizeMultiplierGreaterThanOne; then
    diff_min = -CalculateInputRadius(5, input_left_shift) = -floor((2^5 - 1) * 2^26 / 2^shift).
    Both scale and beta are float32 in a TFLite model, so they are rounded to float32 first and
    the rest is computed in double precision, as TFLite does.
    """
    scale = float(np.float32(input_scale))
    beta = float(np.float32(beta))
    fraction_bits = 31 - SCALED_DIFF_INTEGER_BITS
    real_multiplier = min(beta * scale * (1 << fraction_bits), (1 << 31) - 1.0)
    if not real_multiplier > 1.0:
        raise QuantError(
            f"beta * input scale = {beta} * {scale} is below 2^-{fraction_bits}; "
            "TFLite's int8 softmax cannot represent an input step that small"
        )
    multiplier, shift = quantize_multiplier_greater_than_one(real_multiplier)
    radius = math.floor(((1 << SCALED_DIFF_INTEGER_BITS) - 1) * (1 << fraction_bits) / (1 << shift))
    return multiplier, shift, -radius


def softmax_s8(x: np.ndarray, input_multiplier: int, input_left_shift: int, diff_min: int) -> np.ndarray:
    """int8 softmax of every row of x [rows, depth] (depth <= 4095) -> int8 [rows, depth]."""
    x = np.asarray(x)
    if x.dtype != np.int8 or x.ndim != 2:
        raise ValueError(f"softmax_s8 takes an int8 [rows, depth] array, got {x.dtype} {list(x.shape)}")
    srdhm = saturating_rounding_doubling_high_mul
    diff = x.astype(np.int64) - x.max(axis=1, keepdims=True).astype(np.int64)
    kept = diff >= diff_min
    # For kept differences the left shift cannot overflow int32: diff_min is chosen so.
    scaled_diff = srdhm(wrap_int32(np.where(kept, diff, 0) << input_left_shift), input_multiplier)
    exps = exp_on_negative_values_q5_26(scaled_diff)  # Q0.31
    exps_q12 = rounding_divide_by_pot(exps, ACCUMULATION_INTEGER_BITS)  # Q12.19
    sum_of_exps = wrap_int32(np.where(kept, exps_q12, 0).sum(axis=1, keepdims=True))

    # sum = 2^(12 - headroom) * (1 + f), f in [0, 1): 1 / sum = 2^(headroom - 12) / (1 + f).
    headroom = count_leading_zeros_u32(sum_of_exps)
    reciprocal = one_over_one_plus_x_for_x_in_0_1(wrap_int32((sum_of_exps << headroom) - (1 << 31)))
    # Q0.31 product -> units of 1/256: a rounding right shift by (12 - headroom) + 31 - 8.
    # When that exceeds 31 (sum >= 512) every output rounds to 0; TFLite's reference stops on a
    # check there, and the C kernel writes -128 directly.
    exponent = ACCUMULATION_INTEGER_BITS - headroom + 31 - 8
    out = rounding_divide_by_pot(srdhm(reciprocal, exps), exponent) + OUTPUT_ZERO_POINT
    out = np.where(kept, out, OUTPUT_ZERO_POINT)
    return np.clip(out, -128, 127).astype(np.int8)

