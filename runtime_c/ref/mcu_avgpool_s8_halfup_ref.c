/*
 * mcu_avgpool_s8_halfup_ref - int8 average pooling that rounds half up, for legacy uint8 models.
 *
 * TFLite's uint8 kernel rounds (sum + count / 2) / count on values >= 0, i.e. ties go up. On the
 * int8 values a uint8 model is held in here (uint8 - 128) that is floor((sum + count / 2) / count),
 * which differs from mcu_avgpool_s8_ref's ties-away-from-zero on negative ties (-2.5 -> -2, not -3).
 * Geometry, padding (not counted) and clamp as mcu_avgpool_s8_ref, whose loops (mcu_avgpool_ref.h)
 * this kernel shares.
 */
#include "mcu_avgpool_ref.h"
#include "mcu_nn.h"

void mcu_avgpool_s8_halfup_ref(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input,
                               mcu_shape out_shape, int8_t *output)
{
    mcu_avgpool_s8_rounded(p, MCU_AVG_ROUND_HALF_UP, in_shape, input, out_shape, output);
}
