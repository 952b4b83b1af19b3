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
 * odd last one (which then reads the first pixel twice). Weights come per four channels, chunk by
 * chunk, [ceil(out_c / 4)][ceil(in_c / 16)][4][16] (the first tile's two channels, then the
 * second's), zero-padded, so that one pointer walks both tiles of a group; the input tail
 * (in_c % 16) is loaded predicated. requant: a header of four words (the first: 1 if every shift is negative),
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

/* Bytes of weights per chunk of 16 input channels of a group of four channels: the first pair's
 * 32, then the second's; a tile steps through its pair's chunks by MCU_MVE_PW_STRIDE. */
#define MCU_MVE_PW_STRIDE 64

/* The tile's four sums over `full` chunks of 16 input channels, full >= 1; pointers advance past them. */
MCU_MVE_INLINE void mcu_mve_pw_chunks(const int8_t **p0, const int8_t **p1, const int8_t **pw, int32_t full,
                                      int32_t *a00, int32_t *a01, int32_t *a10, int32_t *a11)
{
    int32_t s00 = *a00, s01 = *a01, s10 = *a10, s11 = *a11;
    const int8_t *x0p = *p0, *x1p = *p1, *wp = *pw;
    int8x16_t x0, x1, w0, w1;
    __asm__ volatile("vldrb.u8 %q[x0], [%[x0p]], #16\n\t"
                     "vldrb.u8 %q[w0], [%[wp]], #64\n\t"
                     "wls lr, %[n], 2f\n"
                     "1:\n\t"
                     "vldrb.u8 %q[x1], [%[x1p]], #16\n\t"
                     "vmladava.s8 %[s00], %q[x0], %q[w0]\n\t"
                     "vldrb.u8 %q[w1], [%[wp], #-48]\n\t"
                     "vmladava.s8 %[s10], %q[x1], %q[w0]\n\t"
                     "vldrb.u8 %q[w0], [%[wp]], #64\n\t"
                     "vmladava.s8 %[s01], %q[x0], %q[w1]\n\t"
                     "vldrb.u8 %q[x0], [%[x0p]], #16\n\t"
                     "vmladava.s8 %[s11], %q[x1], %q[w1]\n\t"
                     "le lr, 1b\n"
                     "2:\n\t"
                     "vldrb.u8 %q[x1], [%[x1p]], #16\n\t"
                     "vmladava.s8 %[s00], %q[x0], %q[w0]\n\t"
                     "vldrb.u8 %q[w1], [%[wp], #-48]\n\t"
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
        *w += MCU_MVE_PW_STRIDE;
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
        const int8_t *wa = w, *wb = w + MCU_MVE_PW_STRIDE / 2;
        int32x4_t a = mcu_mve_pw_tile(x0, x1, full, tail, t0, t1, &wa, rq);
        int32x4_t b = mcu_mve_pw_tile(x0, x1, full, tail, t0, t1, &wb, rq + MCU_MVE_RQ_PW_BLOCK);
        mve_pred16_t pred = pixel_pred;
        if (wzp) {
            a = vaddq_s32(a, starts);
            b = vaddq_s32(b, starts);
        }
        w = wa; /* the first pair's tile stepped over every chunk of the group */
        if (out_c - c < 4) {
            /* Two bits per int16 lane, lanes (pixel 0: c..c + 3, pixel 1: c..c + 3): keep channels < out_c. */
            static const uint16_t keep[4] = {0x0000, 0x0303, 0x0F0F, 0x3F3F};
            pred &= keep[out_c - c];
        }
        vstrbq_scatter_offset_p_s16(out, scatter, mcu_mve_pw_requant2(a, b, rq, io, fast), pred);
    }
}

/*
 * The common case as one assembly loop over every full group of four channels of a pair of pixels:
 * int8 weights, every shift a right shift (`fast`), and either whole chunks only (in_c a multiple
 * of 16, at least 32) or a single chunk (in_c <= 16, the "tail": both pixels' inputs then stay in
 * registers for every group). The C loop above spent more cycles than the arithmetic on keeping
 * its values alive across the two tiles (stack reloads, register copies, the scatter offsets
 * reloaded per group, a start per tile). Here both tiles of a group accumulate together in eight
 * registers (s.. the first tile, t.. the second; each an even register for VMLADAVA), the per-pair
 * constants are read from a mcu_mve_pw_run by scalar loads, and the next group's start is loaded
 * between the vector instructions of this group's requantization, where the core issues a load
 * or a scalar instruction alongside each vector instruction for free. The arithmetic is that of
 * the C path (mcu_mve_pw_chunks's products, mcu_mve_pw_lanes's lanes, mcu_mve_pw_requant2's fast
 * sequence), so the numbers are the same. With the layer's clamp at the int8 edges (act_min -128,
 * act_max 127) the output offset is added in int16 and VQMOVNB.S16 saturates to int8 in place of
 * VMAX/VMIN: the same bytes, since clamp(v, -128, 127) is the saturation.
 */
typedef struct {
    const int8_t *x0, *x1;  /* 0, 4: the pair's pixels; x1 == x0 for an odd last pixel */
    int32_t loops;          /* 8: full - 1, the pipelined chunks per group (whole chunks only) */
    const int8_t *out_end;  /* 12: output of pixel 0 one past the last full group */
    int32_t pred;           /* 16: store predicate: 0xFFFF, or 0x00FF for an odd last pixel */
    int32_t out_offset, act_min, act_max; /* 20, 24, 28 */
    const int32_t *rq;      /* 32: the group's parameters (no register is left to hold them) */
    /* The single-chunk loop over pairs (mcu_mve_pw_pairs_tail), x0 advancing: */
    int32_t x1_offset;      /* 36: pixel 1 from pixel 0: in_c, or 0 for an odd last pixel */
    int32_t x_step;         /* 40: 2 * in_c */
    const int8_t *x_end;    /* 44: x0 past the last pair */
    const int8_t *weights;  /* 48 */
    int32_t group_bytes;    /* 52: output bytes of pixel 0's groups, 4 * (out_c / 4) */
    int32_t out_step;       /* 56: from past the groups to the next pair, 2 * out_c - group_bytes */
    const int32_t *requant; /* 60: past the header */
    int32_t in_c;           /* 64 */
} mcu_mve_pw_run;
/* The assembly addresses these fields by the byte offsets above. */
MCU_MVE_AT(mcu_mve_pw_run, x0, 0);
MCU_MVE_AT(mcu_mve_pw_run, x1, 4);
MCU_MVE_AT(mcu_mve_pw_run, loops, 8);
MCU_MVE_AT(mcu_mve_pw_run, out_end, 12);
MCU_MVE_AT(mcu_mve_pw_run, pred, 16);
MCU_MVE_AT(mcu_mve_pw_run, out_offset, 20);
MCU_MVE_AT(mcu_mve_pw_run, act_min, 24);
MCU_MVE_AT(mcu_mve_pw_run, act_max, 28);
MCU_MVE_AT(mcu_mve_pw_run, rq, 32);
MCU_MVE_AT(mcu_mve_pw_run, x1_offset, 36);
MCU_MVE_AT(mcu_mve_pw_run, x_step, 40);
MCU_MVE_AT(mcu_mve_pw_run, x_end, 44);
MCU_MVE_AT(mcu_mve_pw_run, weights, 48);
MCU_MVE_AT(mcu_mve_pw_run, group_bytes, 52);
MCU_MVE_AT(mcu_mve_pw_run, out_step, 56);
MCU_MVE_AT(mcu_mve_pw_run, requant, 60);
MCU_MVE_AT(mcu_mve_pw_run, in_c, 64);

/*
 * One chunk of both tiles: inputs X0, X1 (this chunk's, already loaded), the first tile's first
 * weights in u2 (already loaded), the other three loaded here, NEXT_* loading the next chunk's
 * after their registers' last use. Each load or scalar instruction follows a VMLADAVA, the slot
 * the core issues it in for free.
 */
#define MCU_MVE_PW_CHUNK_MACS(X0, X1, NEXT_W, COUNT, NEXT_X0, NEXT_X1) \
    "vmladava.s8 %[s00], %q[" X0 "], %q[u2]\n\t"                     \
    "vldrb.u8 %q[u3], [%[wp], #-48]\n\t"                             \
    "vmladava.s8 %[s10], %q[" X1 "], %q[u2]\n\t"                     \
    "vldrb.u8 %q[u4], [%[wp], #-32]\n\t"                             \
    "vmladava.s8 %[s01], %q[" X0 "], %q[u3]\n\t"                     \
    "vldrb.u8 %q[a], [%[wp], #-16]\n\t"                              \
    "vmladava.s8 %[s11], %q[" X1 "], %q[u3]\n\t" NEXT_W              \
    "vmladava.s8 %[t00], %q[" X0 "], %q[u4]\n\t" COUNT               \
    "vmladava.s8 %[t01], %q[" X0 "], %q[a]\n\t" NEXT_X0              \
    "vmladava.s8 %[t10], %q[" X1 "], %q[u4]\n\t"                     \
    "vmladava.s8 %[t11], %q[" X1 "], %q[a]\n\t" NEXT_X1

#define MCU_MVE_PW_LOAD_W "vldrb.u8 %q[u2], [%[wp]], #64\n\t"
#define MCU_MVE_PW_LOAD_X0 "vldrb.u8 %q[u0], [%[x0p]], #16\n\t"
#define MCU_MVE_PW_LOAD_X1 "vldrb.u8 %q[u1], [%[x1p]], #16\n\t"

/* The eight accumulators from the group's biases: lanes (c, c + 2, c, c + 2) of the first tile's
 * block at k, then the second's, 80 bytes on. */
#define MCU_MVE_PW_BIASES(OFF_S, OFF_S8, OFF_T, OFF_T8)               \
    "ldrd %[s00], %[s01], [%[k], #" OFF_S "]\n\t"                    \
    "ldrd %[s10], %[s11], [%[k], #" OFF_S8 "]\n\t"                   \
    "ldrd %[t00], %[t01], [%[k], #" OFF_T "]\n\t"                    \
    "ldrd %[t10], %[t11], [%[k], #" OFF_T8 "]\n\t"

/* The pair's pixels and their first chunk (whole chunks only). */
#define MCU_MVE_PW_START_X "ldrd %[x0p], %[x1p], [%[run]]\n\t" MCU_MVE_PW_LOAD_X0 MCU_MVE_PW_LOAD_X1

/* Whole chunks, at least two (one is a tail, in registers): k counts the pipelined ones
 * (run->loops), the last one peeled. */
#define MCU_MVE_PW_CHUNKS                                                                              \
    "ldr %[k], [%[run], #8]\n"                                                                         \
    "2:\n\t" MCU_MVE_PW_CHUNK_MACS("u0", "u1", MCU_MVE_PW_LOAD_W, "subs %[k], #1\n\t", MCU_MVE_PW_LOAD_X0, \
                                   MCU_MVE_PW_LOAD_X1)                                                 \
    "bne 2b\n"                                                                                         \
    "3:\n\t" MCU_MVE_PW_CHUNK_MACS("u0", "u1", "", "", "", "")

/* A single chunk (in_c <= 16): the inputs t0, t1 stay in registers; one chunk of weights per group. */
#define MCU_MVE_PW_TAIL MCU_MVE_PW_LOAD_W MCU_MVE_PW_CHUNK_MACS("t0", "t1", "", "", "", "")

/*
 * The two tiles' lanes (as mcu_mve_pw_lanes makes them), mcu_mve_pw_requant2's fast sequence on
 * them (temporaries u3, u4 and T3) with NEXT_*, the next group's first loads, between its vector
 * instructions (RQ_LOAD and RQ_SAVE: k from and back to run->rq where the chunk loop counts in k); the output stage (int16 lanes in u3), the store and the loop. After the last
 * group the next group's loads read past the layer's arrays: the compiler pads both
 * (arm_mve.pack_pointwise, pack_requant_pairs).
 */
#define MCU_MVE_PW_FINISH(T3, RQ_LOAD, NEXT_A, NEXT_B, NEXT_C, RQ_SAVE, OUTPUT) \
    "vmov %q[b][2], %q[b][0], %[t00], %[t10]\n\t" RQ_LOAD                                    \
    "vmov %q[b][3], %q[b][1], %[t01], %[t11]\n\t"                    \
    "vmov %q[a][2], %q[a][0], %[s00], %[s10]\n\t"                    \
    "vldrw.u32 %q[u3], [%[k], #16]\n\t"                              \
    "vmov %q[a][3], %q[a][1], %[s01], %[s11]\n\t"                    \
    "vldrw.u32 %q[u4], [%[k], #96]\n\t"                              \
    "vqrdmulh.s32 %q[a], %q[a], %q[u3]\n\t"                          \
    "vldrw.u32 %q[u3], [%[k], #48]\n\t"                              \
    "vqrdmulh.s32 %q[b], %q[b], %q[u4]\n\t"                          \
    "vldrw.u32 %q[u4], [%[k], #128]\n\t"                             \
    "vshr.s32 %q[" T3 "], %q[a], #31\n\t"                            \
    "ldrd %[t00], %[t01], [%[k], #240]\n\t"                          \
    "vqadd.s32 %q[a], %q[a], %q[" T3 "]\n\t"                         \
    "ldrd %[t10], %[t11], [%[k], #248]\n\t"                          \
    "vshr.s32 %q[" T3 "], %q[b], #31\n\t" NEXT_A                     \
    "vrshl.s32 %q[a], %q[a], %q[u3]\n\t" NEXT_B                      \
    "vqadd.s32 %q[b], %q[b], %q[" T3 "]\n\t"                         \
    "ldr %[s00], [%[run], #20]\n\t"                                  \
    "vrshl.s32 %q[b], %q[b], %q[u4]\n\t"                             \
    "ldr %[s10], [%[run], #12]\n\t"                                  \
    "vqmovnb.s32 %q[u3], %q[a]\n\t" NEXT_C                           \
    "vqmovnt.s32 %q[u3], %q[b]\n\t"                                  \
    "adds %[k], #160\n\t"                                            \
    "vqadd.s16 %q[u3], %q[u3], %[s00]\n\t" RQ_SAVE OUTPUT            \
    "ldrd %[s00], %[s01], [%[k]]\n\t"                                \
    "vpst\n\t"                                                       \
    "vstrbt.16 %q[u3], [%[out], %q[sc]]\n\t"                         \
    "adds %[out], #4\n\t"                                            \
    "cmp %[out], %[s10]\n\t"                                         \
    "ldrd %[s10], %[s11], [%[k], #8]\n\t"                            \
    "bne 1b\n\t"

/* The store predicate, for the whole loop: nothing else in it writes P0. */
#define MCU_MVE_PW_SET_PRED "ldr %[s01], [%[run], #16]\n\tvmsr p0, %[s01]\n\t"

/* Saturate to int8 (the clamp at the int8 edges), or clamp to [act_min, act_max] (s10 holds
 * run->out_end by then, s01 and s11 are free). */
#define MCU_MVE_PW_SATURATE "vqmovnb.s16 %q[u3], %q[u3]\n\t"
#define MCU_MVE_PW_CLAMP                                             \
    "ldrd %[s01], %[s11], [%[run], #24]\n\t"                         \
    "vdup.16 %q[u4], %[s01]\n\t"                                     \
    "vdup.16 %q[a], %[s11]\n\t"                                      \
    "vmax.s16 %q[u3], %q[u3], %q[u4]\n\t"                            \
    "vmin.s16 %q[u3], %q[u3], %q[a]\n\t"

/* Whole chunks: the next group's pixels and first weights load during the requantization, the
 * sign temporary being u0 until its own next load. */
#define MCU_MVE_PW_CHUNKS_BODY(OUTPUT)                                                                        \
    MCU_MVE_PW_SET_PRED "ldr %[k], [%[run], #32]\n\t" MCU_MVE_PW_BIASES("0", "8", "80", "88")               \
        MCU_MVE_PW_START_X MCU_MVE_PW_LOAD_W "1:\n\t" MCU_MVE_PW_CHUNKS                                       \
            MCU_MVE_PW_FINISH("u0", "ldr %[k], [%[run], #32]\n\t",                                          \
                              "ldrd %[x0p], %[x1p], [%[run]]\n\t" MCU_MVE_PW_LOAD_X1, MCU_MVE_PW_LOAD_W,      \
                              MCU_MVE_PW_LOAD_X0, "str %[k], [%[run], #32]\n\t", OUTPUT)                     \
    : [s00] "=&Te"(s00), [s01] "=&Te"(s01), [s10] "=&Te"(s10), [s11] "=&Te"(s11), [t00] "=&Te"(t00),         \
      [t01] "=&Te"(t01), [t10] "=&Te"(t10), [t11] "=&Te"(t11), [x0p] "=&r"(x0p), [x1p] "=&r"(x1p),            \
      [k] "=&r"(k), [wp] "+r"(w), [out] "+r"(out), [u0] "=&w"(u0), [u1] "=&w"(u1), [u2] "=&w"(u2),           \
      [u3] "=&w"(u3), [u4] "=&w"(u4), [a] "=&w"(a), [b] "=&w"(b)                                             \
    : [run] "r"(run), [sc] "w"(scatter)                                                                      \
    : "cc", "memory"

/* A single chunk: the inputs stay; u2 is the sign temporary, the group's weights loading at its start. */
#define MCU_MVE_PW_TAIL_BODY(OUTPUT)                                                                          \
    MCU_MVE_PW_SET_PRED "ldr %[k], [%[run], #32]\n\t" MCU_MVE_PW_BIASES("0", "8", "80", "88")               \
        "1:\n\t" MCU_MVE_PW_TAIL MCU_MVE_PW_FINISH("u2", "", "", "", "", "", OUTPUT)                            \
    : [s00] "=&Te"(s00), [s01] "=&Te"(s01), [s10] "=&Te"(s10), [s11] "=&Te"(s11), [t00] "=&Te"(t00),         \
      [t01] "=&Te"(t01), [t10] "=&Te"(t10), [t11] "=&Te"(t11), [k] "=&r"(k), [wp] "+r"(w), [out] "+r"(out),   \
      [u2] "=&w"(u2), [u3] "=&w"(u3), [u4] "=&w"(u4), [a] "=&w"(a), [b] "=&w"(b)                             \
    : [run] "r"(run), [sc] "w"(scatter), [t0] "w"(t0), [t1] "w"(t1)                                          \
    : "cc", "memory"

/*
 * The single-chunk loop over pairs as well (out_c % 4 == 0, at least one pair from run->x0 to
 * run->x_end): per pair its inputs into t0, t1 (VCTP.8 predicates the row's in_c bytes, the
 * other lanes zero), the store predicate, the groups' end, the weights and parameters from their
 * start; then MCU_MVE_PW_TAIL_BODY's group loop. The C loop over pairs cost about as much as a
 * group (its values reloaded from the stack around an assembly statement that takes every register).
 */
#define MCU_MVE_PW_PAIRS_TAIL_BODY(OUTPUT)                                                                    \
    "0:\n\t"                                                                                                  \
    "ldr %[x0p], [%[run]]\n\t"                                                                                \
    "ldr %[x1p], [%[run], #64]\n\t"                                                                           \
    "vctp.8 %[x1p]\n\t"                                                                                       \
    "ldr %[x1p], [%[run], #36]\n\t"                                                                           \
    "add %[x1p], %[x0p]\n\t"                                                                                  \
    "vpstt\n\t"                                                                                               \
    "vldrbt.u8 %q[t0], [%[x0p]]\n\t"                                                                          \
    "vldrbt.u8 %q[t1], [%[x1p]]\n\t"                                                                          \
    "ldr %[x1p], [%[run], #40]\n\t"                                                                           \
    "add %[x0p], %[x1p]\n\t"                                                                                  \
    "str %[x0p], [%[run]]\n\t" MCU_MVE_PW_SET_PRED                                                            \
    "ldr %[x1p], [%[run], #52]\n\t"                                                                           \
    "add %[x1p], %[out]\n\t"                                                                                  \
    "str %[x1p], [%[run], #12]\n\t"                                                                           \
    "ldr %[k], [%[run], #60]\n\t"                                                                             \
    "ldr %[wp], [%[run], #48]\n\t" MCU_MVE_PW_BIASES("0", "8", "80", "88")                                    \
    "1:\n\t" MCU_MVE_PW_TAIL MCU_MVE_PW_FINISH("u2", "", "", "", "", "", OUTPUT)                               \
    "ldr %[x1p], [%[run], #56]\n\t"                                                                           \
    "add %[out], %[x1p]\n\t"                                                                                  \
    "ldr %[x0p], [%[run]]\n\t"                                                                                \
    "ldr %[x1p], [%[run], #44]\n\t"                                                                           \
    "cmp %[x0p], %[x1p]\n\t"                                                                                  \
    "bne 0b\n\t"                                                                                              \
    : [s00] "=&Te"(s00), [s01] "=&Te"(s01), [s10] "=&Te"(s10), [s11] "=&Te"(s11), [t00] "=&Te"(t00),         \
      [t01] "=&Te"(t01), [t10] "=&Te"(t10), [t11] "=&Te"(t11), [x0p] "=&r"(x0p), [x1p] "=&r"(x1p),            \
      [k] "=&r"(k), [wp] "=&r"(w), [out] "+r"(out), [t0] "=&w"(t0), [t1] "=&w"(t1), [u2] "=&w"(u2),          \
      [u3] "=&w"(u3), [u4] "=&w"(u4), [a] "=&w"(a), [b] "=&w"(b)                                             \
    : [run] "r"(run), [sc] "w"(scatter)                                                                      \
    : "cc", "memory"

/* Every pair from run->x0 to run->x_end by the loop above (in_c <= 16, out_c % 4 == 0). */
MCU_MVE_INLINE void mcu_mve_pw_pairs_tail(mcu_mve_pw_run *run, int8_t *out, uint16x8_t scatter, int saturate)
{
    int32_t s00, s01, s10, s11, t00, t01, t10, t11, k;
    const int8_t *x0p, *x1p, *w;
    int32x4_t a, b;
    int8x16_t t0, t1, u2, u3, u4;
    if (saturate) {
        __asm__ volatile(MCU_MVE_PW_PAIRS_TAIL_BODY(MCU_MVE_PW_SATURATE));
    } else {
        __asm__ volatile(MCU_MVE_PW_PAIRS_TAIL_BODY(MCU_MVE_PW_CLAMP));
    }
}

/*
 * Every full group of four channels of one pair (at least one: run->out_end > out) by the loop
 * above; `chunked`: whole chunks (else the single chunk t0, t1), `saturate`: the clamp is the int8 range.
 * All four shapes are constants at each call site.
 */
MCU_MVE_INLINE void mcu_mve_pw_groups(mcu_mve_pw_run *run, const int8_t *w, const int32_t *rq, int8_t *out,
                                      uint16x8_t scatter, int8x16_t t0, int8x16_t t1, int chunked, int saturate)
{
    int32_t s00, s01, s10, s11, t00, t01, t10, t11, k;
    int32x4_t a, b;
    int8x16_t u2, u3, u4;
    run->rq = rq;
    if (chunked) {
        const int8_t *x0p, *x1p;
        int8x16_t u0, u1;
        if (saturate) {
            __asm__ volatile(MCU_MVE_PW_CHUNKS_BODY(MCU_MVE_PW_SATURATE));
        } else {
            __asm__ volatile(MCU_MVE_PW_CHUNKS_BODY(MCU_MVE_PW_CLAMP));
        }
    } else if (saturate) {
        __asm__ volatile(MCU_MVE_PW_TAIL_BODY(MCU_MVE_PW_SATURATE));
    } else {
        __asm__ volatile(MCU_MVE_PW_TAIL_BODY(MCU_MVE_PW_CLAMP));
    }
}

#undef MCU_MVE_PW_CHUNK_MACS
#undef MCU_MVE_PW_LOAD_W
#undef MCU_MVE_PW_LOAD_X0
#undef MCU_MVE_PW_LOAD_X1
#undef MCU_MVE_PW_BIASES
#undef MCU_MVE_PW_START_X
#undef MCU_MVE_PW_CHUNKS
#undef MCU_MVE_PW_TAIL
#undef MCU_MVE_PW_FINISH
#undef MCU_MVE_PW_SATURATE
#undef MCU_MVE_PW_SET_PRED
#undef MCU_MVE_PW_CLAMP
#undef MCU_MVE_PW_CHUNKS_BODY
#undef MCU_MVE_PW_TAIL_BODY
#undef MCU_MVE_PW_PAIRS_TAIL_BODY

/* One pair of pixels by the assembly loop (mcu_mve_pw_groups), the channels past the last full
 * group (out_c % 4) by mcu_mve_pw_pair. */
MCU_MVE_INLINE void mcu_mve_pw_pair_fast(mcu_mve_pw_run *run, int32_t in_c, int32_t out_c, const int8_t *weights,
                                         const int32_t *requant, const mcu_quant_io *io, uint16x8_t scatter,
                                         int8_t *out, int chunked, int saturate)
{
    const int32_t groups = out_c >> 2, rest = out_c & 3;
    /* in_c <= 16: the whole input row of each pixel, in a register for every group. */
    const mve_pred16_t tail_pred = vctp8q((uint32_t)in_c);
    const int8x16_t t0 = vldrbq_z_s8(run->x0, tail_pred), t1 = vldrbq_z_s8(run->x1, tail_pred);
    if (groups) {
        run->out_end = out + 4 * groups;
        mcu_mve_pw_groups(run, weights, requant, out, scatter, t0, t1, chunked, saturate);
    }
    if (rest) {
        /* (The loop's weight pointer ends past the groups' weights, on its next group's preload.) */
        const int8_t *w = weights + groups * MCU_MVE_PW_STRIDE * ((in_c + 15) >> 4);
        mcu_mve_pw_pair(run->x0, run->x1, in_c, rest, w, requant + groups * 2 * MCU_MVE_RQ_PW_BLOCK, io, scatter,
                        out + 4 * groups, (mve_pred16_t)run->pred, 1, 0, 0);
    }
}

/* The kernel's pixel loop by mcu_mve_pw_pair_fast, one copy per shape (constants at each call). */
MCU_MVE_INLINE void mcu_mve_pw_pixels_fast(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c,
                                           const int8_t *input, const int8_t *weights, const int32_t *requant,
                                           int8_t *output, uint16x8_t scatter, int chunked, int saturate)
{
    mcu_mve_pw_run run = {0, 0, (in_c >> 4) - 1, 0, 0xFFFF, io->output_offset, io->act_min, io->act_max, 0,
                          in_c, 2 * in_c, 0, weights, 4 * (out_c >> 2), 2 * out_c - 4 * (out_c >> 2), requant, in_c};
    int32_t p;
    if (!chunked && (out_c & 3) == 0) {
        /* Every pair in one loop, then an odd last pixel as a pair of itself (its second half
         * predicated off). */
        const int32_t pairs = pixels >> 1;
        if (pairs) {
            run.x0 = input;
            run.x_end = input + pairs * 2 * in_c;
            mcu_mve_pw_pairs_tail(&run, output, scatter, saturate);
        }
        if (pixels & 1) {
            run.x0 = input + (pixels - 1) * in_c;
            run.x_end = run.x0 + 2 * in_c;
            run.x1_offset = 0;
            run.pred = 0x00FF;
            mcu_mve_pw_pairs_tail(&run, output + (pixels - 1) * out_c, scatter, saturate);
        }
        return;
    }
    for (p = 0; p < pixels; p += 2) {
        run.x0 = input + p * in_c;
        run.x1 = p + 1 < pixels ? run.x0 + in_c : run.x0;
        run.pred = p + 1 < pixels ? 0xFFFF : 0x00FF;
        mcu_mve_pw_pair_fast(&run, in_c, out_c, weights, requant, io, scatter, output + p * out_c, chunked,
                             saturate);
    }
}

/* mcu_mve_pw_pixels_fast for the layer's shape, or 0 if it is not one of the loop's four. */
MCU_MVE_INLINE int mcu_mve_pw_try_fast(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c,
                                       const int8_t *input, const int8_t *weights, const int32_t *requant,
                                       int8_t *output, uint16x8_t scatter)
{
    const int saturate = io->act_min == -128 && io->act_max == 127;
    if (in_c > 16 && (in_c & 15) == 0) {
        if (saturate) {
            mcu_mve_pw_pixels_fast(io, pixels, in_c, out_c, input, weights, requant, output, scatter, 1, 1);
        } else {
            mcu_mve_pw_pixels_fast(io, pixels, in_c, out_c, input, weights, requant, output, scatter, 1, 0);
        }
        return 1;
    }
    if (in_c <= 16) {
        if (saturate) {
            mcu_mve_pw_pixels_fast(io, pixels, in_c, out_c, input, weights, requant, output, scatter, 0, 1);
        } else {
            mcu_mve_pw_pixels_fast(io, pixels, in_c, out_c, input, weights, requant, output, scatter, 0, 0);
        }
        return 1;
    }
    return 0;
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
    if (MCU_MVE_ASM_LOOPS && !wzp && fast && mcu_mve_pw_try_fast(io, pixels, in_c, out_c, input, weights, requant, output, scatter)) {
        return;
    }
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
