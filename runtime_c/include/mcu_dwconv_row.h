/*
 * mcu_dwconv_row.h - one output row of an int8 depthwise convolution, shared by the reference
 * depthwise kernels (mcu_dwconv_s8_ref, mcu_dwconv_s8_inplace_ref and the weight-zero-point
 * mcu_dwconv_s8_wzp_ref) so they compute the same numbers.
 * Private to the runtime: not part of the public interface in mcu_nn.h.
 *
 * The int8-weight kernels pass filter_offset = 0 (through mcu_dwconv_s8_row), a constant the
 * compiler folds away after inlining, so their inner loop has no extra add. Plain static inline,
 * not MCU_ALWAYS_INLINE (mcu_inline.h): inlined late as before, mcu_dwconv_s8_inplace_ref compiles
 * to the same code as before and mcu_dwconv_s8_ref to slightly fewer executed instructions.
 */
#ifndef MCU_DWCONV_ROW_H
#define MCU_DWCONV_ROW_H

#include "mcu_nn.h"
#include "mcu_requantize.h"

/*
 * Output row oy, [out_w][c], of a depthwise convolution with channel multiplier 1 (c = in_shape.c):
 *     acc = bias[c] + sum((x + input_offset) * (w + filter_offset)), requantized per channel.
 * input [in_shape.h][in_shape.w][c]; filter [kernel_h][kernel_w][c]; bias [c] or NULL.
 * Reads only input rows oy * stride_h - pad_top + [0, kernel_h) that lie inside the image; padded
 * taps are skipped (padding with the input zero point). out_row must not overlap those rows.
 */
static inline void mcu_dwconv_s8_row_filter_offset(const mcu_conv_params *p, const mcu_channel_quant *q,
                                                   int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                                                   int32_t oy, int32_t out_w, const int8_t *filter,
                                                   const int32_t *bias, int8_t *out_row)
{
    const int32_t channels = in_shape.c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    int32_t ox, c, ky, kx;

    for (ox = 0; ox < out_w; ox++) {
        const int32_t ix0 = ox * p->stride_w - p->pad_left;
        for (c = 0; c < channels; c++) {
            int32_t acc = 0;
            for (ky = 0; ky < p->kernel_h; ky++) {
                const int32_t iy = iy0 + ky;
                if (iy < 0 || iy >= in_shape.h) {
                    continue;
                }
                for (kx = 0; kx < p->kernel_w; kx++) {
                    const int32_t ix = ix0 + kx;
                    if (ix < 0 || ix >= in_shape.w) {
                        continue;
                    }
                    acc += (input[(iy * in_shape.w + ix) * channels + c] + p->io.input_offset) *
                           (filter[(ky * p->kernel_w + kx) * channels + c] + filter_offset);
                }
            }
            if (bias != NULL) {
                acc = mcu_add_wrap(acc, bias[c]);
            }
            *out_row++ = mcu_requantize_s8(acc, q->multiplier[c], q->shift[c], p->io.output_offset, p->io.act_min,
                                           p->io.act_max);
        }
    }
}

/* The same row for int8 weights (no weight zero point). */
static inline void mcu_dwconv_s8_row(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape,
                                     const int8_t *input, int32_t oy, int32_t out_w, const int8_t *filter,
                                     const int32_t *bias, int8_t *out_row)
{
    mcu_dwconv_s8_row_filter_offset(p, q, 0, in_shape, input, oy, out_w, filter, bias, out_row);
}

#endif /* MCU_DWCONV_ROW_H */
