/*
 * mcu_dwconv3x3_s8_dsp8 - int8 depthwise 3x3 convolution (channel multiplier 1, stride_w 1 or 2) with
 * int8 weights, two taps of one channel per SMLAD.
 *
 * Why this shape. A depthwise tap multiplies one channel by one weight, so the SMLAD pairs must be two
 * taps of the same channel: horizontally adjacent input pixels. The input [h][w][c] has channels
 * innermost, so each input row is first rewritten, once, into a ring of 3 widened rows in scratch: per
 * channel, word j holds the int16 pair (x[2j - pad_left], x[2j + 1 - pad_left]), a column outside the
 * image (and a row outside it, wholly) holding the input zero point (the row is first copied into a
 * row of zero points, so the widening has no bounds checks either). Every output row then reads only
 * the ring: the padding is data. An input row is widened once and read by up to 3 output rows.
 *
 * Weights: the int8 filter [3][3][c] as it is in flash; once per call each channel's weights become
 * the int16 pairs (w0, w1) and (w1, w2) of each kernel row, times 2^left (as the int16 DSP kernels store
 * theirs), in scratch. For two outputs at stride 1 from the words a = (x0, x1), n = (x2, x3):
 *     out0 = w0 x0 + w1 x1 + w2 x2 = SMLAD(a, (w0, w1)) + SMLABT(n, (w1, w2))
 *     out1 = w0 x1 + w1 x2 + w2 x3 = SMLATB(a, (w0, w1)) + SMLAD(n, (w1, w2)),
 * 4 multiply instructions for 6 MACs and one new word per row; at stride 2 an output is
 * SMLAD(a, (w0, w1)) + SMLABT(n, (w1, w2)) and its successor starts at n.
 *
 * Registers decide the loop order: one channel at a time along an output row, the row's weights in
 * registers, in two passes (14 registers are not enough for 6 weight pairs, 3 row pointers and the
 * output stage): kernel rows 0 and 1 into int32 sums in scratch, then row 2 and the output stage with
 * the channel's constants in registers.
 *
 * In place: the input is read only while widening, and the rows output row oy needs are widened before
 * it is computed. So output may equal input when, for every output row, its bytes end at or before the
 * first input row not yet widened (or every input row is widened); the compiler checks that ahead of
 * time (kernels/arm_dsp.py, dwconv3x3_inplace_ok).
 *
 * Records: a header word, then 2 (compact) or 3 (wide) words per channel (mcu_nn_dsp.h), decoded once
 * per call into the scratch blocks, so the form costs the loops nothing; the output stage (DW3_STAGE)
 * equals mcu_dsp_requantize on the sums scaled by 2^left, for right >= 1.
 */
#include "mcu_nn_dsp.h"

#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP

#include <stddef.h>

#include "mcu_inline.h"

/* Words per channel of the scaled weights, bias and output-stage constants in scratch (scale_weights). */
#define BLOCK_WORDS 10

/* int32 words per channel in a widened row: the words the output loops read, which run over the
 * output width rounded up to even. */
static int32_t row_words(int32_t stride_w, int32_t out_w)
{
    const int32_t even = (out_w + 1) & ~1;
    return stride_w == 1 ? even / 2 + 1 : even + 1;
}

int32_t mcu_dwconv3x3_s8_dsp8_scratch_bytes(const mcu_dsp_params *p, mcu_shape in_shape, mcu_shape out_shape)
{
    return 4 * (3 * in_shape.c * row_words(p->stride_w, out_shape.w) + ((out_shape.w + 1) & ~1) +
                BLOCK_WORDS * in_shape.c) +
           ((2 * row_words(p->stride_w, out_shape.w) * in_shape.c + 3) & ~3);
}

/* What the widening needs of the layer. */
typedef struct {
    int32_t h, w, c;  /* input */
    int32_t pad_left;
    int32_t words;    /* row_words */
    int32_t zp_word;  /* four bytes of the input zero point */
    int8_t *padded;   /* 2 * words pixels: one input row at pad_left, the zero point around it */
} widen_geometry;

/*
 * n >= 1 words of one group of 4 channels: x is pixel 2j's channel group (of the padded row), d word j
 * of the group's first channel. Pixels x (bytes 0..3: channels c0..c3) and x + 1 become the pairs of
 * channels c0..c3 in rows d, d + nw, d + 2 nw, d + 3 nw: SXTB16 gives (c0, c2) of a pixel, SXTB16 ROR 8
 * (c1, c3), PKHBT / PKHTB pair them across the two pixels. Assembly: GCC 12 builds the pairs with UXTH
 * and ORR instead of PKHBT / PKHTB and spills the row offsets. Each store after the instruction that
 * makes its word's partner: llvm-mca-19 cortex-m7 15 -> 11 cycles per word, cortex-m4 unchanged.
 */
MCU_ALWAYS_INLINE void widen_pairs4(const int8_t *x, int32_t c, int32_t *d, int32_t nw, int32_t n)
{
    const int32_t nw1 = 4 * nw, nw2 = 8 * nw, nw3 = 12 * nw;
    int32_t a, b, ae, be, t;
    __asm__ volatile("1:\n\t"
                     "ldr    %[a], [%[x]]\n\t"
                     "ldr    %[b], [%[x], %[c]]\n\t"
                     "sxtb16 %[ae], %[a]\n\t"
                     "sxtb16 %[a], %[a], ror #8\n\t"
                     "add    %[x], %[x], %[c], lsl #1\n\t"
                     "sxtb16 %[be], %[b]\n\t"
                     "sxtb16 %[b], %[b], ror #8\n\t"
                     "pkhbt  %[t], %[ae], %[be], lsl #16\n\t"
                     "subs   %[n], %[n], #1\n\t"
                     "str    %[t], [%[d]]\n\t"
                     "pkhtb  %[ae], %[be], %[ae], asr #16\n\t"
                     "str    %[ae], [%[d], %[nw2]]\n\t"
                     "pkhbt  %[t], %[a], %[b], lsl #16\n\t"
                     "str    %[t], [%[d], %[nw1]]\n\t"
                     "pkhtb  %[a], %[b], %[a], asr #16\n\t"
                     "str    %[a], [%[d], %[nw3]]\n\t"
                     "add    %[d], %[d], #4\n\t"
                     "bne    1b"
                     : [x] "+&r"(x), [d] "+&r"(d), [n] "+&r"(n), [a] "=&r"(a), [b] "=&r"(b), [ae] "=&r"(ae),
                       [be] "=&r"(be), [t] "=&r"(t)
                     : [c] "r"(c), [nw1] "r"(nw1), [nw2] "r"(nw2), [nw3] "r"(nw3)
                     : "cc", "memory");
}

/* Input row iy, or a padding row, into one ring slot [c][words] (see the top of the file). */
static __attribute__((noinline)) void widen_row(const int8_t *input, int32_t iy, const widen_geometry *g, int32_t *slot)
{
    const int32_t c = g->c, nw = g->words;
    int8_t *padded = g->padded;
    int32_t ch, j;

    if (iy < 0 || iy >= g->h) {
        const int32_t zp_pair = __sxtb16(g->zp_word);
        for (j = 0; j < c * nw; j++) {
            slot[j] = zp_pair;
        }
        return;
    }
    /* The row into the middle of its padded copy, whose zero-point edges stay from the call's start:
     * then every word reads two pixels of the copy, with no bounds checks. */
    memcpy(padded + g->pad_left * c, input + iy * g->w * c, (size_t)(g->w * c));
    for (ch = 0; ch + 4 <= c; ch += 4) {
        widen_pairs4(padded + ch, c, slot + ch * nw, nw, nw);
    }
    for (; ch < c; ch++) {
        const int8_t *x = padded + ch;
        int32_t *d = slot + ch * nw;
        for (j = 0; j < nw; j++, x += 2 * c) {
            d[j] = (int32_t)(((uint32_t)x[0] & 0xFFFFu) | ((uint32_t)x[c] << 16));
        }
    }
}

/*
 * Per channel, computed once per call into scratch (BLOCK_WORDS words, the order the channel loop
 * loads them): the weight pairs of kernel rows 0, 1 (w0a, w0b, w1a, w1b) and the bias, those of row 2
 * (w2a, w2b), all times 2^left, so the loops need no shift (the compiler checked |w| * 2^left < 2^15 and
 * |bias| * 2^left < 2^30); then the output stage's multiplier, half the rounding and right (DW3_STAGE).
 */

/* One weight times 2^left. */
MCU_ALWAYS_INLINE int32_t scaled(int32_t w, int32_t left)
{
    return (int32_t)((uint32_t)w << left);
}

/* Two scaled weights as an int16 pair (lo, hi), one PKHBT: |w| * 2^left < 2^15, checked by the compiler. */
MCU_ALWAYS_INLINE int32_t scaled_pair(int32_t lo, int32_t hi)
{
    return (int32_t)(((uint32_t)lo & 0xFFFFu) | ((uint32_t)hi << 16));
}

/* One channel's record, either form (mcu_nn_dsp.h): the unscaled bias, the multiplier and the shifts. */
typedef struct {
    int32_t bias, multiplier, right, left;
} channel_record;

MCU_ALWAYS_INLINE channel_record read_record(const int32_t *r, int32_t wide)
{
    channel_record q;
    if (wide) {
        q.bias = r[0];
        q.multiplier = r[1];
        q.right = r[2] & 0xFF;
        q.left = (r[2] >> 8) & 0xFF;
    } else {
        /* {multiplier, bias << 8 | (left - 1) << 5 | right}: the arithmetic shift restores the bias. */
        q.multiplier = r[0];
        q.bias = r[1] >> 8;
        q.right = r[1] & 0x1F;
        q.left = ((r[1] >> 5) & 0x7) + 1;
    }
    return q;
}

/* weights: the layer's int8 [3][3][c]; channels: the header word and c records (mcu_nn_dsp.h). One loop
 * for both forms: a body per form would double this function's flash for a few cycles per channel. */
static void scale_weights(const int8_t *w, const int32_t *channels, int32_t c, int32_t *block)
{
    const uint32_t header = (uint32_t)channels[0];
    const int32_t zp = (int8_t)(header & 0xFFu);
    const int32_t wide = (header & MCU_DWCONV3X3_WIDE) != 0;
    const int32_t *records = channels + 1;
    int32_t ch, ky;
    for (ch = 0; ch < c; ch++, records += wide ? 3 : 2, block += BLOCK_WORDS) {
        const channel_record q = read_record(records, wide);
        const int32_t right = q.right, left = q.left;
        for (ky = 0; ky < 3; ky++) {
            const int8_t *row = w + 3 * ky * c + ch;
            const int32_t s0 = scaled(row[0], left), s1 = scaled(row[c], left), s2 = scaled(row[2 * c], left);
            /* (w0, w1) and (w1, w2): rows 0, 1 at words 0..3, row 2 at words 5, 6. */
            int32_t *d = block + (ky < 2 ? 2 * ky : 5);
            d[0] = scaled_pair(s0, s1);
            d[1] = scaled_pair(s1, s2);
        }
        block[4] = (int32_t)((uint32_t)q.bias << left);
        block[7] = q.multiplier;
        /* half = rounding / 2 = 2^(right - 1) + zp * 2^right (see DW3_STAGE). */
        block[8] = (int32_t)((1u << (right - 1)) + (uint32_t)zp * (1u << right));
        block[9] = right;
    }
}

/*
 * The channel loop of one output row, in memory for the assembly below (byte offsets fixed there).
 * Each channel runs two passes over the row: pass 1 adds kernel rows 0 and 1 to the bias, two outputs
 * per step, into sums (a phantom last output where out_w is odd); pass 2 adds kernel row 2 and runs the
 * output stage (DW3_STAGE), two outputs per step, then the odd last one.
 */
typedef struct {
    const int32_t *row0;  /*  0: the channel's word 0 of kernel row 0 (advances by nw4) */
    int32_t to_row1;      /*  4: bytes from kernel row 0's slot to row 1's */
    int32_t to_row2;      /*  8: and to row 2's */
    const int32_t *block; /* 12: the channel's BLOCK_WORDS (advances by 4 * BLOCK_WORDS) */
    int8_t *out;          /* 16: the channel's first output (advances by 1) */
    int32_t *sums;        /* 20: pairs * 2 int32 */
    int32_t pairs;        /* 24: (out_w + 1) / 2, >= 1 */
    int32_t halves;       /* 28: out_w / 2 */
    int32_t odd;          /* 32: out_w % 2 */
    int32_t c;            /* 36: bytes between outputs */
    int32_t nw4;          /* 40: bytes per channel in a slot */
    int32_t left;         /* 44: channels still to do, >= 1 */
} row_job;

/* C90-compatible compile-time checks of the offsets the assembly uses. */
typedef char row_job_layout_check[(offsetof(row_job, left) == 44 && offsetof(row_job, out) == 16) ? 1 : -1];

/*
 * Assembly, as naked functions taking the row_job in r0: the loops need 13 registers and the channel
 * loop one more for the job, all 14 that a function may use, which GCC 12 does not find for inline
 * assembly. Words carried between steps: (x0, x1) in a (and b for row 1), the next word loaded two
 * multiplies before its use. Registers, pass 1: r1-r4 w0a w0b w1a w1b, r5 bias, r6 r7 rows 0 and 1,
 * r8 sums, r9 steps, r10 r11 a b, r12 lr the two sums. Pass 2: r1 r2 w2a w2b, r3 row 2, r4 sums,
 * r5 out, r6 c, r7 steps, r8 a, r9 multiplier, r10 half, r11 right, r12 lr the two sums, r0 (the job
 * pushed) the output stage's temporary.
 */
#define DW3_PASS1_SETUP \
    "ldr    r6, [r0, #0]\n\t" \
    "ldr    r12, [r0, #4]\n\t" \
    "ldr    r1, [r0, #12]\n\t" \
    "ldrd   r8, r9, [r0, #20]\n\t" \
    "add    r7, r6, r12\n\t" \
    "ldmia  r1, {r1, r2, r3, r4, r5}\n\t" \
    "ldr    r10, [r6], #4\n\t" \
    "ldr    r11, [r7], #4\n\t"

/*
 * The single-issue loops run two steps per iteration (COUNT >= 1 steps; an odd COUNT enters at the
 * second copy): one SUBS and one taken branch per two steps, which the Cortex-M4 charges 1 + 3
 * cycles (TRM table) per iteration.
 */
#define DW3_LOOP2(COUNT, STEP, TOP, MID) \
    "adds   " COUNT ", " COUNT ", #1\n\t" \
    "lsrs   " COUNT ", " COUNT ", #1\n\t" \
    "bcc    " MID "f\n\t" \
    TOP ":\n\t" STEP MID ":\n\t" STEP \
    "subs   " COUNT ", " COUNT ", #1\n\t" \
    "bne    " TOP "b\n\t"

/* out0 = x0 w0 + x1 w1 + x2 w2, out1 = x1 w0 + x2 w1 + x3 w2 from a = (x0, x1), then a = (x2, x3). The two
 * loads side by side: the Cortex-M4 pipelines the second (TRM table). */
#define DW3_PASS1_S1 DW3_LOOP2("r9", DW3_STEP1_S1, "1", "5")
#define DW3_STEP1_S1 \
    "smlatb lr, r10, r1, r5\n\t" \
    "smlad  r12, r10, r1, r5\n\t" \
    "smlad  r12, r11, r3, r12\n\t" \
    "smlatb lr, r11, r3, lr\n\t" \
    "ldr    r10, [r6], #4\n\t" \
    "ldr    r11, [r7], #4\n\t" \
    "smlad  lr, r10, r2, lr\n\t" \
    "smlabt r12, r10, r2, r12\n\t" \
    "smlabt r12, r11, r4, r12\n\t" \
    "smlad  lr, r11, r4, lr\n\t" \
    "strd   r12, lr, [r8], #8\n\t"

/* out0 = x0 w0 + x1 w1 + x2 w2, out1 = x2 w0 + x3 w1 + x4 w2 from a = (x0, x1), then (x2, x3), (x4, x5). */
#define DW3_PASS1_S2 DW3_LOOP2("r9", DW3_STEP1_S2, "1", "5")
#define DW3_STEP1_S2 \
    "smlad  r12, r10, r1, r5\n\t" \
    "smlad  r12, r11, r3, r12\n\t" \
    "ldr    r10, [r6], #4\n\t" \
    "ldr    r11, [r7], #4\n\t" \
    "smlabt r12, r10, r2, r12\n\t" \
    "smlad  lr, r10, r1, r5\n\t" \
    "smlabt r12, r11, r4, r12\n\t" \
    "smlad  lr, r11, r3, lr\n\t" \
    "ldr    r10, [r6], #4\n\t" \
    "ldr    r11, [r7], #4\n\t" \
    "smlabt lr, r10, r2, lr\n\t" \
    "smlabt lr, r11, r4, lr\n\t" \
    "strd   r12, lr, [r8], #8\n\t"

/*
 * The same loops ordered for the dual-issue Cortex-M7 (the `_2x` macros; the ones above are the
 * single-issue order, mcu_dwconv3x3_s8_dsp8_1x): there a load that writes back its base register
 * takes an issue slot of its own after a multiply (LLVM's cortex-m7 model), so the loads take
 * immediate or register offsets and one ADD moves each pointer, and the multiplies are spread
 * between the loads (orders searched with llvm-mca-19; cycles per step, stride 1: pass 1 12 -> 10,
 * pass 2 18 -> 15; stride 2: 14 -> 10, 20 -> 16). Same instructions on the same values otherwise.
 * Pass 1 at stride 1 holds row 1's offset from row 0 in r7 instead of its pointer.
 */
#define DW3_PASS1_SETUP_S1_2X \
    "ldr    r6, [r0, #0]\n\t" \
    "ldr    r7, [r0, #4]\n\t" \
    "ldr    r1, [r0, #12]\n\t" \
    "ldrd   r8, r9, [r0, #20]\n\t" \
    "ldmia  r1, {r1, r2, r3, r4, r5}\n\t" \
    "ldr    r11, [r6, r7]\n\t" \
    "ldr    r10, [r6], #4\n\t"

#define DW3_PASS1_S1_2X \
    "1:\n\t" \
    "smlad  r12, r10, r1, r5\n\t" \
    "subs   r9, r9, #1\n\t" \
    "smlatb lr, r10, r1, r5\n\t" \
    "smlad  r12, r11, r3, r12\n\t" \
    "ldr    r10, [r6]\n\t" \
    "smlatb lr, r11, r3, lr\n\t" \
    "smlabt r12, r10, r2, r12\n\t" \
    "ldr    r11, [r6, r7]\n\t" \
    "smlad  lr, r10, r2, lr\n\t" \
    "add    r6, r6, #4\n\t" \
    "smlad  lr, r11, r4, lr\n\t" \
    "smlabt r12, r11, r4, r12\n\t" \
    "strd   r12, lr, [r8], #8\n\t" \
    "bne    1b\n\t"

#define DW3_PASS1_S2_2X \
    "1:\n\t" \
    "smlad  r12, r10, r1, r5\n\t" \
    "ldr    r10, [r6]\n\t" \
    "smlad  r12, r11, r3, r12\n\t" \
    "ldr    r11, [r7]\n\t" \
    "smlabt r12, r10, r2, r12\n\t" \
    "subs   r9, r9, #1\n\t" \
    "smlabt r12, r11, r4, r12\n\t" \
    "smlad  lr, r10, r1, r5\n\t" \
    "ldr    r10, [r6, #4]\n\t" \
    "smlad  lr, r11, r3, lr\n\t" \
    "ldr    r11, [r7, #4]\n\t" \
    "smlabt lr, r10, r2, lr\n\t" \
    "smlabt lr, r11, r4, lr\n\t" \
    "add    r6, r6, #8\n\t" \
    "add    r7, r7, #8\n\t" \
    "strd   r12, lr, [r8], #8\n\t" \
    "bne    1b\n\t"

#define DW3_PASS2_S1_2X \
    "2:\n\t" \
    "ldrd   r12, lr, [r4]\n\t" \
    "subs   r7, r7, #1\n\t" \
    "smlatb lr, r8, r1, lr\n\t" \
    "add    r4, r4, #8\n\t" \
    "smlad  r12, r8, r1, r12\n\t" \
    "ldr    r8, [r3]\n\t" \
    "add    r3, r3, #4\n\t" \
    "smlabt r12, r8, r2, r12\n\t" \
    "smlad  lr, r8, r2, lr\n\t" \
    "add    r0, r10, r12, asr #31\n\t" \
    "smmlar r12, r12, r9, r0\n\t" \
    "add    r0, r10, lr, asr #31\n\t" \
    "asr    r12, r12, r11\n\t" \
    "smmlar lr, lr, r9, r0\n\t" \
    "ssat   r12, #8, r12\n\t" \
    "asr    lr, lr, r11\n\t" \
    "ssat   lr, #8, lr\n\t" \
    DW3_PASS2_STORE

#define DW3_PASS2_S2_2X \
    "2:\n\t" \
    "ldrd   r12, lr, [r4]\n\t" \
    "add    r4, r4, #8\n\t" \
    "smlad  r12, r8, r1, r12\n\t" \
    "ldr    r8, [r3]\n\t" \
    "subs   r7, r7, #1\n\t" \
    "smlad  lr, r8, r1, lr\n\t" \
    "smlabt r12, r8, r2, r12\n\t" \
    "ldr    r8, [r3, #4]\n\t" \
    "add    r3, r3, #8\n\t" \
    "smlabt lr, r8, r2, lr\n\t" \
    DW3_PASS2_REQUANT \
    DW3_PASS2_STORE

/* The two outputs stored; the flags are the step count's SUBS (nothing between sets them). */
#define DW3_PASS2_STORE \
    "strb   r12, [r5]\n\t" \
    "strb   lr, [r5, r6]\n\t" \
    "add    r5, r5, r6, lsl #1\n\t" \
    "bne    2b\n\t"

/* Pass 2's registers, and the job advanced to the next channel. */
#define DW3_PASS2_SETUP \
    "ldr    r3, [r0, #0]\n\t" \
    "ldr    r12, [r0, #40]\n\t" \
    "ldr    lr, [r0, #8]\n\t" \
    "add    r12, r3, r12\n\t" \
    "str    r12, [r0, #0]\n\t" \
    "add    r3, r3, lr\n\t" \
    "ldr    r12, [r0, #12]\n\t" \
    "add    lr, r12, #40\n\t" \
    "str    lr, [r0, #12]\n\t" \
    "add    r12, r12, #20\n\t" \
    "ldmia  r12, {r1, r2, r9, r10, r11}\n\t" \
    "ldr    r5, [r0, #16]\n\t" \
    "ldr    r4, [r0, #20]\n\t" \
    "add    lr, r5, #1\n\t" \
    "str    lr, [r0, #16]\n\t" \
    "ldr    r6, [r0, #36]\n\t" \
    "ldr    r7, [r0, #28]\n\t" \
    "ldr    r8, [r3], #4\n\t" \
    "push   {r0}\n\t" \
    "cmp    r7, #0\n\t" \
    "beq    3f\n\t"

/*
 * The output stage of the sum in S, in place, T a temporary: mcu_dsp_requantize rewritten for right >= 1
 * (the compiler checks it), with half = rounding / 2 (even then):
 *     (rounding + 2x + [x < 0]') >> (right + 1) = (x + half - [x < 0]) >> right,
 * as 2x + rounding - 1 is odd where x < 0, so dropping the 1 changes no floor by 2^(right + 1). SMMLAR
 * adds half - [S < 0] to x = SMMULR(S, m) for free: x has S's sign but where x = 0, and there
 * (half - 1) >> right = half >> right = the output zero point.
 */
#define DW3_STAGE(S, T) \
    "add    " T ", r10, " S ", asr #31\n\t" \
    "smmlar " S ", " S ", r9, " T "\n\t" \
    "asr    " S ", " S ", r11\n\t" \
    "ssat   " S ", #8, " S "\n\t"

#define DW3_PASS2_S1 DW3_LOOP2("r7", DW3_STEP2_S1, "2", "6")
#define DW3_STEP2_S1 \
    "ldrd   r12, lr, [r4], #8\n\t" \
    "smlad  r12, r8, r1, r12\n\t" \
    "smlatb lr, r8, r1, lr\n\t" \
    "ldr    r8, [r3], #4\n\t" \
    "smlabt r12, r8, r2, r12\n\t" \
    "smlad  lr, r8, r2, lr\n\t" \
    DW3_PASS2_STAGES

/* The loads and the output stage interleaved (llvm-mca-19 cortex-m4 23 -> 22 cycles per step). */
#define DW3_PASS2_S2 DW3_LOOP2("r7", DW3_STEP2_S2, "2", "6")
#define DW3_STEP2_S2 \
    "ldrd   r12, lr, [r4], #8\n\t" \
    "smlad  r12, r8, r1, r12\n\t" \
    "ldr    r8, [r3], #4\n\t" \
    "smlad  lr, r8, r1, lr\n\t" \
    "smlabt r12, r8, r2, r12\n\t" \
    "ldr    r8, [r3], #4\n\t" \
    "add    r0, r10, r12, asr #31\n\t" \
    "smlabt lr, r8, r2, lr\n\t" \
    "smmlar r12, r12, r9, r0\n\t" \
    "add    r0, r10, lr, asr #31\n\t" \
    "asr    r12, r12, r11\n\t" \
    "smmlar lr, lr, r9, r0\n\t" \
    "ssat   r12, #8, r12\n\t" \
    "asr    lr, lr, r11\n\t" \
    "ssat   lr, #8, lr\n\t" \
    DW3_PASS2_OUT

#define DW3_PASS2_STAGES \
    DW3_PASS2_REQUANT \
    DW3_PASS2_OUT

/* Both accumulators (r12, lr) through the output stage: SMMLAR with the rounding term, the right
 * shift, saturation to int8. */
#define DW3_PASS2_REQUANT \
    "add    r0, r10, r12, asr #31\n\t" \
    "smmlar r12, r12, r9, r0\n\t" \
    "add    r0, r10, lr, asr #31\n\t" \
    "smmlar lr, lr, r9, r0\n\t" \
    "asr    r12, r12, r11\n\t" \
    "asr    lr, lr, r11\n\t" \
    "ssat   r12, #8, r12\n\t" \
    "ssat   lr, #8, lr\n\t"

/* The two outputs of a step stored, out advanced. */
#define DW3_PASS2_OUT \
    "strb   r12, [r5]\n\t" \
    "strb   lr, [r5, r6]\n\t" \
    "add    r5, r5, r6, lsl #1\n\t"

/* The odd last output (a = (x0, x1), the next word (x2, x3) at either stride), then the next channel. */
#define DW3_TAIL \
    "3:\n\t" \
    "pop    {r0}\n\t" \
    "ldr    r12, [r0, #32]\n\t" \
    "cmp    r12, #0\n\t" \
    "beq    4f\n\t" \
    "ldr    r12, [r4]\n\t" \
    "ldr    lr, [r3]\n\t" \
    "smlad  r12, r8, r1, r12\n\t" \
    "smlabt r12, lr, r2, r12\n\t" \
    DW3_STAGE("r12", "lr") \
    "strb   r12, [r5]\n\t" \
    "4:\n\t" \
    "ldr    r12, [r0, #44]\n\t" \
    "subs   r12, r12, #1\n\t" \
    "str    r12, [r0, #44]\n\t" \
    "bne    0b\n\t"

/* One naked function per stride and order (the _1x ones for single-issue cores). */
#define DW3_ROW_CHANNELS(NAME, BODY) \
    static __attribute__((naked, noinline)) void NAME(__attribute__((unused)) row_job *job) \
    { \
        __asm__ volatile("push   {r4, r5, r6, r7, r8, r9, r10, r11, lr}\n\t" \
                         "0:\n\t" BODY "pop    {r4, r5, r6, r7, r8, r9, r10, r11, pc}"); \
    }

DW3_ROW_CHANNELS(row_channels_s1, DW3_PASS1_SETUP_S1_2X DW3_PASS1_S1_2X DW3_PASS2_SETUP DW3_PASS2_S1_2X DW3_TAIL)
DW3_ROW_CHANNELS(row_channels_s2, DW3_PASS1_SETUP DW3_PASS1_S2_2X DW3_PASS2_SETUP DW3_PASS2_S2_2X DW3_TAIL)
DW3_ROW_CHANNELS(row_channels_s1_1x, DW3_PASS1_SETUP DW3_PASS1_S1 DW3_PASS2_SETUP DW3_PASS2_S1 DW3_TAIL)
DW3_ROW_CHANNELS(row_channels_s2_1x, DW3_PASS1_SETUP DW3_PASS1_S2 DW3_PASS2_SETUP DW3_PASS2_S2 DW3_TAIL)

/* A layer whose clamp is narrower than int8: one output row of n bytes clamped to [lo, hi], four at a
 * time (SSUB8 sets the GE flags per byte, SEL picks per byte). */
static void clamp_row(int8_t *row, int32_t n, int32_t lo, int32_t hi)
{
    const uint32_t lo4 = 0x01010101u * (uint8_t)lo, hi4 = 0x01010101u * (uint8_t)hi;
    for (; n >= 4; n -= 4, row += 4) {
        uint32_t v, t;
        memcpy(&v, row, 4);
        __asm__("ssub8 %[t], %[v], %[lo]\n\t"
                "sel   %[v], %[v], %[lo]\n\t"
                "ssub8 %[t], %[v], %[hi]\n\t"
                "sel   %[v], %[hi], %[v]"
                : [v] "+&r"(v), [t] "=&r"(t)
                : [lo] "r"(lo4), [hi] "r"(hi4)
                : "cc");
        memcpy(row, &v, 4);
    }
    for (; n > 0; n--, row++) {
        const int32_t v = *row;
        *row = (int8_t)(v < lo ? lo : v > hi ? hi : v);
    }
}

/* stride_w and dual (the order of the loops: 1 for the dual-issue Cortex-M7) are constants in each body. */
MCU_ALWAYS_INLINE void dwconv3x3(int32_t stride_w, int32_t dual, const mcu_dsp_params *p, mcu_dsp_out o,
                                 mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, int8_t *output,
                                 int32_t *scratch)
{
    const int32_t c = in_shape.c, out_w = out_shape.w;
    const int32_t nw = row_words(stride_w, out_w);
    const int32_t slot_words = c * nw;
    int32_t *sums = scratch + 3 * slot_words;
    const int32_t *blocks = sums + ((out_w + 1) & ~1);
    int32_t held[3] = {-1, -1, -1}; /* the padded row index (iy + pad_top) each ring slot holds */
    widen_geometry g;
    row_job job;
    int32_t oy, k;

    g.h = in_shape.h;
    g.w = in_shape.w;
    g.c = c;
    g.pad_left = p->pad_left;
    g.words = nw;
    g.zp_word = (int32_t)(0x01010101u * (uint8_t)p->input_zero_point);
    g.padded = (int8_t *)(void *)(sums + ((out_w + 1) & ~1) + BLOCK_WORDS * c);
    memset(g.padded, p->input_zero_point, (size_t)(2 * nw * c));
    job.sums = sums;
    job.pairs = (out_w + 1) >> 1;
    job.halves = out_w >> 1;
    job.odd = out_w & 1;
    job.c = c;
    job.nw4 = 4 * nw;
    for (oy = 0; oy < out_shape.h; oy++) {
        const int32_t first = oy * p->stride_h;
        int8_t *out = output + oy * out_w * c;
        const int32_t *rows[3];
        for (k = 0; k < 3; k++) {
            const int32_t r = first + k, s = r % 3;
            if (held[s] != r) {
                widen_row(input, r - p->pad_top, &g, scratch + s * slot_words);
                held[s] = r;
            }
            rows[k] = scratch + s * slot_words;
        }
        job.row0 = rows[0];
        job.to_row1 = (int32_t)((rows[1] - rows[0]) * 4);
        job.to_row2 = (int32_t)((rows[2] - rows[0]) * 4);
        job.block = blocks;
        job.out = out;
        job.left = c;
        if (stride_w == 1) {
            (dual ? row_channels_s1 : row_channels_s1_1x)(&job);
        } else {
            (dual ? row_channels_s2 : row_channels_s2_1x)(&job);
        }
        if (o.narrow) {
            clamp_row(out, out_w * c, o.min, o.max);
        }
    }
}

MCU_ALWAYS_INLINE void dwconv3x3_call(int32_t dual, const mcu_dsp_params *p, mcu_shape in_shape,
                                      const int8_t *input, mcu_shape out_shape, const int32_t *weights,
                                      const int32_t *channels, int8_t *output, int32_t *scratch)
{
    const mcu_dsp_out o = mcu_dsp_out_of(p);
    const int32_t blocks = 3 * in_shape.c * row_words(p->stride_w, out_shape.w) + ((out_shape.w + 1) & ~1);
    scale_weights((const int8_t *)(const void *)weights, channels, in_shape.c, scratch + blocks);
    /* Two bodies, the stride a constant in each. */
    if (p->stride_w == 1) {
        dwconv3x3(1, dual, p, o, in_shape, input, out_shape, output, scratch);
    } else {
        dwconv3x3(2, dual, p, o, in_shape, input, out_shape, output, scratch);
    }
}

void mcu_dwconv3x3_s8_dsp8(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    dwconv3x3_call(1, p, in_shape, input, out_shape, weights, channels, output, scratch);
}

void mcu_dwconv3x3_s8_dsp8_1x(const mcu_dsp_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                              const int32_t *weights, const int32_t *channels, int8_t *output, int32_t *scratch)
{
    dwconv3x3_call(0, p, in_shape, input, out_shape, weights, channels, output, scratch);
}

#endif /* __ARM_FEATURE_DSP */
