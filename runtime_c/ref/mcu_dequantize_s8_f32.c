/*
 * mcu_dequantize_s8_f32 - int8 -> float32: x = scale * (q - zero_point), as TFLite's DEQUANTIZE
 * (see mcu_quantize.h).
 */
#include "mcu_nn.h"
#include "mcu_quantize.h"

void mcu_dequantize_s8_f32(const int8_t *input, float *output, int32_t n, float scale, int32_t zero_point)
{
    int32_t i;

    for (i = 0; i < n; i++) {
        output[i] = mcu_dequantize_one_s8_f32(input[i], scale, zero_point);
    }
}
