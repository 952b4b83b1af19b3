/*
 * mcu_conv_s8_wzp_ref - int8 convolution (groups = 1) whose weights carry a zero point.
 *
 * Legacy uint8 models (TFLite's uint8 kernels) quantize weights per tensor with a zero point that
 * is not 0; moved to int8 (w - 128, zero point - 128) a weight minus its zero point spans
 * [-255, 255], which no int8 weight can hold. So the kernel takes the weights as stored and adds
 * filter_offset (= -weight zero point, in [-127, 128]) to each, as TFLite's uint8 kernel does:
 *     acc = bias[oc] + sum((x + input_offset) * (w + filter_offset))
 * Padded taps are skipped: a padded input equals its zero point, so its product is 0.
 * Products reach 255 * 255, so the reduction kernel_h * kernel_w * in_c must stay <= 33025.
 * Layouts as mcu_conv_s8_ref, whose loops (mcu_conv_ref.h) this kernel shares.
 */
#include "mcu_conv_ref.h"
#include "mcu_nn.h"

void mcu_conv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                         mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                         const int32_t *bias, int8_t *output)
{
    mcu_conv_s8_filter_offset(p, q, filter_offset, in_shape, input, out_shape, filter, bias, output);
}
