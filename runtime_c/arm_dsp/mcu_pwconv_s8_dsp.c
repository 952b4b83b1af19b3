/*
 * mcu_pwconv_s8_dsp - int8 pointwise (1x1) convolution and fully connected layer with SMLAD.
 *
 * Two pixels at a time: each is widened once to int16 pairs in scratch (SXTB16, so a group of 4
 * channels lands in the order 0, 2, 1, 3 that the compiler gave the weights), then every pair of
 * output channels runs over both columns with SMLAD against weights the compiler stored already
 * widened. The input zero point is folded into the bias, so the loop is multiply-accumulate only.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp_matmul.h"

int32_t mcu_pwconv_s8_dsp_scratch_bytes(mcu_shape in_shape)
{
    return 2 * ((in_shape.c + 3) & ~3) * (int32_t)sizeof(int16_t);
}

/* One pixel's in_c values as int16 pairs in the weights' k order, padded to a multiple of 4 with 0. */
static void widen_pixel(const int8_t *x, int32_t in_c, int32_t *col)
{
    int32_t i;
    for (i = in_c >> 2; i > 0; i--) {
        const int32_t v = mcu_dsp_load4(x);
        col[0] = __sxtb16(v);
        col[1] = mcu_dsp_sxtb16_ror8(v);
        col += 2;
        x += 4;
    }
    switch (in_c & 3) {
    case 1:
        col[0] = (uint16_t)x[0];
        col[1] = 0;
        break;
    case 2:
        col[0] = (int32_t)(((uint32_t)(uint16_t)x[1] << 16) | (uint16_t)x[0]);
        col[1] = 0;
        break;
    case 3:
        col[0] = (int32_t)(((uint32_t)(uint16_t)x[1] << 16) | (uint16_t)x[0]);
        col[1] = (uint16_t)x[2];
        break;
    default:
        break;
    }
}

void mcu_pwconv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                       const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    const int32_t in_c = in_shape.c, out_c = out_shape.c;
    const int32_t k4 = (in_c + 3) & ~3;
    const int32_t pixels = out_shape.h * out_shape.w;
    int32_t *col0 = scratch;
    int32_t *col1 = scratch + k4 / 2;
    int32_t px;

    for (px = 0; px + 1 < pixels; px += 2) {
        widen_pixel(input + px * in_c, in_c, col0);
        widen_pixel(input + (px + 1) * in_c, in_c, col1);
        mcu_dsp_matmul_2cols(p, col0, col1, k4, out_c, weights, channels, output + px * out_c,
                             output + (px + 1) * out_c);
    }
    if (px < pixels) {
        widen_pixel(input + px * in_c, in_c, col0);
        mcu_dsp_matmul_2cols(p, col0, col0, k4, out_c, weights, channels, output + px * out_c, output + px * out_c);
    }
}

#endif /* __ARM_FEATURE_DSP */
