/*
 * mcu_dwconv_s8_wzp_ref - int8 depthwise convolution (channel multiplier 1) whose weights carry a
 * zero point (legacy uint8 models; see mcu_conv_s8_wzp_ref.c for the arithmetic):
 *     acc = bias[c] + sum((x + input_offset) * (w + filter_offset))
 * input [in_shape.h][in_shape.w][c], filter [kernel_h][kernel_w][c], output [out_shape.h][out_shape.w][c];
 * padded taps are skipped. Not in-place safe.
 */
#include "mcu_nn.h"
#include "mcu_requantize.h"

void mcu_dwconv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                           mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                           const int32_t *bias, int8_t *output)
{
    const int32_t channels = in_shape.c;
    int32_t oy, ox, c, ky, kx;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            for (c = 0; c < channels; c++) {
                int32_t acc = 0;
                for (ky = 0; ky < p->kernel_h; ky++) {
                    const int32_t iy = iy0 + ky;
                    if (iy < 0 || iy >= in_shape.h) {
                        continue;
                    }
                    for (kx = 0; kx < p->kernel_w; kx++) {
                        const int32_t ix = ix0 + kx;
                        if (ix < 0 || ix >= in_shape.w) {
                            continue;
                        }
                        acc += (input[(iy * in_shape.w + ix) * channels + c] + p->io.input_offset) *
                               (filter[(ky * p->kernel_w + kx) * channels + c] + filter_offset);
                    }
                }
                if (bias != NULL) {
                    acc = mcu_add_wrap(acc, bias[c]);
                }
                *output++ = mcu_requantize_s8(acc, q->multiplier[c], q->shift[c], p->io.output_offset,
                                              p->io.act_min, p->io.act_max);
            }
        }
    }
}
