/*
 * mcu_mve_conv_small.h - the loops of the Helium small-window convolution kernels, written once for
 * int8 weights (mcu_conv_small_s8_mve) and int8 weights with a per-tensor zero point
 * (mcu_conv_small_s8_wzp_mve, legacy uint8 models).
 *
 * Each output position gathers its window, in the (ky, kx, ci) order of the packed weights, into
 * two vectors of 16 bytes (a column of im2col kept in registers); every output channel is then one
 * or two VMLADAV against its 32-byte weight row, whose zero padding cancels the bytes past the
 * window, and four channels requantize as one vector. Inside the input a window row is
 * kernel_w * in_c contiguous bytes, copied with one predicated load and store; at the borders the
 * window is filled byte by byte, taps in the padding holding input_zp (the bias was folded with
 * every tap counted).
 *
 * A weight zero point zw: sum(x * (w - zw)) = sum(x * w) + filter_offset * sum(x), filter_offset =
 * -zw; the window's sum (two VADDV) is taken once per position and added to every channel (one VADD
 * per four channels). `wzp` is a constant in each wrapper, so the int8 kernel compiles without it.
 * Private to runtime_c/arm_mve.
 */
#ifndef MCU_MVE_CONV_SMALL_H
#define MCU_MVE_CONV_SMALL_H

#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve.h"

/* The window against four weight rows (32 bytes each): one output channel per lane. */
MCU_MVE_INLINE int32x4_t mcu_mve_small_sums4(int8x16_t lo, int8x16_t hi, const int8_t *w)
{
    int32x4_t v = vdupq_n_s32(vmladavaq_s8(vmladavq_s8(lo, vldrbq_s8(w)), hi, vldrbq_s8(w + 16)));
    v = vsetq_lane_s32(vmladavaq_s8(vmladavq_s8(lo, vldrbq_s8(w + 32)), hi, vldrbq_s8(w + 48)), v, 1);
    v = vsetq_lane_s32(vmladavaq_s8(vmladavq_s8(lo, vldrbq_s8(w + 64)), hi, vldrbq_s8(w + 80)), v, 2);
    return vsetq_lane_s32(vmladavaq_s8(vmladavq_s8(lo, vldrbq_s8(w + 96)), hi, vldrbq_s8(w + 112)), v, 3);
}

/* The same for a window of at most 16 taps, whose second halves are all zero. */
MCU_MVE_INLINE int32x4_t mcu_mve_small_sums4_short(int8x16_t lo, const int8_t *w)
{
    int32x4_t v = vdupq_n_s32(vmladavq_s8(lo, vldrbq_s8(w)));
    v = vsetq_lane_s32(vmladavq_s8(lo, vldrbq_s8(w + 32)), v, 1);
    v = vsetq_lane_s32(vmladavq_s8(lo, vldrbq_s8(w + 64)), v, 2);
    return vsetq_lane_s32(vmladavq_s8(lo, vldrbq_s8(w + 96)), v, 3);
}

/*
 * Every output channel of one position from its gathered window (32 bytes, zero past the taps).
 * wzp: each accumulator also takes filter_offset times the window's sum (its padded taps hold
 * input_zp, so they count as x = zp, as they do in the products).
 */
MCU_MVE_INLINE void mcu_mve_small_channels(const int8_t *window, int32_t taps, int32_t cout, const int8_t *w,
                                           const int32_t *rq, const mcu_quant_io *io, int8_t *out, int wzp,
                                           int32_t filter_offset)
{
    const int8x16_t lo = vldrbq_s8(window), hi = vldrbq_s8(window + 16);
    const int32_t start = wzp ? filter_offset * vaddvaq_s8(vaddvq_s8(lo), hi) : 0;
    int32_t c;
    for (c = 0; c < cout; c += 4, w += 4 * 32, rq += MCU_MVE_RQ_BLOCK) {
        int32x4_t acc = vldrwq_s32(rq + MCU_MVE_RQ_BIAS);
        acc = vaddq_s32(acc, taps > 16 ? mcu_mve_small_sums4(lo, hi, w) : mcu_mve_small_sums4_short(lo, w));
        if (wzp) {
            acc = vaddq_n_s32(acc, start);
        }
        acc = mcu_mve_requantize(acc, vldrwq_s32(rq + MCU_MVE_RQ_MULT), vldrwq_s32(rq + MCU_MVE_RQ_LEFT),
                                 vldrwq_s32(rq + MCU_MVE_RQ_RIGHT), io->output_offset, io->act_min, io->act_max);
        if (cout - c >= 4) {
            vstrbq_s32(out + c, acc);
        } else {
            vstrbq_p_s32(out + c, acc, vctp32q((uint32_t)(cout - c)));
        }
    }
}

/* The two kernels' channel loops, each its own function (as one, called from two places in the
 * position loop, it keeps GCC from copying it there); marked unused for the file that uses the other. */
__attribute__((unused)) static void mcu_mve_small_channels_s8(const int8_t *window, int32_t taps, int32_t cout,
                                                              const int8_t *w, const int32_t *rq,
                                                              const mcu_quant_io *io, int8_t *out)
{
    mcu_mve_small_channels(window, taps, cout, w, rq, io, out, 0, 0);
}

__attribute__((unused)) static void mcu_mve_small_channels_wzp(const int8_t *window, int32_t taps, int32_t cout,
                                                               const int8_t *w, const int32_t *rq,
                                                               const mcu_quant_io *io, int32_t filter_offset,
                                                               int8_t *out)
{
    mcu_mve_small_channels(window, taps, cout, w, rq, io, out, 1, filter_offset);
}

/* One position's channels, by the loop of kernel `wzp`. */
MCU_MVE_INLINE void mcu_mve_small_position(const int8_t *window, int32_t taps, int32_t cout, const int8_t *w,
                                           const int32_t *rq, const mcu_quant_io *io, int8_t *out, int wzp,
                                           int32_t filter_offset)
{
    if (wzp) {
        mcu_mve_small_channels_wzp(window, taps, cout, w, rq, io, filter_offset, out);
    } else {
        mcu_mve_small_channels_s8(window, taps, cout, w, rq, io, out);
    }
}

/* One position whose window reaches into the padding: filled byte by byte. */
static void mcu_mve_small_fill_border(const int8_t *input, mcu_shape in_shape, int32_t kh, int32_t kw, int32_t iy,
                                      int32_t ix, int8_t zp, int8_t *window)
{
    const int32_t cin = in_shape.c;
    int32_t ky, kx, ci;
    for (ky = 0; ky < kh; ky++) {
        const int32_t y = iy + ky;
        for (kx = 0; kx < kw; kx++) {
            const int32_t x = ix + kx;
            const int inside = y >= 0 && y < in_shape.h && x >= 0 && x < in_shape.w;
            for (ci = 0; ci < cin; ci++) {
                *window++ = inside ? input[(y * in_shape.w + x) * cin + ci] : zp;
            }
        }
    }
}

/* The kernel; wzp (a constant per wrapper): the weights have a zero point, filter_offset = -zw. */
MCU_MVE_INLINE void mcu_mve_conv_small(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input,
                                       mcu_shape out_shape, const int8_t *weights, const int32_t *requant,
                                       int8_t *output, int wzp, int32_t filter_offset)
{
    const int32_t cin = in_shape.c, cout = out_shape.c;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, sw = p->stride_w;
    const int32_t span = kw * cin; /* bytes of one window row */
    const int32_t taps = kh * span;
    const int32_t row = in_shape.w * cin;
    const int8_t zp = (int8_t)(-p->io.input_offset);
    const mve_pred16_t row_pred = vctp8q((uint32_t)span);
    /* Output columns whose window lies inside the input's columns: [x_lo, x_hi). */
    const int32_t x_lo = (p->pad_left + sw - 1) / sw;
    const int32_t x_hi = in_shape.w - kw + p->pad_left < 0 ? 0 : (in_shape.w - kw + p->pad_left) / sw + 1;
    int8_t window[48] __attribute__((aligned(16))); /* taps <= 32, plus room for the last row's store */
    int32_t oy, ox, i;

    for (i = 0; i < 48; i++) {
        window[i] = 0;
    }
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy = oy * p->stride_h - p->pad_top;
        const int rows_inside = iy >= 0 && iy + kh <= in_shape.h;
        int8_t *out = output + oy * out_shape.w * cout;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix = ox * sw - p->pad_left;
            if (rows_inside && ox >= x_lo && ox < x_hi) {
                /* A run of positions inside the input: each window row is one predicated copy. */
                const int8_t *x = input + iy * row + ix * cin;
                for (; ox < x_hi && ox < out_shape.w; ox++, x += sw * cin) {
                    int32_t ky;
                    for (ky = 0; ky < kh; ky++) {
                        vstrbq_p_s8(window + ky * span, vldrbq_z_s8(x + ky * row, row_pred), row_pred);
                    }
                    mcu_mve_small_position(window, taps, cout, weights, requant, &p->io, out + ox * cout, wzp,
                                           filter_offset);
                }
                ox--;
            } else {
                mcu_mve_small_fill_border(input, in_shape, kh, kw, iy, ix, zp, window);
                mcu_mve_small_position(window, taps, cout, weights, requant, &p->io, out + ox * cout, wzp,
                                       filter_offset);
            }
        }
    }
}

#endif /* MVE */

#endif /* MCU_MVE_CONV_SMALL_H */
