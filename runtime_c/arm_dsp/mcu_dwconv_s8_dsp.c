/*
 * mcu_dwconv_s8_dsp - int8 depthwise convolution (channel multiplier 1) with SXTB16 and SMLAxy.
 *
 * Four channels at a time: one LDR fetches a tap's 4 channels, SXTB16 and SXTB16 ROR 8 widen them
 * to the pairs (c0, c2) and (c1, c3), and SMLABB / SMLATT multiply each half by the weight the
 * compiler stored already widened in the same pairing, so a tap costs 8 instructions for 4 MACs.
 * The 3x3 case is unrolled. The input zero point is folded into the bias, so a window that
 * crosses the border reads the zero point for its padded taps; windows wholly inside the image
 * (most of them) skip every bounds check. Channels past the last multiple of 4 go one at a time.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

/* Accumulate the taps of 4 channels. row0: the window's top-left tap, channel 4g; inside windows only. */
static inline __attribute__((always_inline)) void taps_inside(const int8_t *row0, int32_t row_stride,
                                                              int32_t channels, int32_t kh, int32_t kw,
                                                              const int32_t *w, int32_t acc[4])
{
    int32_t a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    int32_t ky, kx;
    for (ky = 0; ky < kh; ky++) {
        const int8_t *x = row0 + ky * row_stride;
        for (kx = 0; kx < kw; kx++) {
            const int32_t v = mcu_dsp_load4(x + kx * channels);
            const int32_t even = __sxtb16(v), odd = mcu_dsp_sxtb16_ror8(v);
            a0 = __smlabb(even, w[0], a0);
            a2 = __smlatt(even, w[0], a2);
            a1 = __smlabb(odd, w[1], a1);
            a3 = __smlatt(odd, w[1], a3);
            w += 2;
        }
    }
    acc[0] = a0;
    acc[1] = a1;
    acc[2] = a2;
    acc[3] = a3;
}

void mcu_dwconv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                       const int32_t *weights, const int32_t *channels, int8_t *output)
{
    const int32_t c = in_shape.c, groups = c >> 2, taps = (int32_t)p->kernel_h * p->kernel_w;
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t row_stride = in_shape.w * c;
    const int32_t zp_word = (int32_t)(0x01010101u * (uint8_t)p->input_zero_point);
    const int is3x3 = kh == 3 && kw == 3;
    const int32_t *tail_weights = weights + groups * taps * 2;
    int32_t oy, ox, g, t, ky, kx;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int rows_inside = iy0 >= 0 && iy0 + kh <= in_shape.h;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            const int inside = rows_inside && ix0 >= 0 && ix0 + kw <= in_shape.w;
            int8_t *out = output + (oy * out_shape.w + ox) * c;
            const int32_t *w = weights;
            const int32_t *ch = channels;
            for (g = 0; g < groups; g++) {
                int32_t acc[4];
                acc[0] = ch[0];
                acc[1] = ch[MCU_DSP_CHANNEL_WORDS];
                acc[2] = ch[2 * MCU_DSP_CHANNEL_WORDS];
                acc[3] = ch[3 * MCU_DSP_CHANNEL_WORDS];
                if (inside) {
                    const int8_t *row0 = input + (iy0 * in_shape.w + ix0) * c + 4 * g;
                    if (is3x3) {
                        taps_inside(row0, row_stride, c, 3, 3, w, acc); /* constant sizes: unrolled */
                    } else {
                        taps_inside(row0, row_stride, c, kh, kw, w, acc);
                    }
                } else {
                    const int32_t *wt = w;
                    for (ky = 0; ky < kh; ky++) {
                        const int32_t iy = iy0 + ky;
                        for (kx = 0; kx < kw; kx++) {
                            const int32_t ix = ix0 + kx;
                            const int32_t v = (iy >= 0 && iy < in_shape.h && ix >= 0 && ix < in_shape.w)
                                                  ? mcu_dsp_load4(input + (iy * in_shape.w + ix) * c + 4 * g)
                                                  : zp_word;
                            const int32_t even = __sxtb16(v), odd = mcu_dsp_sxtb16_ror8(v);
                            acc[0] = __smlabb(even, wt[0], acc[0]);
                            acc[2] = __smlatt(even, wt[0], acc[2]);
                            acc[1] = __smlabb(odd, wt[1], acc[1]);
                            acc[3] = __smlatt(odd, wt[1], acc[3]);
                            wt += 2;
                        }
                    }
                }
                out[0] = mcu_dsp_requantize(acc[0], ch, p);
                out[1] = mcu_dsp_requantize(acc[1], ch + MCU_DSP_CHANNEL_WORDS, p);
                out[2] = mcu_dsp_requantize(acc[2], ch + 2 * MCU_DSP_CHANNEL_WORDS, p);
                out[3] = mcu_dsp_requantize(acc[3], ch + 3 * MCU_DSP_CHANNEL_WORDS, p);
                out += 4;
                w += 2 * taps;
                ch += 4 * MCU_DSP_CHANNEL_WORDS;
            }
            for (t = 0; t < (c & 3); t++) {
                const int32_t cc = 4 * groups + t;
                const int32_t *wt = tail_weights + t * taps;
                /* Unsigned sums: C leaves signed overflow undefined, the reference wraps. */
                uint32_t acc = (uint32_t)ch[0];
                for (ky = 0; ky < kh; ky++) {
                    const int32_t iy = iy0 + ky;
                    for (kx = 0; kx < kw; kx++) {
                        const int32_t ix = ix0 + kx;
                        const int32_t x = (iy >= 0 && iy < in_shape.h && ix >= 0 && ix < in_shape.w)
                                              ? input[(iy * in_shape.w + ix) * c + cc]
                                              : p->input_zero_point;
                        acc += (uint32_t)(x * *wt++);
                    }
                }
                *out++ = mcu_dsp_requantize((int32_t)acc, ch, p);
                ch += MCU_DSP_CHANNEL_WORDS;
            }
        }
    }
}

#endif /* __ARM_FEATURE_DSP */
