/*
 * mcu_avgpool_s8_ref - int8 average pooling, the portable reference.
 *
 * The output has the input's scale and zero point, so no requantization: the kernel averages
 * the raw int8 values of the in-bounds window elements (padding is not counted) and rounds
 * half away from zero, as TFLite's reference does.
 */
#include "mcu_nn.h"
#include "mcu_requantize.h"

void mcu_avgpool_s8_ref(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
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
                int32_t avg;
                for (iy = y_begin; iy < y_end; iy++) {
                    for (ix = x_begin; ix < x_end; ix++) {
                        sum += input[(iy * in_shape.w + ix) * channels + c];
                    }
                }
                /* C division truncates toward zero, so adding half the count away from zero first
                 * rounds to nearest with ties away from zero. */
                avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
                *output++ = mcu_clamp_s8(avg, p->act_min, p->act_max);
            }
        }
    }
}
