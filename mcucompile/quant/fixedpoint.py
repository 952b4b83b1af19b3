"""Integer arithmetic of TFLite's int8 kernels, vectorised in numpy.

These functions define the numbers every C kernel must reproduce: requantization is
SaturatingRoundingDoublingHighMul followed by RoundingDivideByPOT (gemmlowp), with a
left shift applied first for multipliers above one. All inputs and outputs are int32
values carried in int64 arrays so that intermediate products cannot overflow.
"""
from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def round_half_away(x: np.ndarray | float) -> np.ndarray:
    """Round to nearest, ties away from zero (C's round(), TfLiteRound)."""
    x = np.asarray(x)
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31).

    Returns (multiplier, shift) with shift > 0 meaning a left shift. Tiny multipliers whose shift
    would fall below -31 flush to (0, 0); a mantissa that rounds up to 2^31 is halved and the
    shift incremented, which is the 2^31 edge.
    """
    real_multiplier = float(real_multiplier)
    if real_multiplier == 0.0:
        return 0, 0
    if real_multiplier < 0.0 or not math.isfinite(real_multiplier):
        raise ValueError(f"multiplier must be finite and non-negative, got {real_multiplier!r}")
    mantissa, shift = math.frexp(real_multiplier)
    q_fixed = int(round_half_away(mantissa * (1 << 31)))
    assert q_fixed <= (1 << 31)
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    if shift > 30:
        # A shift this large means a real multiplier >= 2^30: no layer of a sane model
        # gets there, and the int32 left shift would overflow every accumulator.
        raise ValueError(f"multiplier {real_multiplier!r} is too large to requantize in int32")
    return q_fixed, shift


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's-complement wrap of int64 values to the int32 range (what C's int32 arithmetic does)."""
    x = np.asarray(x, dtype=np.int64)
    return ((x + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def saturating_rounding_doubling_high_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int32 values."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b  # |a*b| <= 2^62: fits int64
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    num = ab + nudge
    # C integer division truncates toward zero; numpy's // floors.
    q = np.where(num >= 0, num >> 31, -((-num) >> 31))
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, q)


def rounding_divide_by_pot(x: np.ndarray, exponent: np.ndarray | int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT: arithmetic shift right rounding half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def multiply_by_quantized_multiplier(x: np.ndarray, multiplier: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """TFLite's MultiplyByQuantizedMultiplier (double rounding), broadcast over channels."""
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    # The left shift wraps in int32, as the C kernels do.
    shifted = wrap_int32(np.asarray(x, dtype=np.int64) << left)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(shifted, multiplier), right)


def requantize(acc: np.ndarray, multiplier: np.ndarray, shift: np.ndarray,
               output_zero_point: int, act_min: int, act_max: int) -> np.ndarray:
    """int32 accumulator -> int8 output: scale, add the zero point, clamp to the activation range."""
    y = multiply_by_quantized_multiplier(acc, multiplier, shift) + int(output_zero_point)
    return np.clip(y, act_min, act_max).astype(np.int8)


# --- gemmlowp fixed-point functions used by the int8 softmax --------------------------------
# Qm.n below is an int32 with m integer and n = 31 - m fractional bits. The C twins live in
# runtime_c/include/mcu_fixedpoint.h. Constants are the named real numbers rounded to nearest.


def quantize_multiplier_greater_than_one(real_multiplier: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplierGreaterThanOne: real = multiplier * 2^(shift - 31), shift in [1, 31].

    Unlike quantize_multiplier it allows a shift of 31, which softmax reaches when its capped
    multiplier 2^31 - 1 is quantized (the shifted inputs are then small enough not to overflow).
    """
    real_multiplier = float(real_multiplier)
    if not (real_multiplier > 1.0 and math.isfinite(real_multiplier)):
        raise ValueError(f"multiplier must be finite and greater than one, got {real_multiplier!r}")
    mantissa, shift = math.frexp(real_multiplier)
    q_fixed = int(round_half_away(mantissa * (1 << 31)))
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift > 31:
        raise ValueError(f"multiplier {real_multiplier!r} is too large for an int32 left shift")
    return q_fixed, shift


def saturating_shift_left(x: np.ndarray, exponent: int) -> np.ndarray:
    """x * 2^exponent saturated to int32 (gemmlowp's SaturatingRoundingMultiplyByPOT, exponent > 0)."""
    x = np.asarray(x, dtype=np.int64)
    limit = (1 << (31 - exponent)) - 1
    return np.where(x > limit, INT32_MAX, np.where(x < -limit, INT32_MIN, x << exponent))


def rounding_half_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(a + b) / 2 rounded to nearest, ties away from zero."""
    s = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    # (s + sign) / 2 with C's truncating division: floor for s >= 0, ceil below.
    t = s + np.where(s >= 0, 1, -1)
    return np.where(t >= 0, t >> 1, -((-t) >> 1))


def _exp_on_interval_minus_quarter_to_zero(a: np.ndarray) -> np.ndarray:
    """exp(a) for a in [-1/4, 0), Q0.31: Taylor polynomial of degree 4 around -1/8."""
    srdhm = saturating_rounding_doubling_high_mul
    exp_minus_one_eighth = 1895147668  # exp(-1/8)
    one_third = 715827883  # 1/3
    x = wrap_int32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rounding_divide_by_pot(x4, 2)
    higher_terms = rounding_divide_by_pot(wrap_int32(srdhm(wrap_int32(x4_over_4 + x3), one_third) + x2), 1)
    return wrap_int32(exp_minus_one_eighth + srdhm(exp_minus_one_eighth, wrap_int32(x + higher_terms)))


# exp(-2^k) for k = -2 .. 4 in Q0.31, picked by bits 24 .. 30 of a Q5.26 multiple of 1/4.
_EXP_OF_MINUS_POWER_OF_TWO = (1672461947, 1302514674, 790015084, 290630308, 39332535, 720401, 242)


def exp_on_negative_values_q5_26(a: np.ndarray) -> np.ndarray:
    """exp(a) for a <= 0 in Q5.26 (a >= -32), result in Q0.31; exp(0) is INT32_MAX."""
    a = np.asarray(a, dtype=np.int64)
    one_quarter = 1 << 24
    a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter
    result = _exp_on_interval_minus_quarter_to_zero(a_mod_quarter_minus_quarter * 32)
    remainder = a_mod_quarter_minus_quarter - a
    for k, factor in enumerate(_EXP_OF_MINUS_POWER_OF_TWO):
        bit_set = (remainder & (1 << (24 + k))) != 0
        result = np.where(bit_set, saturating_rounding_doubling_high_mul(result, factor), result)
    return np.where(a == 0, INT32_MAX, result)


def one_over_one_plus_x_for_x_in_0_1(a: np.ndarray) -> np.ndarray:
    """1 / (1 + a) for a in [0, 1), Q0.31: three Newton-Raphson steps in Q2.29."""
    srdhm = saturating_rounding_doubling_high_mul
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap_int32(1515870810 + srdhm(half_denominator, -1010580540))  # 48/17 - 32/17 * d
    for _ in range(3):
        one_minus_d_times_x = wrap_int32((1 << 29) - srdhm(half_denominator, x))
        x = wrap_int32(x + saturating_shift_left(srdhm(x, one_minus_d_times_x), 2))
    # x ~= 2 / (1 + a) in Q2.29 is 1 / (1 + a) in Q1.30; Q1.30 -> Q0.31.
    return saturating_shift_left(x, 1)


def count_leading_zeros_u32(x: np.ndarray) -> np.ndarray:
    """Leading zero bits of x as a uint32 (32 for 0)."""
    x = np.asarray(x, dtype=np.int64) & 0xFFFFFFFF
    # Values below 2^32 are exact in float64, and frexp's exponent is the bit length (0 for 0).
    return 32 - np.frexp(x.astype(np.float64))[1].astype(np.int64)
