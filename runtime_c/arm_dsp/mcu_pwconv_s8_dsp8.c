/*
 * mcu_pwconv_s8_dsp8 - int8 pointwise (1x1) convolution and fully connected layer with SMLAD,
 * reading int8 weights (half the flash of mcu_pwconv_s8_dsp).
 *
 * Two pixels at a time are widened once into scratch exactly as mcu_pwconv_s8_dsp does (int16
 * pairs, groups of 4 channels in the order 0, 2, 1, 3 that SXTB16 gives); the weights are widened in
 * the loop, the compiler having placed each word's bytes so that SXTB16 / SXTB16 ROR 8 give the
 * same pairs. The accumulator is unscaled and takes the record's left shift before requantizing.
 * The loops: mcu_dsp_drivers.h, with the int8-weight inner product.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp_drivers.h"

int32_t mcu_pwconv_s8_dsp8_scratch_bytes(mcu_shape in_shape)
{
    return mcu_dsp_pwconv_scratch(in_shape);
}

void mcu_pwconv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp_out o = mcu_dsp_out_of(p);
    MCU_DSP_CLAMP_BODIES(o, mcu_dsp_pwconv_body(MCU_DSP_WEIGHTS_INT8, o, 0, in_shape, input, out_shape,
                                                weights, channels, output, scratch));
}

#endif /* __ARM_FEATURE_DSP */
