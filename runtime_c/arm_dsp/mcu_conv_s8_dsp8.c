/*
 * mcu_conv_s8_dsp8 - int8 convolution (groups = 1) with SMLAD reading int8 weights, for the
 * few-channel first layer on boards where the int16 weights of mcu_conv_s8_dsp do not fit.
 *
 * Two output pixels at a time are gathered (im2col) into scratch as int16 pairs exactly as
 * mcu_conv_s8_dsp does (natural (ky, kx, ci) order, padded taps reading input_zero_point, K rounded
 * up to 4 with zeros), then they share the int8-weight 2x2 SMLAD block (mcu_dsp8_matmul.h). The
 * loops: mcu_dsp_drivers.h, with the int8-weight inner product.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp_drivers.h"

int32_t mcu_conv_s8_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape)
{
    return 2 * mcu_dsp_conv_k4(p, in_shape) * (int32_t)sizeof(int16_t);
}

void mcu_conv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                      const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp_out o = mcu_dsp_out_of(p);
    MCU_DSP_CLAMP_BODIES(o, mcu_dsp_conv_body(MCU_DSP_WEIGHTS_INT8, p, o, 0, in_shape, input, out_shape,
                                                weights, channels, output, scratch));
}

#endif /* __ARM_FEATURE_DSP */
