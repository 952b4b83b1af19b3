/*
 * mcu_pwconv_s8_ref - int8 pointwise (1x1, stride 1, unpadded) convolution, the portable reference.
 *
 * Every pixel is an independent matrix-vector product: input pixel [in_c] times filter
 * [out_c][in_c] gives output pixel [out_c]. Only p->io is read; the window fields do not apply.
 * The loops live in mcu_pwconv_ref.h, shared with the weight-zero-point variant
 * mcu_pwconv_s8_wzp_ref; int8 weights have no zero point, so the filter offset is 0.
 */
#include "mcu_nn.h"
#include "mcu_pwconv_ref.h"

void mcu_pwconv_s8_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape, const int8_t *input,
                       mcu_shape out_shape, const int8_t *filter, const int32_t *bias, int8_t *output)
{
    mcu_pwconv_s8_filter_offset(p, q, 0, in_shape, input, out_shape, filter, bias, output);
}
