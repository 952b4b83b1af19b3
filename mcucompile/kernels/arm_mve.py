"""Helium (MVE) kernels for the Cortex-M55 (runtime_c/arm_mve), with their constants laid out here.

The compiler knows every weight at build time, so these variants do ahead of time what a library
would do at run time or not at all:

- the input zero point goes into the bias: sum((x - zp) * w) = sum(x * w) - zp * sum(w), so the bias
  becomes bias - zp * sum(w) per output channel (wrapped to int32, as the kernels' int32 sums wrap),
  and the kernels multiply raw int8 inputs; a tap in the padding must then count as the value zp,
  which the kernels do at the borders;
- the weights are reordered and zero-padded into the order and widths the kernels load them
  (pointwise rows to 16 bytes, depthwise taps blocked by eight channels, the first conv's window to 32);
- bias, multiplier and shift (split into its left and right parts) are packed as the kernel reads
  them: per channel for the pointwise kernel (scalar parameters of one channel at four pixels), per
  block of four channels for the first conv (one vector per parameter; runtime_c/include/mcu_mve.h),
  per eight channels for the depthwise kernel (its even and odd channels, then the bias before
  folding, which the windows reaching into the padding start from), or per sixteen where its int8
  lanes are exact (depthwise_lanes: C % 16 == 0, or C == 8 at stride_w 1 as pixel pairs).

Weights with a zero point (legacy uint8 models, zw = node.attrs["weight_zp"]; w - zw spans
[-255, 255]), folded out exactly, one way per kernel:
- the pointwise and first-conv kernels multiply int8 by int8 (VMLADAV.S8), so their weights stay
  int8 and the zero point comes out of the sum: sum((x - zx) * (w - zw)) = sum(x * w)
  - zx * sum(w - zw) - zw * sum(x) over the K taps of a window, a padded tap counting as x = zx. The
  zx term goes into the bias as for every layer; the *_wzp_mve twins add -zw * sum(x), one sum per
  pixel (per window for the first conv) shared by all output channels: a few instructions per pixel
  against K * out_c MACs. Doubling the weights to int16 would halve the lanes of every VMLADAV;
- the depthwise kernel widens its weights to int16 lanes anyway (VLDRB.S16, then VMULLB/VMULLT.S16),
  so its twin (mcu_dwconv3x3_s8_wzp_mve) reads int16 weights w - zw with VLDRH.S16 instead: the same
  instructions per MAC, for twice the depthwise weight bytes (9 per channel), where summing each
  channel's taps would add an instruction to every tap's six;
- bias - zx * sum(w - zw) is the folded bias of all three. Each twin shares its int8 kernel's loops
  (runtime_c/include/mcu_mve_pwconv.h, mcu_mve_dwconv3x3.h, mcu_mve_conv_small.h), the zero point's
  code removed from the int8 kernel at compile time, whose instruction counts did not rise.
These kernels requantize exactly like the int8 ones (mcu_mve.h: the full sequence, no bound to
prove), and their int32 sums wrap as the reference's, so every layer with a weight zero point that
fits the shapes below takes them.

The pack_* functions are plain numpy so the tests pack their cases with exactly the compiler's code.
Variants apply on a target with MVE (`--kernels auto` or `mve`); any layer they do not take (a conv
with a larger window, a depthwise other than 3x3) falls through to the next variant. A fully
connected layer runs as a pointwise convolution of one pixel.
"""
from __future__ import annotations

import numpy as np

from ..codegen.program import CArray, Layer
from ..quant.fixedpoint import wrap_int32
from .common import quant_io, weight_zero_point
from .ref import base_layer

HEADER = "mcu_nn_mve.h"
SMALL_CONV_TAPS = 32  # mcu_conv_small_s8_mve holds a whole window in two 16-byte vectors
SMALL_CONV_SPAN = 16  # ... and copies each window row (kernel_w * in_c bytes) as one vector
# The pointwise kernel's group loop loads the next group's first weights (16 bytes) and biases (up to
# 24 words past a group's 40) while it requantizes; after the last group those lie past the arrays,
# so both end with that much padding, never used.
POINTWISE_PAD_BYTES = 16
POINTWISE_PAD_WORDS = 24


def _round_up(n: int, m: int) -> int:
    return -(-int(n) // m) * m


def fold_bias(w: np.ndarray, bias: np.ndarray | None, input_zp: int) -> np.ndarray:
    """bias - input_zp * sum(w) per output channel; w is [out_c, ...] (any layout after the first axis)."""
    w = np.asarray(w, dtype=np.int64).reshape(len(w), -1)
    b = np.zeros(len(w), np.int64) if bias is None else np.asarray(bias, dtype=np.int64)
    return wrap_int32(b - int(input_zp) * w.sum(axis=1)).astype(np.int32)


def pack_requant(bias: np.ndarray, multiplier, shift) -> np.ndarray:
    """[ceil(C / 4) * 16] int32: per block of four channels bias[4] multiplier[4] left[4] right[4]."""
    c = len(bias)
    m = np.broadcast_to(np.asarray(multiplier, np.int64), (c,))
    s = np.broadcast_to(np.asarray(shift, np.int64), (c,))
    cols = np.zeros((4, _round_up(c, 4)), np.int64)  # padded channels: multiplier 0, so output 0 + zp
    cols[0, :c], cols[1, :c] = bias, m
    cols[2, :c], cols[3, :c] = np.maximum(s, 0), np.minimum(s, 0)
    return cols.reshape(4, -1, 4).transpose(1, 0, 2).reshape(-1).astype(np.int32)


def pack_requant_small(bias: np.ndarray, multiplier, shift) -> np.ndarray:
    """The first conv's requantization: a header of four words (all_right_shifts, zeros), then
    pack_requant's blocks."""
    header = np.array([all_right_shifts(shift, len(bias)), 0, 0, 0], np.int32)
    return np.concatenate([header, pack_requant(bias, multiplier, shift)])


def pointwise_order(channels: int) -> np.ndarray:
    """The pointwise kernel's channel order, up to a multiple of four: per four channels c..c + 3 the
    pairs (c, c + 2) and (c + 1, c + 3), whose two tiles narrow into one vector in channel order."""
    return (np.arange(_round_up(channels, 4)).reshape(-1, 4)[:, [0, 2, 1, 3]]).reshape(-1)


def pack_requant_pairs(bias: np.ndarray, multiplier, shift) -> np.ndarray:
    """The pointwise kernel's requantization: a header of four words (all_right_shifts, zeros), then
    per pair of channels of pointwise_order (a, b) five four-lane vectors bias, multiplier, left,
    right and fix (all ones where right < 0), each over the tile's lanes (a, b, a, b); channels past
    C are zeros; then POINTWISE_PAD_WORDS zeros."""
    c = len(bias)
    order = pointwise_order(c)
    cols = np.zeros((5, len(order)), np.int64)
    s = np.broadcast_to(np.asarray(shift, np.int64), (c,))
    cols[0, :c], cols[1, :c] = bias, np.broadcast_to(np.asarray(multiplier, np.int64), (c,))
    cols[2, :c], cols[3, :c] = np.maximum(s, 0), np.minimum(s, 0)
    cols[4, :c] = np.where(s < 0, -1, 0)
    pairs = cols[:, order].reshape(5, -1, 2)  # [vector][pair][channel]
    blocks = np.concatenate([pairs, pairs], axis=2).transpose(1, 0, 2).reshape(-1)
    return np.concatenate([[all_right_shifts(shift, c), 0, 0, 0], blocks,
                           np.zeros(POINTWISE_PAD_WORDS, np.int64)]).astype(np.int32)


def pack_pointwise(w: np.ndarray) -> np.ndarray:
    """[out_c, in_c] (or [out_c, 1, 1, in_c]) -> [ceil(out_c / 4), ceil(in_c / 16), 4, 16] flattened:
    per four channels, chunk by chunk of 16 inputs, the weights of its four channels in
    pointwise_order (the first pair, then the second); zero-padded, then POINTWISE_PAD_BYTES."""
    w = np.asarray(w, np.int8).reshape(len(w), -1)
    order = pointwise_order(len(w))
    out = np.zeros((len(order), _round_up(w.shape[1], 16)), np.int8)
    out[:w.shape[0], :w.shape[1]] = w
    out = out[order]
    packed = out.reshape(-1, 4, out.shape[1] // 16, 16).transpose(0, 2, 1, 3).reshape(-1)
    return np.concatenate([packed, np.zeros(POINTWISE_PAD_BYTES, np.int8)])


def pack_depthwise3x3(w: np.ndarray, dtype=np.int8, lanes: int = 8) -> np.ndarray:
    """[3, 3, C] -> [ceil(C / lanes), 9, lanes]: per block of `lanes` channels (8, or 16 for the
    int8-lane layout, depthwise_lanes) its nine taps, zero-padded.
    dtype: int8, or int16 for weights minus their zero point (mcu_dwconv3x3_s8_wzp_mve)."""
    w = np.asarray(w, dtype)
    c = w.shape[2]
    padded = np.zeros((9, _round_up(c, lanes)), dtype)
    padded[:, :c] = w.reshape(9, c)
    return padded.reshape(9, -1, lanes).transpose(1, 0, 2).copy()


def depthwise_lanes(w: np.ndarray, folded: np.ndarray, shift, zw: int = 0, stride_w: int = 0) -> int:
    """16 where the depthwise kernel's sixteen-lane layout is exact (runtime_c/include/mcu_mve_dwconv3x3.h:
    int8 products of two taps added in int16, the int32 sums doubled) and C % 16 == 0; 2 for its
    pixel-pair form (C == 8 at stride_w 1: two neighbouring output pixels' eight channels are one
    vector of sixteen, their inputs sixteen contiguous bytes); else 8. The sixteen lanes need int8
    weights without a zero point, no weight -128 (|x * w| <= 128 * 127, so two products fit int16),
    every shift a right shift, and per channel |folded bias| + 128 * sum |w| < 2^30, so that twice any
    window's sum, padding counted as the zero point, stays an int32 without wrapping."""
    w = np.asarray(w, np.int64).reshape(9, -1)
    c = w.shape[1]
    if zw or (w == -128).any() or not all_right_shifts(shift, c):
        return 8
    bound = np.abs(np.asarray(folded, np.int64)) + 128 * np.abs(w).sum(axis=0)
    if not (bound < 1 << 30).all():
        return 8
    return 16 if c % 16 == 0 else 2 if c == 8 and stride_w == 1 else 8


def pack_requant_depthwise16(folded: np.ndarray, multiplier, shift) -> np.ndarray:
    """The sixteen-channel layout's requantization (depthwise_lanes): a header of four words (1, 16,
    0, 0), then per block of sixteen channels 48 int32 words: twice the folded bias, the multiplier
    and the (negative) shift, each over the channels 0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11,
    15 of the block, the kernel's four accumulators."""
    c = len(folded)
    order = np.arange(c).reshape(-1, 4, 4).transpose(0, 2, 1).reshape(-1)
    m = np.broadcast_to(np.asarray(multiplier, np.int64), (c,))
    s = np.broadcast_to(np.asarray(shift, np.int64), (c,))
    cols = np.stack([2 * np.asarray(folded, np.int64)[order], m[order], s[order]])  # [3, c]
    blocks = cols.reshape(3, -1, 16).transpose(1, 0, 2).reshape(-1)
    return np.concatenate([np.array([1, 16, 0, 0], np.int64), blocks]).astype(np.int32)


def even_odd_order(channels: int) -> np.ndarray:
    """Channel order of the depthwise kernel's requantization blocks: per eight channels, the even
    ones (0, 2, 4, 6) then the odd ones, its two int32 accumulators; indices past `channels` are padding."""
    blocks = np.arange(_round_up(channels, 8)).reshape(-1, 8)
    return np.concatenate([blocks[:, 0::2], blocks[:, 1::2]], axis=1).reshape(-1)


def all_right_shifts(shift, channels: int) -> int:
    """1 if every channel's shift is negative (a right shift): the kernels' header flag for the
    requantization without the left shift and the n = 0 case (runtime_c/include/mcu_mve.h)."""
    return int(bool((np.broadcast_to(np.asarray(shift, np.int64), (channels,)) < 0).all()))


def pack_requant_depthwise(folded: np.ndarray, bias: np.ndarray | None, multiplier, shift) -> np.ndarray:
    """A header of four words (all_right_shifts, then zeros), then per eight channels 40 int32 words:
    pack_requant's two blocks over the channels in even_odd_order (padding channels get multiplier 0),
    then the bias before folding in the same order, from which the kernel starts the windows that
    reach into the padding."""
    c = len(folded)
    order = even_odd_order(c)

    def pad(v):
        return np.concatenate([np.broadcast_to(np.asarray(v, np.int64), (c,)), np.zeros(len(order) - c, np.int64)])

    blocks = pack_requant(pad(folded)[order], pad(multiplier)[order], pad(shift)[order]).reshape(-1, 32)
    plain = pad(0 if bias is None else bias)[order].reshape(-1, 8)
    header = np.array([all_right_shifts(shift, c), 0, 0, 0], np.int32)
    return np.concatenate([header, np.concatenate([blocks, plain.astype(np.int32)], axis=1).reshape(-1)])


def pack_depthwise_pairs(w: np.ndarray, folded: np.ndarray, bias, multiplier, shift) -> tuple[np.ndarray, np.ndarray]:
    """The pixel-pair form (depthwise_lanes 2, C == 8): weights as the eight-channel layout (72 bytes,
    for the border and an odd last pixel of a run) then its nine taps twice over (144 bytes, sixteen
    lanes); requant as pack_requant_depthwise with header word 1 = 2, then the sixteen-lane block of
    the eight channels twice over (pack_requant_depthwise16 without its header)."""
    eight = pack_requant_depthwise(folded, bias, multiplier, shift)
    eight[1] = 2
    m = np.broadcast_to(np.asarray(multiplier, np.int64), (8,))
    s = np.broadcast_to(np.asarray(shift, np.int64), (8,))
    pair = pack_requant_depthwise16(np.tile(folded, 2), np.tile(m, 2), np.tile(s, 2))[4:]
    twice = np.tile(np.asarray(w, np.int8).reshape(9, 8), 2)
    weights = np.concatenate([pack_depthwise3x3(w).reshape(-1), twice.reshape(-1)])
    return weights, np.concatenate([eight, pair]).astype(np.int32)


def pack_small_conv(w: np.ndarray) -> np.ndarray:
    """[out_c, kh, kw, in_c] -> [out_c rounded up to 4, 32]: each channel's window, zero-padded."""
    w = np.asarray(w, np.int8).reshape(len(w), -1)
    out = np.zeros((_round_up(w.shape[0], 4), SMALL_CONV_TAPS), np.int8)
    out[:w.shape[0], :w.shape[1]] = w
    return out


def _active(ctx) -> bool:
    return ctx.target.has("mve")


# Flash per kernel for the fit check: arm-none-eabi-gcc 12 -O2 sizes on cortex-m55 (first conv 728,
# pointwise 1,184, depthwise 2,006 bytes; their weight-zero-point twins 1,116, 1,584 and 2,004 bytes
# with their helpers) with about half again as margin.
# Flash per kernel for the fit check: arm-none-eabi-gcc 12 -O2 sizes on cortex-m55 (pointwise 2,064 B,
# its weight-zero-point twin 2,496 B after the pipelined rewrite) with about half again as margin.
# With the whole-loop assembly paths: first conv 2,336 B, pointwise 5,512 B, depthwise 3,140 B; the
# depthwise kernel with its sixteen-lane runs (inlined at each of their three call sites: out of line,
# saving the callee-saved Q registers per call cost VWW 18 K cycles) and border windows 9,204 B, its
# weight-zero-point twin 4,480 B.
CODE_BYTES = {"mcu_conv_small_s8_mve": 3584, "mcu_pwconv_s8_mve": 8192, "mcu_dwconv3x3_s8_mve": 14336,
              "mcu_conv_small_s8_wzp_mve": 2048, "mcu_pwconv_s8_wzp_mve": 3584, "mcu_dwconv3x3_s8_wzp_mve": 7168}
CTYPES = {np.dtype(np.int8): "int8_t", np.dtype(np.int16): "int16_t"}


def _layer(ctx, kernel: str, what: str, call: str, weights: np.ndarray, requant: np.ndarray, **params) -> Layer:
    """A layer calling runtime_c/arm_mve/<kernel>.c; `params`: what its call template reads besides
    the quantization, weights and requant (a weight zero point's filter_offset among them)."""
    arrays = [CArray(f"{ctx.prefix}_weights", CTYPES[weights.dtype], weights),
              CArray(f"{ctx.prefix}_requant", "int32_t", requant)]
    zw = weight_zero_point(ctx.node)
    if zw:
        what += f", weight zero point {zw}"
    layer = base_layer(ctx, kernel, "Helium (MVE), constants packed at build time", what, call,
                       [f"arm_mve/{kernel}.c"], arrays=arrays, code_bytes=CODE_BYTES.get(kernel, 4096),
                       params=dict(io=quant_io(ctx), weights=f"{ctx.prefix}_weights",
                                   requant=f"{ctx.prefix}_requant", c_include=HEADER, **params))
    return layer


def _zero_point(ctx) -> tuple[str, dict]:
    """(kernel name suffix, call parameters) of the kernels that subtract the weight zero point."""
    zw = weight_zero_point(ctx.node)
    return ("_wzp", {"filter_offset": -zw}) if zw else ("", {})


def _packed_requant(ctx, w: np.ndarray, pack) -> np.ndarray:
    """The folded bias (with the products' w - zw) and the requantization, packed by `pack`."""
    node, graph = ctx.node, ctx.graph
    bias = graph.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
    centred = np.asarray(w, np.int64) - weight_zero_point(node)
    folded = fold_bias(centred, bias, ctx.x.qparams.scalar_zero_point)
    return pack(folded, node.attrs["multiplier"], node.attrs["shift"])


class Conv:
    """Pointwise convolutions, and convolutions whose window holds at most 32 taps in rows of at most
    16 (the first layer: 3x3 over 1 or 3 channels)."""

    def applies(self, ctx) -> bool:
        if not _active(ctx):
            return False
        g = ctx.geometry
        return g.pointwise or (g.taps <= SMALL_CONV_TAPS and g.kernel[1] * g.in_shape[2] <= SMALL_CONV_SPAN)

    def build(self, ctx) -> Layer:
        g, w = ctx.geometry, ctx.graph.tensor(ctx.node.inputs[1]).data
        (h, wd, cin), cout = g.in_shape, g.out_shape[2]
        wzp, extra = _zero_point(ctx)
        if g.pointwise:
            return _layer(ctx, f"mcu_pwconv_s8{wzp}_mve", g.text("pointwise conv"),
                          "calls/pwconv_mve.j2", pack_pointwise(w), _packed_requant(ctx, w, pack_requant_pairs),
                          pixels=h * wd, in_c=cin, out_c=cout, **extra)
        return _layer(ctx, f"mcu_conv_small_s8{wzp}_mve", g.text("conv"), "calls/conv_mve.j2", pack_small_conv(w),
                      _packed_requant(ctx, w, pack_requant_small), geometry=g.window, **extra)


class Depthwise:
    """Depthwise 3x3, any stride and padding; weights with a zero point stored as int16 w - zw."""

    def applies(self, ctx) -> bool:
        if not _active(ctx):
            return False
        return ctx.geometry.kernel == (3, 3)

    def build(self, ctx) -> Layer:
        node = ctx.node
        w = ctx.graph.tensor(node.inputs[1]).data  # [3, 3, C]
        bias = ctx.graph.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
        zw = weight_zero_point(node)
        centred = np.asarray(w, np.int64) - zw
        folded = fold_bias(centred.reshape(9, -1).T, bias, ctx.x.qparams.scalar_zero_point)
        requant = pack_requant_depthwise(folded, bias, node.attrs["multiplier"], node.attrs["shift"])
        what = ctx.geometry.text("depthwise conv")
        kernel, weights = ("mcu_dwconv3x3_s8_wzp_mve", pack_depthwise3x3(centred, np.int16)) if zw else \
            ("mcu_dwconv3x3_s8_mve", pack_depthwise3x3(w))
        lanes = depthwise_lanes(w, folded, node.attrs["shift"], zw, ctx.geometry.strides[1])
        if lanes == 16:
            weights = pack_depthwise3x3(w, lanes=16)
            requant = pack_requant_depthwise16(folded, node.attrs["multiplier"], node.attrs["shift"])
        elif lanes == 2:
            weights, requant = pack_depthwise_pairs(w, folded, bias, node.attrs["multiplier"], node.attrs["shift"])
        return _layer(ctx, kernel, what, "calls/conv_mve.j2", weights, requant,
                      geometry=ctx.geometry.window)


class FullyConnected:
    """A fully connected layer is a pointwise convolution of one pixel."""

    def applies(self, ctx) -> bool:
        return _active(ctx)

    def build(self, ctx) -> Layer:
        w = ctx.graph.tensor(ctx.node.inputs[1]).data  # [out, in]
        cout, cin = w.shape
        wzp, extra = _zero_point(ctx)
        return _layer(ctx, f"mcu_pwconv_s8{wzp}_mve", f"fully connected {cin} -> {cout}", "calls/pwconv_mve.j2",
                      pack_pointwise(w), _packed_requant(ctx, w, pack_requant_pairs), pixels=1, in_c=cin, out_c=cout,
                      **extra)
