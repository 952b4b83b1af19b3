/*
 * mcu_pwconv_s8_mve.c - pointwise (1x1) convolution with Helium: see mcu_nn_mve.h for the layout.
 *
 * Four pixels share each load of a weight row: per 16 input channels one weight vector and four
 * input vectors feed four VMLADAV (16 multiply-accumulates each, summed across the lanes into a
 * scalar). The four sums are one output channel at four pixels, so they requantize as one vector
 * with that channel's scalar parameters (packed per channel: bias, multiplier, left, right) and
 * leave through one byte scatter (stride out_c). With at most 16 input channels the four input
 * vectors stay in registers for all output channels. The rows of weights are zero-padded to 16
 * bytes; the input tail is loaded predicated, so no byte past the input is read.
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve.h"
#include "mcu_requantize.h"

/* Requantize channel `prm` (bias, multiplier, left, right) at four pixels and scatter it to out. */
MCU_MVE_INLINE void store4(int32_t a0, int32_t a1, int32_t a2, int32_t a3, const int32_t *prm, const mcu_quant_io *io,
                           uint32x4_t scatter, int8_t *out)
{
    int32x4_t acc = vdupq_n_s32(a0);
    acc = vsetq_lane_s32(a1, acc, 1);
    acc = vsetq_lane_s32(a2, acc, 2);
    acc = vsetq_lane_s32(a3, acc, 3);
    acc = mcu_mve_requantize_n(acc, prm[1], prm[2], prm[3], io->output_offset, io->act_min, io->act_max);
    vstrbq_scatter_offset_s32(out, scatter, acc);
}

/* Four pixels, at most 16 input channels: the inputs are loaded once for every output channel. */
static void group_short(const int8_t *x, int32_t in_c, int32_t out_c, const int8_t *w, const int32_t *prm,
                        const mcu_quant_io *io, uint32x4_t scatter, int8_t *out)
{
    const mve_pred16_t pred = vctp8q((uint32_t)in_c);
    const int8x16_t x0 = vldrbq_z_s8(x, pred), x1 = vldrbq_z_s8(x + in_c, pred);
    const int8x16_t x2 = vldrbq_z_s8(x + 2 * in_c, pred), x3 = vldrbq_z_s8(x + 3 * in_c, pred);
    int32_t c;
    for (c = 0; c < out_c; c++, w += 16, prm += 4) {
        const int8x16_t wv = vldrbq_s8(w);
        store4(vmladavaq_s8(prm[0], x0, wv), vmladavaq_s8(prm[0], x1, wv), vmladavaq_s8(prm[0], x2, wv),
               vmladavaq_s8(prm[0], x3, wv), prm, io, scatter, out + c);
    }
}

/* Four pixels, any number of input channels: 16 at a time, then a predicated tail. */
static void group_long(const int8_t *x, int32_t in_c, int32_t out_c, const int8_t *w, const int32_t *prm,
                       const mcu_quant_io *io, uint32x4_t scatter, int8_t *out)
{
    const int32_t full = in_c >> 4, tail = in_c & 15;
    const int32_t row = (in_c + 15) & ~15;
    const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
    const int8_t *x0 = x, *x1 = x + in_c, *x2 = x + 2 * in_c, *x3 = x + 3 * in_c;
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
        store4(a0, a1, a2, a3, prm, io, scatter, out + c);
    }
}

void mcu_pwconv_s8_mve(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                       const int8_t *weights, const int32_t *requant, int8_t *output)
{
    const int32_t full = in_c >> 4, tail = in_c & 15;
    const int32_t row = (in_c + 15) & ~15;
    const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
    /* Byte offsets of one channel at four consecutive pixels. */
    const uint32x4_t scatter = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_c);
    int32_t p = 0;

    for (; p + 4 <= pixels; p += 4) {
        if (in_c <= 16) {
            group_short(input + p * in_c, in_c, out_c, weights, requant, io, scatter, output + p * out_c);
        } else {
            group_long(input + p * in_c, in_c, out_c, weights, requant, io, scatter, output + p * out_c);
        }
    }
    /* The last pixels one at a time, requantized by the scalar code (the same numbers). */
    for (; p < pixels; p++) {
        const int8_t *x = input + p * in_c;
        const int8_t *w = weights;
        const int32_t *prm = requant;
        int32_t c;
        for (c = 0; c < out_c; c++, w += row, prm += 4) {
            int32_t a = prm[0];
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
