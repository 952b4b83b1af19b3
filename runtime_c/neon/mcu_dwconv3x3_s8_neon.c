/*
 * mcu_dwconv3x3_s8_neon.c - depthwise 3x3 convolution with baseline Armv8-A NEON: see mcu_nn_neon.h
 * for the layout.
 *
 * Sixteen channels per step. Two taps at a time: SMULL/SMULL2 multiply one tap's 16 inputs by its
 * 16 weights into int16 lanes and SMLAL/SMLAL2 add the next tap's products (two products of an int8
 * input and a weight in [-127, 127] fit int16), then SADDW/SADDW2 widen the pair's sums into the
 * four int32 accumulators of the 16 channels: nine taps in 18 multiplies and 20 widening adds, the
 * first of which starts from the (folded) bias. A dot product does not help here: the four bytes an
 * SDOT sums would have to be taps of one channel, which lie c bytes apart.
 *
 * Every output position reads its nine taps through nine pointers: into the input where the tap
 * lies inside it, else at a scratch row of input_zp (the folded bias counted every tap as the
 * input zero point, so a padded tap must add zp * w, as it does here); inside the image the
 * pointers are the window's top-left byte plus fixed offsets. The blocks of a position then load
 * at each pointer plus the block's channel offset, one instruction per tap, the last block ending at
 * c (it may overlap the one before) so no load leaves the pixel; fewer than 8 channels are copied
 * into an 8-byte slot per tap first.
 */
#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include "mcu_neon.h"

/* acc[0 .. 4) (16 channels) += xa * wa + xb * wb: the two taps' products summed in int16, widened. */
#define MCU_DW_PAIR16(xa, wa, xb, wb)                                                                   \
    do {                                                                                                \
        const int8x16_t xa_ = (xa), xb_ = (xb);                                                         \
        const int16x8_t lo_ = mcu_neon_smlal_low(mcu_neon_smull_low(xa_, wa), xb_, wb);                 \
        const int16x8_t hi_ = vmlal_high_s8(vmull_high_s8(xa_, wa), xb_, wb);                          \
        acc[0][0] = vaddw_s16(acc[0][0], vget_low_s16(lo_));                                            \
        acc[0][1] = vaddw_high_s16(acc[0][1], lo_);                                                     \
        acc[0][2] = vaddw_s16(acc[0][2], vget_low_s16(hi_));                                            \
        acc[0][3] = vaddw_high_s16(acc[0][3], hi_);                                                     \
        MCU_NEON_KEEP_ORDER();                                                                          \
    } while (0)

/* acc[0 .. 2) (8 channels) += xa * wa + xb * wb. */
#define MCU_DW_PAIR8(xa, wa, xb, wb)                                           \
    do {                                                                       \
        const int16x8_t s_ = vmlal_s8(vmull_s8((xa), (wa)), (xb), (wb));       \
        acc[0][0] = vaddw_s16(acc[0][0], vget_low_s16(s_));                    \
        acc[0][1] = vaddw_high_s16(acc[0][1], s_);                             \
    } while (0)

/* One position of a block of 16 channels: tap i's inputs at AT(i), weights k0 .. k8, from the block's bias. */
#define MCU_DW_ONE16(AT)                                                                       \
    do {                                                                                       \
        const int32x4x4_t bias_ = vld1q_s32_x4(rq + MCU_NEON_RQ_BIAS(16));                     \
        const int8x16_t x8_ = vld1q_s8(AT(8));                                                \
        const int16x8_t lo8_ = mcu_neon_smull_low(x8_, k8);                                    \
        const int16x8_t hi8_ = vmull_high_s8(x8_, k8);                                         \
        acc[0][0] = vaddw_s16(bias_.val[0], vget_low_s16(lo8_));                               \
        acc[0][1] = vaddw_high_s16(bias_.val[1], lo8_);                                        \
        acc[0][2] = vaddw_s16(bias_.val[2], vget_low_s16(hi8_));                               \
        acc[0][3] = vaddw_high_s16(bias_.val[3], hi8_);                                        \
        MCU_DW_PAIR16(vld1q_s8(AT(0)), k0, vld1q_s8(AT(1)), k1);                              \
        MCU_DW_PAIR16(vld1q_s8(AT(2)), k2, vld1q_s8(AT(3)), k3);                              \
        MCU_DW_PAIR16(vld1q_s8(AT(4)), k4, vld1q_s8(AT(5)), k5);                              \
        MCU_DW_PAIR16(vld1q_s8(AT(6)), k6, vld1q_s8(AT(7)), k7);                              \
    } while (0)

/* The same for 8 channels. */
#define MCU_DW_ONE8(AT)                                                                        \
    do {                                                                                       \
        const int16x8_t s8_ = vmull_s8(vld1_s8(AT(8)), k8);                                   \
        acc[0][0] = vaddw_s16(vld1q_s32(rq + MCU_NEON_RQ_BIAS(8)), vget_low_s16(s8_));         \
        acc[0][1] = vaddw_high_s16(vld1q_s32(rq + MCU_NEON_RQ_BIAS(8) + 4), s8_);             \
        MCU_DW_PAIR8(vld1_s8(AT(0)), k0, vld1_s8(AT(1)), k1);                                 \
        MCU_DW_PAIR8(vld1_s8(AT(2)), k2, vld1_s8(AT(3)), k3);                                 \
        MCU_DW_PAIR8(vld1_s8(AT(4)), k4, vld1_s8(AT(5)), k5);                                 \
        MCU_DW_PAIR8(vld1_s8(AT(6)), k6, vld1_s8(AT(7)), k7);                                 \
    } while (0)

/* Tap i of a window inside the input, and of a position in the padding (at the block's channels). */
#define MCU_DW_RUN_TAP(i) (x[i])
#define MCU_DW_BORDER_TAP(i) (t##i + start)

/* The nine taps of window `corner` (its top-left byte). */
#define MCU_DW_TAPS(x, corner)                      \
    do {                                            \
        (x)[0] = (corner);                          \
        (x)[1] = (x)[0] + c;                        \
        (x)[2] = (x)[0] + 2 * c;                    \
        (x)[3] = (x)[0] + row;                      \
        (x)[4] = (x)[3] + c;                        \
        (x)[5] = (x)[3] + 2 * c;                    \
        (x)[6] = (x)[0] + 2 * row;                  \
        (x)[7] = (x)[6] + c;                        \
        (x)[8] = (x)[6] + 2 * c;                    \
    } while (0)

/*
 * A run of `count` positions whose windows lie inside the input, one block of 16 channels: the
 * weights and parameters stay in registers across the run. corner: the first window's top-left
 * byte (at the block's channels); step: bytes between windows; row: bytes per input row.
 */
MCU_NEON_INLINE void mcu_dw_run16(const int8_t *corner, int32_t step, int32_t row, int32_t c, int32_t count,
                                  const int8_t *w, const int32_t *rq, const mcu_neon_out *os, int8_t *out,
                                  int right_only)
{
    const int8x16x4_t a = vld1q_s8_x4(w), b = vld1q_s8_x4(w + 64);
    const int8x16_t k0 = a.val[0], k1 = a.val[1], k2 = a.val[2], k3 = a.val[3];
    const int8x16_t k4 = b.val[0], k5 = b.val[1], k6 = b.val[2], k7 = b.val[3], k8 = vld1q_s8(w + 128);
    const mcu_neon_out o = *os;
    int32_t n;
    for (n = 0; n < count; n++, corner += step, out += c) {
        const int8_t *x[9];
        int32x4_t acc[1][4];
        mcu_neon_rq q;
        MCU_DW_TAPS(x, corner);
        MCU_DW_ONE16(MCU_DW_RUN_TAP);
        /* Loaded here, not kept: the nine weights and the accumulators fill the registers. */
        mcu_neon_rq_load(&q, rq, 16, right_only);
        mcu_neon_store_positions_q(acc, 1, 16, &q, right_only, &o, out, 0, 16);
    }
}

/* The same for a block of 8 channels. */
MCU_NEON_INLINE void mcu_dw_run8(const int8_t *corner, int32_t step, int32_t row, int32_t c, int32_t count,
                                 const int8_t *w, const int32_t *rq, const mcu_neon_out *os, int8_t *out,
                                 int right_only)
{
    const int8x8x4_t a = vld1_s8_x4(w), b = vld1_s8_x4(w + 32);
    const int8x8_t k0 = a.val[0], k1 = a.val[1], k2 = a.val[2], k3 = a.val[3];
    const int8x8_t k4 = b.val[0], k5 = b.val[1], k6 = b.val[2], k7 = b.val[3], k8 = vld1_s8(w + 64);
    const mcu_neon_out o = *os;
    mcu_neon_rq q;
    int32_t n;
    mcu_neon_rq_load(&q, rq, 8, right_only);
    for (n = 0; n < count; n++, corner += step, out += c) {
        const int8_t *x[9];
        int32x4_t acc[1][4];
        MCU_DW_TAPS(x, corner);
        MCU_DW_ONE8(MCU_DW_RUN_TAP);
        mcu_neon_store_positions_q(acc, 1, 8, &q, right_only, &o, out, 0, 8);
    }
}

/* The run for every channel block. */
static void mcu_dw_run(const int8_t *corner, int32_t step, int32_t row, const mcu_neon_blocks *cb, int32_t c,
                       int32_t count, const int8_t *weights, const int32_t *requant, const mcu_neon_out *os,
                       int8_t *out)
{
    const int8_t *w = weights;
    const int32_t *rq = requant;
    int32_t b;
    for (b = 0; b < cb->full + cb->count; b++) {
        const int32_t start = b < cb->full ? 16 * b : cb->start[b - cb->full];
        const int32_t width = b < cb->full ? 16 : cb->width[b - cb->full];
        const int right_only = rq[0] & MCU_NEON_RQ_RIGHT_ONLY;
        if (width == 16) {
            if (right_only) {
                mcu_dw_run16(corner + start, step, row, c, count, w, rq, os, out + start, 1);
            } else {
                mcu_dw_run16(corner + start, step, row, c, count, w, rq, os, out + start, 0);
            }
        } else {
            if (right_only) {
                mcu_dw_run8(corner + start, step, row, c, count, w, rq, os, out + start, 1);
            } else {
                mcu_dw_run8(corner + start, step, row, c, count, w, rq, os, out + start, 0);
            }
        }
        w += 9 * width;
        rq += MCU_NEON_RQ_WORDS(width);
    }
}

/* One position whose window reaches into the padding (or any position of a layer with fewer than 8
 * channels): its taps at t[0 .. 9), every channel block. */
static void mcu_dw_position(const int8_t *const *t, const mcu_neon_blocks *cb, int32_t c, const int8_t *weights,
                            const int32_t *requant, const mcu_neon_out *os, int8_t *out)
{
    const int8_t *t0 = t[0], *t1 = t[1], *t2 = t[2], *t3 = t[3], *t4 = t[4], *t5 = t[5], *t6 = t[6], *t7 = t[7];
    const int8_t *t8 = t[8];
    const int8_t *w = weights;
    const int32_t *rq = requant;
    const mcu_neon_out o = *os;
    int32_t b, start;
    for (b = 0; b < cb->full; b++, w += 9 * 16, rq += MCU_NEON_RQ_WORDS(16)) {
        const int8x16x4_t a = vld1q_s8_x4(w), b4 = vld1q_s8_x4(w + 64);
        const int8x16_t k0 = a.val[0], k1 = a.val[1], k2 = a.val[2], k3 = a.val[3];
        const int8x16_t k4 = b4.val[0], k5 = b4.val[1], k6 = b4.val[2], k7 = b4.val[3], k8 = vld1q_s8(w + 128);
        int32x4_t acc[1][4];
        start = 16 * b;
        MCU_DW_ONE16(MCU_DW_BORDER_TAP);
        mcu_neon_store_positions(acc, 1, 16, rq, &o, out + start, 0, 16);
    }
    for (b = 0; b < cb->count; b++) {
        int32x4_t acc[1][4];
        start = cb->start[b];
        if (cb->width[b] == 16) {
            const int8x16x4_t a = vld1q_s8_x4(w), b4 = vld1q_s8_x4(w + 64);
            const int8x16_t k0 = a.val[0], k1 = a.val[1], k2 = a.val[2], k3 = a.val[3];
            const int8x16_t k4 = b4.val[0], k5 = b4.val[1], k6 = b4.val[2], k7 = b4.val[3], k8 = vld1q_s8(w + 128);
            MCU_DW_ONE16(MCU_DW_BORDER_TAP);
            mcu_neon_store_positions(acc, 1, 16, rq, &o, out + start, 0, 16);
            w += 9 * 16;
            rq += MCU_NEON_RQ_WORDS(16);
        } else {
            const int8x8x4_t a = vld1_s8_x4(w), b4 = vld1_s8_x4(w + 32);
            const int8x8_t k0 = a.val[0], k1 = a.val[1], k2 = a.val[2], k3 = a.val[3];
            const int8x8_t k4 = b4.val[0], k5 = b4.val[1], k6 = b4.val[2], k7 = b4.val[3], k8 = vld1_s8(w + 64);
            MCU_DW_ONE8(MCU_DW_BORDER_TAP);
            mcu_neon_store_positions(acc, 1, 8, rq, &o, out + start, 0, cb->partial ? c : 8);
            w += 9 * 8;
            rq += MCU_NEON_RQ_WORDS(8);
        }
    }
}

#undef MCU_DW_PAIR16
#undef MCU_DW_PAIR8
#undef MCU_DW_ONE16
#undef MCU_DW_ONE8
#undef MCU_DW_TAPS
#undef MCU_DW_RUN_TAP
#undef MCU_DW_BORDER_TAP

/* Output indices along one axis whose windows lie inside the input: [*lo, *hi). */
static void mcu_dw_inside(int32_t size, int32_t out_size, int32_t stride, int32_t pad, int32_t *lo, int32_t *hi)
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

int32_t mcu_dwconv3x3_s8_neon_scratch_bytes(mcu_shape in_shape)
{
    return in_shape.c;
}

void mcu_dwconv3x3_s8_neon(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int8_t *weights, const int32_t *requant, int8_t *scratch, int8_t *output)
{
    const int32_t c = in_shape.c, row = in_shape.w * c;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const mcu_neon_blocks cb = mcu_neon_blocks_of(c);
    const mcu_neon_out os = mcu_neon_out_of(&p->io);
    const int8_t zp = (int8_t)(-p->io.input_offset);
    int8_t few[9][8]; /* fewer than 8 channels: each tap's bytes, copied */
    int32_t y_lo, y_hi, x_lo, x_hi, oy, ox, i;

    memset(scratch, zp, (size_t)mcu_dwconv3x3_s8_neon_scratch_bytes(in_shape));
    memset(few, 0, sizeof(few));
    mcu_dw_inside(in_shape.h, out_shape.h, sh, p->pad_top, &y_lo, &y_hi);
    mcu_dw_inside(in_shape.w, out_shape.w, sw, p->pad_left, &x_lo, &x_hi);
    if (cb.partial) {
        x_lo = x_hi = out_shape.w; /* every position gathers its taps */
    }
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy = oy * sh - p->pad_top;
        const int rows_inside = oy >= y_lo && oy < y_hi;
        int8_t *out = output + oy * out_shape.w * c;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix = ox * sw - p->pad_left;
            const int8_t *t[9];
            int32_t ky, kx;
            if (rows_inside && ox == x_lo && x_hi > x_lo) {
                mcu_dw_run(input + iy * row + ix * c, sw * c, row, &cb, c, x_hi - x_lo, weights, requant, &os,
                           out + ox * c);
                ox = x_hi - 1;
                continue;
            }
            for (ky = 0; ky < 3; ky++) {
                for (kx = 0; kx < 3; kx++) {
                    const int32_t y = iy + ky, x = ix + kx;
                    const int inside = y >= 0 && y < in_shape.h && x >= 0 && x < in_shape.w;
                    t[3 * ky + kx] = inside ? input + y * row + x * c : scratch;
                }
            }
            if (cb.partial) {
                for (i = 0; i < 9; i++) {
                    memcpy(few[i], t[i], (size_t)c);
                    t[i] = few[i];
                }
            }
            mcu_dw_position(t, &cb, c, weights, requant, &os, out + ox * c);
        }
    }
}

#endif /* AArch64 NEON */
