/*
 * mcu_pwconv_ref.h - the loops of the reference pointwise (1x1, stride 1, unpadded) convolution,
 * shared by mcu_pwconv_s8_ref and its weight-zero-point twin mcu_pwconv_s8_wzp_ref.
 * Private to the runtime: not part of the public interface in mcu_nn.h.
 *
 * mcu_pwconv_s8_ref passes filter_offset = 0, a constant the compiler folds away after inlining,
 * so the plain kernel's inner loop has no extra add.
 */
#ifndef MCU_PWCONV_REF_H
#define MCU_PWCONV_REF_H

#include "mcu_inline.h"
#include "mcu_nn.h"
#include "mcu_requantize.h"

/*
 * Every pixel is an independent matrix-vector product: input pixel [in_c] times filter
 * [out_c][in_c] gives output pixel [out_c], with
 *     acc = bias[oc] + sum((x + input_offset) * (w + filter_offset)).
 * Only p->io is read; the window fields do not apply. filter_offset != 0 makes products reach
 * 255 * 255, so in_c must stay <= 33025.
 */
MCU_ALWAYS_INLINE void mcu_pwconv_s8_filter_offset(const mcu_conv_params *p, const mcu_channel_quant *q,
                                                   int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                                                   mcu_shape out_shape, const int8_t *filter, const int32_t *bias,
                                                   int8_t *output)
{
    const int32_t pixels = out_shape.h * out_shape.w;
    const int32_t in_c = in_shape.c;
    int32_t px, oc, ic;

    for (px = 0; px < pixels; px++) {
        const int8_t *x = input + px * in_c;
        for (oc = 0; oc < out_shape.c; oc++) {
            const int8_t *w = filter + oc * in_c;
            int32_t acc = 0;
            for (ic = 0; ic < in_c; ic++) {
                acc += (x[ic] + p->io.input_offset) * (w[ic] + filter_offset);
            }
            if (bias != NULL) {
                acc = mcu_add_wrap(acc, bias[oc]);
            }
            *output++ = mcu_requantize_s8(acc, q->multiplier[oc], q->shift[oc], p->io.output_offset,
                                          p->io.act_min, p->io.act_max);
        }
    }
}

#endif /* MCU_PWCONV_REF_H */
