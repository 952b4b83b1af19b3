/*
 * mcu_neon_pwconv_sdot.h - the matrix loops of the dot-product (SDOT) kernels, shared by the pointwise
 * convolution (mcu_pwconv_s8_sdot, also fully connected layers) and the small-window convolution
 * (mcu_conv_small_s8_sdot, which runs them on gathered windows). Private to runtime_c/neon.
 *
 * SDOT by element, vd.4s += vn.16b . vm.4b[g]: each of the four lanes of vd gets the dot product of
 * four weight bytes (one output channel, four consecutive k) with the four input bytes at lane g of
 * vm (the same k of one pixel). So a pixel's 16 input bytes feed 4 SDOT per 4 output channels with
 * the four lanes g = 0..3, and the accumulators hold 4 output channels of one pixel each: no sums
 * across lanes at the end, and a block of 16 channels of a pixel requantizes as four vectors and
 * leaves with one 16-byte store. Four pixels share every weight load (64 bytes, LD1 of four
 * registers, per 16 k and 16 channels): 16 accumulators, 4 input and 4 weight registers.
 *
 * Weights as the compiler packs them (mcucompile/kernels/neon.py, pack_pointwise_sdot): per block of
 * output channels (blocks of mcu_neon_blocks_of(out_c)), per block of k (mcu_neon_blocks_of(K)), the
 * bytes w[c][k] in the order [g][c / 4][c % 4][k % 4] (g = k / 4 inside the k block), that is one
 * vector per lane g and 4 channels. A k block that overlaps the one before has zero weights for the
 * k that one already took; a partial k block (K < 8) reads a zero-padded copy of the rows.
 */
#ifndef MCU_NEON_PWCONV_SDOT_H
#define MCU_NEON_PWCONV_SDOT_H

#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON) && defined(__ARM_FEATURE_DOTPROD)

#include "mcu_neon.h"

/* The weight vectors of one lane g: `sub` (4 or 2) vectors of 4 channels, loaded by one LD1. */
MCU_NEON_INLINE int8x16x4_t mcu_sdot_weights(const int8_t *w, int32_t sub)
{
    int8x16x4_t v;
    if (sub == 4) {
        v = vld1q_s8_x4(w);
    } else {
        const int8x16x2_t h = vld1q_s8_x2(w);
        v.val[0] = h.val[0];
        v.val[1] = h.val[1];
        v.val[2] = v.val[3] = h.val[0]; /* unused */
    }
    return v;
}

/* acc[p][s] += (channels 4s .. 4s + 3 of the lane's weights) . (lane G of pixel p's inputs xv[p]). */
#define MCU_SDOT_LANE(G, LANE_FN)                                          \
    do {                                                                   \
        const int8x16x4_t w_ = mcu_sdot_weights(w, sub);                   \
        int32_t p_, s_;                                                    \
        _Pragma("GCC unroll 4") for (s_ = 0; s_ < sub; s_++)               \
        {                                                                  \
            _Pragma("GCC unroll 4") for (p_ = 0; p_ < np; p_++)            \
            {                                                              \
                acc[p_][s_] = LANE_FN(acc[p_][s_], w_.val[s_], xv[p_], G); \
            }                                                              \
        }                                                                  \
        w += 16 * sub;                                                     \
        MCU_NEON_KEEP_ORDER();                                             \
    } while (0)

/* A block of 16 k at x[p] (one pointer per pixel); returns the weights after the block's. */
MCU_NEON_INLINE const int8_t *mcu_sdot_k16(int32x4_t acc[4][4], const int8_t *const *x, int32_t np, int32_t sub,
                                           const int8_t *w)
{
    int8x16_t xv[4];
    int32_t p;
    _Pragma("GCC unroll 4") for (p = 0; p < np; p++)
    {
        xv[p] = vld1q_s8(x[p]);
    }
    MCU_SDOT_LANE(0, vdotq_laneq_s32);
    MCU_SDOT_LANE(1, vdotq_laneq_s32);
    MCU_SDOT_LANE(2, vdotq_laneq_s32);
    MCU_SDOT_LANE(3, vdotq_laneq_s32);
    return w;
}

/* A block of 8 k at x[p]. */
MCU_NEON_INLINE const int8_t *mcu_sdot_k8(int32x4_t acc[4][4], const int8_t *const *x, int32_t np, int32_t sub,
                                          const int8_t *w)
{
    int8x8_t xv[4];
    int32_t p;
    _Pragma("GCC unroll 4") for (p = 0; p < np; p++)
    {
        xv[p] = vld1_s8(x[p]);
    }
    MCU_SDOT_LANE(0, vdotq_lane_s32);
    MCU_SDOT_LANE(1, vdotq_lane_s32);
    return w;
}

/* Pointers at offset k of the rows (locals the barriers do not reach). */
#define MCU_SDOT_AT(k)                                      \
    do {                                                    \
        _Pragma("GCC unroll 4") for (p = 0; p < np; p++)    \
        {                                                   \
            x[p] = r[p] + (k);                              \
        }                                                   \
    } while (0)

/*
 * One block of `width` (16 or 8) output channels at np (4 or 1) pixels, rows[p] pointing at each
 * pixel's K inputs; stores `count` channels of each pixel at out + p * out_c. Returns the weights
 * that follow the block's.
 */
MCU_NEON_INLINE const int8_t *mcu_sdot_block(const int8_t *const *rows, int32_t np, int32_t width,
                                             const mcu_neon_blocks *kb, const int8_t *w, const int32_t *rq,
                                             const mcu_neon_out *o, int8_t *out, int32_t out_c, int32_t count)
{
    const int32_t sub = width / 4;
    int32x4_t acc[4][4];
    const int8_t *r[4], *x[4];
    int32_t p, s, k;

    _Pragma("GCC unroll 4") for (p = 0; p < np; p++)
    {
        r[p] = rows[p];
        _Pragma("GCC unroll 4") for (s = 0; s < sub; s++)
        {
            acc[p][s] = vld1q_s32(rq + MCU_NEON_RQ_BIAS(width) + 4 * s);
        }
    }
    for (k = 0; k < kb->full; k++) {
        MCU_SDOT_AT(16 * k);
        w = mcu_sdot_k16(acc, x, np, sub, w);
    }
    /* The k blocks after the full ones (mcu_neon_blocks): one of 16 or 8, or two of 8. */
    if (kb->count > 0) {
        MCU_SDOT_AT(kb->start[0]);
        w = kb->width[0] == 16 ? mcu_sdot_k16(acc, x, np, sub, w) : mcu_sdot_k8(acc, x, np, sub, w);
        if (kb->count > 1) {
            MCU_SDOT_AT(kb->start[1]);
            w = mcu_sdot_k8(acc, x, np, sub, w);
        }
    }
    mcu_neon_store_positions(acc, np, width, rq, o, out, out_c, count);
    return w;
}

#undef MCU_SDOT_LANE
#undef MCU_SDOT_AT

/* Every output channel of np (4 or 1) pixels whose inputs start at rows[p]. */
MCU_NEON_INLINE void mcu_sdot_pixels(const int8_t *const *rows, int32_t np, const mcu_neon_blocks *kb,
                                     const mcu_neon_blocks *cb, int32_t out_c, const int8_t *weights,
                                     const int32_t *requant, const mcu_neon_out *o, int8_t *out)
{
    const int8_t *w = weights;
    const int32_t *rq = requant;
    int32_t b, t;
    for (b = 0; b < cb->full; b++, rq += MCU_NEON_RQ_WORDS(16)) {
        w = mcu_sdot_block(rows, np, 16, kb, w, rq, o, out + 16 * b, out_c, 16);
    }
    for (t = 0; t < cb->count; t++) {
        int8_t *dst = out + cb->start[t];
        const int32_t count = cb->partial ? out_c : cb->width[t];
        if (cb->width[t] == 16) {
            w = mcu_sdot_block(rows, np, 16, kb, w, rq, o, dst, out_c, count);
            rq += MCU_NEON_RQ_WORDS(16);
        } else {
            w = mcu_sdot_block(rows, np, 8, kb, w, rq, o, dst, out_c, count);
            rq += MCU_NEON_RQ_WORDS(8);
        }
    }
}

/*
 * `pixels` rows of K inputs, row p at input + p * stride, times the packed weights: output row p
 * (out_c channels) at output + p * out_c. K < 8 rows are copied, zero-padded, first.
 */
MCU_NEON_INLINE void mcu_sdot_matrix(const int8_t *input, int32_t stride, int32_t pixels, int32_t k_size,
                                     int32_t out_c, const int8_t *weights, const int32_t *requant,
                                     const mcu_quant_io *io, int8_t *output)
{
    const mcu_neon_blocks kb = mcu_neon_blocks_of(k_size), cb = mcu_neon_blocks_of(out_c);
    const mcu_neon_out o = mcu_neon_out_of(io);
    int8_t padded[4][8] = {{0}};
    int32_t p = 0, i;

    for (; p + 4 <= pixels; p += 4) {
        const int8_t *rows[4];
        for (i = 0; i < 4; i++) {
            rows[i] = input + (p + i) * stride;
            if (kb.partial) {
                memcpy(padded[i], rows[i], (size_t)k_size);
                rows[i] = padded[i];
            }
        }
        mcu_sdot_pixels(rows, 4, &kb, &cb, out_c, weights, requant, &o, output + p * out_c);
    }
    for (; p < pixels; p++) {
        const int8_t *row = input + p * stride;
        if (kb.partial) {
            memcpy(padded[0], row, (size_t)k_size);
            row = padded[0];
        }
        mcu_sdot_pixels(&row, 1, &kb, &cb, out_c, weights, requant, &o, output + p * out_c);
    }
}

#endif /* AArch64 NEON with the dot-product extension */

#endif /* MCU_NEON_PWCONV_SDOT_H */
