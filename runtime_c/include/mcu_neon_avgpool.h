/*
 * mcu_neon_avgpool.h - the loops of average pooling with AArch64 NEON: the numbers of
 * mcu_avgpool_s8_ref (ties away from zero) and mcu_avgpool_s8_halfup_ref (ties up), byte for byte.
 *
 * Sixteen channels at a time: the in-bounds window elements are summed in int32 lanes, and each sum
 * divided by the count in single precision. That division is exact enough to round right: a window
 * has count < 65536 elements, so |sum| + count / 2 < 2^24 is an exact float, and the quotient, at most
 * 128.5 in magnitude, is within half an ulp (< 2^-17) of the true one, while a true quotient that is
 * not an integer lies at least 1 / count > 2^-16 from every integer; truncating (ties away: on |sum| +
 * count / 2, the sign put back after) or flooring (ties up: on sum + count / 2) it gives the integer
 * division's result. A layer of fewer than 16 channels, and the channels a block cannot reach without
 * reading past the pixel, go through the reference's own scalar division (mcu_avgpool_ref.h); a layer
 * of 16 or more channels ends with a block that overlaps the one before (the same bytes again).
 *
 * Private to the runtime: mcu_avgpool_s8_neon and mcu_avgpool_s8_halfup_neon pass their rounding
 * as a constant, folded after inlining.
 */
#ifndef MCU_NEON_AVGPOOL_H
#define MCU_NEON_AVGPOOL_H

#include <arm_neon.h>

#include "mcu_avgpool_ref.h"

/* The 16 averages of one window at channels [c, c + 16), clamped, into out. */
MCU_ALWAYS_INLINE void mcu_neon_avg16(const int8_t *input, int32_t row_stride, int32_t channels, int32_t rows,
                                      int32_t cols, int32_t count, mcu_avg_rounding rounding, int32_t act_min,
                                      int32_t act_max, int8_t *out)
{
    int32x4_t sum[4] = {vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0), vdupq_n_s32(0)};
    const float32x4_t divisor = vdupq_n_f32((float)count);
    const int32x4_t half = vdupq_n_s32(count / 2);
    int16x8_t lo, hi;
    int8x16_t narrowed;
    int32_t y, x, i;
    for (y = 0; y < rows; y++) {
        const int8_t *pixel = input + y * row_stride;
        for (x = 0; x < cols; x++, pixel += channels) {
            const int8x16_t v = vld1q_s8(pixel);
            const int16x8_t v_lo = vmovl_s8(vget_low_s8(v)), v_hi = vmovl_high_s8(v);
            sum[0] = vaddw_s16(sum[0], vget_low_s16(v_lo));
            sum[1] = vaddw_high_s16(sum[1], v_lo);
            sum[2] = vaddw_s16(sum[2], vget_low_s16(v_hi));
            sum[3] = vaddw_high_s16(sum[3], v_hi);
        }
    }
    for (i = 0; i < 4; i++) {
        if (rounding == MCU_AVG_ROUND_HALF_UP) {
            const float32x4_t t = vcvtq_f32_s32(vaddq_s32(sum[i], half));
            sum[i] = vcvtmq_s32_f32(vdivq_f32(t, divisor)); /* floor */
        } else {
            const float32x4_t t = vcvtq_f32_s32(vaddq_s32(vabsq_s32(sum[i]), half));
            const int32x4_t magnitude = vcvtq_s32_f32(vdivq_f32(t, divisor)); /* toward zero */
            /* The sign put back: negate the lanes whose sum is negative. */
            const uint32x4_t negative = vcltzq_s32(sum[i]);
            sum[i] = vbslq_s32(negative, vnegq_s32(magnitude), magnitude);
        }
        sum[i] = vminq_s32(vmaxq_s32(sum[i], vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
    }
    lo = vcombine_s16(vmovn_s32(sum[0]), vmovn_s32(sum[1]));
    hi = vcombine_s16(vmovn_s32(sum[2]), vmovn_s32(sum[3]));
    narrowed = vcombine_s8(vmovn_s16(lo), vmovn_s16(hi));
    vst1q_s8(out, narrowed);
}

MCU_ALWAYS_INLINE void mcu_neon_avgpool(const mcu_pool_params *p, mcu_avg_rounding rounding, mcu_shape in_shape,
                                        const int8_t *input, mcu_shape out_shape, int8_t *output)
{
    const int32_t channels = out_shape.c;
    int32_t oy, ox, c, iy, ix;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int32_t y_begin = iy0 > 0 ? iy0 : 0;
        const int32_t y_end = iy0 + p->kernel_h < in_shape.h ? iy0 + p->kernel_h : in_shape.h;
        for (ox = 0; ox < out_shape.w; ox++, output += channels) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t x_begin = ix0 > 0 ? ix0 : 0;
            const int32_t x_end = ix0 + p->kernel_w < in_shape.w ? ix0 + p->kernel_w : in_shape.w;
            const int32_t count = (y_end - y_begin) * (x_end - x_begin);
            const int8_t *corner = input + (y_begin * in_shape.w + x_begin) * channels;
            if (channels < 16) {
                for (c = 0; c < channels; c++) {
                    int32_t sum = 0;
                    for (iy = y_begin; iy < y_end; iy++) {
                        for (ix = x_begin; ix < x_end; ix++) {
                            sum += input[(iy * in_shape.w + ix) * channels + c];
                        }
                    }
                    output[c] = mcu_clamp_s8(mcu_avg_divide(sum, count, rounding), p->act_min, p->act_max);
                }
                continue;
            }
            for (c = 0; c + 16 <= channels; c += 16) {
                mcu_neon_avg16(corner + c, in_shape.w * channels, channels, y_end - y_begin, x_end - x_begin, count,
                               rounding, p->act_min, p->act_max, output + c);
            }
            if (c < channels) { /* the last 16 channels, overlapping the block before */
                mcu_neon_avg16(corner + channels - 16, in_shape.w * channels, channels, y_end - y_begin,
                               x_end - x_begin, count, rounding, p->act_min, p->act_max, output + channels - 16);
            }
        }
    }
}

#endif /* MCU_NEON_AVGPOOL_H */
