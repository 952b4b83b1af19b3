/*
 * mcu_mve_pwconv.h - the loops of the Helium pointwise kernels, written once for int8 weights
 * (mcu_pwconv_s8_mve) and int8 weights with a per-tensor zero point (mcu_pwconv_s8_wzp_mve).
 *
 * Tiles of two pixels by two output channels: per 16 input channels two input vectors and two
 * weight vectors feed four VMLADAVA (16 multiply-accumulates each, summed across the lanes into a
 * scalar). Four loads per four MACs is what the Cortex-M55 overlaps best: a vector load and a vector
 * MAC issue in the same cycle, so a chunk takes the MACs' 8 cycles (llvm-mca, cortex-m55 model) if
 * every load sits between two MACs and each MAC's operands were loaded one step earlier. GCC 12
 * puts the loads of an unrolled chunk first (5 loads, then 4 MACs: 16 cycles per 64 MACs in the
 * old 4x1 tile), so the chunk loop is inline assembly, software-pipelined: each iteration loads the
 * next chunk's first input and weights behind its own last MACs, the last chunk peeled so nothing
 * past the data is read. "Te" is GCC's constraint for the even core registers VMLADAVA writes.
 *
 * The output channels go four at a time as two tiles, channels (c, c + 2) and (c + 1, c + 3), each
 * with lanes (pixel 0: first, second channel; pixel 1: first, second), requantized as two vectors
 * whose parameters the compiler packed in that lane order, narrowed into one int16 vector (the
 * first tile in the even lanes: lanes pixel 0's c..c + 3, then pixel 1's) and stored by one
 * predicated byte scatter; the predicate drops the channels past out_c and the second pixel of an
 * odd last one (which then reads the first pixel twice). Weights come per pair of channels, chunk by
 * chunk, [ceil(out_c / 4) * 2][ceil(in_c / 16)][2][16], zero-padded; the input tail (in_c % 16) is
 * loaded predicated. requant: a header of four words (the first: 1 if every shift is negative),
 * then 20 words per pair of channels (MCU_MVE_RQ_PW_BLOCK).
 *
 * A weight zero point zw (wzp = 1, filter_offset = -zw): sum(x * (w - zw)) = sum(x * w) +
 * filter_offset * sum(x), the input zero point's share being in the bias. Each pixel's inputs are
 * summed once per pair of pixels (VADDVA, 16 at a time) and filter_offset * sum joins the tile's
 * vector before requantizing. wzp is a constant in each wrapper (the functions are forced inline),
 * so the int8 kernel compiles without any of it. Private to runtime_c/arm_mve.
 */
#ifndef MCU_MVE_PWCONV_H
#define MCU_MVE_PWCONV_H

#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve.h"

/* int32 words of requantization parameters per pair of channels: bias, multiplier, left, right and
 * fix (all ones where right < 0), four lanes each in the tile's order (c, c + 1, c, c + 1). */
#define MCU_MVE_RQ_PW_BLOCK 20
#define MCU_MVE_RQ_PW_HEADER 4

/* Bytes of weights per chunk of 16 input channels of a pair of channels. */
#define MCU_MVE_PW_CHUNK 32

/* The tile's four sums over `full` chunks of 16 input channels, full >= 1; pointers advance past them. */
MCU_MVE_INLINE void mcu_mve_pw_chunks(const int8_t **p0, const int8_t **p1, const int8_t **pw, int32_t full,
                                      int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11)
{
    int32_t s00 = *a00, s01 = *a01, s10 = *a10, s11 = *a11;
    const int8_t *x0p = *p0, *x1p = *p1, *wp = *pw;
    int8x16_t x0, x1, w0, w1;
    __asm__ volatile("vldrb.u8 %q[x0], [%[x0p]], #16\n\t"
                     "vldrb.u8 %q[w0], [%[wp]], #32\n\t"
                     "wls lr, %[n], 2f\n"
                     "1:\n\t"
                     "vldrb.u8 %q[x1], [%[x1p]], #16\n\t"
                     "vmladava.s8 %[s00], %q[x0], %q[w0]\n\t"
                     "vldrb.u8 %q[w1], [%[wp], #-16]\n\t"
                     "vmladava.s8 %[s10], %q[x1], %q[w0]\n\t"
                     "vldrb.u8 %q[w0], [%[wp]], #32\n\t"
                     "vmladava.s8 %[s01], %q[x0], %q[w1]\n\t"
                     "vldrb.u8 %q[x0], [%[x0p]], #16\n\t"
                     "vmladava.s8 %[s11], %q[x1], %q[w1]\n\t"
                     "le lr, 1b\n"
                     "2:\n\t"
                     "vldrb.u8 %q[x1], [%[x1p]], #16\n\t"
                     "vmladava.s8 %[s00], %q[x0], %q[w0]\n\t"
                     "vldrb.u8 %q[w1], [%[wp], #-16]\n\t"
                     "vmladava.s8 %[s10], %q[x1], %q[w0]\n\t"
                     "vmladava.s8 %[s01], %q[x0], %q[w1]\n\t"
                     "vmladava.s8 %[s11], %q[x1], %q[w1]"
                     : [s00] "+Te"(s00), [s01] "+Te"(s01), [s10] "+Te"(s10), [s11] "+Te"(s11), [x0p] "+r"(x0p),
                       [x1p] "+r"(x1p), [wp] "+r"(wp), [x0] "=&w"(x0), [x1] "=&w"(x1), [w0] "=&w"(w0),
                       [w1] "=&w"(w1)
                     : [n] "r"(full - 1)
                     : "lr", "memory");
    *a00 = s00;
    *a01 = s01;
    *a10 = s10;
    *a11 = s11;
    *p0 = x0p;
    *p1 = x1p;
    *pw = wp;
}

/* Lanes (a00, a01, a10, a11) in two two-lane moves (GCC's vsetq_lane takes four instructions). */
MCU_MVE_INLINE int32x4_t mcu_mve_pw_lanes(int32_t a00, int32_t a01, int32_t a10, int32_t a11)
{
    int32x4_t v;
    __asm__("vmov %q[v][2], %q[v][0], %[a], %[b]\n\t"
            "vmov %q[v][3], %q[v][1], %[c], %[d]"
            : [v] "=&w"(v)
            : [a] "r"(a00), [b] "r"(a10), [c] "r"(a01), [d] "r"(a11));
    return v;
}

/* filter_offset times the sums of two pixels' inputs, as lanes (s0, s0, s1, s1). */
MCU_MVE_INLINE int32x4_t mcu_mve_pw_starts(const int8_t *x0, const int8_t *x1, int32_t in_c, int32_t filter_offset)
{
    const int32_t tail = in_c & 15;
    int32_t s0 = 0, s1 = 0, k;
    for (k = 0; k + 16 <= in_c; k += 16) {
        s0 = vaddvaq_s8(s0, vldrbq_s8(x0 + k));
        s1 = vaddvaq_s8(s1, vldrbq_s8(x1 + k));
    }
    if (tail) {
        const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
        s0 = vaddvaq_s8(s0, vldrbq_z_s8(x0 + k, tail_pred));
        s1 = vaddvaq_s8(s1, vldrbq_z_s8(x1 + k, tail_pred));
    }
    s0 *= filter_offset;
    s1 *= filter_offset;
    return mcu_mve_pw_lanes(s0, s0, s1, s1);
}

/*
 * The output stage of two tiles whose int32 values are in a and b (after the rounding shift):
 * narrowed with saturation into one int16 vector, a in the even lanes and b in the odd ones, then
 * output offset and clamp in int16 (a value saturated at the int16 edges still clamps to act_min or
 * act_max after adding an offset in [-128, 127], so the bytes are those of the int32 sequence).
 * The tiles hold channels (c, c + 2) and (c + 1, c + 3), so the lanes are pixel 0's channels c..c + 3
 * then pixel 1's: one byte scatter.
 */
#define MCU_MVE_PW_NARROW_CLAMP                         \
    "vdup.16 %q[t2], %[lo]\n\t"                        \
    "vqmovnb.s32 %q[t0], %q[a]\n\t"                    \
    "vdup.16 %q[t3], %[hi]\n\t"                        \
    "vqmovnt.s32 %q[t0], %q[b]\n\t"                    \
    "vqadd.s16 %q[t0], %q[t0], %[off]\n\t"             \
    "vmax.s16 %q[t0], %q[t0], %q[t2]\n\t"              \
    "vmin.s16 %q[t0], %q[t0], %q[t3]"

#define MCU_MVE_PW_RQ_OPERANDS                                                                                  \
    : [a] "+w"(va), [b] "+w"(vb), [t0] "=&w"(t0), [t1] "=&w"(t1), [t2] "=&w"(t2), [t3] "=&w"(t3)             \
    : [rq] "r"(rq), [off] "r"(io->output_offset), [lo] "r"(io->act_min), [hi] "r"(io->act_max)               \
    : "memory"

/*
 * Requantize two tiles (their parameter blocks at rq and rq + 20 words) with mcu_mve_requantize_fix's
 * instructions, the two chains interleaved (the core issues in order, and one chain alone waits on
 * each result), into int16 lanes in output order. `fast`: every channel's shift is a right shift
 * (the requant header says so), so there is no left shift and fix is all ones: four vector
 * instructions and four loads fewer. Same numbers as mcu_requantize_s8 lane by lane (mcu_mve.h).
 */
MCU_MVE_INLINE int16x8_t mcu_mve_pw_requant2(int32x4_t va, int32x4_t vb, const int32_t *rq, const mcu_quant_io *io,
                                             int fast)
{
    int32x4_t t1, t2, t3;
    int16x8_t t0;
    if (fast) {
        __asm__("vldrw.u32 %q[t0], [%[rq], #16]\n\t"
                "vldrw.u32 %q[t1], [%[rq], #96]\n\t"
                "vqrdmulh.s32 %q[a], %q[a], %q[t0]\n\t"
                "vldrw.u32 %q[t2], [%[rq], #48]\n\t"
                "vqrdmulh.s32 %q[b], %q[b], %q[t1]\n\t"
                "vldrw.u32 %q[t3], [%[rq], #128]\n\t"
                "vshr.s32 %q[t0], %q[a], #31\n\t"
                "vshr.s32 %q[t1], %q[b], #31\n\t"
                "vqadd.s32 %q[a], %q[a], %q[t0]\n\t"
                "vqadd.s32 %q[b], %q[b], %q[t1]\n\t"
                "vrshl.s32 %q[a], %q[a], %q[t2]\n\t"
                "vrshl.s32 %q[b], %q[b], %q[t3]\n\t" MCU_MVE_PW_NARROW_CLAMP MCU_MVE_PW_RQ_OPERANDS);
    } else {
        __asm__("vldrw.u32 %q[t0], [%[rq], #32]\n\t"
                "vldrw.u32 %q[t1], [%[rq], #112]\n\t"
                "vshl.s32 %q[a], %q[a], %q[t0]\n\t"
                "vldrw.u32 %q[t0], [%[rq], #16]\n\t"
                "vshl.s32 %q[b], %q[b], %q[t1]\n\t"
                "vldrw.u32 %q[t1], [%[rq], #96]\n\t"
                "vqrdmulh.s32 %q[a], %q[a], %q[t0]\n\t"
                "vldrw.u32 %q[t2], [%[rq], #64]\n\t"
                "vqrdmulh.s32 %q[b], %q[b], %q[t1]\n\t"
                "vldrw.u32 %q[t3], [%[rq], #144]\n\t"
                "vshr.s32 %q[t0], %q[a], #31\n\t"
                "vshr.s32 %q[t1], %q[b], #31\n\t"
                "vand %q[t0], %q[t0], %q[t2]\n\t"
                "vand %q[t1], %q[t1], %q[t3]\n\t"
                "vldrw.u32 %q[t2], [%[rq], #48]\n\t"
                "vqadd.s32 %q[a], %q[a], %q[t0]\n\t"
                "vldrw.u32 %q[t3], [%[rq], #128]\n\t"
                "vqadd.s32 %q[b], %q[b], %q[t1]\n\t"
                "vrshl.s32 %q[a], %q[a], %q[t2]\n\t"
                "vrshl.s32 %q[b], %q[b], %q[t3]\n\t" MCU_MVE_PW_NARROW_CLAMP MCU_MVE_PW_RQ_OPERANDS);
    }
    return t0;
}

#undef MCU_MVE_PW_NARROW_CLAMP
#undef MCU_MVE_PW_RQ_OPERANDS

/* One channel pair's four sums: `full` chunks by the pipelined loop, then the predicated tail. */
MCU_MVE_INLINE int32x4_t mcu_mve_pw_tile(const int8_t *x0, const int8_t *x1, int32_t full, int32_t tail,
                                         int8x16_t t0, int8x16_t t1, const int8_t **w, const int32_t *rq)
{
    int32_t a00 = rq[0], a01 = rq[1], a10 = a00, a11 = a01;
    if (full) {
        mcu_mve_pw_chunks(&x0, &x1, w, full, &a00, &a01, &a10, &a11);
    }
    if (tail) {
        const int8x16_t w0 = vldrbq_s8(*w), w1 = vldrbq_s8(*w + 16);
        a00 = vmladavaq_s8(a00, t0, w0);
        a10 = vmladavaq_s8(a10, t1, w0);
        a01 = vmladavaq_s8(a01, t0, w1);
        a11 = vmladavaq_s8(a11, t1, w1);
        *w += MCU_MVE_PW_CHUNK;
    }
    return mcu_mve_pw_lanes(a00, a01, a10, a11);
}

/* One pair of pixels (x0, x1; x1 == x0 for an odd last pixel) over every four channels (the
 * weights and parameters are padded to a multiple of four channels). */
MCU_MVE_INLINE void mcu_mve_pw_pair(const int8_t *x0, const int8_t *x1, int32_t in_c, int32_t out_c,
                                    const int8_t *weights, const int32_t *requant, const mcu_quant_io *io,
                                    uint16x8_t scatter, int8_t *out, mve_pred16_t pixel_pred, int fast,
                                    int wzp, int32_t filter_offset)
{
    const int32_t full = in_c >> 4, tail = in_c & 15;
    const mve_pred16_t tail_pred = vctp8q((uint32_t)tail);
    const int32x4_t starts = wzp ? mcu_mve_pw_starts(x0, x1, in_c, filter_offset) : vdupq_n_s32(0);
    /* A short row stays in registers for every channel. */
    const int8x16_t t0 = vldrbq_z_s8(x0 + 16 * full, tail_pred), t1 = vldrbq_z_s8(x1 + 16 * full, tail_pred);
    const int8_t *w = weights;
    const int32_t *rq = requant;
    int32_t c;
    for (c = 0; c < out_c; c += 4, rq += 2 * MCU_MVE_RQ_PW_BLOCK, out += 4) {
        int32x4_t a = mcu_mve_pw_tile(x0, x1, full, tail, t0, t1, &w, rq);
        int32x4_t b = mcu_mve_pw_tile(x0, x1, full, tail, t0, t1, &w, rq + MCU_MVE_RQ_PW_BLOCK);
        mve_pred16_t pred = pixel_pred;
        if (wzp) {
            a = vaddq_s32(a, starts);
            b = vaddq_s32(b, starts);
        }
        if (out_c - c < 4) {
            /* Two bits per int16 lane, lanes (pixel 0: c..c + 3, pixel 1: c..c + 3): keep channels < out_c. */
            static const uint16_t keep[4] = {0x0000, 0x0303, 0x0F0F, 0x3F3F};
            pred &= keep[out_c - c];
        }
        vstrbq_scatter_offset_p_s16(out, scatter, mcu_mve_pw_requant2(a, b, rq, io, fast), pred);
    }
}

MCU_MVE_INLINE void mcu_mve_pwconv(const mcu_quant_io *io, int wzp, int32_t filter_offset, int32_t pixels,
                                   int32_t in_c, int32_t out_c, const int8_t *input, const int8_t *weights,
                                   const int32_t *requant, int8_t *output)
{
    /* Byte offsets of the int16 lanes: pixel 0's channels c..c + 3, then pixel 1's. */
    const uint16x8_t lane = vidupq_n_u16(0, 1);
    const uint16x8_t scatter = vaddq_u16(vmulq_n_u16(vshrq_n_u16(lane, 2), (uint16_t)out_c),
                                         vandq_u16(lane, vdupq_n_u16(3)));
    /* requant starts with a header of four words: the first says whether every shift is negative. */
    const int fast = requant[0] != 0;
    int32_t p;
    requant += MCU_MVE_RQ_PW_HEADER;
    for (p = 0; p + 2 <= pixels; p += 2) {
        const int8_t *x = input + p * in_c;
        if (fast) {
            mcu_mve_pw_pair(x, x + in_c, in_c, out_c, weights, requant, io, scatter, output + p * out_c, 0xFFFF, 1,
                            wzp, filter_offset);
        } else {
            mcu_mve_pw_pair(x, x + in_c, in_c, out_c, weights, requant, io, scatter, output + p * out_c, 0xFFFF, 0,
                            wzp, filter_offset);
        }
    }
    if (p < pixels) {
        const int8_t *x = input + p * in_c;
        mcu_mve_pw_pair(x, x, in_c, out_c, weights, requant, io, scatter, output + p * out_c, 0x00FF, fast, wzp,
                        filter_offset);
    }
}

#endif /* MVE */

#endif /* MCU_MVE_PWCONV_H */
