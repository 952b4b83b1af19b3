/*
 * mcu_dsp_matmul.h - the inner product shared by the DSP pointwise, convolution and fully connected
 * kernels: two widened input columns times every output channel, requantized and stored.
 * Private to runtime_c/arm_dsp. Layouts: see mcu_nn_dsp.h (mcu_pwconv_s8_dsp).
 */
#ifndef MCU_DSP_MATMUL_H
#define MCU_DSP_MATMUL_H

#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/*
 * col0, col1: k4 / 2 words each (int16 pairs, k4 a multiple of 4), in the weights' k order.
 * out0, out1: the two output pixels, out_c bytes each (out1 == out0 computes one pixel twice and
 * stores it twice, which the odd last pixel uses). Register blocking: 2 pixels x 2 channels, 4
 * accumulators, 2 column words and 2 weight words live in the loop, so nothing spills.
 */
static inline void mcu_dsp_matmul_2cols(const mcu_dsp_params *p, const int32_t *col0, const int32_t *col1,
                                        int32_t k4, int32_t out_c, const int32_t *weights, const int32_t *channels,
                                        int8_t *out0, int8_t *out1)
{
    const int32_t steps = k4 >> 2; /* 4 k values per step: 2 words per column, 4 per channel pair */
    int32_t oc;

    for (oc = 0; oc < out_c; oc += 2) {
        const int32_t *ch0 = channels + oc * MCU_DSP_CHANNEL_WORDS;
        const int32_t *x0 = col0;
        const int32_t *x1 = col1;
        int32_t a00 = ch0[0], b00 = ch0[0]; /* pixel a / b, channel oc */
        int32_t a01, b01;                  /* channel oc + 1 */
        int32_t i;
        if (oc + 1 < out_c) {
            a01 = b01 = ch0[MCU_DSP_CHANNEL_WORDS];
        } else {
            a01 = b01 = 0;
        }
        for (i = steps; i > 0; i--) {
            int32_t xa = x0[0], xb = x1[0];
            int32_t w0 = weights[0], w1 = weights[1];
            a00 = __smlad(xa, w0, a00);
            a01 = __smlad(xa, w1, a01);
            b00 = __smlad(xb, w0, b00);
            b01 = __smlad(xb, w1, b01);
            xa = x0[1];
            xb = x1[1];
            w0 = weights[2];
            w1 = weights[3];
            a00 = __smlad(xa, w0, a00);
            a01 = __smlad(xa, w1, a01);
            b00 = __smlad(xb, w0, b00);
            b01 = __smlad(xb, w1, b01);
            x0 += 2;
            x1 += 2;
            weights += 4;
        }
        out0[oc] = mcu_dsp_requantize(a00, ch0, p);
        out1[oc] = mcu_dsp_requantize(b00, ch0, p);
        if (oc + 1 < out_c) {
            const int32_t *ch1 = ch0 + MCU_DSP_CHANNEL_WORDS;
            out0[oc + 1] = mcu_dsp_requantize(a01, ch1, p);
            out1[oc + 1] = mcu_dsp_requantize(b01, ch1, p);
        }
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP_MATMUL_H */
