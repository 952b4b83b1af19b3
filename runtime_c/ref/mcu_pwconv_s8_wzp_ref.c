/*
 * mcu_pwconv_s8_wzp_ref - int8 pointwise (1x1, stride 1, unpadded) convolution whose weights carry
 * a zero point (legacy uint8 models; see mcu_conv_s8_wzp_ref.c for the arithmetic):
 *     acc = bias[oc] + sum((x + input_offset) * (w + filter_offset))
 * Only p->io is read. in_c <= 33025 (products reach 255 * 255).
 */
#include "mcu_nn.h"
#include "mcu_requantize.h"

void mcu_pwconv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                           mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                           const int32_t *bias, int8_t *output)
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
