/*
 * mcu_dwconv_s8_dsp - int8 depthwise convolution (channel multiplier 1) with SXTB16 and SMLAxy.
 *
 * Four channels at a time: one LDR fetches a tap's 4 channels, SXTB16 and SXTB16 ROR 8 widen them
 * to the pairs (c0, c2) and (c1, c3), and SMLABB / SMLATT multiply each half by the weight the
 * compiler stored already widened (and scaled) in the same pairing, so a tap costs 8 instructions
 * for 4 MACs. The input zero point is folded into the bias, so a padded tap must read the zero
 * point: the 3x3 case is unrolled for every pixel, windows wholly inside the image address their
 * taps from the window's corner with no checks, border windows through 9 tap pointers chosen once
 * per pixel, a padded tap's pointing at a pixel of zero points in scratch. Other kernel sizes and
 * the channels past the last multiple of 4 take a general path with per-tap bounds checks.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

int32_t mcu_dwconv_s8_dsp_scratch_bytes(mcu_shape in_shape)
{
    return (in_shape.c + 3) & ~3;
}

/*
 * One tap of 4 channels: the two widened halves times the two pre-widened weight words. One asm
 * statement, because GCC 12 otherwise groups the intrinsics by accumulator and spills the widened
 * taps of a whole 3x3 window to the stack.
 */
#define MCU_DW_TAP(v, w) \
    do { \
        int32_t even_, odd_; \
        __asm__("sxtb16 %[e], %[x]\n\t" \
                "sxtb16 %[o], %[x], ror #8\n\t" \
                "smlabb %[a0], %[e], %[w0], %[a0]\n\t" \
                "smlatt %[a2], %[e], %[w0], %[a2]\n\t" \
                "smlabb %[a1], %[o], %[w1], %[a1]\n\t" \
                "smlatt %[a3], %[o], %[w1], %[a3]" \
                : [a0] "+r"(a0), [a1] "+r"(a1), [a2] "+r"(a2), [a3] "+r"(a3), [e] "=&r"(even_), [o] "=&r"(odd_) \
                : [x] "r"(v), [w0] "r"((w)[0]), [w1] "r"((w)[1])); \
    } while (0)

/* The output stage of one group of 4 channels. */
#define MCU_DW_STORE4(out, ch, o) \
    do { \
        (out)[0] = mcu_dsp_requantize(a0, (ch), (o)); \
        (out)[1] = mcu_dsp_requantize(a1, (ch) + MCU_DSP_CHANNEL_WORDS, (o)); \
        (out)[2] = mcu_dsp_requantize(a2, (ch) + 2 * MCU_DSP_CHANNEL_WORDS, (o)); \
        (out)[3] = mcu_dsp_requantize(a3, (ch) + 3 * MCU_DSP_CHANNEL_WORDS, (o)); \
    } while (0)

#define MCU_DW_BIAS4(ch) \
    int32_t a0 = (ch)[0], a1 = (ch)[MCU_DSP_CHANNEL_WORDS], a2 = (ch)[2 * MCU_DSP_CHANNEL_WORDS], \
            a3 = (ch)[3 * MCU_DSP_CHANNEL_WORDS]

/* The 4-channel groups of a 3x3 window wholly inside the image: x is its top-left tap. */
static inline __attribute__((always_inline)) void groups_3x3_inside(const int8_t *x, int32_t row_stride, int32_t c,
                                                                    const int32_t *w, const int32_t *ch,
                                                                    mcu_dsp_out o, int8_t *out)
{
    int32_t g;
    for (g = c >> 2; g > 0; g--) {
        const int8_t *r1 = x + row_stride, *r2 = r1 + row_stride;
        MCU_DW_BIAS4(ch);
        MCU_DW_TAP(mcu_dsp_load4(x), w);
        MCU_DW_TAP(mcu_dsp_load4(x + c), w + 2);
        MCU_DW_TAP(mcu_dsp_load4(x + 2 * c), w + 4);
        MCU_DW_TAP(mcu_dsp_load4(r1), w + 6);
        MCU_DW_TAP(mcu_dsp_load4(r1 + c), w + 8);
        MCU_DW_TAP(mcu_dsp_load4(r1 + 2 * c), w + 10);
        MCU_DW_TAP(mcu_dsp_load4(r2), w + 12);
        MCU_DW_TAP(mcu_dsp_load4(r2 + c), w + 14);
        MCU_DW_TAP(mcu_dsp_load4(r2 + 2 * c), w + 16);
        MCU_DW_STORE4(out, ch, o);
        w += 18;
        out += 4;
        x += 4;
        ch += 4 * MCU_DSP_CHANNEL_WORDS;
    }
}

/* The same for a border window: tap[t] is tap t's pixel, or the zero-point pixel for a padded tap. */
static inline __attribute__((always_inline)) void groups_3x3_taps(const int8_t *const *tap, int32_t c,
                                                                  const int32_t *w, const int32_t *ch,
                                                                  mcu_dsp_out o, int8_t *out)
{
    int32_t off;
    for (off = 0; off + 4 <= c; off += 4) {
        MCU_DW_BIAS4(ch);
        MCU_DW_TAP(mcu_dsp_load4(tap[0] + off), w);
        MCU_DW_TAP(mcu_dsp_load4(tap[1] + off), w + 2);
        MCU_DW_TAP(mcu_dsp_load4(tap[2] + off), w + 4);
        MCU_DW_TAP(mcu_dsp_load4(tap[3] + off), w + 6);
        MCU_DW_TAP(mcu_dsp_load4(tap[4] + off), w + 8);
        MCU_DW_TAP(mcu_dsp_load4(tap[5] + off), w + 10);
        MCU_DW_TAP(mcu_dsp_load4(tap[6] + off), w + 12);
        MCU_DW_TAP(mcu_dsp_load4(tap[7] + off), w + 14);
        MCU_DW_TAP(mcu_dsp_load4(tap[8] + off), w + 16);
        MCU_DW_STORE4(out, ch, o);
        w += 18;
        out += 4;
        ch += 4 * MCU_DSP_CHANNEL_WORDS;
    }
}

/*
 * Channels [first, c) of one output pixel, any kernel, per-tap bounds checks: the 4-channel groups
 * from first (a multiple of 4), then the c % 4 tail one channel at a time. weights and ch point at
 * channel first's.
 */
static __attribute__((noinline)) void channels_any(const mcu_dsp_params *p, mcu_shape in_shape,
                                                   const int8_t *input, int32_t iy0, int32_t ix0, int32_t first,
                                                   const int32_t *w, const int32_t *ch, mcu_dsp_out o,
                                                   int8_t *out)
{
    const int32_t c = in_shape.c, kh = p->kernel_h, kw = p->kernel_w;
    const int32_t zp_word = (int32_t)(0x01010101u * (uint8_t)p->input_zero_point);
    int32_t cc, ky, kx;

    for (cc = first; cc + 4 <= c; cc += 4) {
        MCU_DW_BIAS4(ch);
        for (ky = 0; ky < kh; ky++) {
            const int32_t iy = iy0 + ky;
            for (kx = 0; kx < kw; kx++) {
                const int32_t ix = ix0 + kx;
                const int32_t v = (iy >= 0 && iy < in_shape.h && ix >= 0 && ix < in_shape.w)
                                      ? mcu_dsp_load4(input + (iy * in_shape.w + ix) * c + cc)
                                      : zp_word;
                MCU_DW_TAP(v, w);
                w += 2;
            }
        }
        MCU_DW_STORE4(out, ch, o);
        out += 4;
        ch += 4 * MCU_DSP_CHANNEL_WORDS;
    }
    for (; cc < c; cc++) {
        /* Unsigned sums: C leaves signed overflow undefined, the reference wraps. */
        uint32_t acc = (uint32_t)ch[0];
        for (ky = 0; ky < kh; ky++) {
            const int32_t iy = iy0 + ky;
            for (kx = 0; kx < kw; kx++) {
                const int32_t ix = ix0 + kx;
                const int32_t x = (iy >= 0 && iy < in_shape.h && ix >= 0 && ix < in_shape.w)
                                      ? input[(iy * in_shape.w + ix) * c + cc]
                                      : p->input_zero_point;
                acc += (uint32_t)(x * *w++);
            }
        }
        *out++ = mcu_dsp_requantize((int32_t)acc, ch, o);
        ch += MCU_DSP_CHANNEL_WORDS;
    }
}

static inline __attribute__((always_inline)) void dwconv(const mcu_dsp_params *p, mcu_dsp_out o, mcu_shape in_shape,
                                                         const int8_t *input, mcu_shape out_shape,
                                                         const int32_t *weights, const int32_t *channels,
                                                         int8_t *output, int8_t *zp_pixel)
{
    const int32_t c = in_shape.c, kh = p->kernel_h, kw = p->kernel_w;
    const int32_t row_stride = in_shape.w * c;
    const int32_t body = c & ~3;
    /* The tail channels' weights follow all the groups' (see mcu_nn_dsp.h). */
    const int32_t *tail_w = weights + body / 4 * kh * kw * 2;
    const int32_t *tail_ch = channels + body * MCU_DSP_CHANNEL_WORDS;
    int32_t oy, ox;

    if (kh != 3 || kw != 3) {
        for (oy = 0; oy < out_shape.h; oy++) {
            for (ox = 0; ox < out_shape.w; ox++) {
                channels_any(p, in_shape, input, oy * p->stride_h - p->pad_top, ox * p->stride_w - p->pad_left, 0,
                             weights, channels, o, output + (oy * out_shape.w + ox) * c);
            }
        }
        return;
    }
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy0 = oy * p->stride_h - p->pad_top;
        const int rows_inside = iy0 >= 0 && iy0 + 3 <= in_shape.h;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix0 = ox * p->stride_w - p->pad_left;
            int8_t *out = output + (oy * out_shape.w + ox) * c;
            if (rows_inside && ix0 >= 0 && ix0 + 3 <= in_shape.w) {
                groups_3x3_inside(input + (iy0 * in_shape.w + ix0) * c, row_stride, c, weights, channels, o, out);
            } else {
                const int8_t *tap[9];
                int32_t ky, kx;
                for (ky = 0; ky < 3; ky++) {
                    const int32_t iy = iy0 + ky;
                    for (kx = 0; kx < 3; kx++) {
                        const int32_t ix = ix0 + kx;
                        const int inside = iy >= 0 && iy < in_shape.h && ix >= 0 && ix < in_shape.w;
                        tap[ky * 3 + kx] = inside ? input + (iy * in_shape.w + ix) * c : zp_pixel;
                    }
                }
                groups_3x3_taps(tap, c, weights, channels, o, out);
            }
            if (c & 3) {
                channels_any(p, in_shape, input, iy0, ix0, body, tail_w, tail_ch, o, out + body);
            }
        }
    }
}

void mcu_dwconv_s8_dsp(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                       const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    int8_t *zp_pixel = (int8_t *)(void *)scratch;
    mcu_dsp_out o = mcu_dsp_out_of(p);
    memset(zp_pixel, p->input_zero_point, (size_t)in_shape.c);
    /* Two bodies, the clamp's presence a constant in each (see mcu_dsp_out): a branch per group of
     * outputs measured 0.3 instructions per MAC more (VWW), for 1.5 KB less code. */
    if (o.narrow) {
        o.narrow = 1;
        dwconv(p, o, in_shape, input, out_shape, weights, channels, output, zp_pixel);
    } else {
        o.narrow = 0;
        dwconv(p, o, in_shape, input, out_shape, weights, channels, output, zp_pixel);
    }
}

#endif /* __ARM_FEATURE_DSP */
