/*
 * mcu_conv_s8_dsp - int8 convolution (groups = 1) with SMLAD, for the few-channel first layer.
 *
 * Two output pixels at a time are gathered (im2col) into scratch as int16 pairs, K = kh * kw * in_c
 * values in the natural (ky, kx, ci) order, rounded up to 4 with zeros, the two pixels' k-pairs
 * interleaved; then they share the pointwise kernel's 2x2 SMLAD block (mcu_dsp_matmul.h). The
 * input zero point is folded into the bias, so a padded tap is gathered as input_zero_point, which
 * makes its x * w cancel the fold. The loops: mcu_dsp_drivers.h.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp_drivers.h"

int32_t mcu_conv_s8_dsp_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape)
{
    return 2 * mcu_dsp_conv_k4(p, in_shape) * (int32_t)sizeof(int16_t);
}

void mcu_conv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                     const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp_out o = mcu_dsp_out_of(p);
    MCU_DSP_CLAMP_BODIES(o, mcu_dsp_conv_body(p, o, in_shape, input, out_shape,
                                                weights, channels, output, scratch));
}

#endif /* __ARM_FEATURE_DSP */
