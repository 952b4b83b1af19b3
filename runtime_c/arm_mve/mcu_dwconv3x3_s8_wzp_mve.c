/*
 * mcu_dwconv3x3_s8_wzp_mve.c - depthwise 3x3 convolution with Helium for weights with a per-tensor
 * zero point (legacy uint8 models): see mcu_nn_mve.h for the layout.
 *
 * The weights come as int16 w - zw (in [-255, 255]), so the products are already x * (w - zw) and the
 * kernel is mcu_dwconv3x3_s8_mve's loops (mcu_mve_dwconv3x3.h) with VLDRH.S16 for the weights where
 * that one reads VLDRB.S16: the same instructions per MAC.
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve_dwconv3x3.h"

void mcu_dwconv3x3_s8_wzp_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input,
                              mcu_shape out_shape, const int16_t *weights, const int32_t *requant, int8_t *output)
{
    mcu_mve_dwconv3x3(p, in_shape, input, out_shape, (const int8_t *)(const void *)weights, requant, output, 1);
}

#endif /* MVE */
