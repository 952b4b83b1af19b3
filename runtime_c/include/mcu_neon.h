/*
 * mcu_neon.h - what the AArch64 NEON kernels share: the vector requantization, the output stage,
 * and the way a dimension is cut into blocks of 16 and 8 (the compiler cuts it the same way,
 * mcucompile/kernels/neon.py). Private to runtime_c/neon.
 *
 * Requantization, byte for byte the numbers of mcu_requantize.h:
 *   - SSHL by a non-negative register amount is the wrapping left shift (mcu_shift_left_wrap);
 *   - SQRDMULH is SaturatingRoundingDoublingHighMul exactly ((2ab + 2^31) >> 32, saturating
 *     INT32_MIN * INT32_MIN, which cannot occur here: multiplier in [0, 2^31));
 *   - SRSHL by -n computes (x + 2^(n-1)) >> n without overflow, rounding ties toward +infinity,
 *     where RoundingDivideByPOT rounds them away from zero. The two differ only for x < 0 at a tie,
 *     and lowering a negative x by one first turns round-half-up into round-half-down there without
 *     moving any other value (a non-tie is at least 1 away from the next boundary). SSRA adds
 *     (x & right) >> 31, which is -1 exactly where x < 0 and right < 0 (so lanes with n = 0 keep x).
 *     The add cannot overflow: with a multiplier in [0, 2^31) SQRDMULH never returns INT32_MIN.
 *   tests/test_kernels_neon.py emulates this sequence instruction by instruction against
 *   mcucompile/quant/fixedpoint.py over every shift and the int32 edges.
 * A block whose channels all shift right (shift < 0, the usual case) skips the left shift and the
 * AND: the packed parameters say so (MCU_NEON_RQ_RIGHT_ONLY).
 *
 * Output stage: SQXTN to int16, SQADD of the output zero point, SQXTN to int8, then the clamp. The
 * reference limits the requantized value to [-256, 255] before adding the zero point; the saturating
 * narrowings limit it to [-32768, 32767] instead, which changes no clamped result (the zero point is
 * in [-128, 127] and the clamp inside int8).
 *
 * Packed requantization parameters, per block of B output channels (B = 4, 8 or 16):
 *     flags, 0, 0, 0,  bias[B],  multiplier[B],  left[B],  right[B]       (int32 words)
 * bias with the input zero point folded in (bias - input_zp * sum(w), wrapped to int32), left =
 * max(shift, 0), right = min(shift, 0); flags = MCU_NEON_RQ_RIGHT_ONLY where every channel of the
 * block has left = 0 and right < 0. Channels past the layer's last (a block wider than the layer)
 * are zero with right = -1.
 */
#ifndef MCU_NEON_H
#define MCU_NEON_H

#if defined(__aarch64__) && defined(__ARM_NEON)

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#include "mcu_nn.h"

/* The loop bodies take constant block sizes from their callers; inlined, each call site keeps only
 * its own shape's code. */
#define MCU_NEON_INLINE static inline __attribute__((always_inline))

/*
 * GCC 12 hoists every weight load of an unrolled multiply-accumulate sequence to its start and keeps
 * them all live, more registers than there are, and spills accumulators inside the loop. An empty asm
 * that clobbers memory keeps each load after the arithmetic before it; it emits no instruction.
 */
#define MCU_NEON_KEEP_ORDER() __asm__ volatile("" ::: "memory")

/*
 * SMULL and SMLAL on the low halves of two 128-bit registers. Written with vget_low_s8, GCC 12 copies
 * the low half of a vector that stays live (a weight kept across a loop) into a register of its own,
 * and with nine such weights spills them; the instruction itself reads the low half in place.
 */
MCU_NEON_INLINE int16x8_t mcu_neon_smull_low(int8x16_t a, int8x16_t b)
{
    int16x8_t r;
    __asm__("smull %0.8h, %1.8b, %2.8b" : "=w"(r) : "w"(a), "w"(b));
    return r;
}

MCU_NEON_INLINE int16x8_t mcu_neon_smlal_low(int16x8_t acc, int8x16_t a, int8x16_t b)
{
    __asm__("smlal %0.8h, %1.8b, %2.8b" : "+w"(acc) : "w"(a), "w"(b));
    return acc;
}

#define MCU_NEON_RQ_RIGHT_ONLY 1

/* int32 words of packed parameters for a block of b channels, and where each part starts. */
#define MCU_NEON_RQ_WORDS(b) (4 + 4 * (b))
#define MCU_NEON_RQ_BIAS(b) 4
#define MCU_NEON_RQ_MULT(b) (4 + (b))
#define MCU_NEON_RQ_LEFT(b) (4 + 2 * (b))
#define MCU_NEON_RQ_RIGHT(b) (4 + 3 * (b))

/* The requantization parameters of a block of up to 16 channels, in registers: loaded once for
 * all the positions the block is stored at (an int8 store could alias the packed array, so the
 * compiler would reload them for each otherwise). */
typedef struct {
    int32x4_t mult[4], left[4], right[4];
} mcu_neon_rq;

MCU_NEON_INLINE void mcu_neon_rq_load(mcu_neon_rq *q, const int32_t *rq, int32_t width, int right_only)
{
    int32_t i;
    _Pragma("GCC unroll 4") for (i = 0; i < width / 4; i++)
    {
        q->mult[i] = vld1q_s32(rq + MCU_NEON_RQ_MULT(width) + 4 * i);
        q->right[i] = vld1q_s32(rq + MCU_NEON_RQ_RIGHT(width) + 4 * i);
        q->left[i] = right_only ? vdupq_n_s32(0) : vld1q_s32(rq + MCU_NEON_RQ_LEFT(width) + 4 * i);
    }
}

/* Four lanes of the block's vector i; `right_only` a constant (the callers branch on the flags). */
MCU_NEON_INLINE int32x4_t mcu_neon_requantize(int32x4_t acc, const mcu_neon_rq *q, int32_t i, int right_only)
{
    int32x4_t v;
    if (right_only) {
        v = vqrdmulhq_s32(acc, q->mult[i]);
        v = vsraq_n_s32(v, v, 31);
    } else {
        v = vqrdmulhq_s32(vshlq_s32(acc, q->left[i]), q->mult[i]);
        v = vsraq_n_s32(v, vandq_s32(v, q->right[i]), 31);
    }
    return vrshlq_s32(v, q->right[i]);
}

/* Output zero point and clamp, as vectors. */
typedef struct {
    int16x8_t offset;
    int8x16_t min, max;
} mcu_neon_out;

MCU_NEON_INLINE mcu_neon_out mcu_neon_out_of(const mcu_quant_io *io)
{
    mcu_neon_out o;
    o.offset = vdupq_n_s16((int16_t)io->output_offset);
    o.min = vdupq_n_s8((int8_t)io->act_min);
    o.max = vdupq_n_s8((int8_t)io->act_max);
    return o;
}

/* Eight requantized lanes (two vectors) -> int8 outputs. */
MCU_NEON_INLINE int8x8_t mcu_neon_narrow8(int32x4_t a, int32x4_t b, const mcu_neon_out *o)
{
    const int16x8_t h = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a), b), o->offset);
    return vmin_s8(vmax_s8(vqmovn_s16(h), vget_low_s8(o->min)), vget_low_s8(o->max));
}

/* Sixteen requantized lanes (four vectors) -> int8 outputs. */
MCU_NEON_INLINE int8x16_t mcu_neon_narrow16(int32x4_t a, int32x4_t b, int32x4_t c, int32x4_t d,
                                            const mcu_neon_out *o)
{
    const int16x8_t lo = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(a), b), o->offset);
    const int16x8_t hi = vqaddq_s16(vqmovn_high_s32(vqmovn_s32(c), d), o->offset);
    return vminq_s8(vmaxq_s8(vqmovn_high_s16(vqmovn_s16(lo), hi), o->min), o->max);
}

/* Requantize a block of 8 or 16 channels of one position (acc[0 .. width / 4)) and store `count`
 * of them (count < width only for a layer narrower than the block). */
MCU_NEON_INLINE void mcu_neon_store_block(const int32x4_t *acc, int32_t width, const mcu_neon_rq *q, int right_only,
                                          const mcu_neon_out *o, int8_t *out, int32_t count)
{
    int32x4_t v[4];
    int32_t i;
    _Pragma("GCC unroll 4") for (i = 0; i < width / 4; i++)
    {
        v[i] = mcu_neon_requantize(acc[i], q, i, right_only);
    }
    if (width == 16) {
        const int8x16_t b = mcu_neon_narrow16(v[0], v[1], v[2], v[3], o);
        if (count == 16) {
            vst1q_s8(out, b);
        } else {
            int8_t tmp[16];
            vst1q_s8(tmp, b);
            memcpy(out, tmp, (size_t)count);
        }
    } else {
        const int8x8_t b = mcu_neon_narrow8(v[0], v[1], o);
        if (count == 8) {
            vst1_s8(out, b);
        } else {
            int8_t tmp[8];
            vst1_s8(tmp, b);
            memcpy(out, tmp, (size_t)count);
        }
    }
}

/* A block of channels at np positions, its parameters q in registers: acc[p] of position p stored at
 * out + p * step. */
MCU_NEON_INLINE void mcu_neon_store_positions_q(int32x4_t (*acc)[4], int32_t np, int32_t width, const mcu_neon_rq *q,
                                                int right_only, const mcu_neon_out *o, int8_t *out, int32_t step,
                                                int32_t count)
{
    int32_t p;
    _Pragma("GCC unroll 4") for (p = 0; p < np; p++)
    {
        mcu_neon_store_block(acc[p], width, q, right_only, o, out + p * step, count);
    }
}

/* The same, loading the block's parameters from its packed words rq. */
MCU_NEON_INLINE void mcu_neon_store_positions(int32x4_t (*acc)[4], int32_t np, int32_t width, const int32_t *rq,
                                              const mcu_neon_out *o, int8_t *out, int32_t step, int32_t count)
{
    mcu_neon_rq q;
    if (rq[0] & MCU_NEON_RQ_RIGHT_ONLY) {
        mcu_neon_rq_load(&q, rq, width, 1);
        mcu_neon_store_positions_q(acc, np, width, &q, 1, o, out, step, count);
    } else {
        mcu_neon_rq_load(&q, rq, width, 0);
        mcu_neon_store_positions_q(acc, np, width, &q, 0, o, out, step, count);
    }
}

/*
 * A dimension of n (input or output channels) is cut into blocks: n / 16 blocks of 16 from 0, then,
 * where n % 16 != 0, the rest (see mcu_nn_neon.h): one block of 16 or 8 that ends at n (it overlaps
 * the blocks before it) when n >= 16; blocks of 8 at 0 and at n - 8 when 8 <= n < 16; or one block
 * of 8 at 0 that reaches past n when n < 8 (`partial`). No block reads outside [0, n) except a
 * partial one.
 */
typedef struct {
    int32_t full;             /* blocks of 16 at 0, 16, ... */
    int32_t count;            /* blocks after them: 0, 1 or 2 */
    int32_t start[2], width[2];
    int32_t partial;          /* n < 8: the one block of 8 reaches past n */
} mcu_neon_blocks;

MCU_NEON_INLINE mcu_neon_blocks mcu_neon_blocks_of(int32_t n)
{
    mcu_neon_blocks b;
    const int32_t rest = n & 15;
    b.full = n >> 4;
    b.count = 0;
    b.partial = n < 8;
    b.start[0] = b.start[1] = 0;
    b.width[0] = b.width[1] = 8;
    if (rest == 0) {
        return b;
    }
    if (n >= 16) {
        b.count = 1;
        b.width[0] = rest > 8 ? 16 : 8;
        b.start[0] = n - b.width[0];
    } else {
        b.count = n > 8 ? 2 : 1;
        b.start[1] = n - 8;
    }
    return b;
}

#endif /* AArch64 NEON */

#endif /* MCU_NEON_H */
