/*
 * mcu_pwconv_s8_mve.c - pointwise (1x1) convolution with Helium: see mcu_nn_mve.h for the layout.
 *
 * Four pixels share each load of a weight row: per 16 input channels one weight vector and four
 * input vectors feed four VMLADAVA (16 multiply-accumulates each, summed across the lanes into a
 * scalar). The four sums are one output channel at four pixels, so they requantize as one vector
 * with that channel's scalar parameters and leave through one byte scatter (stride out_c).
 * The rows of weights are zero-padded to 16 bytes; the input tail is loaded predicated, so no byte
 * past the input is read.
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_requantize.h"
#include "mcu_requantize_mve.h"

/* The packed parameter of channel `c` at word offset `field` of its block. */
static inline int32_t rq(const int32_t *requant, int32_t c, int32_t field)
{
    return requant[(c >> 2) * MCU_MVE_RQ_BLOCK + field + (c & 3)];
}

void mcu_pwconv_s8_mve(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                       const int8_t *weights, const int32_t *requant, int8_t *output)
{
    const int32_t full = in_c >> 4;
    const int32_t tail = in_c & 15;
    const int32_t row = (in_c + 15) & ~15;
    const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
    const int32_t out_offset = io->output_offset, act_min = io->act_min, act_max = io->act_max;
    /* Byte offsets of one channel at four consecutive pixels. */
    const uint32x4_t scatter = vmulq_n_u32(vidupq_n_u32(0, 1), (uint32_t)out_c);
    int32_t p = 0;

    for (; p + 4 <= pixels; p += 4) {
        const int8_t *x0 = input + p * in_c;
        const int8_t *x1 = x0 + in_c, *x2 = x1 + in_c, *x3 = x2 + in_c;
        const int8_t *w = weights;
        int8_t *out = output + p * out_c;
        int32_t c;
        for (c = 0; c < out_c; c++, w += row) {
            int32_t a0 = rq(requant, c, MCU_MVE_RQ_BIAS), a1 = a0, a2 = a0, a3 = a0;
            int32_t k;
            for (k = 0; k < full; k++) {
                const int8x16_t wv = vldrbq_s8(w + 16 * k);
                a0 = vmladavaq_s8(a0, vldrbq_s8(x0 + 16 * k), wv);
                a1 = vmladavaq_s8(a1, vldrbq_s8(x1 + 16 * k), wv);
                a2 = vmladavaq_s8(a2, vldrbq_s8(x2 + 16 * k), wv);
                a3 = vmladavaq_s8(a3, vldrbq_s8(x3 + 16 * k), wv);
            }
            if (tail) {
                const int8x16_t wv = vldrbq_s8(w + 16 * full);
                a0 = vmladavaq_s8(a0, vldrbq_z_s8(x0 + 16 * full, tail_pred), wv);
                a1 = vmladavaq_s8(a1, vldrbq_z_s8(x1 + 16 * full, tail_pred), wv);
                a2 = vmladavaq_s8(a2, vldrbq_z_s8(x2 + 16 * full, tail_pred), wv);
                a3 = vmladavaq_s8(a3, vldrbq_z_s8(x3 + 16 * full, tail_pred), wv);
            }
            {
                int32x4_t acc = vdupq_n_s32(a0);
                acc = vsetq_lane_s32(a1, acc, 1);
                acc = vsetq_lane_s32(a2, acc, 2);
                acc = vsetq_lane_s32(a3, acc, 3);
                acc = mcu_mve_requantize_n(acc, rq(requant, c, MCU_MVE_RQ_MULT), rq(requant, c, MCU_MVE_RQ_LEFT),
                                           rq(requant, c, MCU_MVE_RQ_RIGHT), out_offset, act_min, act_max);
                vstrbq_scatter_offset_s32(out + c, scatter, acc);
            }
        }
    }
    /* The last pixels one at a time, requantized by the scalar code (the same numbers). */
    for (; p < pixels; p++) {
        const int8_t *x = input + p * in_c;
        const int8_t *w = weights;
        int32_t c;
        for (c = 0; c < out_c; c++, w += row) {
            int32_t a = rq(requant, c, MCU_MVE_RQ_BIAS);
            int32_t k;
            for (k = 0; k < full; k++) {
                a = vmladavaq_s8(a, vldrbq_s8(x + 16 * k), vldrbq_s8(w + 16 * k));
            }
            if (tail) {
                a = vmladavaq_s8(a, vldrbq_z_s8(x + 16 * full, tail_pred), vldrbq_s8(w + 16 * full));
            }
            {
                const int32_t shift = rq(requant, c, MCU_MVE_RQ_LEFT) + rq(requant, c, MCU_MVE_RQ_RIGHT);
                output[p * out_c + c] = mcu_requantize_s8(a, rq(requant, c, MCU_MVE_RQ_MULT), shift, out_offset,
                                                          act_min, act_max);
            }
        }
    }
}

#endif /* MVE */
