/*
 * mcu_pwconv_s8_neon.c - pointwise (1x1) convolution and fully connected layers with baseline
 * Armv8-A NEON: see mcu_nn_neon.h for the layout. Four pixels and four output channels at a time,
 * 16 multiply-accumulates per SMULL, SMLAL2 and SADALP; the loops are in mcu_neon_pwconv.h.
 */
#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include "mcu_neon_pwconv.h"

void mcu_pwconv_s8_neon(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                        const int8_t *weights, const int32_t *requant, int8_t *output)
{
    mcu_neon_pw_matrix(input, in_c, pixels, in_c, out_c, weights, requant, io, output);
}

#endif /* AArch64 NEON */
