/*
 * mcu_dwconv_s8_wzp_ref - int8 depthwise convolution (channel multiplier 1) whose weights carry a
 * zero point (legacy uint8 models; see mcu_conv_s8_wzp_ref.c for the arithmetic):
 *     acc = bias[c] + sum((x + input_offset) * (w + filter_offset))
 * input [in_shape.h][in_shape.w][c], filter [kernel_h][kernel_w][c], output [out_shape.h][out_shape.w][c];
 * padded taps are skipped. Not in-place safe. Each row is computed by the row loop the other
 * reference depthwise kernels use (mcu_dwconv_row.h), with this kernel's filter offset.
 */
#include "mcu_dwconv_row.h"
#include "mcu_nn.h"

void mcu_dwconv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                           mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                           const int32_t *bias, int8_t *output)
{
    const int32_t row_bytes = out_shape.w * out_shape.c;
    int32_t oy;

    for (oy = 0; oy < out_shape.h; oy++) {
        mcu_dwconv_s8_row_filter_offset(p, q, filter_offset, in_shape, input, oy, out_shape.w, filter, bias,
                                        output + oy * row_bytes);
    }
}
