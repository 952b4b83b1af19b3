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
  folding, which the windows reaching into the padding start from).

The pack_* functions are plain numpy so the tests pack their cases with exactly the compiler's code.
Variants apply on a target with MVE when `--kernels auto`; any layer they do not take (a conv with
a larger window, a depthwise other than 3x3) falls through to the next variant. A fully connected
layer runs as a pointwise convolution of one pixel.
"""
from __future__ import annotations

import numpy as np

from ..codegen.program import CArray, Layer
from ..quant.fixedpoint import wrap_int32
from . import register
from .common import check_reduction, check_window, quant_io, shape_text, window
from .ref import base_layer, is_pointwise

NAME = "mve"
HEADER = "mcu_nn_mve.h"
SMALL_CONV_TAPS = 32  # mcu_conv_small_s8_mve holds a whole window in two 16-byte vectors
SMALL_CONV_SPAN = 16  # ... and copies each window row (kernel_w * in_c bytes) as one vector


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


def pack_requant_rows(bias: np.ndarray, multiplier, shift) -> np.ndarray:
    """[C, 4] int32: per channel bias, multiplier, left, right (the pointwise kernel's scalar order)."""
    c = len(bias)
    s = np.broadcast_to(np.asarray(shift, np.int64), (c,))
    return np.stack([np.asarray(bias, np.int64), np.broadcast_to(np.asarray(multiplier, np.int64), (c,)),
                     np.maximum(s, 0), np.minimum(s, 0)], axis=1).astype(np.int32)


def pack_pointwise(w: np.ndarray) -> np.ndarray:
    """[out_c, in_c] (or [out_c, 1, 1, in_c]) -> [out_c, in_c rounded up to 16], zero-padded."""
    w = np.asarray(w, np.int8).reshape(len(w), -1)
    out = np.zeros((w.shape[0], _round_up(w.shape[1], 16)), np.int8)
    out[:, :w.shape[1]] = w
    return out


def pack_depthwise3x3(w: np.ndarray) -> np.ndarray:
    """[3, 3, C] -> [ceil(C / 8), 9, 8]: per block of eight channels its nine taps, zero-padded."""
    w = np.asarray(w, np.int8)
    c = w.shape[2]
    padded = np.zeros((9, _round_up(c, 8)), np.int8)
    padded[:, :c] = w.reshape(9, c)
    return padded.reshape(9, -1, 8).transpose(1, 0, 2).copy()


def even_odd_order(channels: int) -> np.ndarray:
    """Channel order of the depthwise kernel's requantization blocks: per eight channels, the even
    ones (0, 2, 4, 6) then the odd ones, its two int32 accumulators; indices past `channels` are padding."""
    blocks = np.arange(_round_up(channels, 8)).reshape(-1, 8)
    return np.concatenate([blocks[:, 0::2], blocks[:, 1::2]], axis=1).reshape(-1)


def pack_requant_depthwise(folded: np.ndarray, bias: np.ndarray | None, multiplier, shift) -> np.ndarray:
    """Per eight channels 40 int32 words: pack_requant's two blocks over the channels in even_odd_order
    (padding channels get multiplier 0), then the bias before folding in the same order, from which
    the kernel starts the windows that reach into the padding."""
    c = len(folded)
    order = even_odd_order(c)

    def pad(v):
        return np.concatenate([np.broadcast_to(np.asarray(v, np.int64), (c,)), np.zeros(len(order) - c, np.int64)])

    blocks = pack_requant(pad(folded)[order], pad(multiplier)[order], pad(shift)[order]).reshape(-1, 32)
    plain = pad(0 if bias is None else bias)[order].reshape(-1, 8)
    return np.concatenate([blocks, plain.astype(np.int32)], axis=1).reshape(-1)


def pack_small_conv(w: np.ndarray) -> np.ndarray:
    """[out_c, kh, kw, in_c] -> [out_c rounded up to 4, 32]: each channel's window, zero-padded."""
    w = np.asarray(w, np.int8).reshape(len(w), -1)
    out = np.zeros((_round_up(w.shape[0], 4), SMALL_CONV_TAPS), np.int8)
    out[:w.shape[0], :w.shape[1]] = w
    return out


def _active(ctx) -> bool:
    # Weights with a zero point (uint8 models) have kernels of their own (kernels/wzp.py).
    return ctx.kernels in ("auto", NAME) and ctx.target.has("mve") and not int(ctx.node.attrs.get("weight_zp", 0))


# Flash per kernel for the fit check: arm-none-eabi-gcc 12 -O2 sizes on cortex-m55 (first conv 728,
# pointwise 1,184, depthwise 2,006 bytes) with half again as margin.
CODE_BYTES = {"mcu_conv_small_s8_mve": 1536, "mcu_pwconv_s8_mve": 2048, "mcu_dwconv3x3_s8_mve": 3072}


def _layer(ctx, kernel: str, what: str, call: str, source: str, weights: np.ndarray, requant: np.ndarray,
           **params) -> Layer:
    arrays = [CArray(f"{ctx.prefix}_weights", "int8_t", weights), CArray(f"{ctx.prefix}_requant", "int32_t", requant)]
    layer = base_layer(ctx, kernel, "Helium (MVE), constants packed at build time", what, call,
                       [f"arm_mve/{source}"], arrays=arrays, code_bytes=CODE_BYTES.get(kernel, 4096),
                       params=dict(io=quant_io(ctx), weights=f"{ctx.prefix}_weights",
                                   requant=f"{ctx.prefix}_requant", c_include=HEADER, **params))
    return layer


def _packed_requant(ctx, w: np.ndarray, pack) -> np.ndarray:
    node, graph = ctx.node, ctx.graph
    bias = graph.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
    folded = fold_bias(w, bias, ctx.x.qparams.scalar_zero_point)
    return pack(folded, node.attrs["multiplier"], node.attrs["shift"])


class Conv:
    """Pointwise convolutions, and convolutions whose window holds at most 32 taps in rows of at most
    16 (the first layer: 3x3 over 1 or 3 channels)."""

    name = NAME

    def applies(self, ctx) -> bool:
        if not _active(ctx):
            return False
        _, kh, kw, cin = ctx.graph.tensor(ctx.node.inputs[1]).shape
        return is_pointwise(ctx) or (kh * kw * cin <= SMALL_CONV_TAPS and kw * cin <= SMALL_CONV_SPAN)

    def build(self, ctx) -> Layer:
        node = ctx.node
        w = ctx.graph.tensor(node.inputs[1]).data
        cout, kh, kw, cin = w.shape
        check_reduction(node, kh * kw * cin)
        size = f"{shape_text(ctx.x.shape)} -> {shape_text(ctx.y.shape)}"
        if is_pointwise(ctx):
            _, h, wd, _ = ctx.x.shape
            return _layer(ctx, "mcu_pwconv_s8_mve", f"pointwise conv, {size}", "calls/pwconv_mve.j2",
                          "mcu_pwconv_s8_mve.c", pack_pointwise(w), _packed_requant(ctx, w, pack_requant_rows),
                          pixels=h * wd, in_c=cin, out_c=cout)
        check_window(node, (kh, kw), node.attrs["strides"], node.attrs["pads"])
        return _layer(ctx, "mcu_conv_small_s8_mve", f"conv {kh}x{kw} stride {node.attrs['strides'][0]}, {size}",
                      "calls/conv_mve.j2", "mcu_conv_small_s8_mve.c", pack_small_conv(w),
                      _packed_requant(ctx, w, pack_requant),
                      geometry=window((kh, kw), node.attrs["strides"], node.attrs["pads"]))


class Depthwise:
    """Depthwise 3x3, any stride and padding."""

    name = NAME

    def applies(self, ctx) -> bool:
        if not _active(ctx):
            return False
        kh, kw, _ = ctx.graph.tensor(ctx.node.inputs[1]).shape
        return (kh, kw) == (3, 3)

    def build(self, ctx) -> Layer:
        node = ctx.node
        w = ctx.graph.tensor(node.inputs[1]).data  # [3, 3, C]
        check_window(node, (3, 3), node.attrs["strides"], node.attrs["pads"])
        bias = ctx.graph.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
        folded = fold_bias(w.reshape(9, -1).T, bias, ctx.x.qparams.scalar_zero_point)
        requant = pack_requant_depthwise(folded, bias, node.attrs["multiplier"], node.attrs["shift"])
        what = (f"depthwise conv 3x3 stride {node.attrs['strides'][0]}, "
                f"{shape_text(ctx.x.shape)} -> {shape_text(ctx.y.shape)}")
        return _layer(ctx, "mcu_dwconv3x3_s8_mve", what, "calls/conv_mve.j2", "mcu_dwconv3x3_s8_mve.c",
                      pack_depthwise3x3(w), requant,
                      geometry=window((3, 3), node.attrs["strides"], node.attrs["pads"]))


class FullyConnected:
    """A fully connected layer is a pointwise convolution of one pixel."""

    name = NAME

    def applies(self, ctx) -> bool:
        return _active(ctx)

    def build(self, ctx) -> Layer:
        w = ctx.graph.tensor(ctx.node.inputs[1]).data  # [out, in]
        cout, cin = w.shape
        check_reduction(ctx.node, cin)
        return _layer(ctx, "mcu_pwconv_s8_mve", f"fully connected {cin} -> {cout}", "calls/pwconv_mve.j2",
                      "mcu_pwconv_s8_mve.c", pack_pointwise(w), _packed_requant(ctx, w, pack_requant_rows),
                      pixels=1, in_c=cin, out_c=cout)


register("conv2d", Conv())
register("depthwise_conv2d", Depthwise())
register("fully_connected", FullyConnected())
