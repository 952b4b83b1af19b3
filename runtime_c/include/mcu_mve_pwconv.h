/*
 * mcu_mve_pwconv.h - the loops of the Helium pointwise kernels, written once for int8 weights
 * (mcu_pwconv_s8_mve) and int8 weights with a per-tensor zero point (mcu_pwconv_s8_wzp_mve).
 *
 * Four pixels share each load of a weight row: per 16 input channels one weight vector and four
 * input vectors feed four VMLADAV (16 multiply-accumulates each, summed across the lanes into a
 * scalar). The four sums are one output channel at four pixels, so they requantize as one vector
 * with that channel's scalar parameters (packed per channel: bias, multiplier, left, right) and
 * leave through one byte scatter (stride out_c). With at most 16 input channels the four input
 * vectors stay in registers for all output channels. The rows of weights are zero-padded to 16
 * bytes; the input tail is loaded predicated, so no byte past the input is read.
 *
 * A weight zero point zw (wzp = 1, filter_offset = -zw): sum(x * (w - zw)) = sum(x * w) +
 * filter_offset * sum(x), the input zero point's share being in the bias. Each pixel's inputs are
 * summed once (VADDVA, 16 at a time) and filter_offset * sum joins every channel's four sums before
 * requantizing: one VADD per channel and group of four pixels. wzp is a constant in each wrapper
 * (the functions are forced inline), so the int8 kernel compiles without any of it (cortex-m55, GCC
 * 12: the instructions it had before its loops moved here, two stores paired differently).
 * Private to runtime_c/arm_mve.
 */
#ifndef MCU_MVE_PWCONV_H
#define MCU_MVE_PWCONV_H

#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve.h"
#include "mcu_requantize.h"

/* Requantize channel `prm` (bias, multiplier, left, right) at four pixels and scatter it to out;
 * with wzp, the pixels' zero-point shares `starts` are added first. */
MCU_MVE_INLINE void mcu_mve_pw_store4(int32_t a0, int32_t a1, int32_t a2, int32_t a3, const int32_t *prm,
                                      const mcu_quant_io *io, uint32x4_t scatter, int8_t *out, int wzp,
                                      int32x4_t starts)
{
    int32x4_t acc = vdupq_n_s32(a0);
    acc = vsetq_lane_s32(a1, acc, 1);
    acc = vsetq_lane_s32(a2, acc, 2);
    acc = vsetq_lane_s32(a3, acc, 3);
    if (wzp) {
        acc = vaddq_s32(acc, starts);
    }
    acc = mcu_mve_requantize_n(acc, prm[1], prm[2], prm[3], io->output_offset, io->act_min, io->act_max);
    vstrbq_scatter_offset_s32(out, scatter, acc);
}

/* filter_offset times the sum of one pixel's in_c inputs. */
MCU_MVE_INLINE int32_t mcu_mve_pw_start(const int8_t *x, int32_t in_c, int32_t filter_offset)
{
    int32_t s = 0, k;
    for (k = 0; k + 16 <= in_c; k += 16) {
        s = vaddvaq_s8(s, vldrbq_s8(x + k));
    }
    if (in_c & 15) {
        s = vaddvaq_s8(s, vldrbq_z_s8(x + k, vctp8q((uint32_t)(in_c & 15))));
    }
    return s * filter_offset;
}

/* filter_offset times the sums of four pixels' inputs, in_c bytes each at x, x + in_c, ... */
MCU_MVE_INLINE int32x4_t mcu_mve_pw_starts(const int8_t *x, int32_t in_c, int32_t filter_offset)
{
    const int32_t tail = in_c & 15;
    const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, k;
    int32x4_t sums;
    for (k = 0; k + 16 <= in_c; k += 16) {
        s0 = vaddvaq_s8(s0, vldrbq_s8(x + k));
        s1 = vaddvaq_s8(s1, vldrbq_s8(x + in_c + k));
        s2 = vaddvaq_s8(s2, vldrbq_s8(x + 2 * in_c + k));
        s3 = vaddvaq_s8(s3, vldrbq_s8(x + 3 * in_c + k));
    }
    if (tail) {
        s0 = vaddvaq_s8(s0, vldrbq_z_s8(x + k, tail_pred));
        s1 = vaddvaq_s8(s1, vldrbq_z_s8(x + in_c + k, tail_pred));
        s2 = vaddvaq_s8(s2, vldrbq_z_s8(x + 2 * in_c + k, tail_pred));
        s3 = vaddvaq_s8(s3, vldrbq_z_s8(x + 3 * in_c + k, tail_pred));
    }
    sums = vdupq_n_s32(s0);
    sums = vsetq_lane_s32(s1, sums, 1);
    sums = vsetq_lane_s32(s2, sums, 2);
    sums = vsetq_lane_s32(s3, sums, 3);
    return vmulq_n_s32(sums, filter_offset);
}

/* Four pixels, at most 16 input channels: the inputs are loaded once for every output channel. */
MCU_MVE_INLINE void mcu_mve_pw_group_short(const int8_t *x, int32_t in_c, int32_t out_c, const int8_t *w,
                                           const int32_t *prm, const mcu_quant_io *io, uint32x4_t scatter,
                                           int8_t *out, int wzp, int32_t filter_offset)
{
    const mve_pred16_t pred = vctp8q((uint32_t)in_c);
    const int8x16_t x0 = vldrbq_z_s8(x, pred), x1 = vldrbq_z_s8(x + in_c, pred);
    const int8x16_t x2 = vldrbq_z_s8(x + 2 * in_c, pred), x3 = vldrbq_z_s8(x + 3 * in_c, pred);
    int32x4_t starts = vdupq_n_s32(0);
    int32_t c;
    if (wzp) {
        starts = vdupq_n_s32(vaddvq_s8(x0));
        starts = vsetq_lane_s32(vaddvq_s8(x1), starts, 1);
        starts = vsetq_lane_s32(vaddvq_s8(x2), starts, 2);
        starts = vsetq_lane_s32(vaddvq_s8(x3), starts, 3);
        starts = vmulq_n_s32(starts, filter_offset);
    }
    for (c = 0; c < out_c; c++, w += 16, prm += 4) {
        const int8x16_t wv = vldrbq_s8(w);
        mcu_mve_pw_store4(vmladavaq_s8(prm[0], x0, wv), vmladavaq_s8(prm[0], x1, wv), vmladavaq_s8(prm[0], x2, wv),
                          vmladavaq_s8(prm[0], x3, wv), prm, io, scatter, out + c, wzp, starts);
    }
}

/* Four pixels, any number of input channels: 16 at a time, then a predicated tail. */
MCU_MVE_INLINE void mcu_mve_pw_group_long(const int8_t *x, int32_t in_c, int32_t out_c, const int8_t *w,
                                          const int32_t *prm, const mcu_quant_io *io, uint32x4_t scatter,
                                          int8_t *out, int wzp, int32_t filter_offset)
{
    const int32_t full = in_c >> 4, tail = in_c & 15;
    const int32_t row = (in_c + 15) & ~15;
    const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
    const int8_t *x0 = x, *x1 = x + in_c, *x2 = x + 2 * in_c, *x3 = x + 3 * in_c;
    const int32x4_t starts = wzp ? mcu_mve_pw_starts(x, in_c, filter_offset) : vdupq_n_s32(0);
    int32_t c;
    for (c = 0; c < out_c; c++, w += row, prm += 4) {
        int32_t a0 = prm[0], a1 = a0, a2 = a0, a3 = a0;
        const int8_t *p0 = x0, *p1 = x1, *p2 = x2, *p3 = x3, *pw = w;
        int32_t k;
        /* Post-incremented pointers: each load then needs no address arithmetic. */
        for (k = 0; k < full; k++) {
            const int8x16_t wv = vldrbq_s8(pw);
            a0 = vmladavaq_s8(a0, vldrbq_s8(p0), wv);
            a1 = vmladavaq_s8(a1, vldrbq_s8(p1), wv);
            a2 = vmladavaq_s8(a2, vldrbq_s8(p2), wv);
            a3 = vmladavaq_s8(a3, vldrbq_s8(p3), wv);
            pw += 16;
            p0 += 16;
            p1 += 16;
            p2 += 16;
            p3 += 16;
        }
        if (tail) {
            const int8x16_t wv = vldrbq_s8(pw);
            a0 = vmladavaq_s8(a0, vldrbq_z_s8(p0, tail_pred), wv);
            a1 = vmladavaq_s8(a1, vldrbq_z_s8(p1, tail_pred), wv);
            a2 = vmladavaq_s8(a2, vldrbq_z_s8(p2, tail_pred), wv);
            a3 = vmladavaq_s8(a3, vldrbq_z_s8(p3, tail_pred), wv);
        }
        mcu_mve_pw_store4(a0, a1, a2, a3, prm, io, scatter, out + c, wzp, starts);
    }
}

MCU_MVE_INLINE void mcu_mve_pwconv(const mcu_quant_io *io, int wzp, int32_t filter_offset, int32_t pixels,
                                   int32_t in_c, int32_t out_c, const int8_t *input, const int8_t *weights,
                                   const int32_t *requant, int8_t *output)
{
    const int32_t full = in_c >> 4, tail = in_c & 15;
    const int32_t row = (in_c + 15) & ~15;
    const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
    /* Byte offsets of one channel at four consecutive pixels. */
    const uint32x4_t scatter = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_c);
    int32_t p = 0;

    for (; p + 4 <= pixels; p += 4) {
        if (in_c <= 16) {
            mcu_mve_pw_group_short(input + p * in_c, in_c, out_c, weights, requant, io, scatter, output + p * out_c,
                                   wzp, filter_offset);
        } else {
            mcu_mve_pw_group_long(input + p * in_c, in_c, out_c, weights, requant, io, scatter, output + p * out_c,
                                  wzp, filter_offset);
        }
    }
    /* The last pixels one at a time, requantized by the scalar code (the same numbers). */
    for (; p < pixels; p++) {
        const int8_t *x = input + p * in_c;
        const int8_t *w = weights;
        const int32_t *prm = requant;
        const int32_t start = wzp ? mcu_mve_pw_start(x, in_c, filter_offset) : 0;
        int32_t c;
        for (c = 0; c < out_c; c++, w += row, prm += 4) {
            /* Unsigned: the folded bias may be near the int32 edges, and the kernels' sums wrap. */
            int32_t a = (int32_t)((uint32_t)prm[0] + (uint32_t)start);
            int32_t k;
            for (k = 0; k < full; k++) {
                a = vmladavaq_s8(a, vldrbq_s8(x + 16 * k), vldrbq_s8(w + 16 * k));
            }
            if (tail) {
                a = vmladavaq_s8(a, vldrbq_z_s8(x + 16 * full, tail_pred), vldrbq_s8(w + 16 * full));
            }
            output[p * out_c + c] = mcu_requantize_s8(a, prm[1], prm[2] + prm[3], io->output_offset, io->act_min,
                                                      io->act_max);
        }
    }
}

#endif /* MVE */

#endif /* MCU_MVE_PWCONV_H */
