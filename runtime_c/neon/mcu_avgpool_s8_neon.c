/*
 * mcu_avgpool_s8_neon.c - average pooling with AArch64 NEON, ties away from zero, as mcu_avgpool_s8_ref,
 * byte for byte (the loops, and why they are exact: mcu_neon_avgpool.h).
 */
#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include "mcu_neon_avgpool.h"

void mcu_avgpool_s8_neon(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                          int8_t *output)
{
    mcu_neon_avgpool(p, MCU_AVG_ROUND_HALF_AWAY, in_shape, input, out_shape, output);
}

#endif /* AArch64 NEON */
