/*
 * mcu_pwconv_s8_dsp - int8 pointwise (1x1) convolution and fully connected layer with SMLAD.
 *
 * Two pixels at a time: both are widened once to int16 pairs in scratch, interleaved k-pair by
 * k-pair (SXTB16, so a group of 4 channels lands in the order 0, 2, 1, 3 that the compiler gave the
 * weights), then every pair of output channels runs over both with SMLAD against weights the
 * compiler stored already widened and scaled. The input zero point is folded into the bias, so the
 * loop is multiply-accumulate only. The loops: mcu_dsp_drivers.h.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp_drivers.h"

int32_t mcu_pwconv_s8_dsp_scratch_bytes(mcu_shape in_shape)
{
    return mcu_dsp_pwconv_scratch(in_shape);
}

void mcu_pwconv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                       const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp_out o = mcu_dsp_out_of(p);
    MCU_DSP_CLAMP_BODIES(o, mcu_dsp_pwconv_body(o, in_shape, input, out_shape,
                                                weights, channels, output, scratch));
}

#endif /* __ARM_FEATURE_DSP */
