/*
 * mcu_nn_mve.h - Helium (MVE, Cortex-M55) kernels of the mcucompile int8 library.
 *
 * Same numbers as the reference kernels of mcu_nn.h, byte for byte, but their constants are laid out
 * ahead of time by the compiler (mcucompile/kernels/arm_mve.py) in the order these kernels read them:
 *
 *   requant  per block of four output channels, 16 int32 words: bias[4] multiplier[4] left[4] right[4]
 *            (see mcu_mve.h). The bias already holds the input zero point's share,
 *            bias - input_zp * sum(weights of the channel), so the kernels multiply raw int8 inputs
 *            and never read p->io.input_offset; a tap in the padding counts as the value input_zp.
 *   weights  as each kernel says below, zero-padded; the padding weights multiply whatever input byte
 *            happens to be there and add nothing.
 *
 * Activations are NHWC as in mcu_nn.h; outputs must not overlap inputs. Only p->io.output_offset,
 * act_min and act_max are read from the quantization fields. These kernels exist only in builds for a
 * core with MVE-I (__ARM_FEATURE_MVE & 1); elsewhere their files compile to nothing.
 *
 * Weights with a per-tensor zero point zw (legacy uint8 models; the products are x * (w - zw), and
 * w - zw spans [-255, 255]) have twins, *_wzp_mve: the folded bias is bias - input_zp * sum(w - zw),
 * and either the kernel adds filter_offset * (the sum of each window's inputs), filter_offset = -zw
 * (pointwise, small conv: int8 weights as they are), or the weights come as int16 w - zw
 * (depthwise). Reductions up to 33025 taps.
 */
#ifndef MCU_NN_MVE_H
#define MCU_NN_MVE_H

#include "mcu_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)

/*
 * Pointwise (1x1, stride 1, no padding) convolution over `pixels` = h * w positions.
 * weights [out_c][row] with row = in_c rounded up to a multiple of 16, zero-padded;
 * requant [out_c][4]: per channel bias (folded), multiplier, left, right. Any in_c, out_c >= 1.
 */
void mcu_pwconv_s8_mve(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                       const int8_t *weights, const int32_t *requant, int8_t *output);

/* mcu_pwconv_s8_mve for weights with a zero point: the same layouts; filter_offset = -zw in [-127, 128]. */
void mcu_pwconv_s8_wzp_mve(const mcu_quant_io *io, int32_t filter_offset, int32_t pixels, int32_t in_c,
                           int32_t out_c, const int8_t *input, const int8_t *weights, const int32_t *requant,
                           int8_t *output);

/*
 * Depthwise 3x3 convolution, channel multiplier 1, any stride and padding (pad_top, pad_left < 3).
 * requant starts with a header of four words: [0] 1 if every shift is a right shift, [1] the layout
 * (8, 16 or 2; the compiler's depthwise_lanes, mcucompile/kernels/arm_mve.py), then zeros.
 * - 8: weights [ceil(c / 8)][9][8], for each block of eight channels the nine taps in (ky, kx)
 *   order, eight channels each, zero-padded past c; then 40 requant words per eight channels: two
 *   blocks, the even channels' (0, 2, 4, 6) then the odd ones', then their 8 biases before folding
 *   in the same order (even, odd); zeros past c.
 * - 16 (c % 16 == 0, proved exact at build time): weights [c / 16][9][16]; 48 requant words per
 *   sixteen channels (twice the folded bias, multiplier, shift, over the four accumulators' lanes).
 * - 2 (c == 8 at stride_w 1, two output pixels per vector): the 8-channel layout, then the taps and
 *   the sixteen-lane requant block of the eight channels twice over.
 * See mcu_mve_dwconv3x3.h.
 */
void mcu_dwconv3x3_s8_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                          const int8_t *weights, const int32_t *requant, int8_t *output);

/* mcu_dwconv3x3_s8_mve for weights with a zero point: weights [ceil(c / 8)][9][8] int16, each w - zw
 * (in [-255, 255]); requant as there, its biases folded with w - zw. */
void mcu_dwconv3x3_s8_wzp_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input,
                              mcu_shape out_shape, const int16_t *weights, const int32_t *requant, int8_t *output);

/*
 * Convolution (groups = 1) with a small reduction, kernel_h * kernel_w * in_c <= 32 and
 * kernel_w * in_c <= 16: the first layer of an image network (3x3 over 1 or 3 channels). weights [out_c][32]: each channel's taps in
 * (ky, kx, ci) order, zero-padded to 32 bytes, for out_c rounded up to a multiple of 4 (the extra rows
 * zero); requant holds ceil(out_c / 4) blocks.
 */
void mcu_conv_small_s8_mve(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int8_t *weights, const int32_t *requant, int8_t *output);

/* mcu_conv_small_s8_mve for weights with a zero point: the same layouts; filter_offset = -zw. */
void mcu_conv_small_s8_wzp_mve(const mcu_conv_params *p, int32_t filter_offset, mcu_shape in_shape,
                               const int8_t *input, mcu_shape out_shape, const int8_t *weights,
                               const int32_t *requant, int8_t *output);

#endif /* MVE */

#ifdef __cplusplus
}
#endif

#endif /* MCU_NN_MVE_H */
