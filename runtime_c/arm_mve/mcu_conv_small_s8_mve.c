/*
 * mcu_conv_small_s8_mve.c - convolution with at most 32 taps per output (the first layer of an image
 * network: 3x3 over 1 or 3 channels) with Helium: see mcu_nn_mve.h for the layout.
 *
 * Each output position gathers its window, in the (ky, kx, ci) order of the packed weights, into two
 * vectors of 16 bytes (a column of im2col kept in registers); every output channel is then one or two
 * VMLADAV against its 32-byte weight row, whose zero padding cancels the bytes past the window. Four
 * channels requantize as one vector. A row of the window is kernel_w * in_c contiguous input bytes,
 * copied with one predicated load and store; window taps in the padding hold input_zp, because the
 * bias was folded with every tap counted.
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_requantize_mve.h"

void mcu_conv_small_s8_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int8_t *weights, const int32_t *requant, int8_t *output)
{
    const int32_t cin = in_shape.c, cout = out_shape.c;
    const int32_t kh = p->kernel_h, kw = p->kernel_w;
    const int32_t span = kw * cin; /* bytes of one window row */
    const int32_t taps = kh * span;
    const int8_t zp = (int8_t)(-p->io.input_offset);
    const mve_pred16_t row_pred = vctp8q((uint32_t)span);
    int8_t window[48] __attribute__((aligned(16))); /* taps <= 32, plus room for the last row's store */
    int32_t oy, ox, i;

    for (i = 0; i < 48; i++) {
        window[i] = 0;
    }
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy = oy * p->stride_h - p->pad_top;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix = ox * p->stride_w - p->pad_left;
            int8_t *out = output + (oy * out_shape.w + ox) * cout;
            const int8_t *w = weights;
            const int32_t *rq = requant;
            int8x16_t lo, hi;
            int32_t ky, c;
            if (ix >= 0 && ix + kw <= in_shape.w) {
                for (ky = 0; ky < kh; ky++) {
                    const int32_t y = iy + ky;
                    const int8x16_t v = (y >= 0 && y < in_shape.h)
                                            ? vldrbq_z_s8(input + (y * in_shape.w + ix) * cin, row_pred)
                                            : vdupq_n_s8(zp);
                    vstrbq_p_s8(window + ky * span, v, row_pred);
                }
            } else {
                for (ky = 0; ky < kh; ky++) {
                    const int32_t y = iy + ky;
                    int32_t kx, ci;
                    for (kx = 0; kx < kw; kx++) {
                        const int32_t x = ix + kx;
                        const int inside = y >= 0 && y < in_shape.h && x >= 0 && x < in_shape.w;
                        for (ci = 0; ci < cin; ci++) {
                            window[ky * span + kx * cin + ci] = inside ? input[(y * in_shape.w + x) * cin + ci] : zp;
                        }
                    }
                }
            }
            lo = vldrbq_s8(window);
            hi = vldrbq_s8(window + 16);
            for (c = 0; c < cout; c += 4, rq += MCU_MVE_RQ_BLOCK) {
                int32_t a[4];
                int32_t j;
                int32x4_t acc;
                for (j = 0; j < 4; j++, w += 32) {
                    int32_t s = vmladavq_s8(lo, vldrbq_s8(w));
                    if (taps > 16) {
                        s = vmladavaq_s8(s, hi, vldrbq_s8(w + 16));
                    }
                    a[j] = s;
                }
                acc = vaddq_s32(vldrwq_s32(rq + MCU_MVE_RQ_BIAS), vldrwq_s32(a));
                acc = mcu_mve_requantize(acc, vldrwq_s32(rq + MCU_MVE_RQ_MULT), vldrwq_s32(rq + MCU_MVE_RQ_LEFT),
                                         vldrwq_s32(rq + MCU_MVE_RQ_RIGHT), p->io.output_offset, p->io.act_min,
                                         p->io.act_max);
                if (cout - c >= 4) {
                    vstrbq_s32(out + c, acc);
                } else {
                    vstrbq_p_s32(out + c, acc, vctp32q((uint32_t)(cout - c)));
                }
            }
        }
    }
}

#endif /* MVE */
