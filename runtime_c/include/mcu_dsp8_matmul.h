/*
 * mcu_dsp8_matmul.h - the inner product of the int8-weight DSP kernels (mcu_pwconv_s8_dsp8,
 * mcu_conv_s8_dsp8): two widened input columns times every output channel, the weights widened in
 * the loop. Private to runtime_c/arm_dsp. Layouts: see mcu_nn_dsp.h (mcu_pwconv_s8_dsp8).
 */
#ifndef MCU_DSP8_MATMUL_H
#define MCU_DSP8_MATMUL_H

#include "mcu_dsp_matmul.h"
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/* The output stage of the int8-weight kernels: the accumulator is not scaled (the weights are not),
 * so it is shifted left by the record's fifth word first; the compiler checked |acc| * 2^left < 2^30,
 * so the shift is exact and mcu_dsp_requantize then sees what the int16-weight kernels accumulate. */
static inline __attribute__((always_inline)) int8_t mcu_dsp8_requantize(int32_t acc, const int32_t *ch,
                                                                         mcu_dsp_out o)
{
    return mcu_dsp_requantize((int32_t)((uint32_t)acc << ch[4]), ch, o);
}

/*
 * One group of 4 k: the two channels' weight words (4 int8 each) come in one LDRD and are widened
 * by SXTB16 (bytes 0, 2) and SXTB16 ROR 8 (bytes 1, 3) into the same pairs the columns hold, one
 * widened word at a time (12 registers: GCC must still find room around the asm); two LDRD fetch the
 * columns' 4 words. 15 instructions per 16 MACs (the int16-weight step: 12).
 */
#define MCU_DSP8_MATMUL_STEP \
    "ldrd %[w0], %[w1], [%[w]], #8\n\t" \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t" \
    "sxtb16 %[t], %[w0]\n\t" \
    "smlad %[a0], %[xa], %[t], %[a0]\n\t" \
    "smlad %[b0], %[xb], %[t], %[b0]\n\t" \
    "sxtb16 %[t], %[w1]\n\t" \
    "smlad %[a1], %[xa], %[t], %[a1]\n\t" \
    "smlad %[b1], %[xb], %[t], %[b1]\n\t" \
    "ldrd %[xa], %[xb], [%[x]], #8\n\t" \
    "sxtb16 %[t], %[w0], ror #8\n\t" \
    "smlad %[a0], %[xa], %[t], %[a0]\n\t" \
    "smlad %[b0], %[xb], %[t], %[b0]\n\t" \
    "sxtb16 %[t], %[w1], ror #8\n\t" \
    "smlad %[a1], %[xa], %[t], %[a1]\n\t" \
    "smlad %[b1], %[xb], %[t], %[b1]\n\t"

#define MCU_DSP8_MATMUL_OPERANDS \
    [a0] "+r"(a0), [a1] "+r"(a1), [b0] "+r"(b0), [b1] "+r"(b1), [x] "+r"(x), [w] "+r"(weights), \
    [xa] "=&r"(xa), [xb] "=&r"(xb), [w0] "=&r"(w0), [w1] "=&r"(w1), [t] "=&r"(t)

/*
 * cols: k4 words (k4 a multiple of 4, >= 4), laid out as for mcu_dsp_matmul_2cols. weights: per pair
 * of output channels, per group of 4 k: word c0, word c1 (4 int8 each, see mcu_nn_dsp.h). out_a,
 * out_b: the two output pixels (out_b == out_a for the odd last pixel). Channel records are
 * MCU_DSP8_CHANNEL_WORDS long. start_a, start_b: added to every accumulator of pixel a, b (a weight
 * zero point's share; 0 for the kernels without one). The loop takes 8 k per turn (32 instructions
 * per 32 MACs), a k4 % 8 rest 4 more.
 */
static inline __attribute__((always_inline)) void mcu_dsp8_matmul_2cols(mcu_dsp_out o, const int32_t *cols,
                                                                        int32_t k4, int32_t out_c,
                                                                        const int32_t *weights,
                                                                        const int32_t *channels, int8_t *out_a,
                                                                        int8_t *out_b, int32_t start_a,
                                                                        int32_t start_b)
{
    const int32_t *ch = channels;
    int32_t oc;

    for (oc = 0; oc < out_c; oc += 2) {
        const int32_t *x = cols;
        int32_t steps = k4 >> 3;
        int32_t a0 = ch[0] + start_a, b0 = ch[0] + start_b;
        /* The odd last channel's partner has zero weights; its record is never read. */
        const int32_t bias1 = oc + 1 < out_c ? ch[MCU_DSP8_CHANNEL_WORDS] : 0;
        int32_t a1 = bias1 + start_a, b1 = bias1 + start_b;
        int32_t xa, xb, w0, w1, t;
        if (steps) {
            __asm__ volatile("1:\n\t" MCU_DSP8_MATMUL_STEP MCU_DSP8_MATMUL_STEP "subs %[n], %[n], #1\n\t"
                                                                                "bne 1b\n\t"
                             : MCU_DSP8_MATMUL_OPERANDS, [n] "+r"(steps)
                             :
                             : "cc", "memory");
        }
        if (k4 & 4) {
            __asm__ volatile(MCU_DSP8_MATMUL_STEP : MCU_DSP8_MATMUL_OPERANDS : : "memory");
        }
        MCU_DSP_STORE_BLOCK(mcu_dsp8_requantize, MCU_DSP8_CHANNEL_WORDS);
        ch += 2 * MCU_DSP8_CHANNEL_WORDS;
    }
}

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_DSP8_MATMUL_H */
