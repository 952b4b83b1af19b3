/*
 * mcu_mve.h - helpers the Helium (MVE) kernels share: requantization of four int32 lanes at once,
 * and an ordering barrier for the compiler.
 *
 * Requantization: byte for byte the numbers of mcu_requantize.h, from three MVE instructions and a fix:
 *   - VSHL by a non-negative register amount is the wrapping left shift (mcu_shift_left_wrap);
 *   - VQRDMULH is SaturatingRoundingDoublingHighMul exactly: (2ab + 2^31) >> 32 rounds ties toward
 *     +infinity as gemmlowp's nudge-and-truncate does, and saturates INT32_MIN * INT32_MIN;
 *   - VRSHL by -n computes (x + 2^(n-1)) >> n without overflow, so it rounds ties toward +infinity,
 *     where RoundingDivideByPOT rounds them away from zero. For x < 0 the two differ only at ties, and
 *     floor((x - 1 + 2^(n-1)) / 2^n) is round-half-down, which for x < 0 is round-half-away: so
 *     negative x is lowered by one first (saturating: INT32_MIN is a multiple of 2^n, so it rounds the
 *     same either way). With n = 0 VRSHL returns x unchanged and x must not move, hence `fix`, all ones
 *     in lanes with n > 0 and zero elsewhere. tests/test_kernels_mve.py checks the formula over every
 *     exponent on an exhaustive window and the int32 edges.
 *
 * Per-channel parameters come as the compiler packs them (mcucompile/kernels/arm_mve.py): for every
 * block of four output channels, 16 int32 words
 *     bias[4]  multiplier[4]  left[4]  right[4]
 * where bias has the input zero point folded in (bias - input_zp * sum(weights), wrapped to int32),
 * left = max(shift, 0) and right = min(shift, 0) (a right shift as a negative amount). Channels past
 * the layer's last one are padded with zeros.
 */
#ifndef MCU_MVE_H
#define MCU_MVE_H

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

#include <stddef.h>
#include <arm_mve.h>
#include <stdint.h>

/*
 * GCC 12 moves every MVE load of an unrolled multiply-accumulate sequence to its start and keeps all
 * the products alive until the sums at its end, spilling most of them to the stack (more instructions
 * than the arithmetic itself). An empty asm that reads and writes the accumulators and clobbers memory
 * keeps the order of the source; it emits no instruction.
 */
#define MCU_MVE_KEEP_ORDER(a, b) __asm__ volatile("" : "+w"(a), "+w"(b) : : "memory")

/* For helpers taking a constant `full` flag: inlined, each call site keeps only its own branch. */
#define MCU_MVE_INLINE static inline __attribute__((always_inline))

/*
 * 1 where the kernels take their whole-loop assembly paths (mcu_mve_pwconv.h, mcu_mve_dwconv3x3.h,
 * mcu_mve_conv_small.h): those ask for up to 12 core registers at once, more than GCC can give
 * without optimization (-O0 keeps r7 as the frame pointer and allocates no better), so an
 * unoptimized build takes the C loops, which compute the same bytes.
 */
#ifdef __OPTIMIZE__
#define MCU_MVE_ASM_LOOPS 1
#else
#define MCU_MVE_ASM_LOOPS 0
#endif

/* Refuses to compile unless FIELD of TYPE lies at byte OFFSET: the assembly loops address their
 * run structs' fields by offset. (An array of negative size: C99 has no _Static_assert.) */
#define MCU_MVE_AT(TYPE, FIELD, OFFSET) \
    typedef char mcu_mve_at_##TYPE##_##FIELD[offsetof(TYPE, FIELD) == (OFFSET) ? 1 : -1]

/* int32 words per block of four channels in a packed requantization array. */
#define MCU_MVE_RQ_BLOCK 16
#define MCU_MVE_RQ_BIAS 0
#define MCU_MVE_RQ_MULT 4
#define MCU_MVE_RQ_LEFT 8
#define MCU_MVE_RQ_RIGHT 12

/* Four lanes, each with its own channel's parameters and `fix` given (all ones where right < 0, as
 * the compiler packs it for the pointwise kernel); result in [act_min, act_max]. */
MCU_MVE_INLINE int32x4_t mcu_mve_requantize_fix(int32x4_t acc, int32x4_t multiplier, int32x4_t left, int32x4_t right,
                                                int32x4_t fix, int32_t output_offset, int32_t act_min,
                                                int32_t act_max)
{
    int32x4_t v = vqrdmulhq_s32(vshlq_s32(acc, left), multiplier);
    v = vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), fix));
    v = vrshlq_s32(v, right);
    v = vqaddq_n_s32(v, output_offset);
    return vminq_s32(vmaxq_s32(v, vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}

/* Four lanes, each with its own channel's parameters; result in [act_min, act_max]. */
static inline int32x4_t mcu_mve_requantize(int32x4_t acc, int32x4_t multiplier, int32x4_t left, int32x4_t right,
                                           int32_t output_offset, int32_t act_min, int32_t act_max)
{
    const int32x4_t fix = vshrq_n_s32(right, 31); /* all ones where right < 0 */
    int32x4_t v = vqrdmulhq_s32(vshlq_s32(acc, left), multiplier);
    v = vqaddq_s32(v, vandq_s32(vshrq_n_s32(v, 31), fix));
    v = vrshlq_s32(v, right);
    /* Saturating: an extreme value stays extreme and the clamp below gives what the scalar code does. */
    v = vqaddq_n_s32(v, output_offset);
    return vminq_s32(vmaxq_s32(v, vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}

/* Four lanes of one channel: scalar parameters (left >= 0, right <= 0). */
static inline int32x4_t mcu_mve_requantize_n(int32x4_t acc, int32_t multiplier, int32_t left, int32_t right,
                                             int32_t output_offset, int32_t act_min, int32_t act_max)
{
    int32x4_t v = vqrdmulhq_n_s32(vshlq_r_s32(acc, left), multiplier);
    if (right < 0) {
        v = vqaddq_s32(v, vshrq_n_s32(v, 31));
        v = vrshlq_n_s32(v, right);
    }
    v = vqaddq_n_s32(v, output_offset);
    return vminq_s32(vmaxq_s32(v, vdupq_n_s32(act_min)), vdupq_n_s32(act_max));
}

#endif /* MVE */

#endif /* MCU_MVE_H */
