/*
 * mcu_nn_dsp.h - Cortex-M DSP-extension (SMLAD/SXTB16) kernels: interface and the shared helpers.
 *
 * Wholly guarded by __ARM_FEATURE_DSP: on the host and on cores without the extension this header
 * declares nothing. The compiler (mcucompile/kernels/arm_dsp.py) lays out every constant the way
 * these kernels read it and checks, ahead of time, every condition written below.
 *
 * Per-channel record (mcu_dsp_channel, 5 int32 per output channel, the order the kernels load it):
 *   bias        bias[c] - input_zero_point * sum(w[c])      (the input offset folded in, int32 wrap)
 *   multiplier  the Q31 multiplier of mcu_requantize
 *   left        max(shift, 0) + 1
 *   round       1 << max(-shift, 0)
 *   right       max(-shift, 0) + 1
 * Folding the zero point: the reference sums (x - zp) * w over the taps inside the image; these
 * kernels sum x * w over all taps, reading zp for a tap in the padding, and start from the folded
 * bias. Both are the same integer modulo 2^32, hence the same int32.
 *
 * Requantization (mcu_dsp_requantize) is exact, equal to mcu_requantize, under the condition the
 * compiler checks per channel: |acc| * 2^left < 2^30 for every accumulator the layer can produce
 * (bounded by |bias| + 128 * sum|w[c]|) and right <= 29:
 *   SMMULR(acc * 2^left, m) = floor((acc * 2^(left-1) * m + 2^30) / 2^31), which is gemmlowp's
 *     SaturatingRoundingDoublingHighMul (it rounds half toward +infinity; no saturation case as m > 0);
 *   (2x + round - [x < 0]) >> right is RoundingDivideByPOT(x, right - 1) (ties away from zero),
 *     for right - 1 = 0 as well.
 */
#ifndef MCU_NN_DSP_H
#define MCU_NN_DSP_H

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <arm_acle.h>
#include <stdint.h>
#include <string.h>

#include "mcu_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Words per output channel in the channel records. */
#define MCU_DSP_CHANNEL_WORDS 5

/* What every DSP kernel needs besides its constants: window geometry and the output stage. */
typedef struct {
    int16_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left;
    int32_t input_zero_point;  /* the value a padded tap reads */
    int32_t output_offset;     /* output zero point */
    int32_t act_min, act_max;  /* int8 clamp */
} mcu_dsp_params;

/*
 * Pointwise 1x1 convolution (stride 1, unpadded), also the fully connected layer (h = w = 1).
 * weights: int32 words, each two int16 weights (low half first), in blocks per pair of output
 * channels: for k-pair i of K4 = in_c rounded up to 4: word (c0: k[2i], k[2i+1]), word (c1: same);
 * the k order within each group of 4 is (0, 2, 1, 3), the order SXTB16 widens a word in; the
 * in_c % 4 tail keeps its natural order; padding k and an odd last channel hold 0.
 * channels: out_c records. scratch: mcu_pwconv_s8_dsp_scratch_bytes() bytes, 4-byte aligned.
 */
void mcu_pwconv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                       const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
int32_t mcu_pwconv_s8_dsp_scratch_bytes(mcu_shape in_shape);

/*
 * Convolution (groups = 1), any kernel, as an im2col of two output pixels at a time: K =
 * kernel_h * kernel_w * in_c values in the natural order (ky, kx, ci), padded taps reading
 * input_zero_point, K rounded up to a multiple of 4 with zeros. weights: as for the pointwise
 * kernel but in natural k order. scratch: mcu_conv_s8_dsp_scratch_bytes() bytes, 4-byte aligned.
 */
void mcu_conv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                     const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
int32_t mcu_conv_s8_dsp_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape);

/*
 * Depthwise convolution, channel multiplier 1, any kernel. weights: for each group of 4
 * channels, for each tap (ky, kx): word (c0, c2), word (c1, c3) as int16 pairs; then for the
 * c % 4 tail channels, for each tail channel, for each tap: one word holding the int16 weight.
 * channels: c records. No scratch.
 */
void mcu_dwconv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                       const int32_t *weights, const int32_t *channels, int8_t *output);

/* The one SXTB16-with-rotate the kernels need: bytes 1 and 3 of x, sign-extended to int16 each. */
static inline int32_t mcu_dsp_sxtb16_ror8(int32_t x)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}

/* round(a * b / 2^32), half toward +infinity: SMMULR (not in arm_acle.h). */
static inline int32_t mcu_dsp_smmulr(int32_t a, int32_t b)
{
    int32_t r;
    __asm__("smmulr %0, %1, %2" : "=r"(r) : "r"(a), "r"(b));
    return r;
}

/* Four int8 at any address as one word (an unaligned LDR, which ARMv7-M and ARMv8-M allow). */
static inline int32_t mcu_dsp_load4(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The output stage: see the top of this file for why it equals mcu_requantize_s8. */
static inline int8_t mcu_dsp_requantize(int32_t acc, const int32_t *ch, const mcu_dsp_params *p)
{
    const int32_t x = mcu_dsp_smmulr((int32_t)((uint32_t)acc << ch[2]), ch[1]);
    int32_t v = (ch[3] + x * 2 + (x >> 31)) >> ch[4];
    v += p->output_offset;
    if (v < p->act_min) {
        v = p->act_min;
    }
    if (v > p->act_max) {
        v = p->act_max;
    }
    return (int8_t)v;
}

#ifdef __cplusplus
}
#endif

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_NN_DSP_H */
