/*
 * mcu_dsp_matmul.h - the inner product shared by the DSP pointwise, convolution and fully connected
 * kernels: two widened input columns times every output channel, requantized and stored.
 * Private to runtime_c/arm_dsp. Layouts: see mcu_nn_dsp.h (mcu_pwconv_s8_dsp).
 */
#ifndef MCU_DSP_MATMUL_H
#define MCU_DSP_MATMUL_H

#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/*
 * One k-pair step of the 2 pixels x 2 channels block: the two pixels' words of a k-pair sit side by
 * side in the columns and the two channels' words side by side in the weights, so one LDRD each
 * feeds four SMLAD (6 instructions per 8 MACs). GCC 12 neither fuses these loads into LDRD nor
 * uses post-increment addressing here, hence assembly.
 */
#define MCU_DSP_MATMUL_STEP \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t" \
    "ldrd %[w0], %[w1], [%[w]], #8\n\t" \
    "smlad %[a0], %[xa], %[w0], %[a0]\n\t" \
    "smlad %[a1], %[xa], %[w1], %[a1]\n\t" \
    "smlad %[b0], %[xb], %[w0], %[b0]\n\t" \
    "smlad %[b1], %[xb], %[w1], %[b1]\n\t"

#define MCU_DSP_MATMUL_OPERANDS \
    [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [x] "+r"(x), [w] "+r"(weights), \
    [xa] "=&r"(xa), [xb] "=&r"(xb), [w0] "=&r"(w0), [w1] "=&r"(w1)

/*
 * The output stage of a 2 pixels x 2 channels block: accumulators
 * a0, b0 (channel oc, record ch) and a1, b1 (channel oc + 1, record ch + words, skipped past out_c)
 * of pixels out_a, out_b, through `requantize` (mcu_dsp_requantize). A macro over the caller's
 * variables: written as a forced-inline function, GCC 12 allocated the registers differently.
 */
#define MCU_DSP_STORE_BLOCK(requantize, words) \
    do { \
        out_a[oc] = requantize(a0, ch, o); \
        out_b[oc] = requantize(b0, ch, o); \
        if (oc + 1 < out_c) { \
            out_a[oc + 1] = requantize(a1, ch + (words), o); \
            out_b[oc + 1] = requantize(b1, ch + (words), o); \
        } \
    } while (0)

/*
 * cols: k4 words (k4 a multiple of 4, >= 4): k-pair i of pixel a at word 2i, of pixel b at 2i + 1,
 * in the weights' k order. out_a, out_b: the two output pixels, out_c bytes each (out_b == out_a
 * computes one pixel twice and stores it twice, which the odd last pixel uses).
 * Register blocking: 2 pixels x 2 channels, 4 accumulators; the loop takes 4 k-pairs per turn
 * (26 instructions per 32 MACs), a k4 % 8 rest takes 2 more.
 */
static inline __attribute__((always_inline)) void mcu_dsp_matmul_2cols(mcu_dsp_out o, const int32_t *cols, int32_t k4,
                                                                       int32_t out_c, const int32_t *weights,
                                                                       const int32_t *channels, int8_t *out_a,
                                                                       int8_t *out_b)
{
    const int32_t *ch = channels;
    int32_t oc;

    for (oc = 0; oc < out_c; oc += 2) {
        const int32_t *x = cols;
        int32_t steps = k4 >> 3;
        int32_t a0 = ch[0], b0 = a0;
        /* The odd last channel's partner has zero weights; its record is never read. */
        int32_t a1 = oc + 1 < out_c ? ch[MCU_DSP_CHANNEL_WORDS] : 0, b1 = a1;
        int32_t xa, xb, w0, w1;
        if (steps) {
            __asm__ volatile("1:\n\t" MCU_DSP_MATMUL_STEP MCU_DSP_MATMUL_STEP MCU_DSP_MATMUL_STEP
                                 MCU_DSP_MATMUL_STEP "subs %[n], %[n], #1\n\t"
                                                     "bne 1b\n\t"
                             : MCU_DSP_MATMUL_OPERANDS, [n] "+r"(steps)
                             :
                             : "cc", "memory");
        }
        if (k4 & 4) {
            __asm__ volatile(MCU_DSP_MATMUL_STEP MCU_DSP_MATMUL_STEP : MCU_DSP_MATMUL_OPERANDS : : "memory");
        }
        MCU_DSP_STORE_BLOCK(mcu_dsp_requantize, MCU_DSP_CHANNEL_WORDS);
        ch += 2 * MCU_DSP_CHANNEL_WORDS;
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP_MATMUL_H */
