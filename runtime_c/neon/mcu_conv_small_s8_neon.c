/*
 * mcu_conv_small_s8_neon.c - convolution with a small window (the first layer of an image network)
 * with baseline Armv8-A NEON: see mcu_nn_neon.h for the layout. The windows are gathered
 * into rows (mcu_neon_windows.h) and multiplied by the loops of mcu_pwconv_s8_neon
 * (mcu_neon_pwconv.h).
 */
#include "mcu_nn_neon.h"

#if defined(__aarch64__) && defined(__ARM_NEON)

#include "mcu_neon_pwconv.h"
#include "mcu_neon_windows.h"

void mcu_conv_small_s8_neon(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                            const int8_t *weights, const int32_t *requant, int8_t *output)
{
    mcu_neon_windows win;
    int32_t n;
    mcu_neon_windows_init(&win, p, in_shape, input, out_shape);
    while ((n = mcu_neon_windows_next(&win)) > 0) {
        mcu_neon_pw_matrix(win.rows[0], MCU_NEON_WINDOW_MAX, n, win.row_bytes, out_shape.c, weights, requant, &p->io,
                           output + win.first * out_shape.c);
    }
}

#endif /* AArch64 NEON */
