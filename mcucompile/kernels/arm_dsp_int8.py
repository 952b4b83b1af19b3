"""The Cortex-M DSP convolution, pointwise and fully connected kernels reading int8 weights
(runtime_c/arm_dsp/*_dsp8.c): the "arm-dsp" family's default for those ops on cortex-m4/m7/m33.

The weights stay int8 in flash (person_detect: about half the flash of the int16 layout) and are
widened in registers: one word holds 2 k of 2 output channels, (c0 kA, c1 kA, c0 kB, c1 kB), so that
SXTB16 gives channel c0's int16 pair and SXTB16 ROR 8 channel c1's, each used by the SMLAD of 3 pixels
whose columns the kernels widen once per block (`pack_matmul_int8`, `column_pairs`). Faster in cycles
than the int16-weight kernels (arm_dsp.Conv, now `--kernels arm-dsp-int16`) on VWW: llvm-mca
cortex-m7, pointwise 5.5 M against 7.1 M cycles, first conv 0.8 M against 1.7 M. Each kernel has a
twin, `<kernel>_1x`, with the inner loop ordered for cores that issue one instruction per cycle; the
layer calls it (`entry`) on every target but the Cortex-M7.

Requantization: the int16 family stores weights and bias times 2^left; int8 weights cannot carry
that factor, so these kernels shift the (unscaled) accumulator left by `left` instead. Everything
else is the int16 family's: `arm_dsp.channel_records` proves per channel that |acc| * 2^left < 2^30
(so the shift is exact and the accumulator A the output stage sees is the same integer) and
right <= MAX_RIGHT; this family accepts exactly the layers that one does (its int16 check,
max|w| * 2^left < 2^15, also bounds `left`), and the rest take the reference. The records are three
words per channel (`records_packed`: bias, multiplier, right + 1 | left << 8 | (2 zp_out + 1) << 16;
the kernels rebuild the rounding constant), 8 bytes per channel less than the int16 family's; and
where a layer's channels all fit it, two (`records_compact`: 2m - 2^32, bias << 8 | (right - 1), after
one word 2 zp_out + 1 for the layer), decoded by no instruction at all (a register shift reads only
the low byte); the other layers call the kernels' `_rec3` twins.

Weights with a zero point (legacy uint8 models, zw = node.attrs["weight_zp"]): w - zw spans
[-255, 255], which int8 weights cannot hold, so the weights stay as they are and the zero point is
folded out exactly:
    sum((x - zx) * (w - zw)) = sum(x * w) - zx * sum(w - zw) - zw * sum(x)
over all K taps of a window, a padded tap counting as x = zx (as it does in the products, where it
adds nothing). The zx term goes into the bias as for every layer (channel_records with w - zw, which
also makes the whole exactness proof with the values the products take); the zw term is the kernels'
(mcu_pwconv_s8_wzp_dsp8, mcu_conv_s8_wzp_dsp8): per block of 3 pixels they sum each pixel's column
(K values, the padded taps holding zx) and start every channel's accumulator from -zw times that sum,
one sum per pixel shared by all output channels (the kernels without a zero point have no sums).
"""
from __future__ import annotations

import numpy as np

from ..quant.fixedpoint import wrap_int32
from . import arm_dsp

CHANNEL_WORDS = 5
# Targets that issue two instructions per cycle: they call the kernels themselves, the others the
# `_1x` twins.
DUAL_ISSUE = frozenset({"cortex-m7"})
# Flash per kernel for the fit check: arm-none-eabi-gcc 12 -O2 sizes of what a project links on cortex-m7
# (one of each kernel's two orders, with its static helpers: pointwise 1,550, conv 2,400, their
# weight-zero-point twins 1,730 and 2,610 bytes; the 2-word-record kernels measured 1,520 and 2,070 on
# person_detect) with about half again as margin. A model with layers of both record forms links both.
CODE_BYTES = {"mcu_conv_s8_dsp8": 4096, "mcu_pwconv_s8_dsp8": 3072, "mcu_conv_s8_wzp_dsp8": 4608,
              "mcu_pwconv_s8_wzp_dsp8": 3584}


def records_int8(records: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The int16 family's [out_c, 4] records (bias scaled by 2^left) -> [out_c, 5]: bias unscaled,
    then multiplier, rounding, right + 1, and left. channel_records has checked |bias| * 2^left < 2^30,
    so the scaled bias did not wrap and dividing it back is exact."""
    left = np.log2(scale).astype(np.int64)
    bias = np.asarray(records[:, 0], np.int64) >> left
    return np.column_stack([bias, records[:, 1:], left]).astype(np.int32)


RECORD_WORDS = 3


def records_packed(records: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """The int16 family's [out_c, 4] records -> [out_c, 3] for mcu_pwconv_s8_dsp8 / mcu_conv_s8_dsp8:
    bias unscaled (as in `records_int8`), multiplier, and right + 1 | left << 8 | (2 zp_out + 1) << 16,
    from which the kernels rebuild the record's rounding constant 2^right + zp_out * 2^(right + 1) =
    (2 zp_out + 1) * 2^right. left <= 30 and right + 1 <= MAX_RIGHT + 1 fit a byte each."""
    r8 = records_int8(records, scale).astype(np.int64)
    rounding, shift, left = r8[:, 2], r8[:, 3], r8[:, 4]
    odd = rounding >> (shift - 1)  # 2 zp_out + 1
    assert np.all(odd << (shift - 1) == rounding) and np.all(odd % 2 == 1) and np.all(np.abs(odd) <= 255)
    assert np.all(shift <= arm_dsp.MAX_RIGHT + 1) and np.all((left >= 0) & (left < 31))
    packed = shift | left << 8 | odd << 16
    return np.column_stack([r8[:, 0], r8[:, 1], wrap_int32(packed)]).astype(np.int32)


# The 2-word records' bias field: bias << 8 must stay an int32.
COMPACT_BIAS_LIMIT = 1 << 23


def records_compact(records: np.ndarray, scale: np.ndarray) -> np.ndarray | None:
    """The int16 family's [out_c, 4] records -> the 2-word form of mcu_pwconv_s8_dsp8 / mcu_conv_s8_dsp8:
    one word 2 zp_out + 1 for the layer, then per channel {2m - 2^32 (as int32), bias << 8 | (right - 1)}
    (the bias unscaled), flat; or None where a channel does not fit that form: left > 1 (a scale >= 1),
    right = 0, a multiplier below 2^30 (2m - 2^32 would leave int32) or |bias| >= 2^23. Those layers take
    the 3-word records (`records_packed`) and the kernels' `_rec3` twins. The output stage this form
    feeds (SMMLAR, ADD with ASR #31, ASR by right - 1, ADD, SSAT) is proved equal to the 3-word one in
    runtime_c/include/mcu_dsp8_matmul.h."""
    r8 = records_int8(records, scale).astype(np.int64)
    bias, mult, rounding, shift, left = r8.T
    right = shift - 1
    if not (np.all(left == 1) and np.all(right >= 1) and np.all(mult >= 1 << 30) and np.all(mult < 1 << 31)
            and np.all((bias >= -COMPACT_BIAS_LIMIT) & (bias < COMPACT_BIAS_LIMIT))):
        return None
    odd = rounding >> right  # 2 zp_out + 1, the same for every channel of the layer
    assert np.all(odd << right == rounding) and np.all(odd == odd[0]) and odd[0] % 2 == 1
    words = np.column_stack([wrap_int32(2 * mult), bias << 8 | (right - 1)]).reshape(-1)
    return np.concatenate([[odd[0]], words]).astype(np.int32)


def column_pairs(k: int) -> np.ndarray:
    """[k4 / 2, 2] k of each int16 pair of a widened column: group g of 4 values (natural k order, zero
    padded to k4) gives SXTB16's pair (4g, 4g + 2), then SXTB16 ROR 8's (4g + 1, 4g + 3); -1: padding."""
    k4 = (k + 3) // 4 * 4
    ks = np.arange(k4).reshape(-1, 4)[:, [0, 2, 1, 3]].reshape(-1, 2)
    return np.where(ks < k, ks, -1)


def pack_matmul_int8(w2d: np.ndarray) -> np.ndarray:
    """[out_c, K] int8 weights -> int32 words for mcu_dsp8_matmul_3cols: per channel pair, per k-pair
    (kA, kB) of `column_pairs`, the bytes (c0 kA, c1 kA, c0 kB, c1 kB), so that SXTB16 gives channel
    0's pair and SXTB16 ROR 8 channel 1's; padding k and an odd last channel hold 0. One zero word
    follows: the kernels' loop reads one word past each channel pair's weights."""
    w2d = np.asarray(w2d, np.int64)
    cout, k = w2d.shape
    pairs = column_pairs(k)
    wp = np.zeros((cout + cout % 2, k + 1), np.int64)  # column k: the zero of padding
    wp[:cout, :k] = w2d
    b = wp[:, pairs] & 0xFF  # [channel][k pair][kA / kB]
    b = b.reshape(-1, 2, pairs.shape[0], 2)  # [pair][c0 / c1][k pair][kA / kB]
    words = b[:, 0, :, 0] | b[:, 1, :, 0] << 8 | b[:, 0, :, 1] << 16 | b[:, 1, :, 1] << 24
    return np.append(wrap_int32(words.reshape(-1)), 0).astype(np.int32)


def column_words(k4: int) -> int:
    """MCU_DSP8_COLUMN_WORDS: three pixels' columns of k4 / 2 words, and two words the loop reads past them."""
    return 3 * (k4 // 2) + 2


class Conv(arm_dsp.Conv):
    """Pointwise 1x1 and small convolutions, as arm_dsp.Conv, with int8 weights widened in the loop."""

    KERNELS = {"pointwise": ("mcu_pwconv_s8_dsp8", "Arm DSP, int8 weights, 3 pixels x 2 channels SMLAD"),
               "conv": ("mcu_conv_s8_dsp8", "Arm DSP, int8 weights, im2col of 3 pixels, SMLAD"),
               "fc": ("mcu_pwconv_s8_dsp8", "Arm DSP pointwise kernel, int8 weights, on one pixel")}
    # The twins for weights with a zero point: they add -zw times the sum of each window's inputs.
    WZP_KERNELS = {"pointwise": ("mcu_pwconv_s8_wzp_dsp8", "Arm DSP, int8 weights with a zero point, 3 pixels x "
                                                           "2 channels SMLAD"),
                   "conv": ("mcu_conv_s8_wzp_dsp8", "Arm DSP, int8 weights with a zero point, im2col of 3 pixels, "
                                                    "SMLAD"),
                   "fc": ("mcu_pwconv_s8_wzp_dsp8", "Arm DSP pointwise kernel, int8 weights with a zero point, "
                                                    "on one pixel")}
    CODE_BYTES = CODE_BYTES

    def _kernel(self, kind: str, zw: int, ctx=None) -> tuple[str, str, dict]:
        """As arm_dsp.Conv._kernel; `entry`: the C function called, the kernel's single-issue twin
        (`<kernel>_1x`, the inner loop ordered for cores that issue one instruction per cycle) on every
        target but the dual-issue Cortex-M7 (see runtime_c/include/mcu_dsp8_matmul.h)."""
        kernel, variant = (self.WZP_KERNELS if zw else self.KERNELS)[kind]
        extra = {"filter_offset": -zw} if zw else {}
        if ctx is not None and ctx.target.name not in DUAL_ISSUE:
            extra["entry"] = kernel + "_1x"
            variant += ", single-issue order"
        return kernel, variant, extra

    def _pack(self, w2d: np.ndarray, zw: int, order: np.ndarray, records: np.ndarray, scale: np.ndarray):
        """int8 weights as they are (a zero point is the kernels' to subtract), in natural k order (the
        kernels widen the pixels and windows in that order), the records carrying left instead
        (`records_int8`): the 2-word form where the layer fits it (`records_compact`), else 3 words."""
        compact = records_compact(records, scale)
        return pack_matmul_int8(w2d), (records_packed(records, scale) if compact is None else compact)

    def _records_call(self, kernel: str, records: np.ndarray, variant: str, extra: dict) -> str:
        """A layer whose records do not fit the 2-word form (a [c, 3] array) calls the kernel's `_rec3`
        twin (the 3-word records), single-issue or not."""
        if records.ndim == 2:
            extra["entry"] = kernel + "_rec3" + extra.get("entry", kernel)[len(kernel):]
            variant += ", 3-word channel records"
        return variant

    def _scratch(self, kind: str, k4: int) -> int:
        """mcu_pwconv_s8_dsp8_scratch_bytes / mcu_conv_s8_dsp8_scratch_bytes: the three columns, and for
        a convolution one window's k4 bytes and 4 that its whole-word copies may overrun."""
        return 4 * column_words(k4) + (k4 + 4 if kind == "conv" else 0)


class FullyConnected(Conv, arm_dsp.FullyConnected):
    """A fully connected layer is the int8-weight pointwise kernel on one pixel."""
