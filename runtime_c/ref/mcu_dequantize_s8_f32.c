/*
 * mcu_dequantize_s8_f32 - int8 -> float32: x = scale * (q - zero_point).
 *
 * TFLite multiplies in double and narrows to float; here the product is taken in float32. The
 * exact product (a 24-bit significand times an integer of magnitude <= 255) fits a double, so
 * both ways round the same exact value once and agree.
 */
#include "mcu_nn.h"

void mcu_dequantize_s8_f32(const int8_t *input, float *output, int32_t n, float scale, int32_t zero_point)
{
    int32_t i;

    for (i = 0; i < n; i++) {
        output[i] = scale * (float)(input[i] - zero_point);
    }
}
