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

/* int32 words of the requant header (the first: 1 if every shift is negative), before the blocks. */
#define MCU_MVE_RQ_SMALL_HEADER 4

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

/*
 * Runs of positions when out_c % 8 == 0 and every shift is a right shift (the requant header's
 * flag): the window copy and every channel in one assembly statement. Each block of four channels
 * is mcu_mve_small_sums4's eight VMLADAVA (each starting from the channel's folded bias, so the
 * sum is the same integer), loaded one step ahead; two blocks requantize by mcu_mve_requantize's
 * sequence without the left shift and with fix all ones (every right < 0), narrowed with
 * saturation to int16 (a value saturated there still clamps to act_min or act_max after the
 * offset, so the bytes are the int32 sequence's), and leave by one byte scatter: lanes
 * (c, c + 4, c + 1, c + 5, ...) to their bytes. With the clamp at the int8 edges VQMOVNB.S16
 * saturates in place of VMAX/VMIN. The C loop spent about 60% of the layer outside this arithmetic.
 */
typedef struct {
    const int8_t *x;             /* 0: the next window's top-left input byte, advanced by step */
    int32_t row;                 /* 4: bytes per input row */
    int32_t rows;                /* 8: window rows to copy (kernel_h; 0: the window is already filled) */
    int32_t span;                /* 12: bytes per window row */
    int32_t step;                /* 16: bytes between two windows (stride_w * in_c) */
    const int8_t *out_end;       /* 20: past the run's last output byte */
    const int8_t *weights;       /* 24 */
    const int8_t *weights_end;   /* 28 */
    const int32_t *requant;      /* 32: past the header */
    int8_t *window;              /* 36 */
    int32_t out_offset, act_min, act_max; /* 40, 44, 48 */
    uint32_t row_pred;           /* 52: the window row's predicate, VCTP8(span) */
} mcu_mve_small_run;
/* The assembly addresses these fields by the byte offsets above. */
MCU_MVE_AT(mcu_mve_small_run, x, 0);
MCU_MVE_AT(mcu_mve_small_run, row, 4);
MCU_MVE_AT(mcu_mve_small_run, rows, 8);
MCU_MVE_AT(mcu_mve_small_run, span, 12);
MCU_MVE_AT(mcu_mve_small_run, step, 16);
MCU_MVE_AT(mcu_mve_small_run, out_end, 20);
MCU_MVE_AT(mcu_mve_small_run, weights, 24);
MCU_MVE_AT(mcu_mve_small_run, weights_end, 28);
MCU_MVE_AT(mcu_mve_small_run, requant, 32);
MCU_MVE_AT(mcu_mve_small_run, window, 36);
MCU_MVE_AT(mcu_mve_small_run, out_offset, 40);
MCU_MVE_AT(mcu_mve_small_run, act_min, 44);
MCU_MVE_AT(mcu_mve_small_run, act_max, 48);
MCU_MVE_AT(mcu_mve_small_run, row_pred, 52);

/* One block of four channels' sums (weights at w + OFF .. + OFF + 127) into the lanes of DST. */
#define MCU_MVE_SMALL_BLOCK(DST, RQ)                                   \
    "ldrd %[s0], %[s1], [%[rq], #" RQ "]\n\t"                          \
    "vldrb.u8 %q[u0], [%[w]]\n\t"                                      \
    "ldrd %[s2], %[s3], [%[rq], #" RQ " + 8]\n\t"                      \
    "vldrb.u8 %q[u1], [%[w], #16]\n\t"                                 \
    "vmladava.s8 %[s0], %q[lo], %q[u0]\n\t"                            \
    "vldrb.u8 %q[u0], [%[w], #32]\n\t"                                 \
    "vmladava.s8 %[s0], %q[hi], %q[u1]\n\t"                            \
    "vldrb.u8 %q[u1], [%[w], #48]\n\t"                                 \
    "vmladava.s8 %[s1], %q[lo], %q[u0]\n\t"                            \
    "vldrb.u8 %q[u0], [%[w], #64]\n\t"                                 \
    "vmladava.s8 %[s1], %q[hi], %q[u1]\n\t"                            \
    "vldrb.u8 %q[u1], [%[w], #80]\n\t"                                 \
    "vmladava.s8 %[s2], %q[lo], %q[u0]\n\t"                            \
    "vldrb.u8 %q[u0], [%[w], #96]\n\t"                                 \
    "vmladava.s8 %[s2], %q[hi], %q[u1]\n\t"                            \
    "vldrb.u8 %q[u1], [%[w], #112]\n\t"                                \
    "vmladava.s8 %[s3], %q[lo], %q[u0]\n\t"                            \
    "adds %[w], #128\n\t"                                              \
    "vmladava.s8 %[s3], %q[hi], %q[u1]\n\t"                            \
    "vmov %q[" DST "][2], %q[" DST "][0], %[s0], %[s2]\n\t"            \
    "vmov %q[" DST "][3], %q[" DST "][1], %[s1], %[s3]\n\t"

#define MCU_MVE_SMALL_SATURATE "vqmovnb.s16 %q[u0], %q[u0]\n\t"
#define MCU_MVE_SMALL_CLAMP                        \
    "ldrd %[s2], %[s3], [%[run], #44]\n\t"         \
    "vdup.16 %q[u1], %[s2]\n\t"                    \
    "vdup.16 %q[u2], %[s3]\n\t"                    \
    "vmax.s16 %q[u0], %q[u0], %q[u1]\n\t"          \
    "vmin.s16 %q[u0], %q[u0], %q[u2]\n\t"

#define MCU_MVE_SMALL_RUN_BODY(OUTPUT)                                                                      \
    "1:\n\t"                                                                                                \
    "ldr %[t1], [%[run]]\n\t"                                                                               \
    "ldr %[t2], [%[run], #8]\n\t"                                                                           \
    "ldr %[s0], [%[run], #36]\n\t"                                                                          \
    "ldr %[s1], [%[run], #52]\n\t"                                                                          \
    "ldr %[s2], [%[run], #4]\n\t"                                                                           \
    "ldr %[s3], [%[run], #12]\n\t"                                                                          \
    "vmsr p0, %[s1]\n\t"                                                                                    \
    "cmp %[t2], #0\n\t"                                                                                     \
    "beq 3f\n"                                                                                              \
    "2:\n\t"                                                                                                \
    "vpst\n\t"                                                                                              \
    "vldrbt.u8 %q[u0], [%[t1]]\n\t"                                                                         \
    "add %[t1], %[s2]\n\t"                                                                                  \
    "vpst\n\t"                                                                                              \
    "vstrbt.8 %q[u0], [%[s0]]\n\t"                                                                          \
    "add %[s0], %[s3]\n\t"                                                                                  \
    "subs %[t2], #1\n\t"                                                                                    \
    "bne 2b\n"                                                                                              \
    "3:\n\t"                                                                                                \
    "ldr %[t1], [%[run], #36]\n\t"                                                                          \
    "ldr %[w], [%[run], #24]\n\t"                                                                           \
    "vldrb.u8 %q[lo], [%[t1]]\n\t"                                                                          \
    "ldr %[rq], [%[run], #32]\n\t"                                                                          \
    "vldrb.u8 %q[hi], [%[t1], #16]\n"                                                                       \
    "4:\n\t" MCU_MVE_SMALL_BLOCK("a", "0") MCU_MVE_SMALL_BLOCK("b", "64")                                   \
    "vldrw.u32 %q[u0], [%[rq], #16]\n\t"                                                                    \
    "vldrw.u32 %q[u1], [%[rq], #80]\n\t"                                                                    \
    "vqrdmulh.s32 %q[a], %q[a], %q[u0]\n\t"                                                                 \
    "vldrw.u32 %q[u2], [%[rq], #48]\n\t"                                                                    \
    "vqrdmulh.s32 %q[b], %q[b], %q[u1]\n\t"                                                                 \
    "vshr.s32 %q[u0], %q[a], #31\n\t"                                                                       \
    "vldrw.u32 %q[u1], [%[rq], #112]\n\t"                                                                   \
    "vqadd.s32 %q[a], %q[a], %q[u0]\n\t"                                                                    \
    "vshr.s32 %q[u0], %q[b], #31\n\t"                                                                       \
    "vrshl.s32 %q[a], %q[a], %q[u2]\n\t"                                                                    \
    "vqadd.s32 %q[b], %q[b], %q[u0]\n\t"                                                                    \
    "ldr %[s0], [%[run], #40]\n\t"                                                                          \
    "vrshl.s32 %q[b], %q[b], %q[u1]\n\t"                                                                    \
    "adds %[rq], #128\n\t"                                                                                  \
    "vqmovnb.s32 %q[u0], %q[a]\n\t"                                                                         \
    "vqmovnt.s32 %q[u0], %q[b]\n\t"                                                                         \
    "vqadd.s16 %q[u0], %q[u0], %[s0]\n\t" OUTPUT                                                            \
    "ldr %[t1], [%[run], #28]\n\t"                                                                          \
    "vstrb.16 %q[u0], [%[out], %q[sc]]\n\t"                                                                 \
    "adds %[out], #8\n\t"                                                                                   \
    "cmp %[w], %[t1]\n\t"                                                                                   \
    "bne 4b\n\t"                                                                                            \
    "ldr %[t1], [%[run]]\n\t"                                                                               \
    "ldr %[t2], [%[run], #16]\n\t"                                                                          \
    "add %[t1], %[t2]\n\t"                                                                                  \
    "str %[t1], [%[run]]\n\t"                                                                               \
    "ldr %[t2], [%[run], #20]\n\t"                                                                          \
    "cmp %[out], %[t2]\n\t"                                                                                 \
    "bne 1b\n\t"                                                                                            \
    : [s0] "=&Te"(s0), [s1] "=&Te"(s1), [s2] "=&Te"(s2), [s3] "=&Te"(s3), [t1] "=&r"(t1), [t2] "=&r"(t2),   \
      [w] "=&r"(w), [rq] "=&r"(rq), [out] "+r"(out), [lo] "=&w"(lo), [hi] "=&w"(hi), [u0] "=&w"(u0),        \
      [u1] "=&w"(u1), [u2] "=&w"(u2), [a] "=&w"(a), [b] "=&w"(b)                                            \
    : [run] "r"(run), [sc] "w"(scatter)                                                                     \
    : "cc", "memory"

/* The positions of one run (run->out_end > out) by the assembly loop; saturate: a constant per call. */
MCU_MVE_INLINE void mcu_mve_small_run_fast(mcu_mve_small_run *run, int8_t *out, uint16x8_t scatter, int saturate)
{
    int32_t s0, s1, s2, s3;
    const int8_t *t1, *w;
    int32_t t2;
    const int32_t *rq;
    int8x16_t lo, hi, u0, u1, u2;
    int32x4_t a, b;
    if (saturate) {
        __asm__ volatile(MCU_MVE_SMALL_RUN_BODY(MCU_MVE_SMALL_SATURATE));
    } else {
        __asm__ volatile(MCU_MVE_SMALL_RUN_BODY(MCU_MVE_SMALL_CLAMP));
    }
}

#undef MCU_MVE_SMALL_BLOCK
#undef MCU_MVE_SMALL_SATURATE
#undef MCU_MVE_SMALL_CLAMP
#undef MCU_MVE_SMALL_RUN_BODY

/* The kernel by mcu_mve_small_run_fast (int8 weights, out_c % 8 == 0, every shift negative): runs
 * of interior positions copy their window rows in the loop, a border position's window is filled
 * by mcu_mve_small_fill_border first (rows = 0). */
static void mcu_mve_conv_small_fast(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input,
                                    mcu_shape out_shape, const int8_t *weights, const int32_t *requant,
                                    int8_t *output)
{
    const int32_t cin = in_shape.c, cout = out_shape.c;
    const int32_t kh = p->kernel_h, kw = p->kernel_w, sw = p->stride_w;
    const int32_t span = kw * cin, row = in_shape.w * cin;
    const int8_t zp = (int8_t)(-p->io.input_offset);
    const int32_t x_lo = (p->pad_left + sw - 1) / sw;
    const int32_t x_hi = in_shape.w - kw + p->pad_left < 0 ? 0 : (in_shape.w - kw + p->pad_left) / sw + 1;
    const int saturate = p->io.act_min == -128 && p->io.act_max == 127;
    /* Byte offsets of the int16 lanes: channels c, c + 4, c + 1, c + 5, ... (a block in the even
     * lanes, the next one in the odd lanes). */
    const uint16x8_t lane = vidupq_n_u16(0, 1);
    const uint16x8_t scatter = vaddq_u16(vshrq_n_u16(lane, 1), vmulq_n_u16(vandq_u16(lane, vdupq_n_u16(1)), 4));
    int8_t window[48] __attribute__((aligned(16))); /* taps <= 32, plus room for the last row's store */
    mcu_mve_small_run run = {0, row, kh, span, sw * cin, 0, weights, weights + cout * 32, requant, window,
                             p->io.output_offset, p->io.act_min, p->io.act_max, vctp8q((uint32_t)span)};
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
            int32_t end = ox + 1;
            if (rows_inside && ox >= x_lo && ox < x_hi) {
                end = x_hi < out_shape.w ? x_hi : out_shape.w;
                run.x = input + iy * row + ix * cin;
                run.rows = kh;
            } else {
                mcu_mve_small_fill_border(input, in_shape, kh, kw, iy, ix, zp, window);
                run.rows = 0;
            }
            run.out_end = out + end * cout;
            if (saturate) {
                mcu_mve_small_run_fast(&run, out + ox * cout, scatter, 1);
            } else {
                mcu_mve_small_run_fast(&run, out + ox * cout, scatter, 0);
            }
            ox = end - 1;
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

    /* requant starts with a header of four words: the first says whether every shift is negative. */
    if (MCU_MVE_ASM_LOOPS && !wzp && requant[0] != 0 && (cout & 7) == 0) {
        mcu_mve_conv_small_fast(p, in_shape, input, out_shape, weights, requant + MCU_MVE_RQ_SMALL_HEADER, output);
        return;
    }
    requant += MCU_MVE_RQ_SMALL_HEADER;
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
