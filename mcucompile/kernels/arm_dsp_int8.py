"""The "arm-dsp-int8" kernel family: the Cortex-M DSP kernels reading int8 weights (runtime_c/arm_dsp/*_dsp8.c).

For boards whose flash takes the int8 weights but not the int16 layout of the "arm-dsp" family (VWW:
241 KB against 460 KB): the pointwise, fully connected and convolution kernels widen their weights in
the loop with SXTB16 / SXTB16 ROR 8, one word of 4 int8 giving the two int16 pairs SMLAD needs. The
compiler places each word's bytes so that those pairs line up with the input columns, which the
kernels lay out exactly as the int16 kernels do (see runtime_c/include/mcu_nn_dsp.h).

Requantization: the int16 family stores weights and bias times 2^left; int8 weights cannot carry
that factor, so these kernels shift the (unscaled) accumulator left by `left` instead, a fifth word in
the channel record. Everything else is the int16 family's: `arm_dsp.channel_records` proves per
channel that |acc| * 2^left < 2^30 (so the shift is exact and the accumulator A the output stage sees
is the same integer) and right <= MAX_RIGHT; this family accepts exactly the layers that one does
(its int16 check, max|w| * 2^left < 2^15, also bounds `left`), and the rest take the reference.

Depthwise layers keep the int16 depthwise kernel: their weights are a small share of the model
(VWW: 9 per channel against in_c per channel for the pointwise layers).

Weights with a zero point (legacy uint8 models, zw = node.attrs["weight_zp"]): w - zw spans
[-255, 255], which int8 weights cannot hold, so the weights stay as they are and the zero point is
folded out exactly:
    sum((x - zx) * (w - zw)) = sum(x * w) - zx * sum(w - zw) - zw * sum(x)
over all K taps of a window, a padded tap counting as x = zx (as it does in the products, where it
adds nothing). The zx term goes into the bias as for every layer (channel_records with w - zw, which
also makes the whole exactness proof with the values the products take); the zw term is the kernels'
(mcu_pwconv_s8_wzp_dsp8, mcu_conv_s8_wzp_dsp8): per pair of pixels they sum each pixel's column
(K values, the padded taps holding zx) and start every channel's accumulator from -zw times that sum,
one sum per pixel shared by all output channels. The depthwise kernel's int16 weights take w - zw
directly (kernels/arm_dsp.py). The kernels without a zero point are untouched (their instruction
counts stay; see runtime_c/include/mcu_dsp_drivers.h).

The family applies only under `--kernels arm-dsp-int8` on a target with the DSP extension, so it never
changes what `auto` picks; build.py tries it first where the "auto" layout does not fit a board.
"""
from __future__ import annotations

import numpy as np

from ..quant.fixedpoint import wrap_int32
from . import arm_dsp

CHANNEL_WORDS = 5
# Flash per kernel for the fit check: arm-none-eabi-gcc 12 -O2 sizes on cortex-m7 (conv 1,856,
# pointwise 2,584; their weight-zero-point twins 2,060 and 3,020 bytes) with about half again as margin.
CODE_BYTES = {"mcu_conv_s8_dsp8": 3072, "mcu_pwconv_s8_dsp8": 4096, "mcu_conv_s8_wzp_dsp8": 3072,
              "mcu_pwconv_s8_wzp_dsp8": 4608}


def records_int8(records: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The int16 family's [out_c, 4] records (bias scaled by 2^left) -> [out_c, 5]: bias unscaled,
    then multiplier, rounding, right + 1, and left. channel_records has checked |bias| * 2^left < 2^30,
    so the scaled bias did not wrap and dividing it back is exact."""
    left = np.log2(scale).astype(np.int64)
    bias = np.asarray(records[:, 0], np.int64) >> left
    return np.column_stack([bias, records[:, 1:], left]).astype(np.int32)


def byte_order(order: np.ndarray) -> np.ndarray:
    """The columns' k order (pairs (kA, kB), (kC, kD) per group of 4) -> the weights' byte order
    (kA, kC, kB, kD), so that SXTB16 (bytes 0, 2) and SXTB16 ROR 8 (bytes 1, 3) give those pairs."""
    k4 = (len(order) + 3) // 4 * 4
    padded = np.concatenate([order, np.full(k4 - len(order), -1, np.int64)])
    return padded.reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1)


def pack_matmul_int8(w2d: np.ndarray, order: np.ndarray) -> np.ndarray:
    """[out_c, K] int8 weights -> int32 words for mcu_dsp8_matmul_2cols: per channel pair, per group of
    4 k, (c0 word, c1 word), each word 4 int8 in `byte_order(order)` (-1: padding, 0)."""
    cout = w2d.shape[0]
    bytes_order = byte_order(order)
    wp = np.zeros((cout + cout % 2, len(bytes_order)), np.int64)
    wp[:cout] = np.where(bytes_order >= 0, np.asarray(w2d, np.int64)[:, np.maximum(bytes_order, 0)], 0)
    b = wp.reshape(wp.shape[0] // 2, 2, -1, 4) & 0xFF  # [pair][channel][group][byte]
    words = b[..., 0] | b[..., 1] << 8 | b[..., 2] << 16 | b[..., 3] << 24
    return wrap_int32(words.transpose(0, 2, 1).reshape(-1)).astype(np.int32)


class Conv(arm_dsp.Conv):
    """Pointwise 1x1 and small convolutions, as arm_dsp.Conv, with int8 weights widened in the loop."""

    KERNELS = {"pointwise": ("mcu_pwconv_s8_dsp8", "Arm DSP, int8 weights, 2 pixels x 2 channels SMLAD"),
               "conv": ("mcu_conv_s8_dsp8", "Arm DSP, int8 weights, im2col of 2 pixels, SMLAD"),
               "fc": ("mcu_pwconv_s8_dsp8", "Arm DSP pointwise kernel, int8 weights, on one pixel")}
    # The twins for weights with a zero point: they add -zw times the sum of each window's inputs.
    WZP_KERNELS = {"pointwise": ("mcu_pwconv_s8_wzp_dsp8", "Arm DSP, int8 weights with a zero point, 2 pixels x "
                                                           "2 channels SMLAD"),
                   "conv": ("mcu_conv_s8_wzp_dsp8", "Arm DSP, int8 weights with a zero point, im2col of 2 pixels, "
                                                    "SMLAD"),
                   "fc": ("mcu_pwconv_s8_wzp_dsp8", "Arm DSP pointwise kernel, int8 weights with a zero point, "
                                                    "on one pixel")}
    CODE_BYTES = CODE_BYTES

    def _kernel(self, kind: str, zw: int) -> tuple[str, str, dict]:
        if zw:
            return (*self.WZP_KERNELS[kind], {"filter_offset": -zw})
        return (*self.KERNELS[kind], {})

    def _pack(self, w2d: np.ndarray, zw: int, order: np.ndarray, records: np.ndarray, scale: np.ndarray):
        """int8 weights as they are (a zero point is the kernels' to subtract), the records carrying
        left instead (`records_int8`)."""
        return pack_matmul_int8(w2d, order), records_int8(records, scale)


class FullyConnected(Conv, arm_dsp.FullyConnected):
    """A fully connected layer is the int8-weight pointwise kernel on one pixel."""
