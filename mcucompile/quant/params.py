"""Choosing int8 parameters: per-tensor asymmetric activations, per-channel symmetric weights,
int32 biases, and the fixed-point multipliers that rescale one into the next."""
from __future__ import annotations

import numpy as np

from ..errors import QuantError
from ..ir import QParams
from .fixedpoint import INT32_MAX, INT32_MIN, quantize_multiplier, round_half_away

QMIN, QMAX = -128, 127
WEIGHT_MAX = 127  # weights use [-127, 127] so that the range is symmetric around zero point 0


def activation_qparams(lo: float, hi: float) -> QParams:
    """Asymmetric int8 parameters covering [lo, hi] and the real value 0 exactly."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8  # a tensor that is always zero still needs a usable scale
    scale = np.float32((hi - lo) / (QMAX - QMIN))
    zero_point = int(np.clip(round_half_away(QMIN - lo / float(scale)), QMIN, QMAX))
    return QParams.per_tensor(float(scale), zero_point)


def quantize_weights(w: np.ndarray, channel_axis: int, node: str) -> tuple[np.ndarray, QParams]:
    """Symmetric per-output-channel int8 weights: scale = max|w| / 127, zero point 0.

    A channel of zeros gets scale 1. Refused: non-finite weights, and a channel so small that its
    scale underflows float32 (it could only be quantized to zeros it does not hold)."""
    axis = channel_axis % w.ndim
    if not np.all(np.isfinite(w)):
        c = int(np.argwhere(~np.isfinite(w))[0][axis])
        raise QuantError(f"node '{node}' channel {c}: weights are NaN or infinite")
    axes = tuple(a for a in range(w.ndim) if a != axis)
    max_abs = np.abs(w).max(axis=axes).astype(np.float32)
    scale = np.where(max_abs > 0, max_abs / np.float32(WEIGHT_MAX), np.float32(1.0)).astype(np.float32)
    if np.any(scale == 0):
        c = int(np.argmax(scale == 0))
        raise QuantError(f"node '{node}' channel {c}: weights of at most {float(max_abs[c]):.3g} in magnitude are "
                         "too small for an int8 scale (max|w| / 127 underflows float32); set the channel to zeros "
                         "if it is meant to be dead")
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(round_half_away(w.astype(np.float64) / scale.reshape(shape).astype(np.float64)), -WEIGHT_MAX, WEIGHT_MAX)
    return q.astype(np.int8), QParams(scale, np.zeros_like(scale, dtype=np.int32), axis=axis)


def quantize_bias(b: np.ndarray, input_scale: float, weight_scale: np.ndarray, node: str) -> np.ndarray:
    """int32 bias at scale input_scale * weight_scale[c]; refused where it does not fit int32."""
    if not np.all(np.isfinite(b)):
        raise QuantError(f"node '{node}' channel {int(np.argmax(~np.isfinite(b)))}: bias is NaN or infinite")
    bias_scale = np.float64(input_scale) * weight_scale.astype(np.float64)
    q = round_half_away(b.astype(np.float64) / bias_scale)
    over = (q > INT32_MAX) | (q < INT32_MIN)
    if over.any():
        c = int(np.argmax(over))
        # The bias scale is input scale x max|w[c]| / 127: larger weights in that channel give room.
        needed = abs(float(b[c])) / INT32_MAX / float(input_scale) * WEIGHT_MAX
        raise QuantError(
            f"node '{node}' channel {c}: bias {float(b[c]):.6g} is {abs(float(q[c])):.4g} times its int32 scale "
            f"(input scale {float(input_scale):.3g} x weight scale {float(weight_scale[c]):.3g}), beyond int32's "
            f"{INT32_MAX:,}; it fits only if that channel's largest weight is at least {needed:.3g} in magnitude "
            f"(now {float(weight_scale[c]) * WEIGHT_MAX:.3g}): the weights are too small next to the bias")
    return q.astype(np.int32)


def check_accumulator(node: str, bias: np.ndarray | None, weights: np.ndarray, channel_axis: int,
                      input_zero_point: int) -> None:
    """Refuse a layer whose int32 accumulator, bias + sum((x - zp) * w), could overflow for some input.

    The C kernels add in int32, where overflow is undefined; a bound over all inputs x in [-128, 127]
    is |bias| + max|x - zp| * sum|w| per output channel."""
    axis = channel_axis % weights.ndim
    axes = tuple(a for a in range(weights.ndim) if a != axis)
    taps = np.abs(weights.astype(np.int64)).sum(axis=axes)
    reach = max(QMAX - input_zero_point, input_zero_point - QMIN)
    base = np.zeros_like(taps) if bias is None else np.abs(bias.astype(np.int64))
    bound = base + reach * taps
    if np.any(bound > INT32_MAX):
        c = int(np.argmax(bound > INT32_MAX))
        raise QuantError(f"node '{node}' channel {c}: int32 bias {int(base[c]):,} plus products up to "
                         f"{int(reach * taps[c]):,} can exceed int32 ({INT32_MAX:,}), and the accumulator would "
                         "wrap: the bias is too large next to the weights")


def real_multipliers(input_scale: float, weight_scale: np.ndarray, output_scale: float) -> np.ndarray:
    """The double-precision in_scale * w_scale[c] / out_scale per channel (TFLite's int8 kernels)."""
    weight_scale = np.asarray(weight_scale, dtype=np.float32).reshape(-1).astype(np.float64)
    return np.float64(input_scale) * weight_scale / np.float64(output_scale)


def channel_multipliers(input_scale: float, weight_scale: np.ndarray, output_scale: float,
                        node: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) by TFLite's QuantizeMultiplier on real_multipliers.

    Refused: a scale that is not finite and positive, a multiplier too large for int32. A real
    multiplier below 2^-32 flushes to 0, as in TFLite (see check_no_flush)."""
    scales = np.asarray(weight_scale, dtype=np.float32).reshape(-1)
    for what, value in (("input", input_scale), ("output", output_scale)):
        if not (np.isfinite(value) and value > 0):
            raise QuantError(f"node '{node}': {what} scale {float(value)!r} is not a positive number")
    bad = ~(np.isfinite(scales) & (scales > 0))
    if bad.any():
        c = int(np.argmax(bad))
        raise QuantError(f"node '{node}' channel {c}: weight scale {float(scales[c])!r} is not a positive number")
    pairs = []
    for c, real in enumerate(real_multipliers(input_scale, scales, output_scale)):
        try:
            pairs.append(quantize_multiplier(float(real)))
        except ValueError:
            raise QuantError(f"node '{node}' channel {c}: requantization multiplier {real:.4g} (input scale "
                             f"{float(input_scale):.3g} x weight scale {float(scales[c]):.3g} / output scale "
                             f"{float(output_scale):.3g}) is too large for int32") from None
    return (np.array([m for m, _ in pairs], dtype=np.int32), np.array([s for _, s in pairs], dtype=np.int32))


def check_no_flush(node: str, input_scale: float, weight_scale: np.ndarray, output_scale: float,
                   multiplier: np.ndarray) -> None:
    """Refuse a channel whose requantization multiplier flushed to 0: every output of it would be the
    zero point, whatever its input. (TFLite flushes silently; scales the compiler chose must not.)"""
    real = real_multipliers(input_scale, weight_scale, output_scale)
    flushed = (np.asarray(multiplier) == 0) & (real > 0)
    if flushed.any():
        c = int(np.argmax(flushed))
        w_scale = float(np.asarray(weight_scale).reshape(-1)[c])
        raise QuantError(f"node '{node}' channel {c}: requantization multiplier {real[c]:.4g} (input scale "
                         f"{float(input_scale):.3g} x weight scale {w_scale:.3g} "
                         f"/ output scale {float(output_scale):.3g}) is below 2^-32 and would flush to 0, making "
                         "the channel constant: its weights are negligible next to the output's range (set them "
                         "to zeros if the channel is meant to be dead)")


def activation_clamp(activation: tuple[float, float] | None, q: QParams) -> tuple[int, int]:
    """The int8 clamp for a fused ReLU/ReLU6/Clip, as TFLite's CalculateActivationRangeQuantized."""
    if activation is None:
        return QMIN, QMAX
    lo, hi = activation
    scale, zp = q.scalar_scale, q.scalar_zero_point

    def quantize(v: float) -> float:
        return zp + float(round_half_away(np.float32(v) / np.float32(scale)))

    act_min = QMIN if np.isneginf(lo) else max(QMIN, quantize(lo))
    act_max = QMAX if np.isposinf(hi) else min(QMAX, quantize(hi))
    return int(act_min), int(act_max)
