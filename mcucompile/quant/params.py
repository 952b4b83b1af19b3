"""Choosing int8 parameters: per-tensor asymmetric activations, per-channel symmetric weights,
int32 biases, and the fixed-point multipliers that rescale one into the next."""
from __future__ import annotations

import numpy as np

from ..errors import QuantError
from ..ir import QParams
from .fixedpoint import quantize_multiplier, round_half_away

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


def quantize_weights(w: np.ndarray, channel_axis: int) -> tuple[np.ndarray, QParams]:
    """Symmetric per-output-channel int8 weights: scale = max|w| / 127, zero point 0."""
    axes = tuple(a for a in range(w.ndim) if a != channel_axis % w.ndim)
    max_abs = np.abs(w).max(axis=axes).astype(np.float32)
    scale = np.where(max_abs > 0, max_abs / np.float32(WEIGHT_MAX), np.float32(1.0)).astype(np.float32)
    shape = [1] * w.ndim
    shape[channel_axis] = -1
    q = np.clip(round_half_away(w.astype(np.float64) / scale.reshape(shape).astype(np.float64)), -WEIGHT_MAX, WEIGHT_MAX)
    return q.astype(np.int8), QParams(scale, np.zeros_like(scale, dtype=np.int32), axis=channel_axis % w.ndim)


def quantize_bias(b: np.ndarray, input_scale: float, weight_scale: np.ndarray) -> np.ndarray:
    """int32 bias at scale input_scale * weight_scale[c]."""
    bias_scale = np.float64(input_scale) * weight_scale.astype(np.float64)
    q = round_half_away(b.astype(np.float64) / bias_scale)
    return np.clip(q, -(1 << 31), (1 << 31) - 1).astype(np.int32)


def channel_multipliers(input_scale: float, weight_scale: np.ndarray, output_scale: float,
                        layer: str = "?") -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (multiplier, shift) for the double-precision in_scale * w_scale / out_scale."""
    try:
        pairs = [quantize_multiplier(float(np.float64(input_scale) * np.float64(ws) / np.float64(output_scale)))
                 for ws in np.asarray(weight_scale, dtype=np.float32).reshape(-1)]
    except (ValueError, ZeroDivisionError) as exc:
        raise QuantError(f"layer '{layer}': scales in {input_scale!r} x weights / out {output_scale!r} "
                         f"cannot be requantized in int32 ({exc})") from None
    return (np.array([m for m, _ in pairs], dtype=np.int32), np.array([s for _, s in pairs], dtype=np.int32))


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
