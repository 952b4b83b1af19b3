/*
 * mcu_pwconv_s8_sdot.c - pointwise (1x1) convolution and fully connected layers with the Armv8.2-A
 * dot-product extension (SDOT): see mcu_nn_neon.h for the layout. Four pixels share each weight
 * load, 16 multiply-accumulates per SDOT; the loops are in mcu_neon_pwconv_sdot.h.
 */
#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)

#include "mcu_neon_pwconv_sdot.h"

void mcu_pwconv_s8_sdot(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                        const int8_t *weights, const int32_t *requant, int8_t *output)
{
    mcu_sdot_matrix(input, in_c, pixels, in_c, out_c, weights, requant, io, output);
}

#endif /* AArch64 NEON with the dot-product extension */
