/*
 * mcu_avgpool_s8_ref - int8 average pooling, the portable reference.
 *
 * The output has the input's scale and zero point, so no requantization: the kernel averages
 * the raw int8 values of the in-bounds window elements (padding is not counted) and rounds
 * half away from zero, as TFLite's reference does. The loops live in mcu_avgpool_ref.h, shared
 * with mcu_avgpool_s8_halfup_ref, which rounds ties differently.
 */
#include "mcu_avgpool_ref.h"
#include "mcu_nn.h"

void mcu_avgpool_s8_ref(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        int8_t *output)
{
    mcu_avgpool_s8_rounded(p, MCU_AVG_ROUND_HALF_AWAY, in_shape, input, out_shape, output);
}
