/*
 * mcu_fc_s8_ref - int8 fully connected layer, the portable reference.
 *
 * output[o] = requantize(bias[o] + sum_i (input[i] + input_offset) * weights[o][i]) with the
 * multiplier and shift of output o. The loops live in mcu_fc_ref.h, shared with the
 * weight-zero-point variant mcu_fc_s8_wzp_ref; int8 weights have no zero point, so the filter
 * offset is 0.
 */
#include "mcu_fc_ref.h"
#include "mcu_nn.h"

void mcu_fc_s8_ref(const mcu_quant_io *io, const mcu_channel_quant *q, int32_t in_features, int32_t out_features,
                   const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output)
{
    mcu_fc_s8_filter_offset(io, q, 0, in_features, out_features, input, weights, bias, output);
}
