/*
 * mcu_mean_s8_ref - int8 mean over height and width, TFLite Micro's int8 MEAN over axes 1 and 2.
 *
 * Per channel c, with count = h * w:
 *     sum = input[0][0][c] + ... + input[h-1][w-1][c]          (int32, |sum| <= 128 * count)
 *     out = clamp(mcu_requantize(sum + input_offset * count, multiplier, shift) + output_offset, -128, 127)
 * The compiler folds both of TFLite Micro's factors, in_scale / out_scale and 1 / count, into
 * multiplier and shift (mcucompile/ops/mean.py, mean_params), so the kernel only sums and requantizes.
 */
#include "mcu_nn.h"
#include "mcu_requantize.h"

void mcu_mean_s8_ref(const mcu_mean_params *p, mcu_shape in_shape, const int8_t *input, int8_t *output)
{
    const int32_t count = in_shape.h * in_shape.w;
    int32_t c, i;

    for (c = 0; c < in_shape.c; c++) {
        int32_t sum = 0;
        for (i = 0; i < count; i++) {
            sum += input[i * in_shape.c + c];
        }
        output[c] = mcu_requantize_s8(sum + p->input_offset * count, p->multiplier, p->shift, p->output_offset,
                                      -128, 127);
    }
}
