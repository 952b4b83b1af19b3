/*
 * mcu_conv_s8_dsp8 - int8 convolution (groups = 1) with SMLAD reading int8 weights, for the
 * few-channel first layer on boards where the int16 weights of mcu_conv_s8_dsp do not fit.
 *
 * Two output pixels at a time are gathered (im2col) into scratch as int16 pairs exactly as
 * mcu_conv_s8_dsp does (natural (ky, kx, ci) order, padded taps reading input_zero_point, K rounded
 * up to 4 with zeros), then they share the int8-weight 2x2 SMLAD block (mcu_dsp8_matmul.h).
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include "mcu_dsp8_matmul.h"

int32_t mcu_conv_s8_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape)
{
    const int32_t k4 = ((int32_t)p->kernel_h * p->kernel_w * in_shape.c + 3) & ~3;
    return 2 * k4 * (int32_t)sizeof(int16_t);
}

/* The window of output pixel (oy, ox) as int16 values into the interleaved columns: col is the
 * pixel's first int16 (2 int16 after the other pixel's), value k goes to col[2k - (k & 1)]. */
static void gather(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, int32_t oy, int32_t ox,
                   int32_t k4, int16_t *col)
{
    const int32_t in_c = in_shape.c;
    const int32_t iy0 = oy * p->stride_h - p->pad_top;
    const int32_t ix0 = ox * p->stride_w - p->pad_left;
    const int16_t zp = (int16_t)p->input_zero_point;
    int32_t k = 0, ky, kx, ci;

    for (ky = 0; ky < p->kernel_h; ky++) {
        const int32_t iy = iy0 + ky;
        const int row_inside = iy >= 0 && iy < in_shape.h;
        for (kx = 0; kx < p->kernel_w; kx++) {
            const int32_t ix = ix0 + kx;
            if (row_inside && ix >= 0 && ix < in_shape.w) {
                const int8_t *x = input + (iy * in_shape.w + ix) * in_c;
                for (ci = 0; ci < in_c; ci++, k++) {
                    col[2 * k - (k & 1)] = x[ci];
                }
            } else {
                for (ci = 0; ci < in_c; ci++, k++) {
                    col[2 * k - (k & 1)] = zp;
                }
            }
        }
    }
    for (; k < k4; k++) {
        col[2 * k - (k & 1)] = 0;
    }
}

static inline __attribute__((always_inline)) void conv(const mcu_dsp_params *p, mcu_dsp_out o, mcu_shape in_shape,
                                                       const int8_t *input, mcu_shape out_shape,
                                                       const int32_t *weights, const int32_t *channels,
                                                       int8_t *output, int32_t *scratch)
{
    const int32_t out_c = out_shape.c;
    const int32_t k4 = ((int32_t)p->kernel_h * p->kernel_w * in_shape.c + 3) & ~3;
    const int32_t pixels = out_shape.h * out_shape.w;
    int16_t *col = (int16_t *)(void *)scratch;
    int32_t px;

    for (px = 0; px < pixels; px += 2) {
        const int32_t second = px + 1 < pixels ? px + 1 : px;
        gather(p, in_shape, input, px / out_shape.w, px % out_shape.w, k4, col);
        gather(p, in_shape, input, second / out_shape.w, second % out_shape.w, k4, col + 2);
        mcu_dsp8_matmul_2cols(o, scratch, k4, out_c, weights, channels, output + px * out_c,
                              output + second * out_c);
    }
}

void mcu_conv_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                      const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    mcu_dsp_out o = mcu_dsp_out_of(p);
    /* Two bodies, the clamp's presence a constant in each (see mcu_dsp_out). */
    if (o.narrow) {
        o.narrow = 1;
        conv(p, o, in_shape, input, out_shape, weights, channels, output, scratch);
    } else {
        o.narrow = 0;
        conv(p, o, in_shape, input, out_shape, weights, channels, output, scratch);
    }
}

#endif /* __ARM_FEATURE_DSP */
