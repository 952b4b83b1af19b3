/*
 * mcu_fc_s8_wzp_ref - int8 fully connected layer whose weights carry a zero point (legacy uint8
 * models; see mcu_conv_s8_wzp_ref.c):
 *     output[o] = requantize(bias[o] + sum_i (input[i] + input_offset) * (weights[o][i] + filter_offset))
 * in_features <= 33025 (products reach 255 * 255). The loops are mcu_fc_s8_ref's (mcu_fc_ref.h).
 */
#include "mcu_fc_ref.h"
#include "mcu_nn.h"

void mcu_fc_s8_wzp_ref(const mcu_quant_io *io, const mcu_channel_quant *q, int32_t filter_offset, int32_t in_features,
                       int32_t out_features, const int8_t *input, const int8_t *weights, const int32_t *bias,
                       int8_t *output)
{
    mcu_fc_s8_filter_offset(io, q, filter_offset, in_features, out_features, input, weights, bias, output);
}
