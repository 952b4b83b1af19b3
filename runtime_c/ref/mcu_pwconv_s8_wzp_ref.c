/*
 * mcu_pwconv_s8_wzp_ref - int8 pointwise (1x1, stride 1, unpadded) convolution whose weights carry
 * a zero point (legacy uint8 models; see mcu_conv_s8_wzp_ref.c for the arithmetic):
 *     acc = bias[oc] + sum((x + input_offset) * (w + filter_offset))
 * Only p->io is read. in_c <= 33025 (products reach 255 * 255). The loops are mcu_pwconv_s8_ref's
 * (mcu_pwconv_ref.h).
 */
#include "mcu_nn.h"
#include "mcu_pwconv_ref.h"

void mcu_pwconv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                           mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                           const int32_t *bias, int8_t *output)
{
    mcu_pwconv_s8_filter_offset(p, q, filter_offset, in_shape, input, out_shape, filter, bias, output);
}
