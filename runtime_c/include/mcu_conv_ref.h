/*
 * mcu_conv_ref.h - the loops of the reference convolution (groups = 1), shared by mcu_conv_s8_ref
 * and its weight-zero-point twin mcu_conv_s8_wzp_ref, so the two compute the same numbers the
 * same way. Private to the runtime: not part of the public interface in mcu_nn.h.
 *
 * Each public kernel is a thin wrapper; mcu_conv_s8_ref passes filter_offset = 0, a constant the
 * compiler folds away after inlining, so the plain kernel's inner loop has no extra add.
 */
#ifndef MCU_CONV_REF_H
#define MCU_CONV_REF_H

#include "mcu_inline.h"
#include "mcu_nn.h"
#include "mcu_requantize.h"

/*
 * acc = bias[oc] + sum((x + input_offset) * (w + filter_offset)), then requantized per channel.
 * input [in_shape.h][in_shape.w][in_shape.c], filter [out_c][kernel_h][kernel_w][in_c],
 * output [out_shape.h][out_shape.w][out_shape.c]. Padded taps are skipped, which is the same as
 * padding with the input zero point: (zero_point + input_offset) * (w + filter_offset) = 0.
 * filter_offset != 0 makes products reach 255 * 255, so kernel_h * kernel_w * in_c must stay <= 33025.
 */
MCU_ALWAYS_INLINE void mcu_conv_s8_filter_offset(const mcu_conv_params *p, const mcu_channel_quant *q,
                                                 int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                                                 mcu_shape out_shape, const int8_t *filter, const int32_t *bias,
                                                 int8_t *output)
{
    const int32_t in_c = in_shape.c;
    const int32_t filter_size = (int32_t)p->kernel_h * p->kernel_w * in_c; /* one output channel's weights */
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

#endif /* MCU_CONV_REF_H */
