/*
 * mcu_nn_neon.h - AArch64 NEON (Advanced SIMD) kernels of the mcucompile int8 library, for Cortex-A.
 *
 * Same numbers as the reference kernels of mcu_nn.h, byte for byte, with their constants laid out
 * ahead of time by the compiler (mcucompile/kernels/neon.py) in the order these kernels read them.
 * Two families: *_neon kernels use baseline Armv8-A instructions (widening multiplies SMULL/SMLAL,
 * pairwise accumulation SADALP); *_sdot kernels need the dot-product extension (Armv8.2-A
 * +dotprod, e.g. Cortex-A76) and exist only where __ARM_FEATURE_DOTPROD is defined. Elsewhere
 * (another architecture, a 32-bit Arm build) the files compile to nothing.
 *
 * Blocks. A dimension of n channels (input or output) is cut into blocks of 16 from 0, then, where
 * n % 16 != 0: one block that ends at n, of 16 channels if n % 16 > 8 else of 8, when n >= 16 (it
 * overlaps the block before it); blocks of 8 at 0 and, if n > 8, at n - 8, when 8 <= n < 16; one
 * block of 8 at 0 when n < 8 (the channels past n padded). The baseline pointwise kernel cuts its
 * output channels into blocks of 4 instead: from 0, then one ending at n (n >= 4) or one at 0 (n < 4).
 * An output block that overlaps the one before computes those channels again, the same bytes.
 *
 * requant  per output block of b channels, 4 + 4b int32 words:
 *              flags 0 0 0  bias[b]  multiplier[b]  left[b]  right[b]
 *          bias with the input zero point folded in, bias - input_zp * sum(w) (wrapped to int32);
 *          left = max(shift, 0), right = min(shift, 0); flags bit 0: every channel of the block has
 *          left = 0 and right < 0. Channels past the layer's last: zero, right = -1. So the kernels
 *          multiply raw int8 inputs and never read io->input_offset; a tap in the padding counts as
 *          the value input_zp (the kernels read input_zp there).
 * weights  as each kernel says below; weights the kernels multiply but that belong to no tap (past
 *          the window, past the last output channel, or input channels an overlapping block already
 *          took) are zero.
 *
 * Activations are NHWC as in mcu_nn.h; outputs must not overlap inputs. Only io->output_offset,
 * act_min and act_max are read from the quantization fields. Int8 weights of the *_neon kernels are
 * in [-127, 127] (two products then fit an int16 sum); the *_sdot kernels take [-128, 127].
 * Reductions up to 65793 taps (mcu_nn.h).
 */
#ifndef MCU_NN_NEON_H
#define MCU_NN_NEON_H

#include "mcu_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__aarch64__) && defined(__ARM_NEON)

/*
 * Pointwise (1x1, stride 1, unpadded) convolution over `pixels` = h * w positions, or a fully
 * connected layer (pixels = 1). Output channels in blocks of 4; per block, per block of input
 * channels (16 or 8, as above), the block's 4 channels' weights one after the other: [4][16] or
 * [4][8] bytes. requant: per block of 4 channels (20 words).
 */
void mcu_pwconv_s8_neon(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                        const int8_t *weights, const int32_t *requant, int8_t *output);

/*
 * Depthwise 3x3 convolution, channel multiplier 1, any stride and padding (pad_top, pad_left < 3).
 * Channels in blocks (16 or 8); per block its nine taps in (ky, kx) order, [9][16] or [9][8] bytes.
 * requant per block. scratch: mcu_dwconv3x3_s8_neon_scratch_bytes(in_shape) bytes, any alignment,
 * overlapping nothing (the kernel fills it with input_zp, the value of a padded tap).
 */
void mcu_dwconv3x3_s8_neon(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                           const int8_t *weights, const int32_t *requant, int8_t *scratch, int8_t *output);

/* in_shape.c: the inputs of a tap in the padding. */
int32_t mcu_dwconv3x3_s8_neon_scratch_bytes(mcu_shape in_shape);

/*
 * Convolution (groups = 1) with a small window, K = kernel_h * kernel_w * in_c <= 64: the first
 * layer of an image network (3x3 over 1 or 3 channels). Each window is gathered in (ky, kx, ci)
 * order into a row of K rounded up to 8 bytes (the rest zero), then multiplied as by
 * mcu_pwconv_s8_neon with in_c = that rounded K: weights and requant in its layout, weights past K
 * zero.
 */
void mcu_conv_small_s8_neon(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                            const int8_t *weights, const int32_t *requant, int8_t *output);

/*
 * Average pool, NHWC, in_shape.c == out_shape.c, as mcu_avgpool_s8_ref (half away from zero) and
 * mcu_avgpool_s8_halfup_ref (ties up): sums of the in-bounds window over 16 channels at a time,
 * divided in single precision, which is exact here: every window has fewer than 65536 elements.
 */
void mcu_avgpool_s8_neon(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                         int8_t *output);
void mcu_avgpool_s8_halfup_neon(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input,
                                mcu_shape out_shape, int8_t *output);

#if defined(__ARM_FEATURE_DOTPROD)

/*
 * mcu_pwconv_s8_neon with SDOT. Output channels in blocks (16 or 8, as above); per output block,
 * per input block (16 or 8 channels), the weights w[c][k] in the order [k / 4][c][k % 4] (within
 * the blocks): one 16-byte vector per four k and four channels. requant per output block (68 or 36
 * words). A layer with fewer than 8 input channels reads a zero-padded copy of each pixel.
 */
void mcu_pwconv_s8_sdot(const mcu_quant_io *io, int32_t pixels, int32_t in_c, int32_t out_c, const int8_t *input,
                        const int8_t *weights, const int32_t *requant, int8_t *output);

/* mcu_conv_small_s8_neon with SDOT: weights and requant as mcu_pwconv_s8_sdot's for in_c = K rounded up to 8. */
void mcu_conv_small_s8_sdot(const mcu_conv_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                            const int8_t *weights, const int32_t *requant, int8_t *output);

#endif /* dot product */

#endif /* AArch64 NEON */

#ifdef __cplusplus
}
#endif

#endif /* MCU_NN_NEON_H */
