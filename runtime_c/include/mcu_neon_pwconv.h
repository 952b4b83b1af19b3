/*
 * mcu_neon_pwconv.h - the matrix loops of the baseline Armv8-A kernels, shared by the pointwise
 * convolution (mcu_pwconv_s8_neon, also fully connected layers) and the small-window convolution
 * (mcu_conv_small_s8_neon, which runs them on gathered windows). Private to runtime_c/neon.
 *
 * Sixteen input bytes of a pixel times sixteen weight bytes of a channel: SMULL multiplies the low
 * eight pairs into int16 lanes, SMLAL2 adds the high eight pairs' products to them (two products of
 * an int8 input and a weight in [-127, 127] fit an int16: 2 * 128 * 127 < 2^15), and SADALP adds the
 * lanes pairwise into the four int32 lanes of the (pixel, channel) accumulator: 16 multiply-
 * accumulates in three instructions. Four pixels and four output channels make 16 accumulators; each
 * is summed across its lanes at the end (ADDP twice gives one vector of the four channels of a
 * pixel), so a block of 4 channels of a pixel requantizes as one vector.
 *
 * Weights as the compiler packs them (mcucompile/kernels/neon.py, pack_pointwise_neon): per block of
 * four output channels (from 0, then one ending at out_c), per block of k (mcu_neon_blocks_of(K)),
 * the four channels' bytes one after the other, [4][16] or [4][8]. A k block that overlaps the one
 * before has zero weights for the k that one already took; a partial k block (K < 8) reads a
 * zero-padded copy of the rows.
 */
#ifndef MCU_NEON_PWCONV_H
#define MCU_NEON_PWCONV_H

#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include "mcu_neon.h"

/* acc[p][c] += x[p] . w[c] over a block of 16 (or 8) k; `x` has one pointer per pixel. Returns the
 * weights after the block's. */
MCU_NEON_INLINE const int8_t *mcu_neon_pw_k16(int32x4_t acc[2][4], const int8_t *const *x, int32_t np,
                                              const int8_t *w)
{
    const int8x16x4_t wv = vld1q_s8_x4(w);
    int32_t p, c;
    _Pragma("GCC unroll 4") for (p = 0; p < np; p++)
    {
        const int8x16_t xv = vld1q_s8(x[p]);
        _Pragma("GCC unroll 4") for (c = 0; c < 4; c++)
        {
            const int16x8_t t = vmlal_high_s8(vmull_s8(vget_low_s8(xv), vget_low_s8(wv.val[c])), xv, wv.val[c]);
            acc[p][c] = vpadalq_s16(acc[p][c], t);
        }
    }
    return w + 64;
}

MCU_NEON_INLINE const int8_t *mcu_neon_pw_k8(int32x4_t acc[2][4], const int8_t *const *x, int32_t np,
                                             const int8_t *w)
{
    const int8x8x4_t wv = vld1_s8_x4(w);
    int32_t p, c;
    _Pragma("GCC unroll 4") for (p = 0; p < np; p++)
    {
        const int8x8_t xv = vld1_s8(x[p]);
        _Pragma("GCC unroll 4") for (c = 0; c < 4; c++)
        {
            acc[p][c] = vpadalq_s16(acc[p][c], vmull_s8(xv, wv.val[c]));
        }
    }
    return w + 32;
}

/* Pointers at offset k of the rows (locals the barriers do not reach). */
#define MCU_NEON_PW_AT(k)                                \
    do {                                                 \
        _Pragma("GCC unroll 4") for (p = 0; p < np; p++) \
        {                                                \
            x[p] = r[p] + (k);                           \
        }                                                \
    } while (0)

/* Word P (pixel P's four channels) of `bits` to its output, `count` bytes of it. */
#define MCU_NEON_PW_STORE(P)                                      \
    do {                                                          \
        if ((P) < np) {                                           \
            const uint32_t word_ = vget_lane_u32(bits, (P));       \
            memcpy(out + (P) * out_c, &word_, (size_t)count);     \
        }                                                         \
    } while (0)

/*
 * One block of 4 output channels at np (4 or 1) pixels, rows[p] pointing at each pixel's K inputs;
 * stores `count` channels of each pixel at out + p * out_c. Returns the weights after the block's.
 */
MCU_NEON_INLINE const int8_t *mcu_neon_pw_block(const int8_t *const *rows, int32_t np, const mcu_neon_blocks *kb,
                                                const int8_t *w, const int32_t *rq, const mcu_neon_out *o,
                                                int8_t *out, int32_t out_c, int32_t count)
{
    int32x4_t acc[2][4];
    int32x4_t v[2];
    const int8_t *r[2], *x[2];
    int32_t p, c, k;
    uint32x2_t bits;

    _Pragma("GCC unroll 4") for (p = 0; p < np; p++)
    {
        r[p] = rows[p];
        _Pragma("GCC unroll 4") for (c = 0; c < 4; c++)
        {
            acc[p][c] = vdupq_n_s32(0);
        }
    }
    for (k = 0; k < kb->full; k++) {
        MCU_NEON_PW_AT(16 * k);
        w = mcu_neon_pw_k16(acc, x, np, w);
    }
    /* The k blocks after the full ones (mcu_neon_blocks): one of 16 or 8, or two of 8. */
    if (kb->count > 0) {
        MCU_NEON_PW_AT(kb->start[0]);
        w = kb->width[0] == 16 ? mcu_neon_pw_k16(acc, x, np, w) : mcu_neon_pw_k8(acc, x, np, w);
        if (kb->count > 1) {
            MCU_NEON_PW_AT(kb->start[1]);
            w = mcu_neon_pw_k8(acc, x, np, w);
        }
    }
    /* Each pixel's four sums, channel c in lane c, plus the bias; requantized as one vector. */
    {
        const int32x4_t bias = vld1q_s32(rq + MCU_NEON_RQ_BIAS(4));
        const int right_only = rq[0] & MCU_NEON_RQ_RIGHT_ONLY;
        mcu_neon_rq q;
        if (right_only) {
            mcu_neon_rq_load(&q, rq, 4, 1);
        } else {
            mcu_neon_rq_load(&q, rq, 4, 0);
        }
        _Pragma("GCC unroll 2") for (p = 0; p < 2; p++)
        {
            if (p < np) {
                const int32x4_t sums = vaddq_s32(
                    bias, vpaddq_s32(vpaddq_s32(acc[p][0], acc[p][1]), vpaddq_s32(acc[p][2], acc[p][3])));
                v[p] = right_only ? mcu_neon_requantize(sums, &q, 0, 1) : mcu_neon_requantize(sums, &q, 0, 0);
            } else {
                v[p] = v[0];
            }
        }
    }
    /* Pixel p's four channels are word p of the narrowed vector. */
    bits = vreinterpret_u32_s8(mcu_neon_narrow8(v[0], v[1], o));
    MCU_NEON_PW_STORE(0);
    MCU_NEON_PW_STORE(1);
    return w;
}

#undef MCU_NEON_PW_AT
#undef MCU_NEON_PW_STORE

/* Every output channel of np (4 or 1) pixels whose inputs start at rows[p]. */
MCU_NEON_INLINE void mcu_neon_pw_pixels(const int8_t *const *rows, int32_t np, const mcu_neon_blocks *kb,
                                        int32_t out_c, const int8_t *weights, const int32_t *requant,
                                        const mcu_neon_out *o, int8_t *out)
{
    const int8_t *w = weights;
    const int32_t *rq = requant;
    int32_t c;
    for (c = 0; c + 4 <= out_c; c += 4, rq += MCU_NEON_RQ_WORDS(4)) {
        w = mcu_neon_pw_block(rows, np, kb, w, rq, o, out + c, out_c, 4);
    }
    if (c < out_c) {
        /* The last block ends at out_c (recomputing channels the one before stored), or, for fewer
         * than four channels, stores only those. */
        if (out_c >= 4) {
            mcu_neon_pw_block(rows, np, kb, w, rq, o, out + out_c - 4, out_c, 4);
        } else {
            mcu_neon_pw_block(rows, np, kb, w, rq, o, out, out_c, out_c);
        }
    }
}

/*
 * `pixels` rows of K inputs, row p at input + p * stride, times the packed weights: output row p
 * (out_c channels) at output + p * out_c. K < 8 rows are copied, zero-padded, first.
 */
MCU_NEON_INLINE void mcu_neon_pw_matrix(const int8_t *input, int32_t stride, int32_t pixels, int32_t k_size,
                                        int32_t out_c, const int8_t *weights, const int32_t *requant,
                                        const mcu_quant_io *io, int8_t *output)
{
    const mcu_neon_blocks kb = mcu_neon_blocks_of(k_size);
    const mcu_neon_out o = mcu_neon_out_of(io);
    int8_t padded[2][8] = {{0}};
    int32_t p = 0, i;

    for (; p + 2 <= pixels; p += 2) {
        const int8_t *rows[2];
        for (i = 0; i < 2; i++) {
            rows[i] = input + (p + i) * stride;
            if (kb.partial) {
                memcpy(padded[i], rows[i], (size_t)k_size);
                rows[i] = padded[i];
            }
        }
        mcu_neon_pw_pixels(rows, 2, &kb, out_c, weights, requant, &o, output + p * out_c);
    }
    for (; p < pixels; p++) {
        const int8_t *row = input + p * stride;
        if (kb.partial) {
            memcpy(padded[0], row, (size_t)k_size);
            row = padded[0];
        }
        mcu_neon_pw_pixels(&row, 1, &kb, out_c, weights, requant, &o, output + p * out_c);
    }
}

#endif /* AArch64 NEON */

#endif /* MCU_NEON_PWCONV_H */
