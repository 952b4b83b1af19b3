/*
 * mcu_neon_windows.h - the windows of a small convolution gathered into rows, for the matrix loops
 * of mcu_conv_small_s8_neon and mcu_conv_small_s8_sdot. Private to runtime_c/neon.
 *
 * Output positions are taken in order, MCU_NEON_WINDOW_BATCH at a time; each one's window, in the
 * (ky, kx, ci) order of the packed weights, becomes a row of K = kernel_h * kernel_w * in_c bytes
 * (K <= 64), rounded up to 8 with zeros, the rows of a batch back to back. Inside the input a window
 * row is kernel_w * in_c contiguous bytes, copied with overlapping 16- or 8-byte loads and stores
 * that stay inside it; a window that reaches into the padding is filled byte by byte, its padded
 * taps holding input_zp (the bias was folded with every tap counted as the input zero point).
 */
#ifndef MCU_NEON_WINDOWS_H
#define MCU_NEON_WINDOWS_H

#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include "mcu_neon.h"

#define MCU_NEON_WINDOW_BATCH 8
#define MCU_NEON_WINDOW_MAX 64

typedef struct {
    const mcu_conv_params *p;
    mcu_shape in_shape, out_shape;
    const int8_t *input;
    int32_t span;      /* bytes of a window row: kernel_w * in_c */
    int32_t row_bytes; /* kernel_h * span rounded up to 8 */
    int32_t x_lo, x_hi; /* output columns whose windows lie inside the input's columns */
    int32_t oy, ox;    /* the next output position */
    int32_t first;     /* the batch's first position, oy * out_shape.w + ox */
    int8_t rows[MCU_NEON_WINDOW_BATCH][MCU_NEON_WINDOW_MAX];
} mcu_neon_windows;

static inline void mcu_neon_windows_init(mcu_neon_windows *win, const mcu_conv_params *p, mcu_shape in_shape,
                                         const int8_t *input, mcu_shape out_shape)
{
    const int32_t last = in_shape.w - p->kernel_w + p->pad_left; /* ix + kernel_w <= w */
    win->p = p;
    win->in_shape = in_shape;
    win->out_shape = out_shape;
    win->input = input;
    win->span = p->kernel_w * in_shape.c;
    win->row_bytes = (p->kernel_h * win->span + 7) & ~7;
    win->x_lo = (p->pad_left + p->stride_w - 1) / p->stride_w;
    win->x_hi = last < 0 ? 0 : last / p->stride_w + 1;
    if (win->x_hi > out_shape.w) {
        win->x_hi = out_shape.w;
    }
    win->oy = 0;
    win->ox = 0;
    win->first = 0;
    memset(win->rows, 0, sizeof(win->rows));
}

/* n bytes (1 <= n <= 64) from src to dst, touching no byte outside either range. */
MCU_NEON_INLINE void mcu_neon_copy_span(int8_t *dst, const int8_t *src, int32_t n)
{
    int32_t i;
    if (n >= 16) {
        for (i = 0; i + 16 <= n; i += 16) {
            vst1q_s8(dst + i, vld1q_s8(src + i));
        }
        if (i < n) {
            vst1q_s8(dst + n - 16, vld1q_s8(src + n - 16));
        }
    } else if (n >= 8) {
        vst1_s8(dst, vld1_s8(src));
        vst1_s8(dst + n - 8, vld1_s8(src + n - 8));
    } else {
        for (i = 0; i < n; i++) {
            dst[i] = src[i];
        }
    }
}

/* A window that reaches into the padding, byte by byte. */
static void mcu_neon_window_border(const mcu_neon_windows *win, int32_t iy, int32_t ix, int8_t *dst)
{
    const int32_t cin = win->in_shape.c;
    const int8_t zp = (int8_t)(-win->p->io.input_offset);
    int32_t ky, kx, ci;
    for (ky = 0; ky < win->p->kernel_h; ky++) {
        const int32_t y = iy + ky;
        for (kx = 0; kx < win->p->kernel_w; kx++) {
            const int32_t x = ix + kx;
            const int inside = y >= 0 && y < win->in_shape.h && x >= 0 && x < win->in_shape.w;
            const int8_t *src = win->input + (y * win->in_shape.w + x) * cin;
            for (ci = 0; ci < cin; ci++) {
                *dst++ = inside ? src[ci] : zp;
            }
        }
    }
}

/* Gather the next batch; returns how many positions it holds (0 at the end), the first of them at
 * win->first. */
static inline int32_t mcu_neon_windows_next(mcu_neon_windows *win)
{
    const mcu_conv_params *p = win->p;
    const int32_t kh = p->kernel_h, span = win->span, row = win->in_shape.w * win->in_shape.c;
    const int32_t out_w = win->out_shape.w, x_lo = win->x_lo, x_hi = win->x_hi;
    int32_t oy = win->oy, ox = win->ox, n, ky;
    win->first = oy * out_w + ox;
    for (n = 0; n < MCU_NEON_WINDOW_BATCH && oy < win->out_shape.h; n++) {
        const int32_t iy = oy * p->stride_h - p->pad_top, ix = ox * p->stride_w - p->pad_left;
        int8_t *dst = win->rows[n];
        if (iy >= 0 && iy + kh <= win->in_shape.h && ox >= x_lo && ox < x_hi) {
            const int8_t *src = win->input + iy * row + ix * win->in_shape.c;
            for (ky = 0; ky < kh; ky++, src += row, dst += span) {
                mcu_neon_copy_span(dst, src, span);
            }
        } else {
            mcu_neon_window_border(win, iy, ix, dst);
        }
        if (++ox == out_w) {
            ox = 0;
            oy++;
        }
    }
    win->oy = oy;
    win->ox = ox;
    return n;
}
#endif /* AArch64 NEON */

#endif /* MCU_NEON_WINDOWS_H */
