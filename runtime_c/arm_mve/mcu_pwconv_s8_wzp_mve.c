/*
 * mcu_pwconv_s8_wzp_mve.c - pointwise (1x1) convolution with Helium, int8 weights with a per-tensor
 * zero point (legacy uint8 models): see mcu_nn_mve.h for the layout.
 *
 * mcu_pwconv_s8_mve's loops (mcu_mve_pwconv.h) plus, per pixel, the sum of its inputs times
 * filter_offset = -zw added to every channel's accumulator: sum(x * (w - zw)) = sum(x * w) +
 * filter_offset * sum(x).
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve_pwconv.h"

void mcu_pwconv_s8_wzp_mve(const mcu_quant_io *io, int32_t filter_offset, int32_t pixels, int32_t in_c,
                           int32_t out_c, const int8_t *input, const int8_t *weights, const int32_t *requant,
                           int8_t *output)
{
    mcu_mve_pwconv(io, 1, filter_offset, pixels, in_c, out_c, input, weights, requant, output);
}

#endif /* MVE */
