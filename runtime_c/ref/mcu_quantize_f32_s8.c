/*
 * mcu_quantize_f32_s8 - float32 -> int8, as TFLite's QUANTIZE does it (see mcu_quantize.h).
 */
#include "mcu_nn.h"
#include "mcu_quantize.h"

void mcu_quantize_f32_s8(const float *input, int8_t *output, int32_t n, float scale, int32_t zero_point)
{
    int32_t i;

    for (i = 0; i < n; i++) {
        output[i] = mcu_quantize_one_f32_s8(input[i], scale, zero_point);
    }
}
