/*
 * mcu_pwconv_s8_dsp8 - int8 pointwise (1x1) convolution and fully connected layer with SMLAD,
 * reading int8 weights (widened in registers, half the flash of mcu_pwconv_s8_dsp).
 *
 * Three pixels at a time are widened once into scratch (SXTB16 / SXTB16 ROR 8: k-pairs (0, 2) and
 * (1, 3) of each group of 4 channels); each weight word, 2 k of 2 output channels, is widened in
 * the loop into the two channels' pairs and used for the 3 pixels. The accumulator is unscaled and
 * takes the record's left shift before requantizing. The loops: mcu_dsp8_drivers.h.
 *
 * Two public kernels of the same arithmetic, one per instruction order of the inner loop (see
 * mcu_dsp8_matmul.h): mcu_pwconv_s8_dsp8 for the dual-issue Cortex-M7, mcu_pwconv_s8_dsp8_1x for the cores
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

#include "mcu_dsp8_drivers.h"

int32_t mcu_pwconv_s8_dsp8_scratch_bytes(mcu_shape in_shape)
{
    return mcu_dsp8_pwconv_scratch(in_shape);
}

void mcu_pwconv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_pwconv_body(0, 1, 1, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output, scratch);
}

void mcu_pwconv_s8_dsp8_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_pwconv_body(0, 0, 1, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output, scratch);
}

void mcu_pwconv_s8_dsp8_rec3(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                             const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_pwconv_body(0, 1, 0, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output, scratch);
}

void mcu_pwconv_s8_dsp8_rec3_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                                const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp8_pwconv_body(0, 0, 0, mcu_dsp_out_of(p), 0, in_shape, input, out_shape, weights, channels, output, scratch);
}

#endif /* __ARM_FEATURE_DSP */
