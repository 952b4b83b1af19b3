/*
 * mcu_fixedpoint.h - the gemmlowp fixed-point functions that TFLite's int8 softmax is built on.
 *
 * Notation: Qm.n is a signed 32-bit number with m integer bits and n = 31 - m fractional bits,
 * so raw r stands for r / 2^n. A product of Qa and Qb values taken with mcu_srdhm is a Q(a+b)
 * value. Where gemmlowp's int32 arithmetic would overflow (it never does for the softmax
 * inputs) these helpers wrap instead of leaving C's behaviour undefined.
 *
 * The numpy twins live in mcucompile/quant/fixedpoint.py; the constants are the Q0.31 (or Q2.29)
 * values of the real numbers named beside them, rounded to nearest.
 */
#ifndef MCU_FIXEDPOINT_H
#define MCU_FIXEDPOINT_H

#include <stdint.h>

#include "mcu_requantize.h"

static inline int32_t mcu_sub_wrap(int32_t a, int32_t b)
{
    return (int32_t)((uint32_t)a - (uint32_t)b);
}

/* Number of leading zero bits of x (32 for 0). A loop: softmax calls it once per row. */
static inline int32_t mcu_clz_u32(uint32_t x)
{
    int32_t n = 0;
    if (x == 0u) {
        return 32;
    }
    while ((x & 0x80000000u) == 0u) {
        x <<= 1;
        n++;
    }
    return n;
}

/* x * 2^exponent saturated to int32, exponent in [1, 30]: how gemmlowp widens a fixed-point format. */
static inline int32_t mcu_saturating_shift_left(int32_t x, int32_t exponent)
{
    const int32_t limit = (int32_t)(((uint32_t)1 << (31 - exponent)) - 1u);
    if (x > limit) {
        return INT32_MAX;
    }
    if (x < -limit) {
        return INT32_MIN;
    }
    return x * (int32_t)((uint32_t)1 << exponent); /* |x| <= limit: cannot overflow */
}

/* (a + b) / 2 rounded to nearest, ties away from zero. */
static inline int32_t mcu_rounding_half_sum(int32_t a, int32_t b)
{
    const int64_t sum = (int64_t)a + (int64_t)b;
    return (int32_t)((sum + (sum >= 0 ? 1 : -1)) / 2);
}

/*
 * exp(a) for a in [-1/4, 0), Q0.31 in and out: a degree-4 Taylor polynomial around -1/8,
 * exp(-1/8) * (1 + x + x^2/2 + x^3/6 + x^4/24) with x = a + 1/8, evaluated as
 * exp(-1/8) + exp(-1/8) * (x + ((x^4/4 + x^3) / 3 + x^2) / 2).
 */
static inline int32_t mcu_exp_on_interval_minus_quarter_to_zero(int32_t a)
{
    const int32_t exp_minus_one_eighth = 1895147668; /* exp(-1/8) */
    const int32_t one_third = 715827883;             /* 1/3 */
    const int32_t x = mcu_add_wrap(a, (int32_t)1 << 28);
    const int32_t x2 = mcu_srdhm(x, x);
    const int32_t x3 = mcu_srdhm(x2, x);
    const int32_t x4 = mcu_srdhm(x2, x2);
    const int32_t x4_over_4 = mcu_rounding_divide_by_pot(x4, 2);
    const int32_t higher_terms = mcu_rounding_divide_by_pot(
        mcu_add_wrap(mcu_srdhm(mcu_add_wrap(x4_over_4, x3), one_third), x2), 1);
    return mcu_add_wrap(exp_minus_one_eighth, mcu_srdhm(exp_minus_one_eighth, mcu_add_wrap(x, higher_terms)));
}

/*
 * exp(a) for a <= 0 given in Q5.26 (so a >= -32), result in Q0.31.
 * a is split as (a mod 1/4) - 1/4, which lies in [-1/4, 0) and goes through the polynomial,
 * plus a non-positive multiple of 1/4, whose bits pick factors exp(-1/4), exp(-1/2), ..., exp(-16).
 */
static inline int32_t mcu_exp_on_negative_values_q5_26(int32_t a)
{
    /* exp(-2^k) for k = -2 .. 4, selected by bits 24 .. 30 of the multiple of 1/4. */
    static const int32_t exp_of_minus_power_of_two[7] = {
        1672461947, /* exp(-1/4) */
        1302514674, /* exp(-1/2) */
        790015084,  /* exp(-1) */
        290630308,  /* exp(-2) */
        39332535,   /* exp(-4) */
        720401,     /* exp(-8) */
        242,        /* exp(-16) */
    };
    const int32_t one_quarter = (int32_t)1 << 24; /* 1/4 in Q5.26 */
    const int32_t a_mod_quarter_minus_quarter = (a & (one_quarter - 1)) - one_quarter;
    /* Q5.26 -> Q0.31 is x * 2^5; the value is in [-1/4, 0), so it cannot saturate. */
    int32_t result = mcu_exp_on_interval_minus_quarter_to_zero(a_mod_quarter_minus_quarter * 32);
    const int32_t remainder = a_mod_quarter_minus_quarter - a; /* in [0, 2^31): a >= -2^31 + 2^24 suffices */
    int32_t k;
    for (k = 0; k < 7; k++) {
        if (remainder & ((int32_t)1 << (24 + k))) {
            result = mcu_srdhm(result, exp_of_minus_power_of_two[k]);
        }
    }
    /* exp(0) = 1 is not representable in Q0.31; the largest value stands for it. */
    return a == 0 ? INT32_MAX : result;
}

/*
 * 1 / (1 + a) for a in [0, 1), Q0.31 in and out: three Newton-Raphson steps on the half
 * denominator d = (1 + a) / 2 in [1/2, 1), starting from 48/17 - 32/17 * d, in Q2.29.
 */
static inline int32_t mcu_one_over_one_plus_x_for_x_in_0_1(int32_t a)
{
    const int32_t forty_eight_over_17 = 1515870810;       /* 48/17 in Q2.29 */
    const int32_t minus_thirty_two_over_17 = -1010580540; /* -32/17 in Q2.29 */
    const int32_t one_q2_29 = (int32_t)1 << 29;
    const int32_t half_denominator = mcu_rounding_half_sum(a, INT32_MAX);
    int32_t x = mcu_add_wrap(forty_eight_over_17, mcu_srdhm(half_denominator, minus_thirty_two_over_17));
    int32_t i;
    for (i = 0; i < 3; i++) {
        const int32_t one_minus_d_times_x = mcu_sub_wrap(one_q2_29, mcu_srdhm(half_denominator, x));
        /* x * (1 - d x) is a Q4.27 product; back to Q2.29 by a saturating shift of 2. */
        x = mcu_add_wrap(x, mcu_saturating_shift_left(mcu_srdhm(x, one_minus_d_times_x), 2));
    }
    /* x ~= 2 / (1 + a) in Q2.29; the same raw bits are 1 / (1 + a) in Q1.30, and Q1.30 -> Q0.31 is a shift of 1. */
    return mcu_saturating_shift_left(x, 1);
}

#endif /* MCU_FIXEDPOINT_H */
