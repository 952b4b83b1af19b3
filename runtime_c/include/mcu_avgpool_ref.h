/*
 * mcu_avgpool_ref.h - the loops of the reference int8 average pooling, shared by
 * mcu_avgpool_s8_ref and mcu_avgpool_s8_halfup_ref, which differ only in how the average is
 * rounded. Private to the runtime: not part of the public interface in mcu_nn.h.
 *
 * Each public kernel passes its rounding as a constant, which the compiler folds after inlining,
 * so neither kernel tests the rounding inside its loops.
 */
#ifndef MCU_AVGPOOL_REF_H
#define MCU_AVGPOOL_REF_H

#include "mcu_inline.h"
#include "mcu_nn.h"
#include "mcu_requantize.h"

/* How the window sum is divided by the count of in-bounds elements. */
typedef enum {
    /* Nearest, ties away from zero: TFLite's int8 kernel (mcu_avgpool_s8_ref). */
    MCU_AVG_ROUND_HALF_AWAY,
    /* Nearest, ties toward +infinity: TFLite's uint8 kernel rounds (sum + count / 2) / count on
     * values >= 0; on the int8 values a uint8 model is held in here (uint8 - 128) that is
     * floor((sum + count / 2) / count) (mcu_avgpool_s8_halfup_ref). */
    MCU_AVG_ROUND_HALF_UP
} mcu_avg_rounding;

/* sum / count rounded to nearest as rounding says; count > 0. */
MCU_ALWAYS_INLINE int32_t mcu_avg_divide(int32_t sum, int32_t count, mcu_avg_rounding rounding)
{
    if (rounding == MCU_AVG_ROUND_HALF_UP) {
        const int32_t t = sum + count / 2;
        /* Floor division: C truncates toward zero, so a negative numerator is rounded down by hand. */
        return t >= 0 ? t / count : -((count - 1 - t) / count);
    }
    /* C division truncates toward zero, so adding half the count away from zero first rounds to
     * nearest with ties away from zero. */
    return sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
}

/*
 * The output has the input's scale and zero point, so no requantization: each output averages
 * the raw int8 values of the in-bounds window elements (padding is not counted), rounds as
 * rounding says and clamps to [act_min, act_max].
 */
MCU_ALWAYS_INLINE void mcu_avgpool_s8_rounded(const mcu_pool_params *p, mcu_avg_rounding rounding,
                                              mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                                              int8_t *output)
{
    const int32_t channels = out_shape.c;
    int32_t oy, ox, c, iy, ix;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        /* The window clipped to the input rows. */
        const int32_t y_begin = iy0 > 0 ? iy0 : 0;
        const int32_t y_end = iy0 + p->kernel_h < in_shape.h ? iy0 + p->kernel_h : in_shape.h;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t x_begin = ix0 > 0 ? ix0 : 0;
            const int32_t x_end = ix0 + p->kernel_w < in_shape.w ? ix0 + p->kernel_w : in_shape.w;
            const int32_t count = (y_end - y_begin) * (x_end - x_begin);
            for (c = 0; c < channels; c++) {
                int32_t sum = 0;
                for (iy = y_begin; iy < y_end; iy++) {
                    for (ix = x_begin; ix < x_end; ix++) {
                        sum += input[(iy * in_shape.w + ix) * channels + c];
                    }
                }
                *output++ = mcu_clamp_s8(mcu_avg_divide(sum, count, rounding), p->act_min, p->act_max);
            }
        }
    }
}

#endif /* MCU_AVGPOOL_REF_H */
