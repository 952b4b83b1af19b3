/*
 * mcu_nn_dsp.h - Cortex-M DSP-extension (SMLAD/SXTB16) kernels: interface and the shared helpers.
 *
 * Wholly guarded by __ARM_FEATURE_DSP: on the host and on cores without the extension this header
 * declares nothing. The compiler (mcucompile/kernels/arm_dsp.py) lays out every constant the way
 * these kernels read it and checks, ahead of time, every condition written below.
 *
 * Scaled weights: every weight and the bias of output channel c are stored times 2^left[c],
 * left = max(shift, 0) + 1, so the kernels accumulate A = acc * 2^left, acc being the reference's
 * accumulator (the compiler checks the scaled weights still fit int16).
 *
 * Per-channel record (mcu_dsp_channel, 4 int32 per output channel, the order the kernels load it):
 *   bias        (bias[c] - input_zero_point * sum(w[c])) * 2^left   (the input offset folded in)
 *   multiplier  the Q31 multiplier of mcu_requantize
 *   rounding    2^right + output_zero_point * 2^(right + 1),  right = max(-shift, 0)
 *   shift       right + 1
 * Folding the input zero point: the reference sums (x - zp) * w over the taps inside the image;
 * these kernels sum x * w over all taps, reading zp for a tap in the padding, and start from the
 * folded bias. Both are the same integer modulo 2^32, hence the same int32.
 *
 * Requantization (mcu_dsp_requantize) equals mcu_requantize_s8, under the conditions the compiler
 * checks per channel: |acc| * 2^left < 2^30 for every accumulator the layer can produce (bounded by
 * |folded bias| + 128 * sum|w[c]|) and right <= 20. Then, with s = left - 1 and r = right:
 *   x = SMMULR(A, m) = floor((acc * 2^s * m + 2^30) / 2^31), which is gemmlowp's
 *     SaturatingRoundingDoublingHighMul of acc * 2^s (ties toward +infinity; no wrap as |A| < 2^30,
 *     no saturation case as m >= 0), and |x| <= 2^29;
 *   floor((2x + 2^r - [x < 0]) / 2^(r+1)) is RoundingDivideByPOT(x, r) (ties away from zero), r = 0
 *     included; adding zp_out * 2^(r+1) inside the floor adds zp_out outside it. The sum stays
 *     within int32: 2^30 + 2^(r+9) < 2^31;
 *   SSAT #8 then clamps to [-128, 127]: the reference's clamp to [-256, 255] before adding zp_out
 *     changes nothing that a clamp into int8 keeps. A layer whose activation range is narrower
 *     clamps again to [act_min, act_max] (the kernels take that path only for such layers).
 *
 * Weights with a per-tensor zero point zw (legacy uint8 models: products x * (w - zw), w - zw in
 * [-255, 255]): the int16-weight kernels take them unchanged, their weights stored as
 * (w - zw) * 2^left; the int8-weight family has twins (mcu_pwconv_s8_wzp_dsp8, mcu_conv_s8_wzp_dsp8)
 * that add filter_offset * sum(x) to each accumulator. Either way "w" above reads w - zw: the folded
 * bias is bias - input_zero_point * sum(w - zw) and the compiler's bound is |folded bias| +
 * 128 * sum|w - zw|.
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
#define MCU_DSP_CHANNEL_WORDS 4

/* What every DSP kernel needs besides its constants: window geometry and the activation clamp
 * (the output zero point is in the channel records). */
typedef struct {
    int16_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left;
    int32_t input_zero_point;  /* the value a padded tap reads */
    int32_t act_min, act_max;  /* int8 clamp */
} mcu_dsp_params;

/*
 * Pointwise 1x1 convolution (stride 1, unpadded), also the fully connected layer (h = w = 1).
 * weights: int32 words, each two scaled int16 weights (low half first), in blocks per pair of output
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
 * Depthwise convolution, channel multiplier 1, any kernel. weights (scaled): for each group of 4
 * channels, for each tap (ky, kx): word (c0, c2), word (c1, c3) as int16 pairs; then for the
 * c % 4 tail channels, for each tail channel, for each tap: one word holding the weight.
 * channels: c records. scratch: mcu_dwconv_s8_dsp_scratch_bytes() bytes, 4-byte aligned (one
 * pixel of input zero points, which the padded taps of the unrolled 3x3 path read).
 */
void mcu_dwconv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                       const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
int32_t mcu_dwconv_s8_dsp_scratch_bytes(mcu_shape in_shape);

/*
 * Depthwise convolution 3x3, channel multiplier 1, stride_w 1 or 2 (stride_h any), int8 weights,
 * no weight zero point. weights: the int8 filter [3][3][c] as it is, in int32 words (the last padded).
 * channels: a header word, (uint8_t)output_zero_point | MCU_DWCONV3X3_WIDE where the records are wide,
 * then per channel, with bias = bias - input_zero_point * sum(w) (unscaled), under the conditions of the
 * records above and right >= 1, either
 *   compact (8 bytes): multiplier, bias << 8 | (left - 1) << 5 | right, where -2^23 <= bias < 2^23,
 *     right < 32 and 1 <= left <= 8 (the compiler picks it for a layer whose channels all fit), or
 *   wide (12 bytes): bias, multiplier, right | left << 8.
 * scratch: mcu_dwconv3x3_s8_dsp8_scratch_bytes() bytes, 4-byte aligned
 * (a ring of 3 input rows widened to int16 pairs per channel, one row of int32 sums, the weights and
 * bias scaled by 2^left with the output stage's constants, one padded input row).
 * output may equal input (in place) where the compiler has checked the rows allow it (see the kernel).
 */
#define MCU_DWCONV3X3_WIDE 0x100
void mcu_dwconv3x3_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
/* Its twin with the loops ordered for single-issue cores (Cortex-M4, M33): same arguments and results. */
void mcu_dwconv3x3_s8_dsp8_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input,
                              mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                              int32_t *scratch);
int32_t mcu_dwconv3x3_s8_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape, mcu_shape out_shape);

/*
 * The int8-weight pointwise / fully connected and convolution kernels (the "arm-dsp" family's default:
 * int8 weights in flash, widened in registers; the int16-weight kernels above remain as
 * "arm-dsp-int16"). Same parameters as mcu_pwconv_s8_dsp / mcu_conv_s8_dsp, but:
 * weights: int32 words of 4 int8 (unscaled) weights, in blocks per pair of output channels: for each
 *   k-pair (kA, kB) of the widened columns (per group g of 4 k, natural order, K padded with zeros to
 *   K4 = a multiple of 4: (4g, 4g + 2), then (4g + 1, 4g + 3), the pairs SXTB16 and SXTB16 ROR 8 make
 *   of the group's 4 input bytes) the bytes (c0 kA, c1 kA, c0 kB, c1 kB), so that SXTB16 of the word
 *   is channel c0's pair and SXTB16 ROR 8 channel c1's. Padding k and an odd last channel hold 0; one
 *   more word (0) ends the array (the loop reads one word ahead). For the convolution k is the
 *   window's natural (ky, kx, ci) order, padded taps reading input_zero_point.
 * channels: one word 2 * output_zero_point + 1, then MCU_DSP8_RECORD2_WORDS words per output channel:
 *   {2 * multiplier - 2^32 (as int32), (bias - input_zero_point * sum(w)) << 8 | (right - 1)}, for a
 *   layer whose channels all have left = 1, right >= 1, multiplier >= 2^30 and a bias within 24 bits
 *   (see mcu_dsp8_matmul.h). The `_rec3` twins of each kernel take the general form instead:
 *   MCU_DSP8_RECORD_WORDS words per output channel: {bias - input_zero_point * sum(w)
 *   (unscaled), multiplier, right + 1 | left << 8 | (2 * output_zero_point + 1) << 16}: the kernels
 *   shift the accumulator left by `left` before the output stage, where the int16 kernels have the
 *   2^left in their weights, and rebuild the rounding constant 2^right + zp_out * 2^(right + 1) =
 *   (2 zp_out + 1) * 2^right; the compiler checks the same |acc| * 2^left < 2^30, so the shift is exact
 *   and the proof above holds.
 * scratch: the *_scratch_bytes() of each, 4-byte aligned (three pixels' widened columns; for the
 *   convolution also one window's bytes).
 */
#define MCU_DSP8_RECORD_WORDS 3
#define MCU_DSP8_RECORD2_WORDS 2

/* The five-word records of the int8-weight depthwise kernel (mcu_dwconv3x3_s8_dsp8): {bias (unscaled),
 * multiplier, rounding, right + 1, left}. */
#define MCU_DSP8_CHANNEL_WORDS 5

void mcu_pwconv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
int32_t mcu_pwconv_s8_dsp8_scratch_bytes(mcu_shape in_shape);
void mcu_conv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                      const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
int32_t mcu_conv_s8_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape);

/* The same kernels with the inner loop ordered for cores that issue one instruction per cycle
 * (Cortex-M4, M33; the ones above are ordered for the dual-issue Cortex-M7): same arguments, same
 * results, scratch as their twins'. Each of the four int8-weight kernels here has one. */
void mcu_pwconv_s8_dsp8_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_conv_s8_dsp8_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                         const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);

/*
 * The int8-weight twins for weights with a per-tensor zero point zw: as mcu_pwconv_s8_dsp8 /
 * mcu_conv_s8_dsp8 (weights, scratch and columns alike; the records' bias is
 * bias - input_zero_point * sum(w - zw)), and filter_offset = -zw in [-127, 128]: each accumulator
 * starts from filter_offset times the sum of its window's inputs, padded taps counted as
 * input_zero_point. Reductions up to 33025 taps.
 */
void mcu_pwconv_s8_wzp_dsp8(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                            mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                            int32_t *scratch);
int32_t mcu_pwconv_s8_wzp_dsp8_scratch_bytes(mcu_shape in_shape);
void mcu_conv_s8_wzp_dsp8(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                          mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                          int32_t *scratch);
int32_t mcu_conv_s8_wzp_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape);
void mcu_pwconv_s8_wzp_dsp8_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                               const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                               const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_conv_s8_wzp_dsp8_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape, const int8_t *input,
                             mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                             int32_t *scratch);

/* Every int8-weight kernel above again for the 3-word channel records (MCU_DSP8_RECORD_WORDS per
 * channel, no leading word): same arguments otherwise, same results. */
void mcu_pwconv_s8_dsp8_rec3(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                             const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_pwconv_s8_dsp8_rec3_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input,
                                mcu_shape out_shape, const int32_t *weights, const int32_t *channels, int8_t *output,
                                int32_t *scratch);
void mcu_conv_s8_dsp8_rec3(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_conv_s8_dsp8_rec3_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                              const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_pwconv_s8_wzp_dsp8_rec3(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                                 const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                 const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_pwconv_s8_wzp_dsp8_rec3_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                                    const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                    const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_conv_s8_wzp_dsp8_rec3(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                               const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                               const int32_t *channels, int8_t *output, int32_t *scratch);
void mcu_conv_s8_wzp_dsp8_rec3_1x(const mcu_dsp_params *p, int32_t filter_offset, mcu_shape in_shape,
                                  const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                  const int32_t *channels, int8_t *output, int32_t *scratch);

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

/* The activation clamp, copied out of mcu_dsp_params so that it stays in registers (an int8 store
 * may alias the params struct, so reading it through the pointer reloads it). narrow: the range is
 * smaller than int8, so the output stage clamps again after SSAT. The kernels branch on narrow once
 * per call, into bodies inlined with it as a constant. */
typedef struct {
    int32_t min, max;
    int narrow;
} mcu_dsp_out;

static inline mcu_dsp_out mcu_dsp_out_of(const mcu_dsp_params *p)
{
    mcu_dsp_out o;
    o.min = p->act_min;
    o.max = p->act_max;
    o.narrow = p->act_min > -128 || p->act_max < 127;
    return o;
}

/*
 * The body of a public kernel: `call` (a driver taking `o`) written out twice, the clamp's presence
 * o.narrow a constant in each (see mcu_dsp_out). A macro, not one more forced-inline function: a
 * second level of inlining around a driver changes GCC 12's register allocation of the whole
 * kernel (cortex-m7: 12 more bytes in mcu_conv_s8_dsp, different instructions).
 */
#define MCU_DSP_CLAMP_BODIES(o, call) \
    do { \
        if ((o).narrow) { \
            (o).narrow = 1; \
            call; \
        } else { \
            (o).narrow = 0; \
            call; \
        } \
    } while (0)

/* Average pooling, the numbers of mcu_avgpool_s8_ref (ties away from zero), for windows of at most 255
 * elements (the compiler checks): see runtime_c/arm_dsp/mcu_avgpool_s8_dsp.c. */
void mcu_avgpool_s8_dsp(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        int8_t *output);

/* The output stage, scaled accumulator -> int8: see the top of this file for why it equals
 * mcu_requantize_s8. Five instructions (SMMULR, ADD, ADD, ASR, SSAT) when o.narrow is 0. */
static inline __attribute__((always_inline)) int8_t mcu_dsp_requantize(int32_t acc, const int32_t *ch, mcu_dsp_out o)
{
    const int32_t x = mcu_dsp_smmulr(acc, ch[1]);
    int32_t v = __ssat((ch[2] + x * 2 + (x >> 31)) >> ch[3], 8);
    if (o.narrow) {
        v = v < o.min ? o.min : v;
        v = v > o.max ? o.max : v;
    }
    return (int8_t)v;
}

#ifdef __cplusplus
}
#endif

#endif /* __ARM_FEATURE_DSP */

#endif /* MCU_NN_DSP_H */
