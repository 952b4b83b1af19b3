/*
 * mcu_quantize_f32_s8 - float32 -> int8, as TFLite's AffineQuantize does it.
 *
 * q = saturate_int8((int32)roundf(x / scale) + zero_point): a float32 division (not a multiply by
 * 1/scale, which rounds differently), then rounding half away from zero.
 */
#include <math.h>

#include "mcu_nn.h"

void mcu_quantize_f32_s8(const float *input, int8_t *output, int32_t n, float scale, int32_t zero_point)
{
    int32_t i;

    for (i = 0; i < n; i++) {
        float r = roundf(input[i] / scale);
        int32_t v;
        /* Converting a float outside the int32 range is undefined, so clamp first. +-512 is
         * beyond anything that survives the int8 saturation for any zero point. NaN -> zero point. */
        if (r != r) {
            r = 0.0f;
        } else if (r > 512.0f) {
            r = 512.0f;
        } else if (r < -512.0f) {
            r = -512.0f;
        }
        v = (int32_t)r + zero_point;
        output[i] = (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
    }
}
