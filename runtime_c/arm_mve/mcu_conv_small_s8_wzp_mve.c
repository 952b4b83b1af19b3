/*
 * mcu_conv_small_s8_wzp_mve.c - convolution with at most 32 taps per output (the first layer of an
 * image network) with Helium, int8 weights with a per-tensor zero point (legacy uint8 models): see
 * mcu_nn_mve.h for the layout.
 *
 * mcu_conv_small_s8_mve's loops (mcu_mve_conv_small.h) plus, per position, the window's sum times
 * filter_offset = -zw added to every channel: sum(x * (w - zw)) = sum(x * w) + filter_offset * sum(x).
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve_conv_small.h"

void mcu_conv_small_s8_wzp_mve(const mcu_conv_params *p, int32_t filter_offset, mcu_shape in_shape,
                               const int8_t *input, mcu_shape out_shape, const int8_t *weights,
                               const int32_t *requant, int8_t *output)
{
    mcu_mve_conv_small(p, in_shape, input, out_shape, weights, requant, output, 1, filter_offset);
}

#endif /* MVE */
