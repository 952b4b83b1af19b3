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
 * the border positions visit only their taps inside the input (see mcu_mve_dw_border_pixel), or from
 * 64 channels are copied into a window with zero-point taps for the same assembly
 * (mcu_mve_dw_border_window).
 *
 * Where the compiler proves it exact (depthwise_lanes in mcucompile/kernels/arm_mve.py), int8 weights
 * take the sixteen-lane layout instead (header word 1 == 16, below at MCU_MVE_DW16_RQ_BLOCK): int8
 * products of two taps summed in int16, 145 instructions per sixteen channels where the eight-channel
 * loop takes 2 x 92 (VWW on cortex-m55, llvm-mca: 172 cycles against 2 x 107). Eight channels at
 * stride_w 1 take it as pixel pairs (header word 1 == 2, mcu_mve_dw_pixel_pairs).
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

/* The run's next position: x advanced by the step (run->x += run->step), and back to the top (label
 * 1) unless out has reached the run's end. */
#define MCU_MVE_DW_NEXT_POSITION      \
    "ldr %[ta], [%[run]]\n\t"         \
    "ldr %[tb], [%[run], #20]\n\t"    \
    "add %[ta], %[tb]\n\t"            \
    "str %[ta], [%[run]]\n\t"         \
    "ldr %[tb], [%[run], #24]\n\t"    \
    "cmp %[out], %[tb]\n\t"           \
    "bne 1b\n\t"

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
    MCU_MVE_DW_NEXT_POSITION                                                                                \
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

/*
 * A window reaching into the padding, by the interior assembly: its nine taps of up to
 * MCU_MVE_DW_CHUNK channels are copied into a window on the stack (3 rows of 3 taps, `n` bytes
 * each), a tap in the padding filled with the input zero point, which is what the folded bias
 * counts it as; then the window is one interior position of `n` channels. The copy is 9 * n / 16
 * vector loads and stores against the taps' 6.75 * n vector instructions; below 64 channels the
 * eight-channel layout keeps the C border loop, which visits only the taps inside and was cheaper
 * there (VWW on cortex-m55, 16 and 32 channels). 64 channels keep the window at 576 bytes of stack.
 */
#define MCU_MVE_DW_CHUNK 64
#define MCU_MVE_DW_WINDOW_MIN_C 64

/* n > 0 bytes from src to dst: a tail-predicated loop (DLSTP/LETP) of 16-byte loads and stores, its
 * last pass predicated to the n % 16 bytes left; GCC's loop for the same took three times the
 * instructions. */
MCU_MVE_INLINE void mcu_mve_dw_copy_tap(int8_t *dst, const int8_t *src, int32_t n)
{
    int8x16_t t;
    __asm__ volatile("dlstp.8 lr, %[n]\n"
                     "1:\n\t"
                     "vldrb.u8 %q[t], [%[src]], #16\n\t"
                     "vstrb.8 %q[t], [%[dst]], #16\n\t"
                     "letp lr, 1b"
                     : [t] "=&w"(t), [src] "+r"(src), [dst] "+r"(dst)
                     : [n] "r"(n)
                     : "lr", "memory");
}

/* The window of output position (iy, ix) (its top-left input index, may be negative) for channels
 * [ch, ch + n): a tap in the padding is copied from zps, MCU_MVE_DW_CHUNK bytes of the zero point. */
MCU_MVE_INLINE void mcu_mve_dw_fill_window(int8_t *win, const int8_t *input, int32_t h, int32_t w, int32_t iy,
                                           int32_t ix, int32_t c, int32_t ch, int32_t n, const int8_t *zps)
{
    int32_t ky, kx;
    for (ky = 0; ky < 3; ky++) {
        const int inside_y = iy + ky >= 0 && iy + ky < h;
        for (kx = 0; kx < 3; kx++) {
            const int inside = inside_y && ix + kx >= 0 && ix + kx < w;
            const int8_t *src = inside ? input + ((iy + ky) * w + ix + kx) * c + ch : zps;
            mcu_mve_dw_copy_tap(win + (3 * ky + kx) * n, src, n);
        }
    }
}

/* A border position of the eight-channel layout by windows (c % 8 == 0, every shift a right shift:
 * o->fast). Not inlined: inside the kernel's loops GCC finds no registers for the run's assembly. */
static __attribute__((noinline)) void mcu_mve_dw_border_window(const int8_t *input, int32_t h, int32_t w, int32_t iy,
                                                               int32_t ix, int32_t c, const int8_t *zps,
                                                               const int8_t *weights, const int32_t *requant,
                                                               const mcu_mve_dw_out *o, int8_t *out, int wide)
{
    int8_t win[9 * MCU_MVE_DW_CHUNK] __attribute__((aligned(8)));
    const int saturate = o->act_min == -128 && o->act_max == 127;
    int32_t ch;
    for (ch = 0; ch < c; ch += MCU_MVE_DW_CHUNK) {
        const int32_t n = c - ch < MCU_MVE_DW_CHUNK ? c - ch : MCU_MVE_DW_CHUNK;
        const int8_t *wb = weights + (ch >> 3) * MCU_MVE_DW_BLOCK_BYTES(wide);
        mcu_mve_dw_run run = {win, wb, requant + (ch >> 3) * MCU_MVE_RQ_DW_BLOCK, 3 * n,
                              wb + (n >> 3) * MCU_MVE_DW_BLOCK_BYTES(wide), 0, out + ch + n, o->out_offset,
                              o->act_min, o->act_max};
        mcu_mve_dw_fill_window(win, input, h, w, iy, ix, c, ch, n, zps);
        if (MCU_MVE_ASM_LOOPS && saturate) { /* the constant: no assembly at -O0, which never calls this */
            mcu_mve_dw_interior_run_fast(&run, n, out + ch, wide, 1);
        } else if (MCU_MVE_ASM_LOOPS) {
            mcu_mve_dw_interior_run_fast(&run, n, out + ch, wide, 0);
        }
    }
}

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

/*
 * The int8-lane layout (header word 1 == 16; pack_requant_depthwise16 in mcucompile/kernels/arm_mve.py):
 * sixteen channels per block, c % 16 == 0, every shift a right shift, no weight -128, int8 weights.
 * One VLDRB.U8 loads a tap's sixteen inputs or weights, VMULLB.S8 / VMULLT.S8 multiply the even and
 * the odd channels into int16 products, and two taps' products are added in int16 before widening:
 * |x * w| <= 128 * 127, so two of them fit. VQDMULLB/VQDMULLT.S16 by a register holding 1 widen the
 * pair sums to int32 on the multiplier (the vector ALU is the busier unit), which doubles them: the
 * accumulators start from twice the folded bias and hold 2 * sum, which the requantization takes as
 * it is (MCU_MVE_DW16_REQUANTIZE; the C twin halves it, exactly: it is even); the compiler checks per
 * channel that |2 * sum| < 2^31 for every input (|folded bias| + 128 * sum |w| < 2^30) or keeps the
 * eight-channel layout. The four accumulators
 * hold channels 0, 4, 8, 12 (a0), 1, 5, 9, 13 (a1), 2, 6, 10, 14 (a2), 3, 7, 11, 15 (a3), which
 * VQMOVNB/VQMOVNT put back in channel order. Per block, 48 words: the doubled folded bias, the
 * multiplier and the right shift, each as a0, a1, a2, a3; weights [c / 16][9][16].
 * Every position goes through the run: the border by a window on the stack (zero-point taps).
 */
#define MCU_MVE_DW16_RQ_BLOCK 48
#define MCU_MVE_DW16_W_BLOCK 144

/* The C twin of the run's block (unoptimized builds): the same sums, requantization and bytes. */
MCU_MVE_INLINE int32x4_t mcu_mve_dw16_requantize(int32x4_t a, const int32_t *rq, int k)
{
    a = vshrq_n_s32(a, 1);
    a = vqrdmulhq_s32(a, vldrwq_s32(rq + 16 + 4 * k));
    a = vqaddq_s32(a, vshrq_n_s32(a, 31));
    return vrshlq_s32(a, vldrwq_s32(rq + 32 + 4 * k));
}

static void mcu_mve_dw16_block_c(const int8_t *r0, int32_t row, int32_t c, const int8_t *w, const int32_t *rq,
                                 const mcu_mve_dw_run *run, int8_t *out)
{
    int32x4_t a0 = vldrwq_s32(rq), a1 = vldrwq_s32(rq + 4), a2 = vldrwq_s32(rq + 8), a3 = vldrwq_s32(rq + 12);
    int16x8_t lo, hi;
    int8x16_t v = vdupq_n_s8(0);
    int k;
    for (k = 0; k < 9; k += 2) {
        const int8x16_t xa = vldrbq_s8(r0 + (k / 3) * row + (k % 3) * c), wa = vldrbq_s8(w + 16 * k);
        int16x8_t pe = vmullbq_int_s8(xa, wa), po = vmulltq_int_s8(xa, wa);
        if (k < 8) {
            const int8x16_t xb = vldrbq_s8(r0 + ((k + 1) / 3) * row + ((k + 1) % 3) * c);
            const int8x16_t wb = vldrbq_s8(w + 16 * (k + 1));
            pe = vaddq_s16(pe, vmullbq_int_s8(xb, wb));
            po = vaddq_s16(po, vmulltq_int_s8(xb, wb));
        }
        a0 = vaddq_s32(a0, vqdmullbq_n_s16(pe, 1));
        a2 = vaddq_s32(a2, vqdmulltq_n_s16(pe, 1));
        a1 = vaddq_s32(a1, vqdmullbq_n_s16(po, 1));
        a3 = vaddq_s32(a3, vqdmulltq_n_s16(po, 1));
    }
    lo = vqmovntq_s32(vqmovnbq_s32(vdupq_n_s16(0), mcu_mve_dw16_requantize(a0, rq, 0)),
                      mcu_mve_dw16_requantize(a2, rq, 2));
    hi = vqmovntq_s32(vqmovnbq_s32(vdupq_n_s16(0), mcu_mve_dw16_requantize(a1, rq, 1)),
                      mcu_mve_dw16_requantize(a3, rq, 3));
    lo = vminq_s16(vmaxq_s16(vqaddq_n_s16(lo, (int16_t)run->out_offset), vdupq_n_s16((int16_t)run->act_min)),
                   vdupq_n_s16((int16_t)run->act_max));
    hi = vminq_s16(vmaxq_s16(vqaddq_n_s16(hi, (int16_t)run->out_offset), vdupq_n_s16((int16_t)run->act_min)),
                   vdupq_n_s16((int16_t)run->act_max));
    v = vmovnbq_s16(v, lo);
    v = vmovntq_s16(v, hi);
    vstrbq_s8(out, v);
}

/* Two taps (input addresses XA, XB; weight offsets OA, OB) into the four accumulators. The second
 * tap's input is loaded twice: VMULLB.S8 writes its products over it, and with eight Q registers
 * taken there is none left to keep it for VMULLT. VQDMULLT.S16 writes over its source too (allowed
 * for 8- and 16-bit elements: each result lane lies in the beat of its source lanes). The pair's
 * last two adds (a1, a3) are left to the next pair (PREV1, PREV2), between its first loads and
 * multiplies, and the block's scalar work (addresses, pointers) goes in SA, SB, SC: the issue slots
 * that two loads, a product and its add, or two multiplies back to back would leave empty. */
#define MCU_MVE_DW16_PREV1 "vadd.i32 %q[a1], %q[a1], %q[wv]\n\t"
#define MCU_MVE_DW16_PREV2 "vadd.i32 %q[a3], %q[a3], %q[po]\n\t"
#define MCU_MVE_DW16_FIRST(PREV1, PREV2, XA, OA)                \
    "vldrb.u8 %q[x], [" XA "]\n\t"                              \
    PREV1                                                       \
    "vldrb.u8 %q[wv], [%[w], #" OA "]\n\t"                      \
    "vmullb.s8 %q[pe], %q[x], %q[wv]\n\t"                       \
    PREV2                                                       \
    "vmullt.s8 %q[po], %q[x], %q[wv]\n\t"
#define MCU_MVE_DW16_WIDEN                                      \
    "vqdmullb.s16 %q[x], %q[pe], %[one]\n\t"                    \
    "vqdmullt.s16 %q[pe], %q[pe], %[one]\n\t"                   \
    "vadd.i32 %q[a0], %q[a0], %q[x]\n\t"                        \
    "vqdmullb.s16 %q[wv], %q[po], %[one]\n\t"                   \
    "vadd.i32 %q[a2], %q[a2], %q[pe]\n\t"                       \
    "vqdmullt.s16 %q[po], %q[po], %[one]\n\t"
#define MCU_MVE_DW16_PAIR(PREV1, PREV2, XA, OA, XB, OB, SA, SB, SC) \
    MCU_MVE_DW16_FIRST(PREV1, PREV2, XA, OA)                    \
    "vldrb.u8 %q[x], [" XB "]\n\t"                              \
    SA                                                          \
    "vldrb.u8 %q[wv], [%[w], #" OB "]\n\t"                      \
    "vmullb.s8 %q[x], %q[x], %q[wv]\n\t"                        \
    SB                                                          \
    "vadd.i16 %q[pe], %q[pe], %q[x]\n\t"                        \
    "vldrb.u8 %q[x], [" XB "]\n\t"                              \
    "vmullt.s8 %q[wv], %q[x], %q[wv]\n\t"                       \
    SC                                                          \
    "vqdmullb.s16 %q[x], %q[pe], %[one]\n\t"                    \
    "vadd.i16 %q[po], %q[po], %q[wv]\n\t"                       \
    "vqdmullt.s16 %q[pe], %q[pe], %[one]\n\t"                   \
    "vadd.i32 %q[a0], %q[a0], %q[x]\n\t"                        \
    "vqdmullb.s16 %q[wv], %q[po], %[one]\n\t"                   \
    "vadd.i32 %q[a2], %q[a2], %q[pe]\n\t"                       \
    "vqdmullt.s16 %q[po], %q[po], %[one]\n\t"

/*
 * The requantization of the four accumulators, exact without the halving: VRMULH.S32 (rounding, not
 * doubling) of twice the sum by the multiplier is round(2 * s * m / 2^32) = round(s * m / 2^31),
 * rounding half up as SaturatingRoundingDoublingHighMul does, which saturates only for two INT32_MIN
 * and the multiplier is positive. Then mcu_mve_dw_store_fast's right shift (sign fix, VRSHL), the
 * even and odd channels narrowed to int16 with saturation (VQMOVNB/VQMOVNT.S32) and the output offset.
 * The last pair's adds (PREV1, PREV2) and the block loop's test (CMP: nothing after it sets the flags)
 * fill slots among the vector instructions.
 */
#define MCU_MVE_DW16_REQUANTIZE                                 \
    "vldrw.u32 %q[x], [%[rq], #64]\n\t"                         \
    MCU_MVE_DW16_PREV1                                          \
    "vldrw.u32 %q[wv], [%[rq], #80]\n\t"                        \
    MCU_MVE_DW16_PREV2                                          \
    "vrmulh.s32 %q[a0], %q[a0], %q[x]\n\t"                      \
    "vldrw.u32 %q[pe], [%[rq], #96]\n\t"                        \
    "vrmulh.s32 %q[a1], %q[a1], %q[wv]\n\t"                     \
    "vldrw.u32 %q[po], [%[rq], #112]\n\t"                       \
    "vrmulh.s32 %q[a2], %q[a2], %q[pe]\n\t"                     \
    "vshr.s32 %q[x], %q[a0], #31\n\t"                           \
    "vrmulh.s32 %q[a3], %q[a3], %q[po]\n\t"                     \
    "vqadd.s32 %q[a0], %q[a0], %q[x]\n\t"                       \
    "vldrw.u32 %q[pe], [%[rq], #128]\n\t"                       \
    "vshr.s32 %q[wv], %q[a1], #31\n\t"                          \
    "vldrw.u32 %q[po], [%[rq], #144]\n\t"                       \
    "vqadd.s32 %q[a1], %q[a1], %q[wv]\n\t"                      \
    "ldr %[ta], [%[run], #28]\n\t"                              \
    "vrshl.s32 %q[a0], %q[a0], %q[pe]\n\t"                      \
    "vldrw.u32 %q[pe], [%[rq], #160]\n\t"                       \
    "vrshl.s32 %q[a1], %q[a1], %q[po]\n\t"                      \
    "vldrw.u32 %q[po], [%[rq], #176]\n\t"                       \
    "vshr.s32 %q[x], %q[a2], #31\n\t"                           \
    "adds %[rq], #192\n\t"                                      \
    "vshr.s32 %q[wv], %q[a3], #31\n\t"                          \
    "ldr %[tb], [%[run], #16]\n\t"                              \
    "vqadd.s32 %q[a2], %q[a2], %q[x]\n\t"                       \
    "cmp %[w], %[tb]\n\t"                                       \
    "vqadd.s32 %q[a3], %q[a3], %q[wv]\n\t"                      \
    "vqmovnb.s32 %q[x], %q[a0]\n\t"                             \
    "vrshl.s32 %q[a2], %q[a2], %q[pe]\n\t"                      \
    "vqmovnb.s32 %q[wv], %q[a1]\n\t"                            \
    "vrshl.s32 %q[a3], %q[a3], %q[po]\n\t"                      \
    "vqmovnt.s32 %q[x], %q[a2]\n\t"                             \
    "vqmovnt.s32 %q[wv], %q[a3]\n\t"                            \
    "vqadd.s16 %q[x], %q[x], %[ta]\n\t"                         \
    "vqadd.s16 %q[wv], %q[wv], %[ta]\n\t"

/* Saturated to int8 (VQMOVNB/VQMOVNT.S16) in channel order; then, for a clamp narrower than int8,
 * VMAX/VMIN on the bytes: the same bytes as clamping the int16 values first. */
#define MCU_MVE_DW16_SATURATE                                   \
    "vqmovnb.s16 %q[x], %q[x]\n\t"                              \
    "vqmovnt.s16 %q[x], %q[wv]\n\t"
#define MCU_MVE_DW16_CLAMP                                      \
    "vqmovnb.s16 %q[x], %q[x]\n\t"                              \
    "vldrb.u8 %q[pe], [%[run], #40]\n\t"                        \
    "vqmovnt.s16 %q[x], %q[wv]\n\t"                             \
    "vldrb.u8 %q[po], [%[run], #56]\n\t"                        \
    "vmax.s8 %q[x], %q[x], %q[pe]\n\t"                          \
    "vmin.s8 %q[x], %q[x], %q[po]\n\t"

/* The run with the clamp's bounds as sixteen bytes each, which MCU_MVE_DW16_CLAMP loads (the load
 * unit has slots to spare where VDUP would take two more of the vector ALU's). */
typedef struct {
    mcu_mve_dw_run run;
    int8_t lo[16], hi[16]; /* 40, 56 */
} mcu_mve_dw16_clamped;
MCU_MVE_AT(mcu_mve_dw16_clamped, lo, 40);
MCU_MVE_AT(mcu_mve_dw16_clamped, hi, 56);

/* Positions and blocks as MCU_MVE_DW_RUN_BODY, sixteen channels per block; OUTPUT: saturate or clamp. */
#define MCU_MVE_DW16_RUN_BODY(OUTPUT)                                                                       \
    "1:\n\t"                                                                                                \
    "ldr %[r0], [%[run]]\n\t"                                                                               \
    "ldr %[w], [%[run], #4]\n\t"                                                                            \
    "ldr %[rq], [%[run], #8]\n"                                                                             \
    "2:\n\t"                                                                                                \
    "ldr %[r2], [%[run], #12]\n\t"                                                                          \
    "vldrw.u32 %q[a0], [%[rq]]\n\t"                                                                         \
    "add %[ta], %[r0], %[c]\n\t"                                                                            \
    "vldrw.u32 %q[a1], [%[rq], #16]\n\t"                                                                    \
    "add %[tb], %[ta], %[c]\n\t"                                                                            \
    "vldrw.u32 %q[a2], [%[rq], #32]\n\t"                                                                    \
    "add %[r1], %[r0], %[r2]\n\t"                                                                           \
    "vldrw.u32 %q[a3], [%[rq], #48]\n\t"                                                                    \
    MCU_MVE_DW16_PAIR("add %[r2], %[r1], %[r2]\n\t", "", "%[r0]", "0", "%[ta]", "16", "", "",               \
                      "add %[ta], %[r1], %[c]\n\t")                                                           \
    MCU_MVE_DW16_PAIR(MCU_MVE_DW16_PREV1, MCU_MVE_DW16_PREV2, "%[tb]", "32", "%[r1]", "48",                 \
                      "add %[tb], %[ta], %[c]\n\t", "adds %[r0], #16\n\t", "")                                \
    MCU_MVE_DW16_PAIR(MCU_MVE_DW16_PREV1, MCU_MVE_DW16_PREV2, "%[ta]", "64", "%[tb]", "80",                 \
                      "add %[ta], %[r2], %[c]\n\t", "", "")                                                   \
    MCU_MVE_DW16_PAIR(MCU_MVE_DW16_PREV1, MCU_MVE_DW16_PREV2, "%[r2]", "96", "%[ta]", "112",                \
                      "add %[tb], %[ta], %[c]\n\t", "", "adds %[w], #144\n\t")                                \
    MCU_MVE_DW16_FIRST(MCU_MVE_DW16_PREV1, MCU_MVE_DW16_PREV2, "%[tb]", "-16")                              \
    MCU_MVE_DW16_WIDEN MCU_MVE_DW16_REQUANTIZE OUTPUT                                                       \
    "vstrb.8 %q[x], [%[out]], #16\n\t"                                                                      \
    "bne 2b\n\t"                                                                                            \
    MCU_MVE_DW_NEXT_POSITION                                                                                \
    : [a0] "=&w"(a0), [a1] "=&w"(a1), [a2] "=&w"(a2), [a3] "=&w"(a3), [x] "=&w"(x), [wv] "=&w"(wv),         \
      [pe] "=&w"(pe), [po] "=&w"(po), [ta] "=&l"(ta), [tb] "=&l"(tb), [r0] "=&r"(r0), [r1] "=&r"(r1),       \
      [r2] "=&r"(r2), [w] "=&r"(w), [rq] "=&r"(rq), [out] "+r"(out)                                         \
    : [run] "r"(run), [c] "r"(c), [one] "r"(one)                                                            \
    : "cc", "memory"

/* `count` >= 1 positions of the run (the fields as mcu_mve_dw_run, for sixteen-channel blocks). */
MCU_MVE_INLINE void mcu_mve_dw16_run(mcu_mve_dw_run *run, int32_t c, int8_t *out)
{
    if (MCU_MVE_ASM_LOOPS) {
        int32x4_t a0, a1, a2, a3;
        int16x8_t x, wv, pe, po;
        const int8_t *ta, *tb, *r0, *r1, *r2, *w;
        const int32_t *rq;
        const int32_t one = 1;
        if (run->act_min == -128 && run->act_max == 127) {
            __asm__ volatile(MCU_MVE_DW16_RUN_BODY(MCU_MVE_DW16_SATURATE));
        } else {
            mcu_mve_dw16_clamped clamped;
            clamped.run = *run;
            vstrbq_s8(clamped.lo, vdupq_n_s8((int8_t)run->act_min));
            vstrbq_s8(clamped.hi, vdupq_n_s8((int8_t)run->act_max));
            run = &clamped.run;
            __asm__ volatile(MCU_MVE_DW16_RUN_BODY(MCU_MVE_DW16_CLAMP));
        }
    } else {
        while (out != run->out_end) {
            const int8_t *x = run->x, *w = run->weights;
            const int32_t *rq = run->requant;
            for (; w != run->weights_end; x += 16, w += MCU_MVE_DW16_W_BLOCK, rq += MCU_MVE_DW16_RQ_BLOCK, out += 16) {
                mcu_mve_dw16_block_c(x, run->row, c, w, rq, run, out);
            }
            run->x += run->step;
        }
    }
}

#undef MCU_MVE_DW16_PAIR
#undef MCU_MVE_DW16_PREV1
#undef MCU_MVE_DW16_PREV2
#undef MCU_MVE_DW16_FIRST
#undef MCU_MVE_DW16_WIDEN
#undef MCU_MVE_DW16_REQUANTIZE
#undef MCU_MVE_DW16_SATURATE
#undef MCU_MVE_DW16_CLAMP
#undef MCU_MVE_DW16_RUN_BODY
#undef MCU_MVE_DW_NEXT_POSITION

/* A border position of the sixteen-channel layout: as mcu_mve_dw_border_window, by mcu_mve_dw16_run. */
MCU_MVE_INLINE void mcu_mve_dw16_border(const int8_t *input, int32_t h, int32_t w, int32_t iy, int32_t ix, int32_t c,
                                        const int8_t *zps, const int8_t *weights, const int32_t *requant,
                                        const mcu_mve_dw_out *o, int8_t *out)
{
    int8_t win[9 * MCU_MVE_DW_CHUNK] __attribute__((aligned(8)));
    int32_t ch;
    for (ch = 0; ch < c; ch += MCU_MVE_DW_CHUNK) {
        const int32_t n = c - ch < MCU_MVE_DW_CHUNK ? c - ch : MCU_MVE_DW_CHUNK;
        const int8_t *wb = weights + (ch >> 4) * MCU_MVE_DW16_W_BLOCK;
        mcu_mve_dw_run run = {win, wb, requant + (ch >> 4) * MCU_MVE_DW16_RQ_BLOCK, 3 * n,
                              wb + (n >> 4) * MCU_MVE_DW16_W_BLOCK, 0, out + ch + n, o->out_offset,
                              o->act_min, o->act_max};
        mcu_mve_dw_fill_window(win, input, h, w, iy, ix, c, ch, n, zps);
        mcu_mve_dw16_run(&run, n, out + ch);
    }
}

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

/* `even` (> 0, even) interior positions of one row at stride_w 1 and c == 8, two at a time: the two
 * pixels' windows are sixteen contiguous bytes per tap, so the sixteen-lane run takes each pair as
 * one block of "sixteen channels" with a column stride of eight bytes, its weights and parameters the
 * eight channels' twice over (pack_depthwise_pairs: past the eight-channel ones). */
static void mcu_mve_dw_pixel_pairs(const int8_t *x, int32_t row, int32_t even, const int8_t *weights,
                                   const int32_t *requant, const mcu_mve_dw_out *o, int8_t *out)
{
    const int8_t *w = weights + MCU_MVE_DW_BLOCK_BYTES(0);
    mcu_mve_dw_run run = {x, w, requant + MCU_MVE_RQ_DW_BLOCK, row, w + MCU_MVE_DW16_W_BLOCK, 16, out + even * 8,
                          o->out_offset, o->act_min, o->act_max};
    mcu_mve_dw16_run(&run, 8, out);
}

/* The kernel for the sixteen-channel layout: interior runs and border windows, both by mcu_mve_dw16_run. */
static void mcu_mve_dwconv3x3_16(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input,
                                 mcu_shape out_shape, const int8_t *weights, const int32_t *requant, int8_t *output,
                                 const mcu_mve_dw_out *o, const int8_t *zps)
{
    const int32_t c = in_shape.c, sh = p->stride_h, sw = p->stride_w;
    int32_t y_lo, y_hi, x_lo, x_hi, oy, ox;
    mcu_mve_dw_interior_range(in_shape.h, out_shape.h, sh, p->pad_top, &y_lo, &y_hi);
    mcu_mve_dw_interior_range(in_shape.w, out_shape.w, sw, p->pad_left, &x_lo, &x_hi);
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy = oy * sh - p->pad_top;
        int8_t *out = output + oy * out_shape.w * c;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix = ox * sw - p->pad_left;
            if (oy >= y_lo && oy < y_hi && ox == x_lo && x_hi > x_lo) {
                mcu_mve_dw_run run = {input + (iy * in_shape.w + ix) * c, weights, requant, in_shape.w * c,
                                      weights + (c >> 4) * MCU_MVE_DW16_W_BLOCK, sw * c,
                                      out + x_hi * c, o->out_offset, o->act_min, o->act_max};
                mcu_mve_dw16_run(&run, c, out + ox * c);
                ox = x_hi - 1;
            } else {
                mcu_mve_dw16_border(input, in_shape.h, in_shape.w, iy, ix, c, zps, weights, requant, o, out + ox * c);
            }
        }
    }
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
    /* requant starts with a header of four words: the first says whether every shift is negative,
     * the second is 16 for the sixteen-channel layout, 2 for the pixel pairs (int8 weights only). */
    const mcu_mve_dw_out o = {p->io.output_offset, p->io.act_min, p->io.act_max, requant[0] != 0};
    const int lanes16 = !wide && requant[1] == 16;
    /* The pixel-pair form (header word 1 == 2): eight channels at stride_w 1, interior runs two pixels
     * at a time by the sixteen-lane run (mcu_mve_dw_pixel_pairs). */
    const int pairs = !wide && requant[1] == 2 && c == 8 && sw == 1 && o.fast;
    /* The border by windows on the stack where the interior assembly applies and the copy pays (see
     * mcu_mve_dw_border_window); MCU_MVE_DW_WINDOW_MIN_C channels at least. */
    const int window = MCU_MVE_ASM_LOOPS && !(c & 7) && o.fast && c >= MCU_MVE_DW_WINDOW_MIN_C;
    int8_t zps[MCU_MVE_DW_CHUNK] __attribute__((aligned(8)));
    int32_t y_lo, y_hi, x_lo, x_hi, oy, ox;

    if (window || lanes16) {
        const int8x16_t z = vdupq_n_s8((int8_t)zp);
        vstrbq_s8(zps, z);
        vstrbq_s8(zps + 16, z);
        vstrbq_s8(zps + 32, z);
        vstrbq_s8(zps + 48, z);
    }
    requant += MCU_MVE_RQ_DW_HEADER;
    if (lanes16) {
        mcu_mve_dwconv3x3_16(p, in_shape, input, out_shape, weights, requant, output, &o, zps);
        return;
    }
    mcu_mve_dw_interior_range(in_shape.h, out_shape.h, sh, p->pad_top, &y_lo, &y_hi);
    mcu_mve_dw_interior_range(in_shape.w, out_shape.w, sw, p->pad_left, &x_lo, &x_hi);
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t iy = oy * sh - p->pad_top;
        const int inside_y = oy >= y_lo && oy < y_hi;
        int8_t *out = output + oy * out_shape.w * c;
        for (ox = 0; ox < out_shape.w; ox++) {
            const int32_t ix = ox * sw - p->pad_left;
            if (inside_y && ox == x_lo && x_hi > x_lo) {
                const int32_t n = x_hi - x_lo, even = pairs ? n & ~1 : 0;
                const int8_t *x = input + (iy * in_shape.w + ix) * c;
                if (even) {
                    mcu_mve_dw_pixel_pairs(x, row, even, weights, requant, &o, out + ox * c);
                }
                if (n > even) {
                    mcu_mve_dw_interior_run(x + even * c, row, sw * c, c, n - even, weights, requant, &o,
                                            out + (ox + even) * c, wide);
                }
                ox = x_hi - 1;
            } else if (window) {
                mcu_mve_dw_border_window(input, in_shape.h, in_shape.w, iy, ix, c, zps, weights, requant, &o,
                                         out + ox * c, wide);
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
