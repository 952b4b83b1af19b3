/*
 * mcu_conv_small_s8_mve.c - convolution with at most 32 taps per output (the first layer of an image
 * network: 3x3 over 1 or 3 channels) with Helium: see mcu_nn_mve.h for the layout.
 *
 * Each position's window gathered into two vectors, every output channel one or two VMLADAV against
 * its 32-byte weight row: the loops are in mcu_mve_conv_small.h, shared with mcu_conv_small_s8_wzp_mve.
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve_conv_small.h"

void mcu_conv_small_s8_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int8_t *weights, const int32_t *requant, int8_t *output)
{
    mcu_mve_conv_small(p, in_shape, input, out_shape, weights, requant, output, 0, 0);
}

#endif /* MVE */
