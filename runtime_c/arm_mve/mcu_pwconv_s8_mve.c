/*
 * mcu_pwconv_s8_mve.c - pointwise (1x1) convolution with Helium: see mcu_nn_mve.h for the layout.
 *
 * Four pixels share each load of a weight row (four VMLADAV per 16 input channels), one output
 * channel at four pixels requantizes as one vector and leaves through one byte scatter: the loops
 * are in mcu_mve_pwconv.h, shared with mcu_pwconv_s8_wzp_mve.
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve_pwconv.h"

void mcu_pwconv_s8_mve(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                       const int8_t *weights, const int32_t *requant, int8_t *output)
{
    mcu_mve_pwconv(io, 0, 0, pixels, in_c, out_c, input, weights, requant, output);
}

#endif /* MVE */
