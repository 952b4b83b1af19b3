/*
 * mcu_dwconv_s8_ref - int8 depthwise convolution with channel multiplier 1, the portable reference.
 *
 * input [in_shape.h][in_shape.w][c], filter [kernel_h][kernel_w][c] (channel innermost, as TFLite
 * stores it), output [out_shape.h][out_shape.w][c]. Each channel is filtered on its own;
 * padded taps are skipped (padding with the input zero point). The per-row arithmetic lives in
 * mcu_dwconv_row.h, shared with the in-place variant mcu_dwconv_s8_inplace_ref.
 */
#include "mcu_dwconv_row.h"
#include "mcu_nn.h"

void mcu_dwconv_s8_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape, const int8_t *input,
                       mcu_shape out_shape, const int8_t *filter, const int32_t *bias, int8_t *output)
{
    const int32_t row_bytes = out_shape.w * out_shape.c;
    int32_t oy;

    for (oy = 0; oy < out_shape.h; oy++) {
        mcu_dwconv_s8_row(p, q, in_shape, input, oy, out_shape.w, filter, bias, output + oy * row_bytes);
    }
}
