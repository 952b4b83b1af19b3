/*
 * mcu_conv_s8_dsp8 - int8 convolution (groups = 1) with SMLAD reading int8 weights, for the
 * few-channel first layer.
 *
 * Three output pixels at a time: each window is gathered (im2col) into a byte row in natural
 * (ky, kx, ci) order (padded taps reading input_zero_point, K rounded up to 4 with zeros), whole
 * kernel rows copied as words where the window is inside the image, and widened into the pointwise
 * kernel's column layout; then the three share its 3 pixels x 2 channels SMLAD block. The loops:
 * mcu_dsp8_conv_driver.h.
 *
 * Two public kernels of the same arithmetic, one per instruction order of the inner loop (see
 * mcu_dsp8_matmul.h): mcu_conv_s8_dsp8 for the dual-issue Cortex-M7, mcu_conv_s8_dsp8_1x for the cores
 * that issue one instruction per cycle (Cortex-M4, M33); the compiler calls the target's, and the
 * linker drops the other (-ffunction-sections, --gc-sections).
 *
 * One body per kernel, the layer's clamp (o.narrow) tested per block of outputs rather than compiled
 * into two bodies (MCU_DSP_CLAMP_BODIES): the output stage is assembly either way, so two bodies only
 * doubled the code.
 *
 * Each has a twin for the 3-word channel records, <kernel>_rec3 (and _rec3_1x), for a layer whose
 * values do not fit the 2-word records (see mcu_dsp8_matmul.h); the compiler picks per layer.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp8_conv_driver.h"

int32_t mcu_conv_s8_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape)
{
    return mcu_dsp8_conv_scratch(p, in_shape);
}

void mcu_conv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                      const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_conv_body(0, 1, 1, p, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output,
                       scratch);
}

void mcu_conv_s8_dsp8_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                         const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_conv_body(0, 0, 1, p, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output,
                       scratch);
}

void mcu_conv_s8_dsp8_rec3(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_conv_body(0, 1, 0, p, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output,
                       scratch);
}

void mcu_conv_s8_dsp8_rec3_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                              const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_conv_body(0, 0, 0, p, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output,
                       scratch);
}

#endif /* __ARM_FEATURE_DSP */
