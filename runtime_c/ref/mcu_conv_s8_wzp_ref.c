/*
 * mcu_conv_s8_wzp_ref - int8 convolution (groups = 1) whose weights carry a zero point.
 *
 * Legacy uint8 models (TFLite's uint8 kernels) quantize weights per tensor with a zero point that
 * is not 0; moved to int8 (w - 128, zero point - 128) a weight minus its zero point spans
 * [-255, 255], which no int8 weight can hold. So the kernel takes the weights as stored and adds
 * filter_offset (= -weight zero point, in [-127, 128]) to each, as TFLite's uint8 kernel does:
 *     acc = bias[oc] + sum((x + input_offset) * (w + filter_offset))
 * Padded taps are skipped: a padded input equals its zero point, so its product is 0.
 * Products reach 255 * 255, so the reduction kernel_h * kernel_w * in_c must stay <= 33025.
 * Layouts as mcu_conv_s8_ref.
 */
#include "mcu_nn.h"
#include "mcu_requantize.h"

void mcu_conv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                         mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                         const int32_t *bias, int8_t *output)
{
    const int32_t in_c = in_shape.c;
    const int32_t filter_size = (int32_t)p->kernel_h * p->kernel_w * in_c;
    int32_t oy, ox, oc, ky, kx, ic;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            for (oc = 0; oc < out_shape.c; oc++) {
                const int8_t *w_oc = filter + oc * filter_size;
                int32_t acc = 0;
                for (ky = 0; ky < p->kernel_h; ky++) {
                    const int32_t iy = iy0 + ky;
                    if (iy < 0 || iy >= in_shape.h) {
                        continue;
                    }
                    for (kx = 0; kx < p->kernel_w; kx++) {
                        const int32_t ix = ix0 + kx;
                        const int8_t *x;
                        const int8_t *w;
                        if (ix < 0 || ix >= in_shape.w) {
                            continue;
                        }
                        x = input + (iy * in_shape.w + ix) * in_c;
                        w = w_oc + (ky * p->kernel_w + kx) * in_c;
                        for (ic = 0; ic < in_c; ic++) {
                            acc += (x[ic] + p->io.input_offset) * (w[ic] + filter_offset);
                        }
                    }
                }
                if (bias != NULL) {
                    acc = mcu_add_wrap(acc, bias[oc]);
                }
                *output++ = mcu_requantize_s8(acc, q->multiplier[oc], q->shift[oc], p->io.output_offset,
                                              p->io.act_min, p->io.act_max);
            }
        }
    }
}
