/*
 * mcu_pwconv_s8_wzp_dsp8 - int8 pointwise (1x1) convolution and fully connected layer with SMLAD,
 * reading int8 weights with a per-tensor zero point (legacy uint8 models).
 *
 * mcu_pwconv_s8_dsp8 with one addition: the products are x * (w - zw), and w - zw spans [-255, 255],
 * so the weights stay int8 and sum(x * (w - zw)) = sum(x * w) + filter_offset * sum(x), with
 * filter_offset = -zw. After widening each block of 3 pixels the kernel sums each pixel's column once
 * (SMLAD by 1, 1: in_c / 2 instructions per pixel) and starts every channel's accumulators from
 * filter_offset times that sum; the input zero point's share, -zx * sum(w - zw), is in the bias.
 * The loops: mcu_dsp8_drivers.h, with zero_point 1.
 *
 * Two public kernels, one per instruction order of the inner loop (mcu_pwconv_s8_wzp_dsp8: dual-issue
 * Cortex-M7, mcu_pwconv_s8_wzp_dsp8_1x: single-issue cores), as in mcu_pwconv_s8_dsp8.c.
 * One body per kernel, its clamp tested at run time, as there.
 *
 * Each has a twin for the 3-word channel records, <kernel>_rec3 (and _rec3_1x), for a layer whose
 * values do not fit the 2-word records (see mcu_dsp8_matmul.h); the compiler picks per layer.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp8_drivers.h"

int32_t mcu_pwconv_s8_wzp_dsp8_scratch_bytes(mcu_shape in_shape)
{
    return mcu_dsp8_pwconv_scratch(in_shape);
}

void mcu_pwconv_s8_wzp_dsp8(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                            mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                            int32_t *scratch)
{
    mcu_dsp8_pwconv_body(1, 1, 1, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                         output, scratch);
}

void mcu_pwconv_s8_wzp_dsp8_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                               mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                               int32_t *scratch)
{
    mcu_dsp8_pwconv_body(1, 0, 1, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                         output, scratch);
}

void mcu_pwconv_s8_wzp_dsp8_rec3(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                                 const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                 const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_pwconv_body(1, 1, 0, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                         output, scratch);
}

void mcu_pwconv_s8_wzp_dsp8_rec3_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                                    const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                    const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_pwconv_body(1, 0, 0, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                         output, scratch);
}

#endif /* __ARM_FEATURE_DSP */
