/*
 * mcu_dwconv3x3_s8_mve.c - depthwise 3x3 convolution with Helium: see mcu_nn_mve.h for the layout.
 *
 * Four channels per vector, in int32 lanes: a widening byte load (VLDRB.S32) of four input channels
 * and of their four weights, then a multiply and an add per tap (MVE has no vector-by-vector integer
 * VMLA). Nine int8 products overflow int16, hence the 32-bit lanes. The weights of a block of four
 * channels are its nine taps back to back (36 bytes), and its bias and requantization parameters one
 * 64-byte block, so a block reads its constants in order.
 *
 * Output positions whose window lies inside the input take the unrolled path without bounds checks;
 * the border positions take a checked path in which a tap in the padding contributes input_zp * w,
 * because the bias was folded with all nine taps counted (see mcu_nn_mve.h).
 */
#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_requantize_mve.h"

/* Requantize one block and store it; a partial last block stores its `left` channels only. */
static inline void store_block(int32x4_t acc, const int32_t *rq, const mcu_quant_io *io, int8_t *out, int32_t left)
{
    acc = mcu_mve_requantize(acc, vldrwq_s32(rq + MCU_MVE_RQ_MULT), vldrwq_s32(rq + MCU_MVE_RQ_LEFT),
                             vldrwq_s32(rq + MCU_MVE_RQ_RIGHT), io->output_offset, io->act_min, io->act_max);
    if (left >= 4) {
        vstrbq_s32(out, acc);
    } else {
        vstrbq_p_s32(out, acc, vctp32q((uint32_t)left));
    }
}

/* One tap of four channels: the input is read predicated only in a partial last block. */
static inline int32x4_t load_x(const int8_t *x, int32_t left)
{
    return left >= 4 ? vldrbq_s32(x) : vldrbq_z_s32(x, vctp32q((uint32_t)left));
}

/* The window lies inside the input: nine taps, no checks. `row` is the input row stride in bytes. */
static inline void interior_pixel(const int8_t *x, int32_t row, int32_t c, const int8_t *w, const int32_t *rq,
                                  const mcu_quant_io *io, int8_t *out)
{
    int32_t ch;
    for (ch = 0; ch < c; ch += 4, x += 4, w += 36, rq += MCU_MVE_RQ_BLOCK, out += 4) {
        const int32_t left = c - ch;
        const int8_t *r0 = x, *r1 = x + row, *r2 = x + 2 * row;
        int32x4_t acc = vldrwq_s32(rq + MCU_MVE_RQ_BIAS);
        acc = vaddq_s32(acc, vmulq_s32(load_x(r0, left), vldrbq_s32(w)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r0 + c, left), vldrbq_s32(w + 4)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r0 + 2 * c, left), vldrbq_s32(w + 8)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r1, left), vldrbq_s32(w + 12)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r1 + c, left), vldrbq_s32(w + 16)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r1 + 2 * c, left), vldrbq_s32(w + 20)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r2, left), vldrbq_s32(w + 24)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r2 + c, left), vldrbq_s32(w + 28)));
        acc = vaddq_s32(acc, vmulq_s32(load_x(r2 + 2 * c, left), vldrbq_s32(w + 32)));
        store_block(acc, rq, io, out, left);
    }
}

/* A window that reaches into the padding: taps outside the input count as the value input_zp. */
static void border_pixel(const int8_t *input, mcu_shape in_shape, int32_t iy, int32_t ix, const int8_t *w,
                         const int32_t *rq, const mcu_quant_io *io, int8_t *out)
{
    const int32_t c = in_shape.c;
    const int32_t zp = -io->input_offset;
    int32_t ch;
    for (ch = 0; ch < c; ch += 4, w += 36, rq += MCU_MVE_RQ_BLOCK, out += 4) {
        const int32_t left = c - ch;
        int32x4_t acc = vldrwq_s32(rq + MCU_MVE_RQ_BIAS);
        int32_t t;
        for (t = 0; t < 9; t++) {
            const int32_t y = iy + t / 3, x = ix + t % 3;
            const int32x4_t wv = vldrbq_s32(w + 4 * t);
            if (y >= 0 && y < in_shape.h && x >= 0 && x < in_shape.w) {
                acc = vaddq_s32(acc, vmulq_s32(load_x(input + (y * in_shape.w + x) * c + ch, left), wv));
            } else {
                acc = vmlaq_n_s32(acc, wv, zp);
            }
        }
        store_block(acc, rq, io, out, left);
    }
}

/* First output index whose window starts at or after input index 0, and one past the last whose
 * window ends inside size: the interior range along one axis. */
static void interior_range(int32_t size, int32_t out_size, int32_t stride, int32_t pad, int32_t *lo, int32_t *hi)
{
    int32_t a = (pad + stride - 1) / stride;
    int32_t b = size - 3 + pad < 0 ? 0 : (size - 3 + pad) / stride + 1;
    if (b > out_size) {
        b = out_size;
    }
    if (a > b) {
        a = b;
    }
    *lo = a;
    *hi = b;
}

void mcu_dwconv3x3_s8_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                          const int8_t *weights, const int32_t *requant, int8_t *output)
{
    const int32_t c = in_shape.c;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t row = in_shape.w * c;
    int32_t y_lo, y_hi, x_lo, x_hi, oy, ox;

    interior_range(in_shape.h, out_shape.h, sh, p->pad_top, &y_lo, &y_hi);
    interior_range(in_shape.w, out_shape.w, sw, p->pad_left, &x_lo, &x_hi);
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy = oy * sh - p->pad_top;
        const int inside_y = oy >= y_lo && oy < y_hi;
        int8_t *out = output + oy * out_shape.w * c;
        for (ox = 0; ox < out_shape.w; ox++, out += c) {
            const int32_t ix = ox * sw - p->pad_left;
            if (inside_y && ox >= x_lo && ox < x_hi) {
                interior_pixel(input + (iy * in_shape.w + ix) * c, row, c, weights, requant, &p->io, out);
            } else {
                border_pixel(input, in_shape, iy, ix, weights, requant, &p->io, out);
            }
        }
    }
}

#endif /* MVE */
