/*
 * mcu_fc_s8_wzp_ref - int8 fully connected layer whose weights carry a zero point (legacy uint8
 * models; see mcu_conv_s8_wzp_ref.c):
 *     output[o] = requantize(bias[o] + sum_i (input[i] + input_offset) * (weights[o][i] + filter_offset))
 * in_features <= 33025 (products reach 255 * 255).
 */
#include "mcu_nn.h"
#include "mcu_requantize.h"

void mcu_fc_s8_wzp_ref(const mcu_quant_io *io, const mcu_channel_quant *q, int32_t filter_offset, int32_t in_features,
                       int32_t out_features, const int8_t *input, const int8_t *weights, const int32_t *bias,
                       int8_t *output)
{
    int32_t o, i;

    for (o = 0; o < out_features; o++) {
        const int8_t *w = weights + o * in_features;
        int32_t acc = 0;
        for (i = 0; i < in_features; i++) {
            acc += (input[i] + io->input_offset) * (w[i] + filter_offset);
        }
        if (bias != NULL) {
            acc = mcu_add_wrap(acc, bias[o]);
        }
        output[o] = mcu_requantize_s8(acc, q->multiplier[o], q->shift[o], io->output_offset, io->act_min, io->act_max);
    }
}
