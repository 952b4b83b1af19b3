/*
 * mcu_quantize.h - one value between float32 and int8, as TFLite's QUANTIZE and DEQUANTIZE do it.
 *
 * Quantize: q = saturate_int8((int32)round(x / scale) + zero_point), a float32 division (not a
 * multiply by 1/scale, which rounds differently), rounded half away from zero (roundf).
 * Dequantize: x = scale * (q - zero_point). TFLite multiplies in double and narrows to float; the
 * exact product (a 24-bit significand times an integer of magnitude <= 255) fits a double, so the
 * float32 product here rounds the same exact value once and agrees.
 *
 * mcu_quantize_f32_s8 / mcu_dequantize_s8_f32 (mcu_nn.h) apply these to arrays; the generated
 * <model>_run applies them while moving values between the model's own layout and NHWC.
 */
#ifndef MCU_QUANTIZE_H
#define MCU_QUANTIZE_H

#include <math.h>
#include <stdint.h>

static inline int8_t mcu_quantize_one_f32_s8(float x, float scale, int32_t zero_point)
{
    float r = roundf(x / scale);
    int32_t v;
    /* Converting a float outside the int32 range is undefined, so clamp first. +-512 is beyond
     * anything that survives the int8 saturation for any zero point. NaN -> the zero point. */
    if (r != r) {
        r = 0.0f;
    } else if (r > 512.0f) {
        r = 512.0f;
    } else if (r < -512.0f) {
        r = -512.0f;
    }
    v = (int32_t)r + zero_point;
    return (int8_t)(v < -128 ? -128 : (v > 127 ? 127 : v));
}

static inline float mcu_dequantize_one_s8_f32(int8_t q, float scale, int32_t zero_point)
{
    return scale * (float)(q - zero_point);
}

#endif /* MCU_QUANTIZE_H */
