/*
 * mcu_requantize.h - int32 accumulator -> int8, the one copy every kernel uses.
 *
 * This is TFLite's double-rounding MultiplyByQuantizedMultiplier, built from gemmlowp's
 * SaturatingRoundingDoublingHighMul and RoundingDivideByPOT. mcucompile/quant/fixedpoint.py
 * holds the numpy definition of the same numbers.
 *
 * Assumes what every C99 target we build for provides: int32_t is two's complement (C99 requires
 * it of the exact-width types), uint32_t -> int32_t conversion wraps, and >> of a negative value
 * is arithmetic (implementation-defined in C99; GCC, Clang, armcc and IAR all do so).
 */
#ifndef MCU_REQUANTIZE_H
#define MCU_REQUANTIZE_H

#include <stdint.h>

/*
 * round(a * b / 2^31) with one overflow case saturated: INT32_MIN * INT32_MIN -> INT32_MAX.
 * The nudge is +1/2 for a non-negative product and just under -1/2 for a negative one, and the
 * division truncates toward zero, so ties round toward +infinity (1.5 -> 2, -1.5 -> -1).
 */
static inline int32_t mcu_srdhm(int32_t a, int32_t b)
{
    const int64_t ab = (int64_t)a * (int64_t)b;
    const int64_t nudge = ab >= 0 ? ((int64_t)1 << 30) : (1 - ((int64_t)1 << 30));
    if (a == INT32_MIN && b == INT32_MIN) {
        return INT32_MAX;
    }
    /* C division truncates toward zero; a shift would floor and break the negative side. */
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* x / 2^exponent rounded to nearest, ties away from zero; exponent in [0, 31]. */
static inline int32_t mcu_rounding_divide_by_pot(int32_t x, int32_t exponent)
{
    const int32_t mask = (int32_t)(((uint32_t)1 << exponent) - 1u);
    const int32_t remainder = x & mask;
    /* A negative x needs a strictly larger remainder to round up (toward zero), hence + 1. */
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* x * 2^shift, wrapping in int32 as TFLite's `x * (1 << shift)` does in practice; shift in [0, 31]. */
static inline int32_t mcu_shift_left_wrap(int32_t x, int32_t shift)
{
    /* Shifting the unsigned pattern avoids the undefined signed overflow. */
    return (int32_t)((uint32_t)x << shift);
}

/*
 * acc * multiplier * 2^(shift - 31), TFLite's MultiplyByQuantizedMultiplier (double rounding):
 * a left shift (shift > 0, wrapping) before the high multiply, a rounding right shift after it.
 * multiplier in [2^30, 2^31) or 0, shift in [-31, 30].
 */
static inline int32_t mcu_requantize(int32_t acc, int32_t multiplier, int32_t shift)
{
    const int32_t left = shift > 0 ? shift : 0;
    const int32_t right = shift > 0 ? 0 : -shift;
    return mcu_rounding_divide_by_pot(mcu_srdhm(mcu_shift_left_wrap(acc, left), multiplier), right);
}

/* a + b with int32 wrap-around, for sums whose overflow C would leave undefined. */
static inline int32_t mcu_add_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a + (uint32_t)b);
}

/* Clamp to [lo, hi] (a sub-range of int8) and narrow. */
static inline int8_t mcu_clamp_s8(int32_t v, int32_t lo, int32_t hi)
{
    if (v < lo) {
        v = lo;
    }
    if (v > hi) {
        v = hi;
    }
    return (int8_t)v;
}

/*
 * The whole output stage of conv, depthwise, pointwise and fully connected layers:
 * clamp(mcu_requantize(acc) + output_offset, act_min, act_max) as an int8.
 * The requantized value is first limited to [-256, 255]: that changes no result (the offset is
 * in [-128, 127] and the clamp inside int8) but keeps the addition from overflowing int32 when
 * an extreme accumulator requantizes to near INT32_MIN or INT32_MAX.
 */
static inline int8_t mcu_requantize_s8(int32_t acc, int32_t multiplier, int32_t shift, int32_t output_offset,
                                       int32_t act_min, int32_t act_max)
{
    int32_t v = mcu_requantize(acc, multiplier, shift);
    if (v < -256) {
        v = -256;
    }
    if (v > 255) {
        v = 255;
    }
    return mcu_clamp_s8(v + output_offset, act_min, act_max);
}

#endif /* MCU_REQUANTIZE_H */
