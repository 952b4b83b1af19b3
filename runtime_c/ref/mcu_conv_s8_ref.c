/*
 * mcu_conv_s8_ref - int8 convolution (groups = 1), the portable reference.
 *
 * input [in_shape.h][in_shape.w][in_shape.c], filter [out_c][kernel_h][kernel_w][in_c],
 * output [out_shape.h][out_shape.w][out_shape.c]. Padded taps are skipped, which is the same as
 * padding with the input zero point: (zero_point + input_offset) * w = 0. The loops live in
 * mcu_conv_ref.h, shared with the weight-zero-point variant mcu_conv_s8_wzp_ref; int8 weights
 * have no zero point, so the filter offset is 0.
 */
#include "mcu_conv_ref.h"
#include "mcu_nn.h"

void mcu_conv_s8_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape, const int8_t *input,
                     mcu_shape out_shape, const int8_t *filter, const int32_t *bias, int8_t *output)
{
    mcu_conv_s8_filter_offset(p, q, 0, in_shape, input, out_shape, filter, bias, output);
}
