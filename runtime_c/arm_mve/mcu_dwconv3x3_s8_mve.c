/*
 * mcu_dwconv3x3_s8_mve.c - depthwise 3x3 convolution with Helium: see mcu_nn_mve.h for the layout.
 *
 * Eight channels per step as int16 lanes (VLDRB.S16 of inputs and weights, VMULLB / VMULLT into two
 * int32 accumulators), the interior without bounds checks, the border over its taps inside the
 * input: the loops are in mcu_mve_dwconv3x3.h, shared with mcu_dwconv3x3_s8_wzp_mve.
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve_dwconv3x3.h"

void mcu_dwconv3x3_s8_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                          const int8_t *weights, const int32_t *requant, int8_t *output)
{
    mcu_mve_dwconv3x3(p, in_shape, input, out_shape, weights, requant, output, 0);
}

#endif /* MVE */
