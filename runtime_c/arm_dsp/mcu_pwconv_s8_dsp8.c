/*
 * mcu_pwconv_s8_dsp8 - int8 pointwise (1x1) convolution and fully connected layer with SMLAD,
 * reading int8 weights (half the flash of mcu_pwconv_s8_dsp).
 *
 * Two pixels at a time are widened once into scratch exactly as mcu_pwconv_s8_dsp does (int16
 * pairs, groups of 4 channels in the order 0, 2, 1, 3 that SXTB16 gives); the weights are widened in
 * the loop, the compiler having placed each word's bytes so that SXTB16 / SXTB16 ROR 8 give the
 * same pairs. The accumulator is unscaled and takes the record's left shift before requantizing.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp8_matmul.h"

int32_t mcu_pwconv_s8_dsp8_scratch_bytes(mcu_shape in_shape)
{
    return 2 * ((in_shape.c + 3) & ~3) * (int32_t)sizeof(int16_t);
}

/* The in_c % 4 tail of one pixel as its two k-pair words (natural order, zero padded). */
static inline void widen_tail(const int8_t *x, int32_t rest, int32_t *lo, int32_t *hi)
{
    const uint32_t x0 = (uint16_t)x[0];
    const uint32_t x1 = rest > 1 ? (uint32_t)(uint16_t)x[1] << 16 : 0;
    *lo = (int32_t)(x0 | x1);
    *hi = rest > 2 ? (uint16_t)x[2] : 0;
}

/* Pixels a and b as interleaved int16 pairs, padded to a multiple of 4 (see mcu_dsp_matmul_2cols). */
static void widen_pixels(const int8_t *xa, const int8_t *xb, int32_t in_c, int32_t *col)
{
    int32_t i;
    for (i = in_c >> 2; i > 0; i--) {
        const int32_t va = mcu_dsp_load4(xa), vb = mcu_dsp_load4(xb);
        col[0] = __sxtb16(va);
        col[1] = __sxtb16(vb);
        col[2] = mcu_dsp_sxtb16_ror8(va);
        col[3] = mcu_dsp_sxtb16_ror8(vb);
        col += 4;
        xa += 4;
        xb += 4;
    }
    if (in_c & 3) {
        widen_tail(xa, in_c & 3, &col[0], &col[2]);
        widen_tail(xb, in_c & 3, &col[1], &col[3]);
    }
}

static inline __attribute__((always_inline)) void pwconv(mcu_dsp_out o, mcu_shape in_shape, const int8_t *input,
                                                         mcu_shape out_shape, const int32_t *weights,
                                                         const int32_t *channels, int8_t *output, int32_t *scratch)
{
    const int32_t in_c = in_shape.c, out_c = out_shape.c;
    const int32_t k4 = (in_c + 3) & ~3;
    const int32_t pixels = out_shape.h * out_shape.w;
    int32_t px;

    for (px = 0; px + 1 < pixels; px += 2) {
        widen_pixels(input + px * in_c, input + (px + 1) * in_c, in_c, scratch);
        mcu_dsp8_matmul_2cols(o, scratch, k4, out_c, weights, channels, output + px * out_c,
                              output + (px + 1) * out_c);
    }
    if (px < pixels) {
        widen_pixels(input + px * in_c, input + px * in_c, in_c, scratch);
        mcu_dsp8_matmul_2cols(o, scratch, k4, out_c, weights, channels, output + px * out_c, output + px * out_c);
    }
}

void mcu_pwconv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp_out o = mcu_dsp_out_of(p);
    /* Two bodies, the clamp's presence a constant in each (see mcu_dsp_out). */
    if (o.narrow) {
        o.narrow = 1;
        pwconv(o, in_shape, input, out_shape, weights, channels, output, scratch);
    } else {
        o.narrow = 0;
        pwconv(o, in_shape, input, out_shape, weights, channels, output, scratch);
    }
}

#endif /* __ARM_FEATURE_DSP */
