/*
 * mcu_dsp8_drivers.h - the driver loops of the int8-weight SMLAD kernels (mcu_pwconv_s8_dsp8,
 * mcu_conv_s8_dsp8, and the weight-zero-point twins mcu_pwconv_s8_wzp_dsp8, mcu_conv_s8_wzp_dsp8):
 * three pixels at a time are laid out as widened columns in scratch, then mcu_dsp8_matmul_3cols runs
 * every output channel over them. The pointwise driver widens the pixels themselves; the convolution
 * driver (mcu_dsp8_conv_driver.h) first gathers each window's bytes (im2col) into a byte row and
 * widens that row the same way, so both share one column layout and one weight layout (natural k
 * order, see mcu_nn_dsp.h).
 * With a weight zero point each pixel's column is summed once and every accumulator of that pixel
 * starts from filter_offset times the sum (`zero_point` a constant 0 or 1 in each public wrapper; the
 * drivers are forced inline, so the sums vanish from the kernels without one). `dual`: the inner
 * loop's instruction order (see mcu_dsp8_matmul.h), `compact` the channel records' form (2 words per
 * channel after the layer's odd word, or 3; see mcu_dsp8_matmul_3cols), both constants of each public
 * kernel.
 * Private to runtime_c/arm_dsp.
 */
#ifndef MCU_DSP8_DRIVERS_H
#define MCU_DSP8_DRIVERS_H

#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp8_matmul.h"
#include "mcu_inline.h"

/* The two SXTB16 words of one group of 4 int8 (bytes 0, 2 and bytes 1, 3) into the columns, pixel p. */
MCU_ALWAYS_INLINE void mcu_dsp8_widen_group(int32_t v, int32_t *col)
{
    col[0] = __sxtb16(v);
    col[3] = mcu_dsp_sxtb16_ror8(v);
}

/* k values of one pixel (x) as its column (col: that pixel's first word, stride 3 words per k-pair),
 * zero padded to a multiple of 4. */
__attribute__((unused)) static void mcu_dsp8_widen(const int8_t *x, int32_t k, int32_t *col)
{
    int32_t i;
    for (i = k >> 2; i > 0; i--) {
        mcu_dsp8_widen_group(mcu_dsp_load4(x), col);
        x += 4;
        col += 6;
    }
    if (k & 3) {
        uint32_t v = (uint8_t)x[0];
        if ((k & 3) > 1) {
            v |= (uint32_t)(uint8_t)x[1] << 8;
        }
        if ((k & 3) > 2) {
            v |= (uint32_t)(uint8_t)x[2] << 16;
        }
        mcu_dsp8_widen_group((int32_t)v, col);
    }
}

/* Three pixels' k values as their columns (mcu_dsp8_widen of each into cols, cols + 1, cols + 2), the full
 * groups of 4 of the three in one loop: a call per pixel cost the few-channel layers (in_c 8 and 16)
 * more than the widening itself. */
MCU_ALWAYS_INLINE void mcu_dsp8_widen3(const int8_t *x0, const int8_t *x1, const int8_t *x2, int32_t k, int32_t *col)
{
    const int32_t full = k & ~3;
    int32_t i;
    for (i = 0; i < full; i += 4, col += 6) {
        const int32_t v0 = mcu_dsp_load4(x0 + i), v1 = mcu_dsp_load4(x1 + i), v2 = mcu_dsp_load4(x2 + i);
        col[0] = __sxtb16(v0);
        col[1] = __sxtb16(v1);
        col[2] = __sxtb16(v2);
        col[3] = mcu_dsp_sxtb16_ror8(v0);
        col[4] = mcu_dsp_sxtb16_ror8(v1);
        col[5] = mcu_dsp_sxtb16_ror8(v2);
    }
    if (k & 3) {
        mcu_dsp8_widen(x0 + full, k & 3, col);
        mcu_dsp8_widen(x1 + full, k & 3, col + 1);
        mcu_dsp8_widen(x2 + full, k & 3, col + 2);
    }
}

/* The sum of one pixel's column (SMLAD by 1, 1 over its k4 / 2 words), for a weight zero point.
 * |sum| <= 128 * K and K <= 33025 (the compiler's limit with a weight zero point): the product with
 * filter_offset stays within int32. */
MCU_ALWAYS_INLINE int32_t mcu_dsp8_column_sum(const int32_t *col, int32_t k4)
{
    int32_t s = 0, i;
    for (i = 0; i < k4 >> 1; i++) {
        s = __smlad(col[3 * i], 0x00010001, s);
    }
    return s;
}

/* The three columns are in `cols`: their inner product, after the zero point's starts. */
MCU_ALWAYS_INLINE void mcu_dsp8_columns(int zero_point, int dual, int compact, mcu_dsp_out o, int32_t filter_offset,
                                        const int32_t *cols, int32_t k4, int32_t out_c, const int32_t *weights,
                                        const int32_t *channels, int8_t *out0, int8_t *out1, int8_t *out2)
{
    int32_t s0 = 0, s1 = 0, s2 = 0;
    if (zero_point) {
        s0 = filter_offset * mcu_dsp8_column_sum(cols, k4);
        s1 = filter_offset * mcu_dsp8_column_sum(cols + 1, k4);
        s2 = filter_offset * mcu_dsp8_column_sum(cols + 2, k4);
    }
    mcu_dsp8_matmul_3cols(dual, compact, zero_point, o, cols, k4, out_c, weights, channels, out0, out1, out2, s0, s1,
                          s2);
}

/* ---- Pointwise (1x1) and fully connected. ---- */

MCU_ALWAYS_INLINE int32_t mcu_dsp8_pwconv_scratch(mcu_shape in_shape)
{
    return MCU_DSP8_COLUMN_WORDS((in_shape.c + 3) & ~3) * (int32_t)sizeof(int32_t);
}

/* filter_offset: read only with zero_point 1. A last block of 1 or 2 pixels repeats the last pixel. */
MCU_ALWAYS_INLINE void mcu_dsp8_pwconv_body(int zero_point, int dual, int compact, mcu_dsp_out o, int32_t filter_offset,
                                            mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                                            const int32_t *weights, const int32_t *channels, int8_t *output,
                                            int32_t *scratch)
{
    const int32_t in_c = in_shape.c, out_c = out_shape.c;
    const int32_t k4 = (in_c + 3) & ~3;
    const int32_t last = out_shape.h * out_shape.w - 1;
    int32_t px;

    for (px = 0; px <= last; px += 3) {
        const int32_t p1 = px + 1 <= last ? px + 1 : last;
        const int32_t p2 = px + 2 <= last ? px + 2 : last;
        mcu_dsp8_widen3(input + px * in_c, input + p1 * in_c, input + p2 * in_c, in_c, scratch);
        mcu_dsp8_columns(zero_point, dual, compact, o, filter_offset, scratch, k4, out_c, weights, channels,
                         output + px * out_c, output + p1 * out_c, output + p2 * out_c);
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP8_DRIVERS_H */
