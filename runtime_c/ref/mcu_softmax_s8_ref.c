/*
 * mcu_softmax_s8_ref - int8 softmax over the last axis, TFLite's int8 -> int8 reference.
 *
 * Per row, with d = x - max(row) (so d <= 0):
 *   - inputs with d < diff_min are too small to matter and give -128;
 *   - the others are rescaled to Q5.26 by the input multiplier (beta * input_scale folded in),
 *     exponentiated in fixed point to Q0.31, and summed in Q12.19;
 *   - 1 / sum is computed by Newton-Raphson on the sum normalised to [1, 2), and each output is
 *     exp * (1 / sum) scaled to the output scale 1/256 and shifted by the zero point -128.
 */
#include "mcu_fixedpoint.h"
#include "mcu_nn.h"
#include "mcu_requantize.h"

/* Integer bits of the sum of exponentials (Q12.19), as in TFLite; the exp() input is Q5.26. */
#define ACCUMULATION_INTEGER_BITS 12

/* exp(beta * input_scale * diff) in Q0.31 for one input difference diff in [diff_min, 0]. */
static int32_t exp_of_diff(const mcu_softmax_params *p, int32_t diff)
{
    /* diff * 2^left_shift cannot overflow for diff >= diff_min: that is how diff_min is chosen. */
    const int32_t scaled_diff = mcu_srdhm(mcu_shift_left_wrap(diff, p->input_left_shift), p->input_multiplier);
    return mcu_exp_on_negative_values_q5_26(scaled_diff);
}

void mcu_softmax_s8_ref(const mcu_softmax_params *p, int32_t rows, int32_t depth, const int8_t *input,
                        int8_t *output)
{
    int32_t row, c;

    for (row = 0; row < rows; row++) {
        const int8_t *x = input + row * depth;
        int8_t *y = output + row * depth;
        int32_t max_in_row = -128;
        int32_t sum_of_exps = 0; /* Q12.19; >= 2^19 because the maximum contributes exp(0) = 1 */
        int32_t headroom, exponent, reciprocal;

        for (c = 0; c < depth; c++) {
            if (x[c] > max_in_row) {
                max_in_row = x[c];
            }
        }
        for (c = 0; c < depth; c++) {
            const int32_t diff = x[c] - max_in_row;
            if (diff >= p->diff_min) {
                /* Q0.31 -> Q12.19 */
                const int32_t e = mcu_rounding_divide_by_pot(exp_of_diff(p, diff), ACCUMULATION_INTEGER_BITS);
                sum_of_exps = mcu_add_wrap(sum_of_exps, e);
            }
        }

        /* sum = 2^(ACCUMULATION_INTEGER_BITS - headroom) * (1 + f) with f in [0, 1). */
        headroom = mcu_clz_u32((uint32_t)sum_of_exps);
        reciprocal = mcu_one_over_one_plus_x_for_x_in_0_1(
            (int32_t)(((uint32_t)sum_of_exps << headroom) - 0x80000000u));
        /* output = exp * reciprocal (Q0.31) / 2^(ACCUMULATION_INTEGER_BITS - headroom) * 256:
         * a rounding right shift by (ACCUMULATION_INTEGER_BITS - headroom) + 31 - 8. */
        exponent = ACCUMULATION_INTEGER_BITS - headroom + 31 - 8;

        for (c = 0; c < depth; c++) {
            const int32_t diff = x[c] - max_in_row;
            int32_t out = -128;
            /* exponent > 31 means sum >= 512: every probability is below 1/512 and rounds to 0
             * (TFLite's reference stops on a check there). */
            if (diff >= p->diff_min && exponent <= 31) {
                const int32_t e = exp_of_diff(p, diff);
                out = mcu_rounding_divide_by_pot(mcu_srdhm(reciprocal, e), exponent) - 128;
            }
            y[c] = mcu_clamp_s8(out, -128, 127);
        }
    }
}
