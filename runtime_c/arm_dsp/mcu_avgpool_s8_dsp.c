/*
 * mcu_avgpool_s8_dsp - int8 average pooling with the DSP extension: the numbers of mcu_avgpool_s8_ref
 * (the in-bounds elements averaged, ties rounded away from zero, the layer's clamp), byte for byte.
 *
 * Four channels at a time: SXTAB16 adds a pixel's channels 0, 2 and (rotated by 8) 1, 3 into two
 * registers of int16 pairs. A lane cannot wrap: the compiler takes this kernel only where a window
 * holds at most MCU_AVGPOOL_DSP_MAX_COUNT = 255 elements, so |sum| <= 128 * 255 < 2^15.
 *
 * The division by the window's count d (at most 255) is a multiply and a shift: for n = |sum| + d / 2
 * (floor), n / d truncated is (n * M) >> 24 with M = ceil(2^24 / d), since n * M / 2^24 exceeds n / d
 * by n * (M - 2^24 / d) / 2^24 < n / 2^24 <= (128 d + d / 2) / 2^24 < 1 / d (as 128.5 * 255^2 < 2^24),
 * less than the distance 1 / d or more from n / d up to the next integer; and n * M < 128.5 * 2^24 + n
 * < 2^32, so the product fits an unsigned word. (tests/test_kernels_dsp_pool.py checks both claims for
 * every d and n.) The sign is put back after, which is the reference's ties-away rounding. The
 * compiler takes this kernel only for a multiple of 4 channels (every MobileNet pool has one), so no
 * scalar tail doubles its code.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_inline.h"

/* acc's int16 lanes plus bytes 1 and 3 of v, sign-extended (SXTAB16 with ROR 8; ACLE has no rotation). */
MCU_ALWAYS_INLINE int32_t mcu_sxtab16_ror8(int32_t acc, int32_t v)
{
    int32_t r;
    __asm__("sxtab16 %0, %1, %2, ror #8" : "=r"(r) : "r"(acc), "r"(v));
    return r;
}

/* One int16 lane's sum averaged over the window (m = ceil(2^24 / count), half = count / 2), clamped. */
MCU_ALWAYS_INLINE int32_t mcu_avg_lane(int32_t sum, uint32_t m, uint32_t half, int32_t act_min, int32_t act_max)
{
    const uint32_t magnitude = (uint32_t)(sum < 0 ? -sum : sum);
    const int32_t q = (int32_t)(((magnitude + half) * m) >> 24);
    const int32_t v = sum < 0 ? -q : q;
    return v < act_min ? act_min : v > act_max ? act_max : v;
}

/* The averages of channels [c, c + 4) of the window whose first pixel is `pixel` (rows x cols pixels,
 * image rows row_stride bytes apart), into out[0..3]. */
MCU_ALWAYS_INLINE void mcu_avg4(const int8_t *pixel, int32_t row_stride, int32_t channels, int32_t rows, int32_t cols,
                                uint32_t m, uint32_t half, int32_t act_min, int32_t act_max, int8_t *out)
{
    int32_t even = 0, odd = 0, y, x;
    uint32_t packed;
    for (y = 0; y < rows; y++, pixel += row_stride) {
        const int8_t *p = pixel;
        for (x = 0; x < cols; x++, p += channels) {
            const int32_t v = mcu_dsp_load4(p);
            even = __sxtab16(even, v);
            odd = mcu_sxtab16_ror8(odd, v);
        }
    }
    packed = (uint32_t)(uint8_t)mcu_avg_lane((int16_t)even, m, half, act_min, act_max);
    packed |= (uint32_t)(uint8_t)mcu_avg_lane((int16_t)odd, m, half, act_min, act_max) << 8;
    packed |= (uint32_t)(uint8_t)mcu_avg_lane(even >> 16, m, half, act_min, act_max) << 16;
    packed |= (uint32_t)(uint8_t)mcu_avg_lane(odd >> 16, m, half, act_min, act_max) << 24;
    memcpy(out, &packed, 4);
}

void mcu_avgpool_s8_dsp(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        int8_t *output)
{
    const int32_t channels = out_shape.c;
    const int32_t row_stride = in_shape.w * channels;
    int32_t oy, ox, c;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int32_t y_begin = iy0 > 0 ? iy0 : 0;
        const int32_t y_end = iy0 + p->kernel_h < in_shape.h ? iy0 + p->kernel_h : in_shape.h;
        for (ox = 0; ox < out_shape.w; ox++, output += channels) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int32_t x_begin = ix0 > 0 ? ix0 : 0;
            const int32_t x_end = ix0 + p->kernel_w < in_shape.w ? ix0 + p->kernel_w : in_shape.w;
            const int32_t count = (y_end - y_begin) * (x_end - x_begin);
            const uint32_t m = ((1u << 24) + (uint32_t)count - 1) / (uint32_t)count;
            const int8_t *window = input + (y_begin * in_shape.w + x_begin) * channels;
            /* A window as wide as the image (a global pool) is one run of pixels: one loop, not two. */
            const int32_t whole = x_end - x_begin == in_shape.w;
            const int32_t rows = whole ? 1 : y_end - y_begin, cols = whole ? count : x_end - x_begin;
            for (c = 0; c < channels; c += 4) {
                mcu_avg4(window + c, row_stride, channels, rows, cols, m, (uint32_t)count / 2, p->act_min, p->act_max,
                         output + c);
            }
        }
    }
}

#endif /* __ARM_FEATURE_DSP */
