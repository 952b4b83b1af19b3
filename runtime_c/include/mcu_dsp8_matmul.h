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
 * Per k-pair that is 6 SMLAD against 4 loads and 2 SXTB16, and the order below puts each of those 6
 * in the first issue slot beside an SMLAD (Cortex-M7: SMLAD takes the second slot, SXTB16 only the
 * first), so the loop issues one SMLAD per cycle (llvm-mca -mcpu=cortex-m7: 13 cycles per 24 MACs).
 */
#ifndef MCU_DSP8_MATMUL_H
#define MCU_DSP8_MATMUL_H

#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/*
 * One channel's three accumulators through the output stage and stored. The record (see mcu_nn_dsp.h,
 * MCU_DSP8_RECORD_WORDS) is read into registers before the first store, since an int8 store may
 * alias it. The accumulator is not scaled (the weights are not), so it is shifted left by `left`
 * first: the compiler checked |acc| * 2^left < 2^30, so the shift is exact and the sequence of
 * mcu_dsp_requantize (the proof at the top of mcu_nn_dsp.h) sees what it would with scaled weights.
 * The rounding constant 2^right + zp_out * 2^(right + 1) = (2 zp_out + 1) * 2^right is rebuilt from
 * the packed word: one multiply per channel, for 8 bytes less per channel in flash.
 */
static inline __attribute__((always_inline)) void mcu_dsp8_store3(mcu_dsp_out o, const int32_t *ch, int32_t a0,
                                                                   int32_t a1, int32_t a2, int8_t *y0, int8_t *y1,
                                                                   int8_t *y2)
{
    const int32_t packed = ch[2];
    const int32_t shift = packed & 0xFF, left = (packed >> 8) & 0xFF;
    const int32_t rec[4] = {0, ch[1], (packed >> 16) * (int32_t)(1u << (shift - 1)), shift};
    const int8_t v0 = mcu_dsp_requantize((int32_t)((uint32_t)a0 << left), rec, o);
    const int8_t v1 = mcu_dsp_requantize((int32_t)((uint32_t)a1 << left), rec, o);
    const int8_t v2 = mcu_dsp_requantize((int32_t)((uint32_t)a2 << left), rec, o);
    *y0 = v0;
    *y1 = v1;
    *y2 = v2;
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
 * (the M4's TRM: LDR 2 cycles, 1 when it follows another load, LDRD 3), so there each k-pair loads its
 * weight word and its three pixel words back to back (LDR, LDRD, LDR: pipelined), widens, then runs
 * its 6 SMLAD: 11 instructions per 12 MACs. Both orders give the same sums.
 */
/* One k-pair in the in-order order: weight word at byte offset woff of w, pixels at off, off + 4,
 * off + 8 of c (pixel 2 in register r). */
#define MCU_DSP8_STEP_INORDER(off, woff) \
    "ldr %[t1], [%[w], #" #woff "]\n\t" \
    "ldrd %[xa], %[xb], [%[c], #" #off "]\n\t" \
    "ldr %[r], [%[c], #" #off " + 8]\n\t" \
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
#define MCU_DSP8_N_SPLIT "lsrs %[n], %[n], #3\n\t"
#define MCU_DSP8_N_ZERO "cmp %[n], #0\n\t"
#define MCU_DSP8_N_DEC "subs %[n], %[n], #1\n\t"

/*
 * cols: MCU_DSP8_COLUMN_WORDS(k4) words: k-pair i of pixel p at word 3i + p (k4 >= 4, a multiple of
 * 4). weights: per pair of output channels, k4 / 2 words (k-pair i: c0 kA, c1 kA, c0 kB, c1 kB as
 * int8), and one word after the last pair that the loop reads but never uses. out0..out2: the three
 * output pixels (repeated pointers for a short last block store the same bytes twice). channels:
 * MCU_DSP8_RECORD_WORDS words per output channel. start0..start2: added to every accumulator of pixel
 * 0..2 (a weight zero point's share; 0 for the kernels without one, which the compiler removes).
 */
static inline __attribute__((always_inline)) void mcu_dsp8_matmul_3cols(
    int dual, mcu_dsp_out o, const int32_t *cols, int32_t k4, int32_t out_c, const int32_t *weights,
    const int32_t *channels, int8_t *out0, int8_t *out1, int8_t *out2, int32_t start0, int32_t start1,
    int32_t start2)
{
    const int32_t *ch = channels;
    const int32_t *w = weights;
    int32_t oc;

    for (oc = 0; oc < out_c; oc += 2) {
        const int32_t *c = cols;
        int32_t n = k4;
        const int32_t bias0 = ch[0];
        /* The odd last channel's partner has zero weights; its record is never read. */
        const int32_t bias1 = oc + 1 < out_c ? ch[MCU_DSP8_RECORD_WORDS] : 0;
        int32_t s0 = bias0 + start0, s1 = bias1 + start0, s2 = bias0 + start1, s3 = bias1 + start1;
        int32_t s4 = bias0 + start2, s5 = bias1 + start2;
        int32_t xa, xb, r, t0, t1;
        /* n = k4 / 8 turns of 4 k-pairs; a k4 % 8 of 4 (carry after LSRS) runs 2 k-pairs first. */
        if (dual) {
        __asm__ volatile(MCU_DSP8_N_SPLIT
                         "ldr %[r], [%[w]]\n\t"
                         "ldr %[xa], [%[c]]\n\t"
                         "ldr %[xb], [%[c], #4]\n\t"
                         "sxtb16 %[t0], %[r]\n\t"
                         "sxtb16 %[t1], %[r], ror #8\n\t"
                         "bcc 1f\n\t" MCU_DSP8_STEP("%[xa]", "%[xb]", -4, 8, 12, "add %[w], %[w], #8\n\t")
                             MCU_DSP8_STEP("%[xb]", "%[xa]", 0, -4, 0, "add %[c], %[c], #24\n\t")
                         MCU_DSP8_N_ZERO
                         "beq 2f\n\t"
                         "1:\n\t" MCU_DSP8_STEP("%[xa]", "%[xb]", 4, 8, 12, MCU_DSP8_N_DEC)
                             MCU_DSP8_STEP("%[xb]", "%[xa]", 8, 20, 24, "")
                             MCU_DSP8_STEP("%[xa]", "%[xb]", -4, 32, 36, "add %[w], %[w], #16\n\t")
                             MCU_DSP8_STEP("%[xb]", "%[xa]", 0, -4, 0, "add %[c], %[c], #48\n\t")
                         "bne 1b\n\t"
                         "2:\n\t"
                         : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [s4] "+r"(s4),
                           [s5] "+r"(s5), [c] "+r"(c), [w] "+r"(w), MCU_DSP8_N_OPERAND, [xa] "=&r"(xa),
                           [xb] "=&r"(xb), [r] "=&r"(r), [t0] "=&r"(t0), [t1] "=&r"(t1)
                         :
                         : "cc", "memory");
        } else {
        __asm__ volatile(MCU_DSP8_N_SPLIT
                         "bcc 1f\n\t" MCU_DSP8_STEP_INORDER(0, 0) MCU_DSP8_STEP_INORDER(12, 4)
                         "add %[c], %[c], #24\n\t"
                         "add %[w], %[w], #8\n\t"
                         MCU_DSP8_N_ZERO
                         "beq 2f\n\t"
                         "1:\n\t" MCU_DSP8_STEP_INORDER(0, 0) MCU_DSP8_STEP_INORDER(12, 4)
                             MCU_DSP8_STEP_INORDER(24, 8) MCU_DSP8_STEP_INORDER(36, 12)
                         "add %[c], %[c], #48\n\t"
                         "add %[w], %[w], #16\n\t"
                         MCU_DSP8_N_DEC
                         "bne 1b\n\t"
                         "2:\n\t"
                         : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), [s4] "+r"(s4),
                           [s5] "+r"(s5), [c] "+r"(c), [w] "+r"(w), MCU_DSP8_N_OPERAND, [xa] "=&r"(xa),
                           [xb] "=&r"(xb), [r] "=&r"(r), [t0] "=&r"(t0), [t1] "=&r"(t1)
                         :
                         : "cc", "memory");
        }
        /* w now points at the next pair's weights (the dual-issue loop read their first word). The output
         * stage reads each record into registers once for its three pixels: an int8 store may alias
         * the records, so a record read between stores would be read again after each. */
        mcu_dsp8_store3(o, ch, s0, s2, s4, out0 + oc, out1 + oc, out2 + oc);
        if (oc + 1 < out_c) {
            mcu_dsp8_store3(o, ch + MCU_DSP8_RECORD_WORDS, s1, s3, s5, out0 + oc + 1, out1 + oc + 1, out2 + oc + 1);
        }
        ch += 2 * MCU_DSP8_RECORD_WORDS;
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP8_MATMUL_H */
