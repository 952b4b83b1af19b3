/*
 * mcu_conv_s8_wzp_dsp8 - int8 convolution (groups = 1) with SMLAD reading int8 weights with a
 * per-tensor zero point (legacy uint8 models), for the few-channel first layer.
 *
 * mcu_conv_s8_dsp8 with one addition: sum(x * (w - zw)) = sum(x * w) + filter_offset * sum(x),
 * filter_offset = -zw. Each gathered window (its padded taps holding input_zero_point, so they count
 * as x = zp in the sum as in the products) is summed once, and every channel's accumulators start
 * from filter_offset times that sum; -zx * sum(w - zw) is in the bias. The loops:
 * mcu_dsp8_conv_driver.h, with zero_point 1.
 *
 * Two public kernels, one per instruction order of the inner loop (mcu_conv_s8_wzp_dsp8: dual-issue
 * Cortex-M7, mcu_conv_s8_wzp_dsp8_1x: single-issue cores), as in mcu_pwconv_s8_dsp8.c.
 * One body per kernel, its clamp tested at run time, as there.
 *
 * Each has a twin for the 3-word channel records, <kernel>_rec3 (and _rec3_1x), for a layer whose
 * values do not fit the 2-word records (see mcu_dsp8_matmul.h); the compiler picks per layer.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp8_conv_driver.h"

int32_t mcu_conv_s8_wzp_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape)
{
    return mcu_dsp8_conv_scratch(p, in_shape);
}

void mcu_conv_s8_wzp_dsp8(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                          mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                          int32_t *scratch)
{
    mcu_dsp8_conv_body(1, 1, 1, p, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                       output, scratch);
}

void mcu_conv_s8_wzp_dsp8_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                             mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                             int32_t *scratch)
{
    mcu_dsp8_conv_body(1, 0, 1, p, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                       output, scratch);
}

void mcu_conv_s8_wzp_dsp8_rec3(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                               mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                               int32_t *scratch)
{
    mcu_dsp8_conv_body(1, 1, 0, p, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                       output, scratch);
}

void mcu_conv_s8_wzp_dsp8_rec3_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                                  const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                  const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_conv_body(1, 0, 0, p, mcu_dsp_out_of(p), filter_offset, in_shape, input, out_shape, weights, channels,
                       output, scratch);
}

#endif /* __ARM_FEATURE_DSP */
