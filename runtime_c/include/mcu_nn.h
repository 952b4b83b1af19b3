/*
 * mcu_nn.h - the public interface of the mcucompile int8 kernel library.
 *
 * Numbers: every int8 tensor holds q with real = scale * (q - zero_point). The kernels
 * reproduce TensorFlow Lite Micro's int8 reference kernels bit for bit; the numpy twins in
 * mcucompile/ops/ define the same numbers and the tests compare the two byte for byte.
 *
 * Layout: activations are one NHWC image (batch is always 1), channel innermost, so pixel
 * (y, x) channel c lives at input[(y * shape.w + x) * shape.c + c].
 *
 * Validation: none. The compiler checks every shape, stride, padding and parameter range
 * ahead of time, so the kernels run blindly; the ranges below are the contract it enforces.
 * Calling a kernel outside them is undefined.
 *
 * Aliasing: an output must not overlap any input, except that mcu_softmax_s8_ref may run in
 * place (output == input). In particular the reference depthwise kernel is not in-place safe;
 * mcu_dwconv_s8_inplace_ref is its in-place twin. Scratch buffers overlap nothing else.
 *
 * Requantization (conv, depthwise, pointwise, fully connected), per output channel c:
 *     acc = bias[c] + sum((x + input_offset) * w)    padded taps add nothing
 *     out = clamp(mcu_requantize(acc, multiplier[c], shift[c]) + output_offset, act_min, act_max)
 * mcu_requantize is TFLite's MultiplyByQuantizedMultiplier (see mcu_requantize.h). The sum of
 * products must fit int32: (kernel_h * kernel_w * in_c) * 255 * 128 < 2^31, i.e. a reduction
 * length of at most 65793 taps; bias[c] is added with int32 wrap-around.
 */
#ifndef MCU_NN_H
#define MCU_NN_H

#include <stddef.h> /* NULL, for the optional bias */
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One image, NHWC, batch 1. All dimensions >= 1. */
typedef struct {
    int32_t h, w, c;
} mcu_shape;

/* Zero points and clamp shared by the layers that requantize. */
typedef struct {
    int32_t input_offset;     /* -input zero point, in [-127, 128] */
    int32_t output_offset;    /* output zero point, in [-128, 127] */
    int32_t act_min, act_max; /* int8 clamp applied after adding output_offset; -128 <= act_min <= act_max <= 127 */
} mcu_quant_io;

/* Per-output-channel requantization: real multiplier ~= multiplier * 2^(shift - 31). */
typedef struct {
    const int32_t *multiplier; /* per output channel, Q31 in [2^30, 2^31) or 0 */
    const int32_t *shift;      /* per output channel, in [-31, 30]; > 0 shifts left, < 0 shifts right */
} mcu_channel_quant;

/*
 * Window geometry. Output position (oy, ox) reads input rows oy * stride_h - pad_top + [0, kernel_h)
 * and columns ox * stride_w - pad_left + [0, kernel_w); taps outside the input are skipped, so
 * bottom/right padding follow from out_shape:
 *     out_shape.h = (in_shape.h + pad_top + pad_bottom - kernel_h) / stride_h + 1   (same for w)
 * Strides >= 1; 0 <= pad_top < kernel_h and 0 <= pad_left < kernel_w.
 */
typedef struct {
    int16_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left;
    mcu_quant_io io;
} mcu_conv_params;

/* Average pool: same window geometry as mcu_conv_params; every window must overlap the input. */
typedef struct {
    int16_t kernel_h, kernel_w, stride_h, stride_w, pad_top, pad_left;
    int32_t act_min, act_max; /* int8 clamp of the rounded average */
} mcu_pool_params;

/*
 * Softmax parameters, computed by the compiler as TFLite does (PreprocessSoftmaxScaling with
 * 5 integer bits, then diff_min = -CalculateInputRadius(5, input_left_shift)):
 *   input_multiplier  Q31 in [2^30, 2^31), beta * input_scale * 2^26 ~= input_multiplier * 2^(input_left_shift - 31)
 *   input_left_shift  in [1, 31]
 *   diff_min          <= 0; inputs further than this below the row maximum give output -128
 */
typedef struct {
    int32_t input_multiplier, input_left_shift, diff_min;
} mcu_softmax_params;

/*
 * Mean over height and width (TFLite Micro's int8 MEAN), computed by the compiler from the scales
 * and count = in_shape.h * in_shape.w (see mcucompile/ops/mean.py):
 *   input_offset   -input zero point, in [-127, 128]
 *   output_offset  output zero point, in [-128, 127]
 *   multiplier     in [0, 2^31): in_scale / (out_scale * count) ~= multiplier * 2^(shift - 31); below 2^30
 *                  where 1 / count was folded in
 *   shift          in [-31, 30]
 */
typedef struct {
    int32_t input_offset, output_offset, multiplier, shift;
} mcu_mean_params;

/*
 * Convolution (groups = 1).
 * input [in_shape.h][in_shape.w][in_shape.c], output [out_shape.h][out_shape.w][out_shape.c],
 * filter [out_c][kh][kw][in_c]; bias [out_c] int32 or NULL; q has out_shape.c entries.
 */
void mcu_conv_s8_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape, const int8_t *input,
                     mcu_shape out_shape, const int8_t *filter, const int32_t *bias, int8_t *output);

/*
 * Depthwise convolution, channel multiplier 1: filter [kh][kw][c] (channel innermost);
 * in_shape.c == out_shape.c; bias [c] int32 or NULL; q has c entries.
 */
void mcu_dwconv_s8_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape, const int8_t *input,
                       mcu_shape out_shape, const int8_t *filter, const int32_t *bias, int8_t *output);

/*
 * Depthwise convolution in place: the same numbers as mcu_dwconv_s8_ref, byte for byte, but the
 * output overwrites its own input. buffer holds the input [in_shape.h][in_shape.w][c] on entry and
 * the output [out_shape.h][out_shape.w][c] on return, both from buffer[0]; it is
 * max(in_shape.h * in_shape.w, out_shape.h * out_shape.w) * c bytes long, and bytes past the
 * output hold unspecified values on return. filter, bias and q as for mcu_dwconv_s8_ref.
 * scratch holds mcu_dwconv_s8_inplace_scratch_bytes() bytes (any alignment, overlapping nothing):
 * a ring of output rows, out_shape.w * c bytes each, that holds each row until no later row reads
 * the input bytes under its place (see runtime_c/ref/mcu_dwconv_s8_inplace_ref.c). With an output
 * no wider than the input, the ring is 1 row if pad_top < stride_h (any unpadded layer; a 3x3
 * layer at stride 2) and at most 2 rows if pad_top == stride_h (a 3x3 "same" layer at stride 1);
 * it never exceeds out_shape.h rows.
 */
void mcu_dwconv_s8_inplace_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape,
                               int8_t *buffer, mcu_shape out_shape, const int8_t *filter, const int32_t *bias,
                               int8_t *scratch);

/* Scratch bytes mcu_dwconv_s8_inplace_ref needs; reads p->stride_h and p->pad_top only. */
int32_t mcu_dwconv_s8_inplace_scratch_bytes(mcu_shape in_shape, mcu_shape out_shape, const mcu_conv_params *p);

/*
 * Pointwise (1x1, stride 1, no padding) convolution: filter [out_c][in_c]; bias [out_c] or NULL.
 * Uses p->io only (kernel/stride/pad fields ignored); in_shape.h == out_shape.h and in_shape.w == out_shape.w.
 */
void mcu_pwconv_s8_ref(const mcu_conv_params *p, const mcu_channel_quant *q, mcu_shape in_shape, const int8_t *input,
                       mcu_shape out_shape, const int8_t *filter, const int32_t *bias, int8_t *output);

/*
 * Fully connected: input [in_features], weights [out_features][in_features], bias [out_features]
 * int32 or NULL, output [out_features]; q has out_features entries (a per-tensor layer repeats one).
 */
void mcu_fc_s8_ref(const mcu_quant_io *io, const mcu_channel_quant *q, int32_t in_features, int32_t out_features,
                   const int8_t *input, const int8_t *weights, const int32_t *bias, int8_t *output);

/*
 * Average pool, NHWC, in_shape.c == out_shape.c. Output keeps the input's scale and zero point:
 * avg = sum / count over the in-bounds window elements, rounded half away from zero, then clamped.
 */
void mcu_avgpool_s8_ref(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input, mcu_shape out_shape,
                        int8_t *output);

/*
 * Softmax over the last axis: input and output [rows][depth], 1 <= depth <= 4095 (the sum of
 * exponentials is a Q12.19 number). Output scale is 1/256, zero point -128.
 */
void mcu_softmax_s8_ref(const mcu_softmax_params *p, int32_t rows, int32_t depth, const int8_t *input,
                        int8_t *output);

/*
 * Mean over height and width: input [in_shape.h][in_shape.w][in_shape.c], output [in_shape.c] (the
 * [1, 1, c] or [c] result). in_shape.h * in_shape.w <= 8421504, so the sum less the zero point fits int32.
 */
void mcu_mean_s8_ref(const mcu_mean_params *p, mcu_shape in_shape, const int8_t *input, int8_t *output);

/* q = saturate_int8((int32)roundf(x / scale) + zero_point), ties away from zero; NaN gives zero_point. scale > 0. */
void mcu_quantize_f32_s8(const float *input, int8_t *output, int32_t n, float scale, int32_t zero_point);

/* x = scale * (q - zero_point), in float32. */
void mcu_dequantize_s8_f32(const int8_t *input, float *output, int32_t n, float scale, int32_t zero_point);

/*
 * Legacy uint8 models (weights with a per-tensor zero point). The model is held in int8 (uint8 - 128,
 * zero points - 128); weights keep their zero point, and filter_offset = -weight zero point, in
 * [-127, 128], is added to every weight: acc = bias + sum((x + input_offset) * (w + filter_offset)),
 * TFLite's uint8 arithmetic. Products reach 255 * 255, so a reduction is at most 33025 taps.
 * Shapes, layouts and the other parameters as for the kernels above without _wzp.
 */
void mcu_conv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                         mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                         const int32_t *bias, int8_t *output);
void mcu_dwconv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                           mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                           const int32_t *bias, int8_t *output);
void mcu_pwconv_s8_wzp_ref(const mcu_conv_params *p, const mcu_channel_quant *q, int32_t filter_offset,
                           mcu_shape in_shape, const int8_t *input, mcu_shape out_shape, const int8_t *filter,
                           const int32_t *bias, int8_t *output);
void mcu_fc_s8_wzp_ref(const mcu_quant_io *io, const mcu_channel_quant *q, int32_t filter_offset, int32_t in_features,
                       int32_t out_features, const int8_t *input, const int8_t *weights, const int32_t *bias,
                       int8_t *output);

/* Average pool rounding ties up, floor((sum + count / 2) / count): TFLite's uint8 kernel on uint8 - 128 values. */
void mcu_avgpool_s8_halfup_ref(const mcu_pool_params *p, mcu_shape in_shape, const int8_t *input,
                               mcu_shape out_shape, int8_t *output);

/*
 * Profiling hooks: the generated model.c wraps every layer i in MCU_LAYER_BEGIN(i) / MCU_LAYER_END(i).
 * They cost nothing unless MCU_PROFILE is defined, in which case the application provides
 * the two functions below (e.g. reading a cycle counter).
 */
#ifdef MCU_PROFILE
void mcu_profile_layer_begin(int layer);
void mcu_profile_layer_end(int layer);
#define MCU_LAYER_BEGIN(i) mcu_profile_layer_begin(i)
#define MCU_LAYER_END(i) mcu_profile_layer_end(i)
#else
/* A void expression rather than an empty expansion, so `MCU_LAYER_BEGIN(i);` stays one statement. */
#define MCU_LAYER_BEGIN(i) ((void)0)
#define MCU_LAYER_END(i) ((void)0)
#endif

#ifdef __cplusplus
}
#endif

/* The Cortex-M DSP-extension kernels; the header declares nothing without __ARM_FEATURE_DSP. */
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include "mcu_nn_dsp.h"
#endif

#endif /* MCU_NN_H */
