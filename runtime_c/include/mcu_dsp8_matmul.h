/*
 * mcu_dsp8_matmul.h - the inner product of the int8-weight DSP kernels (mcu_pwconv_s8_dsp8,
 * mcu_conv_s8_dsp8 and their weight-zero-point twins): three widened input columns times every
 * output channel, the weights widened in the loop. Private to runtime_c/arm_dsp. Layouts: see
 * mcu_nn_dsp.h (mcu_pwconv_s8_dsp8).
 *
 * Why 3 pixels x 2 channels: one weight word (2 k of 2 channels, 4 int8) widens with SXTB16 and
 * SXTB16 ROR 8 into the two channels' int16 pairs, each used by 3 SMLAD; the 6 accumulators, the two
 * widened weights, two column registers (alternating, so a load never waits for the SMLAD still
 * reading the other), the next raw weight word, two pointers and the counter take all 14 registers.
 * Per k-pair that is 6 SMLAD against 4 loads and 2 SXTB16, and the order below pairs each of those 6
 * with an SMLAD. llvm-mca -mcpu=cortex-m7 times it 7 cycles a k-pair, not 6: a load does not issue
 * beside an SMLAD that reads the register it writes, and with five temporaries the step's first cycle
 * has two of the six to issue (the second widening of its weight word and the load of its pixel 1;
 * measured 28 cycles for 4 steps without the loop's counter and pointer updates). The loop runs turns
 * of 8 steps (57 cycles a turn, against 31 for each of the two 4-step turns it replaced).
 *
 * Two record forms, a constant `compact` of each public kernel: the 2-word records (the default
 * kernels; mcu_dsp8_matmul_compact, every full pair with its loop, stage and bookkeeping in one block
 * of assembly, mcu_dsp8_pairs_compact) and the 3-word records (the `_rec3` kernels, for layers whose
 * values the 2 words cannot hold; the pairs in C around the loop's and the stage's assembly). VWW
 * --memory layer, llvm-mca: pointwise cortex-m7 5.47 M -> 5.06 M cycles, cortex-m4 7.81 M -> 7.03 M
 * (TRM table 10.39 M -> 9.42 M), the one-block pairs most of it (the C around them cost some 50
 * instructions a pair).
 */
#ifndef MCU_DSP8_MATMUL_H
#define MCU_DSP8_MATMUL_H

#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/*
 * The output stage, unscaled accumulator -> int8: mcu_dsp_requantize (the proof at the top of
 * mcu_nn_dsp.h) of A = acc << left, which the compiler checked exact (|acc| * 2^left < 2^30), in a
 * form that needs no rounding constant rebuilt: from the record's packed word P = right + 1 | left << 8
 * | (2 zp_out + 1) << 16, q = P - 1 has low byte right (right + 1 >= 1: no borrow) and q >> 16 =
 * 2 zp_out + 1 = odd, and P >> 8 has low byte left (a shift by register reads only its low byte). With
 * x = SMMULR(A, m) and N = 2x + (x >> 31), mcu_dsp_requantize is floor((N + odd * 2^right) / 2^(right + 1))
 * = floor((floor(N / 2^right) + odd) / 2) (floor(z / 2) = floor(floor(z) / 2)), i.e.
 * SSAT #8 of ((N ASR right) + odd) ASR 1, the last shift inside SSAT. N's sign term is SMMLA(2x, 1, 2x)
 * (2x + floor(2x / 2^32)), on the multiplier, not the shifter: the Cortex-M7 has one shifter, which
 * every shifted operand, register shift and SSAT takes.
 */

/* a << (b & 0xFF) and a >> (b & 0xFF) (arithmetic), the register-shift instructions (C's shifts would
 * need b masked first). */
static inline __attribute__((always_inline)) int32_t mcu_dsp8_lsl(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("lsl %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline __attribute__((always_inline)) int32_t mcu_dsp8_asr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("asr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* The layer's clamp where it is narrower than int8 (see mcu_dsp_out). */
static inline __attribute__((always_inline)) int8_t mcu_dsp8_clamp(int32_t v, mcu_dsp_out o)
{
    if (o.narrow) {
        v = v < o.min ? o.min : v;
        v = v > o.max ? o.max : v;
    }
    return (int8_t)v;
}

/* One channel's three accumulators through the output stage and stored (the odd last channel). The
 * record is read into registers before the first store, since an int8 store may alias it. */
static inline __attribute__((always_inline)) void mcu_dsp8_store3(mcu_dsp_out o, const int32_t *ch, int32_t a0,
                                                                   int32_t a1, int32_t a2, int8_t *y0, int8_t *y1,
                                                                   int8_t *y2)
{
    const int32_t m = ch[1], q = ch[2] - 1, left = ch[2] >> 8;
    const int32_t acc[3] = {a0, a1, a2};
    int8_t v[3];
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t x = mcu_dsp_smmulr(mcu_dsp8_lsl(acc[i], left), m);
        v[i] = mcu_dsp8_clamp(__ssat((mcu_dsp8_asr(2 * x + (x >> 31), q) + (q >> 16)) >> 1, 8), o);
    }
    *y0 = v[0];
    *y1 = v[1];
    *y2 = v[2];
}

/*
 * Two channels (records ch and ch + MCU_DSP8_RECORD_WORDS; accumulators s0, s2, s4 of channel 0 and
 * s1, s3, s5 of channel 1 for pixels 0, 1, 2) through the output stage and stored at y[0..2], each
 * pointer then advanced by 2. One block of assembly, the six sequences interleaved pixel by pixel: the
 * Cortex-M7 issues in order, and one channel's chain (load, decode, shift, two multiplies, three
 * shifts) alone leaves most issue slots empty (llvm-mca -mcpu=cortex-m7: 41 cycles for the six with
 * their stores, against 18 for one channel's three without). Per output: LSL, SMMULR, ADD, SMMLA, ASR,
 * ADD, SSAT, three of them on the shifter. Each pixel's two bytes go out as one halfword (BFI, then
 * STRH, unaligned where out_c is odd, which ARMv7-M and ARMv8-M allow); the pointers are loaded into
 * registers the stage is done with. A layer with a narrower clamp (see mcu_dsp_out) takes the
 * one-channel path, which clamps in C.
 */
#define MCU_DSP8_STAGE2_STORE \
    "ldr %[q0], [%[one], #8]\n\t" \
    "ldr %[q1], [%[one], #20]\n\t" \
    "ldr %[m0], [%[one], #4]\n\t" \
    "ldr %[m1], [%[one], #16]\n\t" \
    "lsr %[l0], %[q0], #8\n\t" \
    "sub %[q0], %[q0], #1\n\t" \
    "lsr %[l1], %[q1], #8\n\t" \
    "sub %[q1], %[q1], #1\n\t" \
    "lsl %[s0], %[s0], %[l0]\n\t" \
    "mov %[one], #1\n\t" \
    "lsl %[s1], %[s1], %[l1]\n\t" \
    "smmulr %[s0], %[s0], %[m0]\n\t" \
    "lsl %[s2], %[s2], %[l0]\n\t" \
    "smmulr %[s1], %[s1], %[m1]\n\t" \
    "lsl %[s3], %[s3], %[l1]\n\t" \
    "smmulr %[s2], %[s2], %[m0]\n\t" \
    "lsl %[s4], %[s4], %[l0]\n\t" \
    "smmulr %[s3], %[s3], %[m1]\n\t" \
    "lsl %[s5], %[s5], %[l1]\n\t" \
    "add %[s0], %[s0], %[s0]\n\t" \
    "asr %[l0], %[q0], #16\n\t" /* l0: channel 0's odd from here */ \
    "smmla %[s0], %[s0], %[one], %[s0]\n\t" \
    "add %[s1], %[s1], %[s1]\n\t" \
    "smmulr %[s4], %[s4], %[m0]\n\t" \
    "asr %[l1], %[q1], #16\n\t" /* l1: channel 1's odd from here */ \
    "smmla %[s1], %[s1], %[one], %[s1]\n\t" \
    "add %[s2], %[s2], %[s2]\n\t" \
    "smmulr %[s5], %[s5], %[m1]\n\t" \
    "asr %[s0], %[s0], %[q0]\n\t" \
    "smmla %[s2], %[s2], %[one], %[s2]\n\t" \
    "ldrd %[m0], %[m1], [%[y]]\n\t" /* m0, m1: pointers y[0], y[1] */ \
    "add %[s3], %[s3], %[s3]\n\t" \
    "asr %[s1], %[s1], %[q1]\n\t" \
    "smmla %[s3], %[s3], %[one], %[s3]\n\t" \
    "add %[s0], %[s0], %[l0]\n\t" \
    "add %[s4], %[s4], %[s4]\n\t" \
    "ssat %[s0], #8, %[s0], asr #1\n\t" \
    "smmla %[s4], %[s4], %[one], %[s4]\n\t" \
    "add %[s1], %[s1], %[l1]\n\t" \
    "add %[s5], %[s5], %[s5]\n\t" \
    "ssat %[s1], #8, %[s1], asr #1\n\t" \
    "smmla %[s5], %[s5], %[one], %[s5]\n\t" \
    "asr %[s2], %[s2], %[q0]\n\t" \
    "asr %[s3], %[s3], %[q1]\n\t" \
    "add %[s2], %[s2], %[l0]\n\t" \
    "bfi %[s0], %[s1], #8, #8\n\t" \
    "ssat %[s2], #8, %[s2], asr #1\n\t" \
    "add %[s3], %[s3], %[l1]\n\t" \
    "strh %[s0], [%[m0]], #2\n\t" \
    "asr %[s4], %[s4], %[q0]\n\t" \
    "ssat %[s3], #8, %[s3], asr #1\n\t" \
    "asr %[s5], %[s5], %[q1]\n\t" \
    "add %[s4], %[s4], %[l0]\n\t" \
    "bfi %[s2], %[s3], #8, #8\n\t" \
    "ldr %[q0], [%[y], #8]\n\t" /* q0: pointer y[2] */ \
    "add %[s5], %[s5], %[l1]\n\t" \
    "ssat %[s4], #8, %[s4], asr #1\n\t" \
    "strh %[s2], [%[m1]], #2\n\t" \
    "ssat %[s5], #8, %[s5], asr #1\n\t" \
    "strd %[m0], %[m1], [%[y]]\n\t" \
    "bfi %[s4], %[s5], #8, #8\n\t" \
    "strh %[s4], [%[q0]], #2\n\t" \
    "str %[q0], [%[y], #8]\n\t" \

static inline __attribute__((always_inline)) void mcu_dsp8_store3x2(mcu_dsp_out o, const int32_t *ch, int32_t s0,
                                                                     int32_t s1, int32_t s2, int32_t s3, int32_t s4,
                                                                     int32_t s5, int8_t **y)
{
    const int32_t *one = ch; /* the record pointer, then the constant 1 */
    int32_t m0, m1, q0, q1, l0, l1;
    if (o.narrow) {
        mcu_dsp8_store3(o, ch, s0, s2, s4, y[0], y[1], y[2]);
        mcu_dsp8_store3(o, ch + MCU_DSP8_RECORD_WORDS, s1, s3, s5, y[0] + 1, y[1] + 1, y[2] + 1);
        y[0] += 2;
        y[1] += 2;
        y[2] += 2;
        return;
    }
    __asm__ volatile(MCU_DSP8_STAGE2_STORE
                     : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [s4] "+r"(s4), [s5] "+r"(s5),
                       [one] "+r"(one), [m0] "=&r"(m0), [m1] "=&r"(m1), [q0] "=&r"(q0), [q1] "=&r"(q1),
                       [l0] "=&r"(l0), [l1] "=&r"(l1)
                     : [y] "r"(y)
                     : "memory");
}

/*
 * The compact output stage (2-word records, MCU_DSP8_RECORD2_WORDS): the layer's channels all have
 * left = 1, right >= 1 and a multiplier m >= 2^30 (the compiler checks; other layers keep the 3-word
 * records above), so a record is {m2, bias << 8 | (right - 1)} with m2 = 2m - 2^32 (as int32; 2m >= 2^31),
 * and 2 zp_out + 1 (`odd`) is one word for the layer. Then, exactly the stage above:
 * - x = SMMULR(2 acc, m) = floor((2 acc m + 2^31) / 2^32) = SMMLAR(acc, m2, acc): SMMLAR adds acc * 2^32 to
 *   acc * m2 = 2 acc m - acc * 2^32 before rounding (64-bit, no wrap), so no LSL;
 * - N ASR right with N = 2x + s, s = x >> 31 in {0, -1}: floor((2x + s) / 2^right) =
 *   floor(floor((2x + s) / 2) / 2^(right - 1)) = floor((x + s) / 2^(right - 1)) (floor(s / 2) = s), i.e.
 *   (x + (x ASR 31)) ASR (right - 1): one ADD with a shifted operand, and the register shift reads only
 *   the record word's low byte, right - 1, so the word needs no decoding;
 * - then ((that) + odd) ASR 1 inside SSAT #8, as above. Per output SMMLAR, ADD, ASR, ADD, SSAT.
 */

/* SMMLAR (not in arm_acle.h): round((a * b + c * 2^32) / 2^32), half toward +infinity. */
static inline __attribute__((always_inline)) int32_t mcu_dsp8_smmlar(int32_t a, int32_t b, int32_t c)
{
    int32_t r;
    __asm__("smmlar %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(c));
    return r;
}

/* One channel's three accumulators through the compact stage and stored (as mcu_dsp8_store3). */
static inline __attribute__((always_inline)) void mcu_dsp8_store3c(mcu_dsp_out o, const int32_t *ch, int32_t odd,
                                                                    int32_t a0, int32_t a1, int32_t a2, int8_t *y0,
                                                                    int8_t *y1, int8_t *y2)
{
    const int32_t m2 = ch[0], b = ch[1];
    const int32_t acc[3] = {a0, a1, a2};
    int8_t v[3];
    int i;
    for (i = 0; i < 3; i++) {
        const int32_t x = mcu_dsp8_smmlar(acc[i], m2, acc[i]);
        v[i] = mcu_dsp8_clamp(__ssat((mcu_dsp8_asr(x + (x >> 31), b) + odd) >> 1, 8), o);
    }
    *y0 = v[0];
    *y1 = v[1];
    *y2 = v[2];
}

/* Words of the columns of 3 pixels of k4 values (k4 a multiple of 4), and two more that the loop
 * reads past the end (their values are never used). */
#define MCU_DSP8_COLUMN_WORDS(k4) (3 * ((k4) >> 1) + 2)

/*
 * One k-pair of the 3 x 2 block, 6 SMLAD in 7 issue cycles (the Cortex-M7 timing of LLVM's model:
 * SMLAD in the second slot only, a loaded word usable 2 cycles later, SXTB16 1 cycle later). On entry
 * pixel 0 is in register xa, pixel 1 in xb, and t0, t1 hold the widened weights of channels 0 and 1.
 * The step loads its pixel 2 into xa once pixel 0's two SMLAD have issued, the next step's pixel 0
 * into xb after pixel 1's, and the next step's raw weight word (from byte offset `roff` of the weight
 * pointer), widens that word into t0, t1 right after their last
 * SMLAD here, and finally loads the next step's pixel 1 into xa: so the next step has its pixels 0
 * and 1 in xb and xa (roles swapped). `off2`: the byte offset of this step's pixel 2 from the column
 * pointer; `next`: that of the next step's pixel 0; `pre`: an instruction for the free slot before
 * the first SMLAD (the counter, a pointer's advance, or nothing; an advance there is 2 cycles ahead
 * of the loads that use it). All loads use immediate offsets, not post-increment: LLVM's Cortex-M7
 * model holds a post-incremented load back (32 instead of 28 cycles per 4 steps).
 */
#define MCU_DSP8_STEP(xa, xb, roff, off2, next, pre) \
    pre \
    "smlad %[s0], " xa ", %[t0], %[s0]\n\t" \
    "ldr %[r], [%[w], #" #roff "]\n\t" \
    "smlad %[s1], " xa ", %[t1], %[s1]\n\t" \
    "ldr " xa ", [%[c], #" #off2 "]\n\t" \
    "smlad %[s2], " xb ", %[t0], %[s2]\n\t" \
    "smlad %[s3], " xb ", %[t1], %[s3]\n\t" \
    "ldr " xb ", [%[c], #" #next "]\n\t" \
    "smlad %[s4], " xa ", %[t0], %[s4]\n\t" \
    "sxtb16 %[t0], %[r]\n\t" \
    "smlad %[s5], " xa ", %[t1], %[s5]\n\t" \
    "sxtb16 %[t1], %[r], ror #8\n\t" \
    "ldr " xa ", [%[c], #" #next " + 4]\n\t"

/*
 * Which order the loop issues its instructions in, a constant `dual` of each public kernel (the
 * compiler picks the kernel by target: the preprocessor cannot tell a Cortex-M7 from an M4). The
 * Cortex-M7 issues two per cycle (the order above); the Cortex-M4 and M33 one, paying for each load
 * (the M4's TRM: LDR 2 cycles, 1 when it follows another load; LDRD 3 and LDM 1 + N, never pipelined),
 * so there each k-pair loads its weight word (LDR, post-incremented) and its three pixel words (one
 * LDM, post-incremented), widens, then runs its 6 SMLAD: 10 instructions per 12 MACs, 14 cycles by the
 * TRM, 10 by LLVM's Cortex-M4 model (which times every load, LDM included, 1 cycle). A k-pair of the
 * orders measured: LDR, LDRD, LDR (the first) 11 and 15 cycles by the two models; four LDR 12 and 13;
 * LDR + LDM 10 and 14, the one better than the first by both (VWW's pointwise layers, cortex-m4: four
 * LDR 9.0 M cycles by llvm-mca and 10.0 M by the TRM table, LDR + LDM 7.8 M and 10.4 M).
 * Both orders give the same sums.
 */
/* One k-pair in the in-order order: the weight word at w and the three pixel words at c, both
 * pointers post-incremented (so every step is the same code and a turn can be entered at any step);
 * pixel 0, 1, 2 in xa, xb, r, which LDM needs in ascending register order (see the loop). */
#define MCU_DSP8_STEP_INORDER \
    "ldr %[t1], [%[w]], #4\n\t" \
    "ldm %[c]!, {%[xa], %[xb], %[r]}\n\t" \
    "sxtb16 %[t0], %[t1]\n\t" \
    "sxtb16 %[t1], %[t1], ror #8\n\t" \
    "smlad %[s0], %[xa], %[t0], %[s0]\n\t" \
    "smlad %[s1], %[xa], %[t1], %[s1]\n\t" \
    "smlad %[s2], %[xb], %[t0], %[s2]\n\t" \
    "smlad %[s3], %[xb], %[t1], %[s3]\n\t" \
    "smlad %[s4], %[r], %[t0], %[s4]\n\t" \
    "smlad %[s5], %[r], %[t1], %[s5]\n\t"

/* The loop counter's uses. (All 14 registers go to the loop: clang for Arm, which keeps r7 as its frame
 * pointer by default, needs -fomit-frame-pointer to compile it; the projects build with GCC.) */
#define MCU_DSP8_N_OPERAND [n] "+r"(n)
#define MCU_DSP8_N_DEC "subs %[n], %[n], #1\n\t"

/*
 * The loops run turns of 8 k-pairs, unrolled (one counter update and one taken branch per 8 steps:
 * the Cortex-M4 pays 3 cycles for a taken branch), and enter the first turn part way for a remainder
 * of 2, 4 or 6 k-pairs. MCU_DSP8_BACK(q), q = twice the remainder in k-pairs (k4 & 14): the column
 * and weight pointers moved back by the 8 - remainder steps skipped (12 and 4 bytes a step), so that
 * the steps entered read what they would at the start. MCU_DSP8_ENTER(i), i = remainder / 2 in 1..3:
 * a TBB into the turn at the step labelled 5 (remainder 2, step 6), 4 (step 4) or 3 (step 2); entry 0,
 * never taken, points past the loop.
 */
#define MCU_DSP8_BACK(q) \
    "add %[c], %[c], " q ", lsl #2\n\t" \
    "add %[c], %[c], " q ", lsl #1\n\t" \
    "sub %[c], %[c], #96\n\t" \
    "add %[w], %[w], " q ", lsl #1\n\t" \
    "sub %[w], %[w], #32\n\t"
#define MCU_DSP8_ENTER(i) \
    "tbb [pc, " i "]\n\t" \
    "0:\n\t" \
    ".byte (2f - 0b) / 2, (5f - 0b) / 2, (4f - 0b) / 2, (3f - 0b) / 2\n\t"


/* The inner loop of one channel pair over k4 (in n), dual-issue order: s0..s5 += the products, w left at
 * the next pair's weights. The turns of 8 k-pairs are k4 / 16; a remainder of 2, 4 or 6 k-pairs (k4 & 14 =
 * twice it) enters the first turn at step 6, 4 or 2 (MCU_DSP8_ENTER), the pointers moved back by the
 * steps skipped. */
#define MCU_DSP8_LOOP_DUAL \
    "ands %[r], %[n], #14\n\t" \
    "lsr %[n], %[n], #4\n\t" \
    "ldr %[t1], [%[w]]\n\t" \
    "ldr %[xa], [%[c]]\n\t" \
    "ldr %[xb], [%[c], #4]\n\t" \
    "sxtb16 %[t0], %[t1]\n\t" \
    "sxtb16 %[t1], %[t1], ror #8\n\t" \
    "beq 1f\n\t" \
    MCU_DSP8_BACK("%[r]") \
    "lsr %[r], %[r], #2\n\t" \
    "cmp %[n], #0\n\t" /* the partial turn's BNE: on to full turns if any */ \
    MCU_DSP8_ENTER("%[r]") \
    "1:\n\t" MCU_DSP8_STEP("%[xa]", "%[xb]", 4, 8, 12, MCU_DSP8_N_DEC) \
    MCU_DSP8_STEP("%[xb]", "%[xa]", 8, 20, 24, "") \
    MCU_DSP8_STEP("%[xa]", "%[xb]", 12, 32, 36, "3:\n\t") \
    MCU_DSP8_STEP("%[xb]", "%[xa]", 16, 44, 48, "") \
    MCU_DSP8_STEP("%[xa]", "%[xb]", 20, 56, 60, "4:\n\t") \
    MCU_DSP8_STEP("%[xb]", "%[xa]", 24, 68, 72, "") \
    MCU_DSP8_STEP("%[xa]", "%[xb]", -4, 80, 84, "5:\n\tadd %[w], %[w], #32\n\t") \
    MCU_DSP8_STEP("%[xb]", "%[xa]", 0, -4, 0, "add %[c], %[c], #96\n\t") \
    "bne 1b\n\t" \
    "2:\n\t"

/* The same in the in-order order: n = the turns, the partial one included, (k4 + 14) / 16; the pointers
 * need no moving back (post-incremented). xa, xb, r: LDM's registers, in ascending order. */
#define MCU_DSP8_LOOP_1X \
    "ands %[r], %[n], #14\n\t" \
    "add %[n], %[n], #14\n\t" \
    "lsr %[n], %[n], #4\n\t" \
    "beq 1f\n\t" \
    "lsr %[r], %[r], #2\n\t" \
    MCU_DSP8_ENTER("%[r]") \
    "1:\n\t" MCU_DSP8_STEP_INORDER MCU_DSP8_STEP_INORDER \
    "3:\n\t" MCU_DSP8_STEP_INORDER MCU_DSP8_STEP_INORDER \
    "4:\n\t" MCU_DSP8_STEP_INORDER MCU_DSP8_STEP_INORDER \
    "5:\n\t" MCU_DSP8_STEP_INORDER MCU_DSP8_STEP_INORDER \
    MCU_DSP8_N_DEC \
    "bne 1b\n\t" \
    "2:\n\t"

/*
 * Every full channel pair of a layer with the compact records, in one block of assembly: per pair the
 * accumulators start from the two biases, the inner loop above runs, then the compact output stage (as
 * mcu_dsp8_store3c, interleaved pixel by pixel as in MCU_DSP8_STAGE2_STORE, on the loop's registers:
 * multipliers in xa, xb, shift words in t0, t1, the record pointer in r, odd in n, the output pointers
 * through c; a narrower clamp is applied to the stored bytes afterwards). Between the
 * loop's 14 registers and the stage, the pair's state lives in memory operands (the record pointer, the
 * pairs left, the output pointers, the columns, k4 and odd, on the stack): in C the same state cost
 * some 50 instructions a pair (GCC's reloads around the two blocks), more than the stage itself where
 * k4 is 8 or 16.
 */
#define MCU_DSP8_PAIR_START \
    "6:\n\t" \
    "ldr %[r], %[chm]\n\t" \
    "ldr %[c], %[colsm]\n\t" \
    "ldr %[s0], [%[r], #4]\n\t" \
    "ldr %[s1], [%[r], #12]\n\t" \
    "ldr %[n], %[k4m]\n\t" \
    "asr %[s0], %[s0], #8\n\t" \
    "asr %[s1], %[s1], #8\n\t" \
    "mov %[s2], %[s0]\n\t" \
    "mov %[s3], %[s1]\n\t" \
    "mov %[s4], %[s0]\n\t" \
    "mov %[s5], %[s1]\n\t"
/* A weight zero point's starts (see mcu_dsp8_matmul_3cols), added before the loop rather than after
 * (the same sums modulo 2^32), through registers the loop loads first. */
#define MCU_DSP8_PAIR_STARTS \
    "ldr %[xa], %[st0m]\n\t" \
    "ldr %[xb], %[st1m]\n\t" \
    "ldr %[t0], %[st2m]\n\t" \
    "add %[s0], %[s0], %[xa]\n\t" \
    "add %[s1], %[s1], %[xa]\n\t" \
    "add %[s2], %[s2], %[xb]\n\t" \
    "add %[s3], %[s3], %[xb]\n\t" \
    "add %[s4], %[s4], %[t0]\n\t" \
    "add %[s5], %[s5], %[t0]\n\t"
#define MCU_DSP8_PAIR_STAGE \
    "ldr %[r], %[chm]\n\t" \
    "ldr %[n], %[oddm]\n\t" \
    "ldr %[xa], [%[r]]\n\t" \
    "ldr %[xb], [%[r], #8]\n\t" \
    "ldr %[t0], [%[r], #4]\n\t" \
    "ldr %[t1], [%[r], #12]\n\t" \
    "add %[r], %[r], #16\n\t" \
    "smmlar %[s0], %[s0], %[xa], %[s0]\n\t" \
    "smmlar %[s1], %[s1], %[xb], %[s1]\n\t" \
    "str %[r], %[chm]\n\t" \
    "smmlar %[s2], %[s2], %[xa], %[s2]\n\t" \
    "smmlar %[s3], %[s3], %[xb], %[s3]\n\t" \
    "add %[s0], %[s0], %[s0], asr #31\n\t" \
    "smmlar %[s4], %[s4], %[xa], %[s4]\n\t" \
    "add %[s1], %[s1], %[s1], asr #31\n\t" \
    "smmlar %[s5], %[s5], %[xb], %[s5]\n\t" \
    "asr %[s0], %[s0], %[t0]\n\t" \
    "add %[s2], %[s2], %[s2], asr #31\n\t" \
    "asr %[s1], %[s1], %[t1]\n\t" \
    "add %[s3], %[s3], %[s3], asr #31\n\t" \
    "add %[s0], %[s0], %[n]\n\t" \
    "asr %[s2], %[s2], %[t0]\n\t" \
    "add %[s1], %[s1], %[n]\n\t" \
    "asr %[s3], %[s3], %[t1]\n\t" \
    "ssat %[s0], #8, %[s0], asr #1\n\t" \
    "add %[s4], %[s4], %[s4], asr #31\n\t" \
    "ssat %[s1], #8, %[s1], asr #1\n\t" \
    "add %[s5], %[s5], %[s5], asr #31\n\t" \
    "add %[s2], %[s2], %[n]\n\t" \
    "ldr %[c], %[y0m]\n\t" \
    "add %[s3], %[s3], %[n]\n\t" \
    "bfi %[s0], %[s1], #8, #8\n\t" \
    "ssat %[s2], #8, %[s2], asr #1\n\t" \
    "asr %[s4], %[s4], %[t0]\n\t" \
    "ssat %[s3], #8, %[s3], asr #1\n\t" \
    "strh %[s0], [%[c]], #2\n\t" \
    "asr %[s5], %[s5], %[t1]\n\t" \
    "add %[s4], %[s4], %[n]\n\t" \
    "str %[c], %[y0m]\n\t" \
    "bfi %[s2], %[s3], #8, #8\n\t" \
    "ldr %[c], %[y1m]\n\t" \
    "add %[s5], %[s5], %[n]\n\t" \
    "ssat %[s4], #8, %[s4], asr #1\n\t" \
    "ldr %[r], %[y2m]\n\t" \
    "ssat %[s5], #8, %[s5], asr #1\n\t" \
    "strh %[s2], [%[c]], #2\n\t" \
    "bfi %[s4], %[s5], #8, #8\n\t" \
    "str %[c], %[y1m]\n\t" \
    "strh %[s4], [%[r]], #2\n\t" \
    "str %[r], %[y2m]\n\t"
/* The next pair, if any: the pairs left counted down in memory (MCU_DSP8_PAIR_NEXT_END: the record
 * pointer compared with its end instead, one operand fewer, for the kernels with the starts). */
#define MCU_DSP8_PAIR_NEXT \
    "ldr %[r], %[pairsm]\n\t" \
    "subs %[r], %[r], #1\n\t" \
    "str %[r], %[pairsm]\n\t" \
    "bne 6b\n\t"
#define MCU_DSP8_PAIR_NEXT_END \
    "ldr %[r], %[chm]\n\t" \
    "ldr %[c], %[chendm]\n\t" \
    "cmp %[r], %[c]\n\t" \
    "bne 6b\n\t"

#define MCU_DSP8_PAIRS_REGISTERS \
    [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), [s4] "=&r"(s4), [s5] "=&r"(s5), \
    [c] "=&r"(c), [w] "+r"(w), [n] "=&r"(n), [xa] "=&r"(xa), [xb] "=&r"(xb), [r] "=&r"(r), [t0] "=&r"(t0), \
    [t1] "=&r"(t1), [chm] "+m"(chm), [y0m] "+m"(y0), [y1m] "+m"(y1), [y2m] "+m"(y2)
#define MCU_DSP8_PAIRS_OPERANDS \
    : MCU_DSP8_PAIRS_REGISTERS, [pairsm] "+m"(pairs) \
    : [colsm] "m"(cols), [k4m] "m"(k4), [oddm] "m"(odd) \
    : "cc", "memory"
/* GCC takes at most 30 operands (an in-out one counting twice): with the starts, exactly that. */
#define MCU_DSP8_PAIRS_OPERANDS_STARTS \
    : MCU_DSP8_PAIRS_REGISTERS \
    : [chendm] "m"(chend), [colsm] "m"(cols), [k4m] "m"(k4), [oddm] "m"(odd), [st0m] "m"(start[0]), \
      [st1m] "m"(start[1]), [st2m] "m"(start[2]) \
    : "cc", "memory"

/* The pairs of MCU_DSP8_PAIR_START's comment: `pairs` >= 1 full pairs from record *ch and weights w,
 * with a weight zero point's starts where zero_point (a constant); returns w after them (*ch and y
 * advanced in place). */
static inline __attribute__((always_inline)) const int32_t *mcu_dsp8_pairs_compact(
    int dual, int zero_point, const int32_t *cols, int32_t k4, const int32_t *w, const int32_t **ch, int32_t odd,
    int32_t pairs, int8_t **y, const int32_t *start)
{
    const int32_t *chm = *ch, *chend = *ch + pairs * 2 * MCU_DSP8_RECORD2_WORDS, *c;
    int8_t *y0 = y[0], *y1 = y[1], *y2 = y[2];
    int32_t s0, s1, s2, s3, s4, s5, n, t0, t1;
    if (dual) {
        int32_t xa, xb, r;
        if (zero_point) {
            __asm__ volatile(MCU_DSP8_PAIR_START MCU_DSP8_PAIR_STARTS MCU_DSP8_LOOP_DUAL MCU_DSP8_PAIR_STAGE
                             MCU_DSP8_PAIR_NEXT_END MCU_DSP8_PAIRS_OPERANDS_STARTS);
        } else {
            __asm__ volatile(MCU_DSP8_PAIR_START MCU_DSP8_LOOP_DUAL MCU_DSP8_PAIR_STAGE MCU_DSP8_PAIR_NEXT
                             MCU_DSP8_PAIRS_OPERANDS);
        }
    } else {
        register int32_t xa __asm__("r8"), xb __asm__("r9"), r __asm__("r10");
        if (zero_point) {
            __asm__ volatile(MCU_DSP8_PAIR_START MCU_DSP8_PAIR_STARTS MCU_DSP8_LOOP_1X MCU_DSP8_PAIR_STAGE
                             MCU_DSP8_PAIR_NEXT_END MCU_DSP8_PAIRS_OPERANDS_STARTS);
        } else {
            __asm__ volatile(MCU_DSP8_PAIR_START MCU_DSP8_LOOP_1X MCU_DSP8_PAIR_STAGE MCU_DSP8_PAIR_NEXT
                             MCU_DSP8_PAIRS_OPERANDS);
        }
    }
    *ch = chm;
    y[0] = y0;
    y[1] = y1;
    y[2] = y2;
    return w;
}

/* The odd last channel of a layer with the compact records: its 3 accumulators in C (the pair's packed
 * words hold it in bytes 0 and 2, which SXTB16 widens), then the compact stage. Once per block of
 * pixels, so plain C: the dual/in-order loops above would double the kernel's code for it. */
static inline __attribute__((always_inline)) void mcu_dsp8_last_channel_compact(
    mcu_dsp_out o, const int32_t *cols, int32_t k4, const int32_t *w, const int32_t *ch, int32_t odd, int8_t **y,
    int32_t start0, int32_t start1, int32_t start2)
{
    const int32_t bias = ch[1] >> 8;
    int32_t s0 = bias + start0, s2 = bias + start1, s4 = bias + start2, i;
    for (i = 0; i < k4 >> 1; i++, cols += 3) {
        const int32_t wv = __sxtb16(w[i]);
        s0 = __smlad(cols[0], wv, s0);
        s2 = __smlad(cols[1], wv, s2);
        s4 = __smlad(cols[2], wv, s4);
    }
    mcu_dsp8_store3c(o, ch, odd, s0, s2, s4, y[0], y[1], y[2]);
}

/* A layer's clamp narrower than int8 on n bytes (the pair stage stores SSAT's int8; clamping after it
 * is the same as before the store). */
static inline __attribute__((always_inline)) void mcu_dsp8_clamp_bytes(int8_t *y, int32_t n, mcu_dsp_out o)
{
    int32_t i;
    for (i = 0; i < n; i++) {
        y[i] = mcu_dsp8_clamp(y[i], o);
    }
}

/* mcu_dsp8_matmul_3cols with the compact records (channels: 2 zp_out + 1, then MCU_DSP8_RECORD2_WORDS per
 * channel): the pairs in assembly, the odd last channel in C, and a layer's narrower clamp over the
 * three pixels' outputs afterwards. */
static inline __attribute__((always_inline)) void mcu_dsp8_matmul_compact(
    int dual, int zero_point, mcu_dsp_out o, const int32_t *cols, int32_t k4, int32_t out_c, const int32_t *w,
    const int32_t *channels, int8_t **y, int32_t start0, int32_t start1, int32_t start2)
{
    const int32_t odd = channels[0];
    const int32_t *ch = channels + 1;
    int8_t *const first[3] = {y[0], y[1], y[2]};
    if (out_c >= 2) {
        const int32_t start[3] = {start0, start1, start2};
        w = mcu_dsp8_pairs_compact(dual, zero_point, cols, k4, w, &ch, odd, out_c >> 1, y, start);
    }
    if (out_c & 1) {
        mcu_dsp8_last_channel_compact(o, cols, k4, w, ch, odd, y, start0, start1, start2);
    }
    if (o.narrow) {
        mcu_dsp8_clamp_bytes(first[0], out_c, o);
        mcu_dsp8_clamp_bytes(first[1], out_c, o);
        mcu_dsp8_clamp_bytes(first[2], out_c, o);
    }
}

/*
 * cols: MCU_DSP8_COLUMN_WORDS(k4) words: k-pair i of pixel p at word 3i + p (k4 >= 4, a multiple of
 * 4). weights: per pair of output channels, k4 / 2 words (k-pair i: c0 kA, c1 kA, c0 kB, c1 kB as
 * int8), and one word after the last pair that the loop reads but never uses. out0..out2: the three
 * output pixels (repeated pointers for a short last block store the same bytes twice). channels:
 * with compact 0, MCU_DSP8_RECORD_WORDS words per output channel; with compact 1, the layer's
 * 2 zp_out + 1 then MCU_DSP8_RECORD2_WORDS words per channel (see mcu_dsp8_store3c). start0..start2: added
 * to every accumulator of pixel 0..2 (a weight zero point's share, zero_point 1; 0 for the kernels
 * without one, which the compiler removes).
 */
static inline __attribute__((always_inline)) void mcu_dsp8_matmul_3cols(
    int dual, int compact, int zero_point, mcu_dsp_out o, const int32_t *cols, int32_t k4, int32_t out_c,
    const int32_t *weights, const int32_t *channels, int8_t *out0, int8_t *out1, int8_t *out2, int32_t start0, int32_t start1,
    int32_t start2)
{
    const int32_t *ch = channels;
    const int32_t *w = weights;
    int8_t *y[3] = {out0, out1, out2};
    int32_t oc;

    if (compact) {
        mcu_dsp8_matmul_compact(dual, zero_point, o, cols, k4, out_c, w, channels, y, start0, start1, start2);
        return;
    }
    for (oc = 0; oc < out_c; oc += 2) {
        const int32_t *c = cols;
        int32_t n = k4;
        const int32_t bias0 = ch[0];
        /* The odd last channel's partner has zero weights; its record is never read. */
        const int32_t bias1 = oc + 1 < out_c ? ch[MCU_DSP8_RECORD_WORDS] : 0;
        int32_t s0 = bias0, s1 = bias1, s2 = bias0, s3 = bias1, s4 = bias0, s5 = bias1;
        int32_t t0, t1;
        /* Turns of 8 k-pairs (k4 / 16); a remainder of 2, 4 or 6 k-pairs (k4 & 14 = twice it) enters the
         * first turn at step 6, 4 or 2 (MCU_DSP8_ENTER), the pointers moved back by the steps skipped. */
        if (dual) {
        int32_t xa, xb, r;
        __asm__ volatile(MCU_DSP8_LOOP_DUAL
                         : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [s4] "+r"(s4),
                           [s5] "+r"(s5), [c] "+r"(c), [w] "+r"(w), MCU_DSP8_N_OPERAND, [xa] "=&r"(xa),
                           [xb] "=&r"(xb), [r] "=&r"(r), [t0] "=&r"(t0), [t1] "=&r"(t1)
                         :
                         : "cc", "memory");
        } else {
        /* n = the turns, the partial one included: (k4 + 14) / 16; the pointers need no moving back
         * (post-incremented). xa, xb, r: LDM's registers, fixed in ascending order. */
        register int32_t xa __asm__("r8"), xb __asm__("r9"), r __asm__("r10");
        __asm__ volatile(MCU_DSP8_LOOP_1X
                         : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [s4] "+r"(s4),
                           [s5] "+r"(s5), [c] "+r"(c), [w] "+r"(w), MCU_DSP8_N_OPERAND, [xa] "=&r"(xa),
                           [xb] "=&r"(xb), [r] "=&r"(r), [t0] "=&r"(t0), [t1] "=&r"(t1)
                         :
                         : "cc", "memory");
        }
        /* The zero point's starts join after the loop, not before: as inputs of the loop's assembly, which
         * takes all 14 registers, they left GCC 12 no allocation in some kernels ("impossible
         * constraints" with -mfloat-abi=hard, or at -Os). The sums are the same modulo 2^32. */
        s0 += start0;
        s1 += start0;
        s2 += start1;
        s3 += start1;
        s4 += start2;
        s5 += start2;
        /* w now points at the next pair's weights (the dual-issue loop read their first word). The output
         * stage reads each record into registers once for its three pixels: an int8 store may alias
         * the records, so a record read between stores would be read again after each. */
        if (oc + 1 < out_c) {
            mcu_dsp8_store3x2(o, ch, s0, s1, s2, s3, s4, s5, y);
        } else {
            mcu_dsp8_store3(o, ch, s0, s2, s4, y[0], y[1], y[2]);
        }
        ch += 2 * MCU_DSP8_RECORD_WORDS;
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP8_MATMUL_H */
