/*
 * mcu_avgpool_s8_halfup_ref - int8 average pooling that rounds half up, for legacy uint8 models.
 *
 * TFLite's uint8 kernel rounds (sum + count / 2) / count on values >= 0, i.e. ties go up. On the
 * int8 values a uint8 model is held in here (uint8 - 128) that is floor((sum + count / 2) / count),
 * which differs from mcu_avgpool_s8_ref's ties-away-from-zero on negative ties (-2.5 -> -2, not -3).
 * Geometry, padding (not counted) and clamp as mcu_avgpool_s8_ref.
 */
#include "mcu_nn.h"
#include "mcu_requantize.h"

void mcu_avgpool_s8_halfup_ref(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input,
                               mcu_shape out_shape, int8_t *output)
{
    const int32_t channels = out_shape.c;
    int32_t oy, ox, c, iy, ix;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int32_t y_begin = iy0 > 0 ? iy0 : 0;
        const int32_t y_end = iy0 + p->kernel_h < in_shape.h ? iy0 + p->kernel_h : in_shape.h;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t x_begin = ix0 > 0 ? ix0 : 0;
            const int32_t x_end = ix0 + p->kernel_w < in_shape.w ? ix0 + p->kernel_w : in_shape.w;
            const int32_t count = (y_end - y_begin) * (x_end - x_begin);
            for (c = 0; c < channels; c++) {
                int32_t t = count / 2;
                int32_t avg;
                for (iy = y_begin; iy < y_end; iy++) {
                    for (ix = x_begin; ix < x_end; ix++) {
                        t += input[(iy * in_shape.w + ix) * channels + c];
                    }
                }
                /* Floor division: C truncates toward zero, so a negative numerator is rounded down by hand. */
                avg = t >= 0 ? t / count : -((count - 1 - t) / count);
                *output++ = mcu_clamp_s8(avg, p->act_min, p->act_max);
            }
        }
    }
}
