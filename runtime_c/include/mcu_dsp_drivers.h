/*
 * mcu_dsp_drivers.h - the driver loops of the int16-weight SMLAD convolution and pointwise kernels
 * (mcu_conv_s8_dsp, mcu_pwconv_s8_dsp; inner product mcu_dsp_matmul_2cols): two output pixels at a
 * time as interleaved int16 columns. The int8-weight kernels have their own drivers
 * (mcu_dsp8_drivers.h: three pixels per block, a different column layout). The drivers are forced
 * inline (see mcu_inline.h) into each public wrapper. Private to runtime_c/arm_dsp.
 */
#ifndef MCU_DSP_DRIVERS_H
#define MCU_DSP_DRIVERS_H

#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp_matmul.h"
#include "mcu_inline.h"

/* Both pixels' columns are in `cols`: their inner product. */
MCU_ALWAYS_INLINE void mcu_dsp_columns(mcu_dsp_out o, const int32_t *cols, int32_t k4, int32_t out_c,
                                       const int32_t *weights, const int32_t *channels, int8_t *out_a, int8_t *out_b)
{
    mcu_dsp_matmul_2cols(o, cols, k4, out_c, weights, channels, out_a, out_b);
}

/* ---- Convolution (groups = 1): im2col of two output pixels. ---- */

/* K = kh * kw * in_c rounded up to 4: the column length, padded with zeros. */
MCU_ALWAYS_INLINE int32_t mcu_dsp_conv_k4(const mcu_dsp_params *p, mcu_shape in_shape)
{
    return ((int32_t)p->kernel_h * p->kernel_w * in_shape.c + 3) & ~3;
}

/*
 * The window of output pixel (oy, ox) as int16 values, padded taps reading the zero point, into
 * the interleaved columns (see mcu_dsp_matmul_2cols): col is the pixel's first int16 (2 int16 after
 * the other pixel's), and value k goes to col[(k >> 1) * 4 + (k & 1)] = col[2k - (k & 1)].
 * Plain static, marked unused for the files that use only the pointwise driver: with `inline`, GCC
 * copies it into both calls (cortex-m7: mcu_conv_s8_dsp 1,708 -> 2,580 bytes).
 */
__attribute__((unused)) static void mcu_dsp_gather(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, int32_t oy,
                                  int32_t ox, int32_t k4, int16_t *col)
{
    const int32_t in_c = in_shape.c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int16_t zp = (int16_t)p->input_zero_point;
    int32_t k = 0, ky, kx, ci;

    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky;
        const int row_inside = iy >= 0 && iy < in_shape.h;
        for (kx = 0; kx < p->kernel_w; kx++) {
            const int32_t ix = ix0 + kx;
            if (row_inside && ix >= 0 && ix < in_shape.w) {
                const int8_t *x = input + (iy * in_shape.w + ix) * in_c;
                for (ci = 0; ci < in_c; ci++, k++) {
                    col[2 * k - (k & 1)] = x[ci];
                }
            } else {
                for (ci = 0; ci < in_c; ci++, k++) {
                    col[2 * k - (k & 1)] = zp;
                }
            }
        }
    }
    for (; k < k4; k++) {
        col[2 * k - (k & 1)] = 0;
    }
}

MCU_ALWAYS_INLINE void mcu_dsp_conv_body(const mcu_dsp_params *p, mcu_dsp_out o, mcu_shape in_shape,
                                         const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                         const int32_t *channels, int8_t *output, int32_t *scratch)
{
    const int32_t out_c = out_shape.c;
    const int32_t k4 = mcu_dsp_conv_k4(p, in_shape);
    const int32_t pixels = out_shape.h * out_shape.w;
    int16_t *col = (int16_t *)(void *)scratch;
    int32_t px;

    for (px = 0; px < pixels; px += 2) {
        const int32_t second = px + 1 < pixels ? px + 1 : px;
        mcu_dsp_gather(p, in_shape, input, px / out_shape.w, px % out_shape.w, k4, col);
        mcu_dsp_gather(p, in_shape, input, second / out_shape.w, second % out_shape.w, k4, col + 2);
        mcu_dsp_columns(o, scratch, k4, out_c, weights, channels, output + px * out_c,
                        output + second * out_c);
    }
}

/* ---- Pointwise (1x1) and fully connected: two pixels widened once. ---- */

MCU_ALWAYS_INLINE int32_t mcu_dsp_pwconv_scratch(mcu_shape in_shape)
{
    return 2 * ((in_shape.c + 3) & ~3) * (int32_t)sizeof(int16_t);
}

/* The in_c % 4 tail of one pixel as its two k-pair words (natural order, zero padded). */
static inline void mcu_dsp_widen_tail(const int8_t *x, int32_t rest, int32_t *lo, int32_t *hi)
{
    const uint32_t x0 = (uint16_t)x[0];
    const uint32_t x1 = rest > 1 ? (uint32_t)(uint16_t)x[1] << 16 : 0;
    *lo = (int32_t)(x0 | x1);
    *hi = rest > 2 ? (uint16_t)x[2] : 0;
}

/* Pixels a and b as interleaved int16 pairs (see mcu_dsp_matmul_2cols), padded to a multiple of 4:
 * SXTB16 puts a group of 4 channels in the order 0, 2, 1, 3 that the compiler gave the weights.
 * Plain static, as mcu_dsp_gather. */
__attribute__((unused)) static void mcu_dsp_widen_pixels(const int8_t *xa, const int8_t *xb, int32_t in_c, int32_t *col)
{
    int32_t i;
    for (i = in_c >> 2; i > 0; i--) {
        const int32_t va = mcu_dsp_load4(xa), vb = mcu_dsp_load4(xb);
        col[0] = __sxtb16(va);
        col[1] = __sxtb16(vb);
        col[2] = mcu_dsp_sxtb16_ror8(va);
        col[3] = mcu_dsp_sxtb16_ror8(vb);
        col += 4;
        xa += 4;
        xb += 4;
    }
    if (in_c & 3) {
        mcu_dsp_widen_tail(xa, in_c & 3, &col[0], &col[2]);
        mcu_dsp_widen_tail(xb, in_c & 3, &col[1], &col[3]);
    }
}

MCU_ALWAYS_INLINE void mcu_dsp_pwconv_body(mcu_dsp_out o, mcu_shape in_shape, const int8_t *input,
                                           mcu_shape out_shape, const int32_t *weights, const int32_t *channels,
                                           int8_t *output, int32_t *scratch)
{
    const int32_t in_c = in_shape.c, out_c = out_shape.c;
    const int32_t k4 = (in_c + 3) & ~3;
    const int32_t pixels = out_shape.h * out_shape.w;
    int32_t px;

    for (px = 0; px + 1 < pixels; px += 2) {
        mcu_dsp_widen_pixels(input + px * in_c, input + (px + 1) * in_c, in_c, scratch);
        mcu_dsp_columns(o, scratch, k4, out_c, weights, channels, output + px * out_c,
                        output + (px + 1) * out_c);
    }
    if (px < pixels) {
        mcu_dsp_widen_pixels(input + px * in_c, input + px * in_c, in_c, scratch);
        mcu_dsp_columns(o, scratch, k4, out_c, weights, channels, output + px * out_c,
                        output + px * out_c);
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP_DRIVERS_H */
