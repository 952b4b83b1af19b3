/*
 * mcu_dsp8_conv_driver.h - the driver loop of the int8-weight SMLAD convolutions (mcu_conv_s8_dsp8 and
 * mcu_conv_s8_wzp_dsp8): each output pixel's window gathered (im2col) into a byte row, copying whole
 * image rows of the window where they are inside the image, widened into the column layout of
 * mcu_dsp8_drivers.h, three pixels at a time run through mcu_dsp8_matmul_3cols. Kept apart from the
 * pointwise driver so the window gather can change without touching the shared inner product.
 * Private to runtime_c/arm_dsp.
 */
#ifndef MCU_DSP8_CONV_DRIVER_H
#define MCU_DSP8_CONV_DRIVER_H

#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp8_drivers.h"

/* ---- Convolution (groups = 1): im2col of three output pixels. ---- */

/* K = kh * kw * in_c rounded up to 4. */
MCU_ALWAYS_INLINE int32_t mcu_dsp8_conv_k4(const mcu_dsp_params *p, mcu_shape in_shape)
{
    return ((int32_t)p->kernel_h * p->kernel_w * in_shape.c + 3) & ~3;
}

/* The columns, then one window's bytes (k4 of them and 4 that a whole-word copy may overrun, word aligned). */
MCU_ALWAYS_INLINE int32_t mcu_dsp8_conv_scratch(const mcu_dsp_params *p, mcu_shape in_shape)
{
    const int32_t k4 = mcu_dsp8_conv_k4(p, in_shape);
    return MCU_DSP8_COLUMN_WORDS(k4) * (int32_t)sizeof(int32_t) + k4 + 4;
}

/* n bytes from src to dst: words while 4 remain (unaligned LDR/STR, which ARMv7-M and ARMv8-M allow),
 * then bytes. */
MCU_ALWAYS_INLINE void mcu_dsp8_copy(int8_t *dst, const int8_t *src, int32_t n)
{
    for (; n >= 4; n -= 4, src += 4, dst += 4) {
        const int32_t v = mcu_dsp_load4(src);
        memcpy(dst, &v, 4);
    }
    for (; n > 0; n--) {
        *dst++ = *src++;
    }
}

/* A window touching the padding, or whose last row ends the image: tap by tap, a padded tap
 * reading the input zero point (into row, natural (ky, kx, ci) order). */
__attribute__((unused)) static void mcu_dsp8_gather_edge(const mcu_dsp_params *p, mcu_shape in_shape,
                                                         const int8_t *input, int32_t iy0, int32_t ix0, int8_t *row)
{
    const int32_t in_c = in_shape.c;
    const int8_t zp = (int8_t)p->input_zero_point;
    int32_t ky, kx, ci;

    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky;
        for (kx = 0; kx < p->kernel_w; kx++, row += in_c) {
            const int32_t ix = ix0 + kx;
            if (iy >= 0 && iy < in_shape.h && ix >= 0 && ix < in_shape.w) {
                mcu_dsp8_copy(row, input + (iy * in_shape.w + ix) * in_c, in_c);
            } else {
                for (ci = 0; ci < in_c; ci++) {
                    row[ci] = zp;
                }
            }
        }
    }
}

/* What the window gather needs of a layer, computed once per call. */
typedef struct {
    int32_t run;    /* bytes of one kernel row of a window: kernel_w * in_c */
    int32_t words;  /* whole words that copy a run: (run + 3) / 4 */
    int32_t pitch;  /* bytes of one image row */
    int32_t k, k4;  /* K, and K rounded up to 4 */
    int32_t kernel_h, stride_h, stride_w, pad_top, pad_left;  /* the geometry, widened once */
    uint32_t iy_lim, ix_lim;  /* a window starting at (iy0, ix0) is inside the image iff iy0 < iy_lim and
                               * ix0 < ix_lim, compared unsigned (a negative start is large); 0 where
                               * the kernel is larger than the image */
    int32_t span;   /* bytes the copy of an inside window reads from its first byte on */
    const int8_t *end;  /* the end of the input tensor */
} mcu_dsp8_gather;

/*
 * A window of 3 runs of 9 bytes inside the image (a 3x3 RGB first layer), straight into the widened
 * column without the byte row: its 27 bytes in natural order as 7 words read unaligned from the three
 * runs (r0, r1, r2), the two words that straddle runs spliced, the 28th byte 0. The last load reads r2[9]
 * (the 12 bytes per run that the copy path reads too).
 */
MCU_ALWAYS_INLINE void mcu_dsp8_window_run9x3(const int8_t *r0, int32_t pitch, int32_t *col)
{
    const int8_t *r1 = r0 + pitch, *r2 = r1 + pitch;
    const uint32_t a = (uint32_t)mcu_dsp_load4(r0 + 8), b = (uint32_t)mcu_dsp_load4(r1);
    const uint32_t c = (uint32_t)mcu_dsp_load4(r1 + 7), d = (uint32_t)mcu_dsp_load4(r2);
    const uint32_t e = (uint32_t)mcu_dsp_load4(r2 + 6);
    mcu_dsp8_widen_group(mcu_dsp_load4(r0), col);
    mcu_dsp8_widen_group(mcu_dsp_load4(r0 + 4), col + 6);
    mcu_dsp8_widen_group((int32_t)((a & 0xFFu) | b << 8), col + 12);
    mcu_dsp8_widen_group(mcu_dsp_load4(r1 + 3), col + 18);
    mcu_dsp8_widen_group((int32_t)((c & 0xFFFFu) | d << 16), col + 24);
    mcu_dsp8_widen_group(mcu_dsp_load4(r2 + 2), col + 30);
    mcu_dsp8_widen_group((int32_t)(e & 0xFFFFFFu), col + 36);
}

/*
 * The window of output pixel (oy, ox) as the column of pixel `col` (see mcu_dsp8_widen), through
 * row (k4 + 4 bytes, word aligned). Inside the image each kernel row of the window is one run of
 * kernel_w * in_c input bytes, copied as whole words: the last word may take up to 3 bytes past the
 * run, which the next run overwrites and, after the last run, one zero word at row + k (the K % 4
 * padding, at most 3 bytes) does; so a 3x3 RGB window is 9 LDR/STR pairs and one STR. Those bytes are
 * read only where they are still inside the input tensor (`end`); a window touching the padding or the
 * tensor's end takes the tap-by-tap path. Forced inline: a call per pixel, with its arguments, cost the
 * first layer of VWW more than the copies themselves.
 */
MCU_ALWAYS_INLINE void mcu_dsp8_window(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input,
                                       const mcu_dsp8_gather *g, int32_t oy, int32_t ox, int8_t *row, int32_t *col)
{
    const int32_t iy0 = oy * g->stride_h - g->pad_top;
    const int32_t ix0 = ox * g->stride_w - g->pad_left;
    const int8_t *src = input + iy0 * g->pitch + ix0 * in_shape.c;
    const int32_t zero = 0;
    int32_t ky, i;

    if ((uint32_t)iy0 < g->iy_lim && (uint32_t)ix0 < g->ix_lim && src + g->span <= g->end) {
        int8_t *dst = row;
        if (g->run == 9 && g->kernel_h == 3) {
            mcu_dsp8_window_run9x3(src, g->pitch, col);
            return;
        }
        if (g->words == 3) {
            /* Runs of 9 to 12 bytes (a 3x3 RGB window): each row three loads, then three stores. */
            for (ky = g->kernel_h; ky > 0; ky--, src += g->pitch, dst += g->run) {
                const int32_t v0 = mcu_dsp_load4(src), v1 = mcu_dsp_load4(src + 4), v2 = mcu_dsp_load4(src + 8);
                memcpy(dst, &v0, 4);
                memcpy(dst + 4, &v1, 4);
                memcpy(dst + 8, &v2, 4);
            }
        } else {
            for (ky = g->kernel_h; ky > 0; ky--, src += g->pitch, dst += g->run) {
                for (i = 0; i < g->words; i++) {
                    const int32_t v = mcu_dsp_load4(src + 4 * i);
                    memcpy(dst + 4 * i, &v, 4);
                }
            }
        }
    } else {
        mcu_dsp8_gather_edge(p, in_shape, input, iy0, ix0, row);
    }
    memcpy(row + g->k, &zero, 4);
    mcu_dsp8_widen(row, g->k4, col);
}

/* filter_offset: as for mcu_dsp8_pwconv_body. Output pixels in raster order, (oy, ox) counted
 * along; a last block of 1 or 2 pixels repeats the last pixel. */
MCU_ALWAYS_INLINE void mcu_dsp8_conv_body(int zero_point, int dual, int compact, const mcu_dsp_params *p, mcu_dsp_out o,
                                          int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                                          mcu_shape out_shape, const int32_t *weights, const int32_t *channels,
                                          int8_t *output, int32_t *scratch)
{
    const int32_t out_c = out_shape.c, ow = out_shape.w;
    const int32_t last = out_shape.h * ow - 1;
    mcu_dsp8_gather g;
    int8_t *row;
    int32_t px, i, oy = 0, ox = 0;

    g.run = (int32_t)p->kernel_w * in_shape.c;
    g.words = (g.run + 3) >> 2;
    g.pitch = in_shape.w * in_shape.c;
    g.k = (int32_t)p->kernel_h * g.run;
    g.k4 = mcu_dsp8_conv_k4(p, in_shape);
    g.kernel_h = p->kernel_h;
    g.stride_h = p->stride_h;
    g.stride_w = p->stride_w;
    g.pad_top = p->pad_top;
    g.pad_left = p->pad_left;
    g.iy_lim = in_shape.h >= p->kernel_h ? (uint32_t)(in_shape.h - p->kernel_h + 1) : 0u;
    g.ix_lim = in_shape.w >= p->kernel_w ? (uint32_t)(in_shape.w - p->kernel_w + 1) : 0u;
    g.span = (p->kernel_h - 1) * g.pitch + 4 * g.words;
    g.end = input + in_shape.h * g.pitch;
    row = (int8_t *)(void *)(scratch + MCU_DSP8_COLUMN_WORDS(g.k4));
    for (px = 0; px <= last; px += 3) {
        int8_t *out[3];
        for (i = 0; i < 3; i++) {
            if (px + i <= last) {
                mcu_dsp8_window(p, in_shape, input, &g, oy, ox, row, scratch + i);
                out[i] = output + (px + i) * out_c;
                if (++ox == ow) {
                    ox = 0;
                    oy++;
                }
            } else {
                /* The last pixel's column again, copied (a second inlined window would double its code). */
                int32_t j;
                for (j = 0; j < g.k4 >> 1; j++) {
                    scratch[3 * j + i] = scratch[3 * j + i - 1];
                }
                out[i] = out[i - 1];
            }
        }
        mcu_dsp8_columns(zero_point, dual, compact, o, filter_offset, scratch, g.k4, out_c, weights, channels, out[0],
                         out[1], out[2]);
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP8_CONV_DRIVER_H */
