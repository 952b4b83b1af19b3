/*
 * mcu_mve_dwconv3x3.h - the loops of the Helium depthwise 3x3 kernels, written once for int8 weights
 * (mcu_dwconv3x3_s8_mve) and int16 weights (mcu_dwconv3x3_s8_wzp_mve: weights minus their zero
 * point, w - zw in [-255, 255], for legacy uint8 models).
 *
 * Eight channels per step, as int16 lanes: a widening byte load (VLDRB.S16) of eight input channels
 * and of their weights (VLDRH.S16 for int16 weights: the same one instruction), then VMULLB and
 * VMULLT, which multiply the even and the odd lanes into two int32x4 products (MVE has no
 * vector-by-vector integer multiply-accumulate), added to two int32 accumulators: channels 0, 2, 4, 6
 * and 1, 3, 5, 7 of the block. Nine products overflow int16, hence the int32 accumulators; an int16
 * weight times an input (or, at the border, an input minus its zero point, within [-255, 255]) fits
 * them. The compiler packs each block's nine taps back to back (72 weights) and its requantization
 * parameters as two 16-word blocks, even channels first, so both halves requantize with contiguous
 * loads, then the block's bias before folding (for the border, below); VMOVNB/VMOVNT put the halves
 * back in channel order for one store.
 *
 * Output positions whose window lies inside the input take the unrolled path without bounds checks;
 * the border positions visit only their taps inside the input (see mcu_mve_dw_border_pixel).
 * `wide` is a constant in each wrapper and the functions are inlined, so each kernel keeps only its
 * own load (VWW on cortex-m55: no depthwise layer of mcu_dwconv3x3_s8_mve executes more
 * instructions than before its loops moved here; 0.1% fewer in all).
 * Private to runtime_c/arm_mve.
 */
#ifndef MCU_MVE_DWCONV3X3_H
#define MCU_MVE_DWCONV3X3_H

#include "mcu_nn_mve.h"

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include "mcu_mve.h"

/* int32 words of requantization parameters per block of eight channels: the even and the odd
 * channels' 16-word blocks, then the bias before folding (even channels, then odd). */
#define MCU_MVE_RQ_DW_BLOCK (2 * MCU_MVE_RQ_BLOCK + 8)
#define MCU_MVE_RQ_DW_BIAS (2 * MCU_MVE_RQ_BLOCK)
#define MCU_MVE_RQ_DW_HEADER 4

/* Output stage constants, read once per call. */
typedef struct {
    int32_t out_offset, act_min, act_max;
    int fast; /* every channel's shift is a right shift (< 0): see mcu_mve_dw_store_fast */
} mcu_mve_dw_out;

/* Requantize one block of eight channels and store it (all eight, or the first `left`). */
MCU_MVE_INLINE void mcu_mve_dw_store_block(int32x4_t even, int32x4_t odd, const int32_t *rq, const mcu_mve_dw_out *o,
                                           int8_t *out, int32_t left, int full)
{
    const int32_t *rq_odd = rq + MCU_MVE_RQ_BLOCK;
    int16x8_t v = vdupq_n_s16(0);
    even = mcu_mve_requantize(even, vldrwq_s32(rq + MCU_MVE_RQ_MULT), vldrwq_s32(rq + MCU_MVE_RQ_LEFT),
                              vldrwq_s32(rq + MCU_MVE_RQ_RIGHT), o->out_offset, o->act_min, o->act_max);
    odd = mcu_mve_requantize(odd, vldrwq_s32(rq_odd + MCU_MVE_RQ_MULT), vldrwq_s32(rq_odd + MCU_MVE_RQ_LEFT),
                             vldrwq_s32(rq_odd + MCU_MVE_RQ_RIGHT), o->out_offset, o->act_min, o->act_max);
    v = vmovnbq_s32(v, even);
    v = vmovntq_s32(v, odd);
    if (full) {
        vstrbq_s16(out, v);
    } else {
        vstrbq_p_s16(out, v, vctp16q((uint32_t)left));
    }
}

/* Eight channels of one tap; a partial last block loads predicated so no byte past the input is read. */
MCU_MVE_INLINE int16x8_t mcu_mve_dw_load_x(const int8_t *x, int32_t left, int full)
{
    return full ? vldrbq_s16(x) : vldrbq_z_s16(x, vctp16q((uint32_t)left));
}

/* Eight weights of tap k as int16 lanes: int8 weights widened by the load, or int16 ones (wide). The
 * weights pointer is a byte pointer either way; a block of eight channels' nine taps is 72 weights,
 * MCU_MVE_DW_BLOCK_BYTES bytes. */
MCU_MVE_INLINE int16x8_t mcu_mve_dw_load_w(const int8_t *w, int32_t k, int wide)
{
    return wide ? vldrhq_s16((const int16_t *)(const void *)w + 8 * k) : vldrbq_s16(w + 8 * k);
}

#define MCU_MVE_DW_BLOCK_BYTES(wide) ((wide) ? 72 * 2 : 72)

/* even/odd += x * w for the eight channels of one tap. */
#define MAC(xv, k)                                                     \
    do {                                                               \
        const int16x8_t x_ = (xv), w_ = mcu_mve_dw_load_w(w, k, wide); \
        even = vaddq_s32(even, vmullbq_int_s16(x_, w_));               \
        odd = vaddq_s32(odd, vmulltq_int_s16(x_, w_));                 \
        MCU_MVE_KEEP_ORDER(even, odd);                                 \
    } while (0)

/*
 * The nine taps of one block of eight channels at an interior position, software-pipelined: each
 * tap's input and weights are loaded while the previous tap multiplies, and every load sits between
 * a multiply and an add, so the in-order core issues one vector instruction per cycle (63 cycles for
 * the 54 vector instructions in llvm-mca's cortex-m55 model; GCC 12's order of the same C took 100).
 * LDW is the weight load (VLDRB.S16 for int8 weights, VLDRH.S16 for int16 ones) and O1..O8 the byte
 * offsets of taps 1..8 in the block's weights. Rows r0, r1, r2; taps k at row k / 3, + (k % 3) * c.
 * Widening loads take only low registers as their base, hence "l" for every pointer.
 */
#define MCU_MVE_DW_TAPS(LDW, O1, O2, O3, O4, O5, O6, O7, O8) \
    "vldrb.s16 %q[x0], [%[r0]]\n\t" \
    LDW " %q[w0], [%[w]]\n\t" \
    "add %[ta], %[r0], %[c]\n\t" \
    "vmullb.s16 %q[pb], %q[x0], %q[w0]\n\t" \
    "vldrb.s16 %q[x1], [%[ta]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x0], %q[w0]\n\t" \
    LDW " %q[w1], [%[w], #" O1 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "add %[tb], %[ta], %[c]\n\t" \
    "vmullb.s16 %q[pb], %q[x1], %q[w1]\n\t" \
    "vldrb.s16 %q[x0], [%[tb]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x1], %q[w1]\n\t" \
    LDW " %q[w0], [%[w], #" O2 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "vmullb.s16 %q[pb], %q[x0], %q[w0]\n\t" \
    "vldrb.s16 %q[x1], [%[r1]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x0], %q[w0]\n\t" \
    LDW " %q[w1], [%[w], #" O3 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "add %[ta], %[r1], %[c]\n\t" \
    "vmullb.s16 %q[pb], %q[x1], %q[w1]\n\t" \
    "vldrb.s16 %q[x0], [%[ta]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x1], %q[w1]\n\t" \
    LDW " %q[w0], [%[w], #" O4 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "add %[tb], %[ta], %[c]\n\t" \
    "vmullb.s16 %q[pb], %q[x0], %q[w0]\n\t" \
    "vldrb.s16 %q[x1], [%[tb]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x0], %q[w0]\n\t" \
    LDW " %q[w1], [%[w], #" O5 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "vmullb.s16 %q[pb], %q[x1], %q[w1]\n\t" \
    "vldrb.s16 %q[x0], [%[r2]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x1], %q[w1]\n\t" \
    LDW " %q[w0], [%[w], #" O6 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "add %[ta], %[r2], %[c]\n\t" \
    "vmullb.s16 %q[pb], %q[x0], %q[w0]\n\t" \
    "vldrb.s16 %q[x1], [%[ta]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x0], %q[w0]\n\t" \
    LDW " %q[w1], [%[w], #" O7 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "add %[tb], %[ta], %[c]\n\t" \
    "vmullb.s16 %q[pb], %q[x1], %q[w1]\n\t" \
    "vldrb.s16 %q[x0], [%[tb]]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x1], %q[w1]\n\t" \
    LDW " %q[w0], [%[w], #" O8 "]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t" \
    "vmullb.s16 %q[pb], %q[x0], %q[w0]\n\t" \
    "vadd.i32 %q[e], %q[e], %q[pb]\n\t" \
    "vmullt.s16 %q[pt], %q[x0], %q[w0]\n\t" \
    "vadd.i32 %q[o], %q[o], %q[pt]\n\t"

#define MCU_MVE_DW_TAPS_OPERANDS                                                                              \
    : [e] "+w"(even), [o] "+w"(odd), [x0] "=&w"(x0), [x1] "=&w"(x1), [w0] "=&w"(w0), [w1] "=&w"(w1),         \
      [pb] "=&w"(pb), [pt] "=&w"(pt), [ta] "=&l"(ta), [tb] "=&l"(tb)                                         \
    : [r0] "l"(r0), [r1] "l"(r1), [r2] "l"(r2), [c] "r"(c), [w] "l"(w)                                       \
    : "memory"

/*
 * Requantize a full block (all its channels' shifts right shifts, the layer's `fast` flag): the
 * sequence of mcu_mve_requantize without the left shift and with fix all ones, the even and odd
 * halves interleaved, then narrowed with saturation to int16 in channel order (VQMOVNB/VQMOVNT) for
 * the output offset and the clamp: a value saturated at the int16 edges still clamps to act_min or
 * act_max after adding an offset in [-128, 127], so the bytes are those of the int32 sequence.
 */
MCU_MVE_INLINE void mcu_mve_dw_store_fast(int32x4_t even, int32x4_t odd, const int32_t *rq, const mcu_mve_dw_out *o,
                                          int8_t *out)
{
    int32x4_t t0, t1, t2, t3;
    __asm__ volatile("vldrw.u32 %q[t0], [%[rq], #16]\n\t"
                     "vldrw.u32 %q[t1], [%[rq], #80]\n\t"
                     "vqrdmulh.s32 %q[e], %q[e], %q[t0]\n\t"
                     "vldrw.u32 %q[t2], [%[rq], #48]\n\t"
                     "vqrdmulh.s32 %q[o], %q[o], %q[t1]\n\t"
                     "vldrw.u32 %q[t3], [%[rq], #112]\n\t"
                     "vshr.s32 %q[t0], %q[e], #31\n\t"
                     "vshr.s32 %q[t1], %q[o], #31\n\t"
                     "vqadd.s32 %q[e], %q[e], %q[t0]\n\t"
                     "vqadd.s32 %q[o], %q[o], %q[t1]\n\t"
                     "vrshl.s32 %q[e], %q[e], %q[t2]\n\t"
                     "vdup.16 %q[t2], %[lo]\n\t"
                     "vrshl.s32 %q[o], %q[o], %q[t3]\n\t"
                     "vdup.16 %q[t3], %[hi]\n\t"
                     "vqmovnb.s32 %q[t0], %q[e]\n\t"
                     "vqmovnt.s32 %q[t0], %q[o]\n\t"
                     "vqadd.s16 %q[t0], %q[t0], %[off]\n\t"
                     "vmax.s16 %q[t0], %q[t0], %q[t2]\n\t"
                     "vmin.s16 %q[t0], %q[t0], %q[t3]\n\t"
                     "vstrb.16 %q[t0], [%[out]]"
                     : [e] "+w"(even), [o] "+w"(odd), [t0] "=&w"(t0), [t1] "=&w"(t1), [t2] "=&w"(t2),
                       [t3] "=&w"(t3)
                     : [rq] "r"(rq), [out] "l"(out), [off] "r"(o->out_offset), [lo] "r"(o->act_min),
                       [hi] "r"(o->act_max)
                     : "memory");
}

/* One block of eight channels at an interior position: r0, r1, r2 point at the window's three rows. */
MCU_MVE_INLINE void mcu_mve_dw_interior_block(const int8_t *r0, const int8_t *r1, const int8_t *r2, int32_t c,
                                              const int8_t *w, const int32_t *rq, const mcu_mve_dw_out *o,
                                              int8_t *out, int32_t left, int full, int wide)
{
    int32x4_t even = vldrwq_s32(rq + MCU_MVE_RQ_BIAS);
    int32x4_t odd = vldrwq_s32(rq + MCU_MVE_RQ_BLOCK + MCU_MVE_RQ_BIAS);
    if (full) {
        int16x8_t x0, x1, w0, w1;
        int32x4_t pb, pt;
        const int8_t *ta, *tb;
        if (wide) {
            __asm__ volatile(MCU_MVE_DW_TAPS("vldrh.s16", "16", "32", "48", "64", "80", "96", "112", "128")
                                 MCU_MVE_DW_TAPS_OPERANDS);
        } else {
            __asm__ volatile(MCU_MVE_DW_TAPS("vldrb.s16", "8", "16", "24", "32", "40", "48", "56", "64")
                                 MCU_MVE_DW_TAPS_OPERANDS);
        }
        if (o->fast) {
            mcu_mve_dw_store_fast(even, odd, rq, o, out);
        } else {
            mcu_mve_dw_store_block(even, odd, rq, o, out, 8, 1);
        }
        return;
    }
    MAC(mcu_mve_dw_load_x(r0, left, full), 0);
    MAC(mcu_mve_dw_load_x(r0 + c, left, full), 1);
    MAC(mcu_mve_dw_load_x(r0 + 2 * c, left, full), 2);
    MAC(mcu_mve_dw_load_x(r1, left, full), 3);
    MAC(mcu_mve_dw_load_x(r1 + c, left, full), 4);
    MAC(mcu_mve_dw_load_x(r1 + 2 * c, left, full), 5);
    MAC(mcu_mve_dw_load_x(r2, left, full), 6);
    MAC(mcu_mve_dw_load_x(r2 + c, left, full), 7);
    MAC(mcu_mve_dw_load_x(r2 + 2 * c, left, full), 8);
    mcu_mve_dw_store_block(even, odd, rq, o, out, left, full);
}

/*
 * A run of interior positions when every block is full (c % 8 == 0) and every shift is a right
 * shift: both loops, positions and blocks, in one assembly statement. The C loops spent more than
 * half the cycles of a block outside its 54 vector instructions of taps (row pointers and counters
 * kept on the stack, the parameters copied between registers); here the block's pointers stay in
 * registers and the per-run values are read from a mcu_mve_dw_run by scalar loads. The taps are
 * MCU_MVE_DW_TAPS and the output stage mcu_mve_dw_store_fast's instructions, so the numbers are
 * the same; with the layer's clamp at the int8 edges the output offset is added in int16 and
 * VQMOVNB.S16 saturates to int8 (the same bytes as VMAX/VMIN at -128 and 127).
 */
typedef struct {
    const int8_t *x;                 /* 0: this position's window (top-left byte), advanced per position */
    const int8_t *weights;           /* 4 */
    const int32_t *requant;          /* 8: past the header */
    int32_t row;                     /* 12: bytes per input row */
    const int8_t *weights_end;       /* 16: past the last block's weights */
    int32_t step;                    /* 20: bytes between two positions' windows (stride * c) */
    const int8_t *out_end;           /* 24: past the run's last output byte */
    int32_t out_offset, act_min, act_max; /* 28, 32, 36 */
} mcu_mve_dw_run;
/* The assembly addresses these fields by the byte offsets above. */
MCU_MVE_AT(mcu_mve_dw_run, x, 0);
MCU_MVE_AT(mcu_mve_dw_run, weights, 4);
MCU_MVE_AT(mcu_mve_dw_run, requant, 8);
MCU_MVE_AT(mcu_mve_dw_run, row, 12);
MCU_MVE_AT(mcu_mve_dw_run, weights_end, 16);
MCU_MVE_AT(mcu_mve_dw_run, step, 20);
MCU_MVE_AT(mcu_mve_dw_run, out_end, 24);
MCU_MVE_AT(mcu_mve_dw_run, out_offset, 28);
MCU_MVE_AT(mcu_mve_dw_run, act_min, 32);
MCU_MVE_AT(mcu_mve_dw_run, act_max, 36);

#define MCU_MVE_DW_RUN_SATURATE "vqmovnb.s16 %q[x0], %q[x0]\n\t"
#define MCU_MVE_DW_RUN_CLAMP                       \
    "ldrd %[ta], %[tb], [%[run], #32]\n\t"         \
    "vdup.16 %q[w0], %[ta]\n\t"                    \
    "vdup.16 %q[w1], %[tb]\n\t"                    \
    "vmax.s16 %q[x0], %q[x0], %q[w0]\n\t"          \
    "vmin.s16 %q[x0], %q[x0], %q[w1]\n\t"

/* LDW, O1..O8 as MCU_MVE_DW_TAPS; BLOCK: bytes of weights per block; OUTPUT: saturate or clamp. */
#define MCU_MVE_DW_RUN_BODY(TAPS, BLOCK, OUTPUT)                                                            \
    "1:\n\t"                                                                                                \
    "ldr %[r0], [%[run]]\n\t"                                                                               \
    "ldr %[w], [%[run], #4]\n\t"                                                                            \
    "ldr %[rq], [%[run], #8]\n"                                                                             \
    "2:\n\t"                                                                                                \
    "ldr %[ta], [%[run], #12]\n\t"                                                                          \
    "vldrw.u32 %q[e], [%[rq]]\n\t"                                                                          \
    "add %[r1], %[r0], %[ta]\n\t"                                                                           \
    "vldrw.u32 %q[o], [%[rq], #64]\n\t"                                                                     \
    "add %[r2], %[r1], %[ta]\n\t" TAPS                                                                      \
    "vldrw.u32 %q[x0], [%[rq], #16]\n\t"                                                                    \
    "vldrw.u32 %q[x1], [%[rq], #80]\n\t"                                                                    \
    "vqrdmulh.s32 %q[e], %q[e], %q[x0]\n\t"                                                                 \
    "vldrw.u32 %q[w0], [%[rq], #48]\n\t"                                                                    \
    "vqrdmulh.s32 %q[o], %q[o], %q[x1]\n\t"                                                                 \
    "vldrw.u32 %q[w1], [%[rq], #112]\n\t"                                                                   \
    "vshr.s32 %q[x0], %q[e], #31\n\t"                                                                       \
    "vshr.s32 %q[x1], %q[o], #31\n\t"                                                                       \
    "vqadd.s32 %q[e], %q[e], %q[x0]\n\t"                                                                    \
    "ldr %[ta], [%[run], #28]\n\t"                                                                          \
    "vqadd.s32 %q[o], %q[o], %q[x1]\n\t"                                                                    \
    "adds %[r0], #8\n\t"                                                                                    \
    "vrshl.s32 %q[e], %q[e], %q[w0]\n\t"                                                                    \
    "adds %[w], #" BLOCK "\n\t"                                                                             \
    "vrshl.s32 %q[o], %q[o], %q[w1]\n\t"                                                                    \
    "adds %[rq], #160\n\t"                                                                                  \
    "vqmovnb.s32 %q[x0], %q[e]\n\t"                                                                         \
    "vqmovnt.s32 %q[x0], %q[o]\n\t"                                                                         \
    "vqadd.s16 %q[x0], %q[x0], %[ta]\n\t" OUTPUT                                                            \
    "ldr %[tb], [%[run], #16]\n\t"                                                                          \
    "vstrb.16 %q[x0], [%[out]], #8\n\t"                                                                     \
    "cmp %[w], %[tb]\n\t"                                                                                   \
    "bne 2b\n\t"                                                                                            \
    "ldr %[ta], [%[run]]\n\t"                                                                               \
    "ldr %[tb], [%[run], #20]\n\t"                                                                          \
    "add %[ta], %[tb]\n\t"                                                                                  \
    "str %[ta], [%[run]]\n\t"                                                                               \
    "ldr %[tb], [%[run], #24]\n\t"                                                                          \
    "cmp %[out], %[tb]\n\t"                                                                                 \
    "bne 1b\n\t"                                                                                            \
    : [e] "=&w"(even), [o] "=&w"(odd), [x0] "=&w"(x0), [x1] "=&w"(x1), [w0] "=&w"(w0), [w1] "=&w"(w1),     \
      [pb] "=&w"(pb), [pt] "=&w"(pt), [ta] "=&l"(ta), [tb] "=&l"(tb), [r0] "=&l"(r0), [r1] "=&l"(r1),       \
      [r2] "=&l"(r2), [w] "=&l"(w), [rq] "=&r"(rq), [out] "+l"(out)                                         \
    : [run] "r"(run), [c] "r"(c)                                                                            \
    : "cc", "memory"

#define MCU_MVE_DW_TAPS8 MCU_MVE_DW_TAPS("vldrb.s16", "8", "16", "24", "32", "40", "48", "56", "64")
#define MCU_MVE_DW_TAPS16 MCU_MVE_DW_TAPS("vldrh.s16", "16", "32", "48", "64", "80", "96", "112", "128")

/* `count` >= 1 interior positions by the assembly loops; wide and saturate are constants per call. */
MCU_MVE_INLINE void mcu_mve_dw_interior_run_fast(mcu_mve_dw_run *run, int32_t c, int8_t *out, int wide,
                                                 int saturate)
{
    int32x4_t even, odd, pb, pt;
    int16x8_t x0, x1, w0, w1;
    const int8_t *ta, *tb, *r0, *r1, *r2, *w;
    const int32_t *rq;
    if (wide) {
        if (saturate) {
            __asm__ volatile(MCU_MVE_DW_RUN_BODY(MCU_MVE_DW_TAPS16, "144", MCU_MVE_DW_RUN_SATURATE));
        } else {
            __asm__ volatile(MCU_MVE_DW_RUN_BODY(MCU_MVE_DW_TAPS16, "144", MCU_MVE_DW_RUN_CLAMP));
        }
    } else if (saturate) {
        __asm__ volatile(MCU_MVE_DW_RUN_BODY(MCU_MVE_DW_TAPS8, "72", MCU_MVE_DW_RUN_SATURATE));
    } else {
        __asm__ volatile(MCU_MVE_DW_RUN_BODY(MCU_MVE_DW_TAPS8, "72", MCU_MVE_DW_RUN_CLAMP));
    }
}

#undef MCU_MVE_DW_RUN_SATURATE
#undef MCU_MVE_DW_RUN_CLAMP
#undef MCU_MVE_DW_RUN_BODY
#undef MCU_MVE_DW_TAPS8
#undef MCU_MVE_DW_TAPS16

/* `count` interior positions of one output row; x is the first window's top-left input byte. */
MCU_MVE_INLINE void mcu_mve_dw_interior_run(const int8_t *x, int32_t row, int32_t step, int32_t c, int32_t count,
                                            const int8_t *weights, const int32_t *requant, const mcu_mve_dw_out *o,
                                            int8_t *out, int wide)
{
    const int32_t blocks = c >> 3, rest = c & 7;
    int32_t n, b;
    if (MCU_MVE_ASM_LOOPS && !rest && o->fast) {
        mcu_mve_dw_run run = {x, weights, requant, row, weights + blocks * MCU_MVE_DW_BLOCK_BYTES(wide), step,
                              out + count * c, o->out_offset, o->act_min, o->act_max};
        if (o->act_min == -128 && o->act_max == 127) {
            mcu_mve_dw_interior_run_fast(&run, c, out, wide, 1);
        } else {
            mcu_mve_dw_interior_run_fast(&run, c, out, wide, 0);
        }
        return;
    }
    for (n = 0; n < count; n++, x += step, out += c) {
        const int8_t *r0 = x, *r1 = x + row, *r2 = x + 2 * row;
        const int8_t *w = weights;
        const int32_t *rq = requant;
        int8_t *dst = out;
        for (b = 0; b < blocks; b++, r0 += 8, r1 += 8, r2 += 8, w += MCU_MVE_DW_BLOCK_BYTES(wide),
             rq += MCU_MVE_RQ_DW_BLOCK, dst += 8) {
            mcu_mve_dw_interior_block(r0, r1, r2, c, w, rq, o, dst, 8, 1, wide);
        }
        if (rest) {
            mcu_mve_dw_interior_block(r0, r1, r2, c, w, rq, o, dst, rest, 0, wide);
        }
    }
}

/*
 * A window that reaches into the padding. Its taps inside the input form a rectangle, rows
 * [ky0, ky1) and columns [kx0, kx1), which `x` (tap (ky0, kx0)) starts. The folded bias counted
 * every tap as input_zp; here the block starts from the bias before folding and adds
 * (x - input_zp) * w over the rectangle only, which is the same sum.
 * Plain static, not forced inline like the rest (GCC inlines it, its one call site, later): forced,
 * the 3x3 maps of VWW, nearly all border, ran 1.6% more instructions.
 */
static void mcu_mve_dw_border_pixel(const int8_t *x, int32_t row, int32_t c, int32_t ky0, int32_t ky1, int32_t kx0,
                                    int32_t kx1, int16_t zp, const int8_t *w, const int32_t *rq,
                                    const mcu_mve_dw_out *o, int8_t *out, int wide)
{
    int32_t ch, ky, kx;
    for (ch = 0; ch < c; ch += 8, x += 8, w += MCU_MVE_DW_BLOCK_BYTES(wide), rq += MCU_MVE_RQ_DW_BLOCK, out += 8) {
        const int32_t left = c - ch;
        const int full = left >= 8;
        int32x4_t even = vldrwq_s32(rq + MCU_MVE_RQ_DW_BIAS);
        int32x4_t odd = vldrwq_s32(rq + MCU_MVE_RQ_DW_BIAS + 4);
        for (ky = ky0; ky < ky1; ky++) {
            const int8_t *xr = x + (ky - ky0) * row;
            for (kx = kx0; kx < kx1; kx++, xr += c) {
                MAC(vsubq_n_s16(mcu_mve_dw_load_x(xr, left, full), zp), 3 * ky + kx);
            }
        }
        if (full && o->fast) {
            mcu_mve_dw_store_fast(even, odd, rq, o, out);
        } else {
            mcu_mve_dw_store_block(even, odd, rq, o, out, left, full);
        }
    }
}

#undef MAC
#undef MCU_MVE_DW_TAPS
#undef MCU_MVE_DW_TAPS_OPERANDS

/* The interior range along one axis: the first output index whose window starts at or after input
 * index 0, and one past the last whose window ends inside `size`. */
MCU_MVE_INLINE void mcu_mve_dw_interior_range(int32_t size, int32_t out_size, int32_t stride, int32_t pad,
                                              int32_t *lo, int32_t *hi)
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

/* The kernel; wide: the weights are int16 (the pointer still a byte pointer), a constant per wrapper. */
MCU_MVE_INLINE void mcu_mve_dwconv3x3(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input,
                                      mcu_shape out_shape, const int8_t *weights, const int32_t *requant,
                                      int8_t *output, int wide)
{
    const int32_t c = in_shape.c;
    const int32_t sh = p->stride_h, sw = p->stride_w;
    const int32_t row = in_shape.w * c;
    const int16_t zp = (int16_t)(-p->io.input_offset);
    /* requant starts with a header of four words: the first says whether every shift is negative. */
    const mcu_mve_dw_out o = {p->io.output_offset, p->io.act_min, p->io.act_max, requant[0] != 0};
    int32_t y_lo, y_hi, x_lo, x_hi, oy, ox;

    requant += MCU_MVE_RQ_DW_HEADER;
    mcu_mve_dw_interior_range(in_shape.h, out_shape.h, sh, p->pad_top, &y_lo, &y_hi);
    mcu_mve_dw_interior_range(in_shape.w, out_shape.w, sw, p->pad_left, &x_lo, &x_hi);
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy = oy * sh - p->pad_top;
        const int inside_y = oy >= y_lo && oy < y_hi;
        int8_t *out = output + oy * out_shape.w * c;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix = ox * sw - p->pad_left;
            if (inside_y && ox == x_lo && x_hi > x_lo) {
                mcu_mve_dw_interior_run(input + (iy * in_shape.w + ix) * c, row, sw * c, c, x_hi - x_lo, weights,
                                        requant, &o, out + ox * c, wide);
                ox = x_hi - 1;
            } else {
                const int32_t ky0 = iy < 0 ? -iy : 0, ky1 = in_shape.h - iy < 3 ? in_shape.h - iy : 3;
                const int32_t kx0 = ix < 0 ? -ix : 0, kx1 = in_shape.w - ix < 3 ? in_shape.w - ix : 3;
                mcu_mve_dw_border_pixel(input + ((iy + ky0) * in_shape.w + ix + kx0) * c, row, c, ky0, ky1, kx0,
                                        kx1, zp, weights, requant, &o, out + ox * c, wide);
            }
        }
    }
}

#endif /* MVE */

#endif /* MCU_MVE_DWCONV3X3_H */
