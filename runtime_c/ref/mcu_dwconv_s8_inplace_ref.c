/*
 * mcu_dwconv_s8_inplace_ref - int8 depthwise convolution (channel multiplier 1) whose output
 * overwrites its own input, so the arena needs no separate output buffer.
 *
 * buffer holds the input [in_shape.h][in_shape.w][c] on entry and the output
 * [out_shape.h][out_shape.w][c] on return, both starting at buffer[0]. The numbers are those of
 * mcu_dwconv_s8_ref: both kernels compute each row with mcu_dwconv_s8_row (mcu_dwconv_row.h).
 *
 * Why writing over the input is safe. Output row oy reads input rows from oy * stride_h - pad_top
 * upwards, and that first row never decreases with oy. So once output rows 0..j are computed,
 * the rows still to come read no input row below
 *     low(j) = max(0, (j + 1) * stride_h - pad_top),
 * that is, no byte of buffer below low(j) * in_shape.w * c. Output row y lives at bytes
 * [y * R, (y + 1) * R) with R = out_shape.w * c, so it may be written in its place as soon as
 *     (y + 1) * R <= low(j) * in_shape.w * c,
 * or once no input is needed any more (every row computed, or low(j) >= in_shape.h).
 *
 * Schedule. Each output row is computed into a ring of row buffers in scratch, R bytes each,
 * and copied to its place, in order, as soon as the rule above allows. The ring must hold every
 * row computed but not yet placed; that count depends only on the shapes, stride_h and pad_top,
 * so the compiler reserves it ahead of time: mcu_dwconv_s8_inplace_scratch_bytes() (and its twin
 * mcucompile.ops.depthwise_inplace.inplace_scratch_bytes). With an output no wider than the input
 * it is 1 row if pad_top < stride_h (so low(j) >= j + 1) and at most 2 if pad_top == stride_h
 * (low(j) >= j, a 3x3 "same" layer at stride 1); padding that widens the output can push it up
 * to out_shape.h rows.
 *
 * Sizes: buffer and scratch are below 2^31 bytes, so no index or byte count overflows int32.
 */
#include "mcu_dwconv_row.h"
#include "mcu_nn.h"

/* How many output rows, counting from row 0, may be in their final place once rows 0..last are computed. */
static int32_t rows_placeable(int32_t last, mcu_shape in_shape, mcu_shape out_shape, const mcu_conv_params *p)
{
    const int32_t computed = last + 1;
    const int32_t low = computed * p->stride_h - p->pad_top; /* lowest input row a later output row reads */
    int32_t rows;

    if (computed == out_shape.h || low >= in_shape.h) {
        return computed;
    }
    if (low <= 0) {
        return 0;
    }
    /* low < in_shape.h, so the product is below the input's size and cannot overflow. */
    rows = low * in_shape.w * in_shape.c / (out_shape.w * out_shape.c);
    return rows < computed ? rows : computed;
}

/* The most output rows ever held in scratch at once (the row being computed included): the ring size. */
static int32_t ring_rows(mcu_shape in_shape, mcu_shape out_shape, const mcu_conv_params *p)
{
    int32_t placed = 0, most = 0, oy;

    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t held = oy + 1 - placed;
        if (held > most) {
            most = held;
        }
        placed = rows_placeable(oy, in_shape, out_shape, p);
    }
    return most;
}

int32_t mcu_dwconv_s8_inplace_scratch_bytes(mcu_shape in_shape, mcu_shape out_shape, const mcu_conv_params *p)
{
    return ring_rows(in_shape, out_shape, p) * out_shape.w * out_shape.c;
}

void mcu_dwconv_s8_inplace_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape,
                               int8_t *buffer, mcu_shape out_shape, const int8_t *filter, const int32_t *bias,
                               int8_t *scratch)
{
    const int32_t row_bytes = out_shape.w * out_shape.c;
    const int32_t ring = ring_rows(in_shape, out_shape, p);
    int32_t oy, placed = 0;

    for (oy = 0; oy < out_shape.h; oy++) {
        int32_t ready;
        mcu_dwconv_s8_row(p, q, in_shape, buffer, oy, out_shape.w, filter, bias, scratch + (oy % ring) * row_bytes);
        ready = rows_placeable(oy, in_shape, out_shape, p);
        for (; placed < ready; placed++) {
            const int8_t *from = scratch + (placed % ring) * row_bytes;
            int8_t *to = buffer + placed * row_bytes;
            int32_t i;
            for (i = 0; i < row_bytes; i++) {
                to[i] = from[i];
            }
        }
    }
}
