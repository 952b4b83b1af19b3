/*
 * mcu_fc_ref.h - the loops of the reference fully connected layer, shared by mcu_fc_s8_ref and
 * its weight-zero-point twin mcu_fc_s8_wzp_ref. Private to the runtime: not part of the public
 * interface in mcu_nn.h.
 *
 * mcu_fc_s8_ref passes filter_offset = 0, a constant the compiler folds away after inlining,
 * so the plain kernel's inner loop has no extra add.
 */
#ifndef MCU_FC_REF_H
#define MCU_FC_REF_H

#include "mcu_inline.h"
#include "mcu_nn.h"
#include "mcu_requantize.h"

/*
 * output[o] = requantize(bias[o] + sum_i (input[i] + input_offset) * (weights[o][i] + filter_offset))
 * with the multiplier and shift of output o. filter_offset != 0 makes products reach 255 * 255,
 * so in_features must stay <= 33025.
 */
MCU_ALWAYS_INLINE void mcu_fc_s8_filter_offset(const mcu_quant_io *io, const mcu_channel_quant *q,
                                               int32_t filter_offset, int32_t in_features, int32_t out_features,
                                               const int8_t *input, const int8_t *weights, const int32_t *bias,
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

#endif /* MCU_FC_REF_H */
