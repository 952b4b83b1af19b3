"""quantize_multiplier and the requantization primitives against values worked out by hand from
TFLite's definitions (QuantizeMultiplier, gemmlowp's SaturatingRoundingDoublingHighMul and
RoundingDivideByPOT)."""
from fractions import Fraction

import numpy as np
import pytest

from mcucompile.quant.fixedpoint import (multiply_by_quantized_multiplier, quantize_multiplier,
                                         rounding_divide_by_pot, saturating_rounding_doubling_high_mul)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


@pytest.mark.parametrize("real, expected", [
    (0.0, (0, 0)),
    (0.5, (2**30, 0)),
    (1.0, (2**30, 1)),  # mantissa 0.5, exponent 1
    (0.75, (3 * 2**29, 0)),
    (3.0, (3 * 2**29, 2)),  # a multiplier > 1 gives a left shift
    (1 - 2**-33, (2**30, 1)),  # mantissa*2^31 rounds up to exactly 2^31: halved, shift + 1
    (0.5 + 2**-32, (2**30 + 1, 0)),  # mantissa*2^31 = 2^30 + 0.5: the tie rounds away from zero
    (0.5 + 2**-33, (2**30, 0)),  # 2^30 + 0.25 rounds down
    (2**-31, (2**30, -30)),
    (2**-32, (2**30, -31)),  # the smallest shift still representable
    (2**-33, (0, 0)),  # shift -32 would shift every bit out: flushed to zero
    (2**-40, (0, 0)),
])
def test_quantize_multiplier_edges(real, expected):
    assert quantize_multiplier(real) == expected


@pytest.mark.parametrize("real", [1e-6, 0.000123, 0.0173, 0.33333, 0.9999, 1.5, 7.77, 1000.0])
def test_quantize_multiplier_is_within_half_an_lsb(real):
    m, shift = quantize_multiplier(real)
    assert 2**30 <= m < 2**31
    error = abs(Fraction(m) * Fraction(2) ** (shift - 31) - Fraction(real))
    assert error <= Fraction(2) ** (shift - 32)


def test_saturating_rounding_doubling_high_mul():
    srdhm = lambda a, b: int(saturating_rounding_doubling_high_mul(np.int64(a), np.int64(b)))
    assert srdhm(INT32_MIN, INT32_MIN) == INT32_MAX  # the one overflow case saturates
    assert srdhm(2**30, 2**30) == 2**29  # (2^60 * 2) >> 32
    assert srdhm(3, 2**30) == 2  # 1.5 rounds up
    # gemmlowp's nudge makes a negative tie round toward zero: -1.5 -> -1, -0.5 -> 0.
    assert srdhm(-3, 2**30) == -1
    assert srdhm(1, 2**30) == 1
    assert srdhm(-1, 2**30) == 0
    assert srdhm(-5, 2**30) == -2
    assert srdhm(INT32_MAX, INT32_MAX) == INT32_MAX - 1


@pytest.mark.parametrize("x, exponent, expected", [
    (5, 1, 3), (-5, 1, -3), (6, 2, 2), (-6, 2, -2), (-4, 1, -2), (7, 2, 2), (-7, 2, -2),
    (1, 0, 1), (INT32_MIN, 31, -1), (INT32_MAX, 31, 1), (-(2**30), 31, -1), (2**30, 31, 1), (-(2**30) + 1, 31, 0),
])
def test_rounding_divide_by_pot_ties_away_from_zero(x, exponent, expected):
    assert int(rounding_divide_by_pot(np.int64(x), exponent)) == expected


def test_multiply_by_quantized_multiplier_left_shift_wraps_like_int32():
    # 2^29 << 2 = 2^31 wraps to INT32_MIN in C's int32 arithmetic; times 0.5 gives -2^30.
    assert int(multiply_by_quantized_multiplier(np.int64(2**29), 2**30, 2)) == -(2**30)
    assert int(multiply_by_quantized_multiplier(np.int64(1000), 2**30, -3)) == 63  # 1000/16 = 62.5 -> 63
    assert int(multiply_by_quantized_multiplier(np.int64(-1000), 2**30, -3)) == -63
