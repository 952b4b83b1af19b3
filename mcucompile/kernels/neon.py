"""AArch64 NEON kernels for Cortex-A (runtime_c/neon), with their constants laid out here.

Two families, each variant a C function of its own:
- "neon": baseline Armv8-A (every Cortex-A with AArch64): the pointwise and small-window
  convolutions multiply int8 pairs into int16 (SMULL, SMLAL2: two products per int16 lane, which
  is why their weights must lie in [-127, 127]) and add the pairs into int32 (SADALP), 16
  multiply-accumulates in three instructions; the depthwise 3x3 kernel widens two taps' products
  into int32 per step; the average pool divides in single precision (exact for its window sizes);
- "neon-dotprod": the Armv8.2-A dot-product extension (SDOT, e.g. Cortex-A76) for the pointwise,
  fully connected and small-window convolutions, 16 multiply-accumulates per instruction; the
  depthwise and pooling layers of such a target take the "neon" variants (a dot product of four
  consecutive bytes does not fit a depthwise window, whose taps of one channel lie c bytes apart).

The compiler knows every weight, so it lays them out in the order and blocks each kernel loads them
(runtime_c/include/mcu_nn_neon.h): channels cut into blocks of 16 and 8 (`blocks`, the same cut as
mcu_neon_blocks_of), a last block that overlaps the one before rather than reading past the end of
a pixel; the input zero point goes into the bias, bias - zp * sum(w) per output channel (wrapped to
int32, as the kernels' int32 sums wrap), so the kernels multiply raw int8 inputs, and a tap in the
padding reads the value zp (the depthwise kernel from a scratch row of zp, the small convolution
from its gathered window); the requantization parameters are packed per block with a flag that
lets a block whose channels all shift right skip the left shift (mcu_neon.h).

The pack_* functions are plain numpy so the tests pack their cases with exactly the compiler's code.
Layers with a weight zero point (legacy uint8 models) are left to the weight-zero-point reference.
"""
from __future__ import annotations

import numpy as np

from ..codegen.program import CArray, Layer
from .common import quant_io, shape_text, weight_zero_point
from .ref import base_layer

HEADER = "mcu_nn_neon.h"
SMALL_CONV_TAPS = 64  # mcu_conv_small_s8_*: a gathered window of at most 64 bytes
POOL_MAX_COUNT = 65535  # mcu_avgpool_s8_*neon: single-precision division is exact below 2^16 elements
RIGHT_ONLY = 1  # the flags word of a requantization block (mcu_neon.h)


def _round_up(n: int, m: int) -> int:
    return -(-int(n) // m) * m


def blocks(n: int) -> list[tuple[int, int]]:
    """(start, width) of the blocks of 16 and 8 that mcu_neon_blocks_of cuts n channels into: 16s from 0,
    then one block ending at n (n >= 16), blocks of 8 at 0 and n - 8 (8 <= n < 16), or one of 8 at 0 (n < 8)."""
    n = int(n)
    out = [(s, 16) for s in range(0, n - n % 16, 16)]
    rest = n % 16
    if rest == 0:
        return out
    if n >= 16:
        return out + [(n - 16, 16) if rest > 8 else (n - 8, 8)]
    return [(0, 8)] + ([(n - 8, 8)] if n > 8 else [])


def quads(n: int) -> list[tuple[int, int]]:
    """(start, 4) of the blocks of four output channels of mcu_pwconv_s8_neon: from 0, then one ending at n."""
    n = int(n)
    out = [(s, 4) for s in range(0, n - n % 4, 4)]
    if n % 4:
        out.append((max(n - 4, 0), 4))
    return out


def _slices(w2d: np.ndarray, k_blocks) -> list[np.ndarray]:
    """Each k block's columns of w2d [rows, K], zero where an earlier block took the k or past K."""
    rows, k = w2d.shape
    padded = np.zeros((rows, _round_up(k, 8) + 16), np.int64)
    padded[:, :k] = w2d
    out, covered = [], 0
    for start, width in k_blocks:
        part = padded[:, start:start + width].copy()
        part[:, :max(covered - start, 0)] = 0
        covered = start + width
        out.append(part)
    return out


def _channel_rows(w2d: np.ndarray, start: int, width: int) -> np.ndarray:
    """Rows start .. start + width of w2d, zero past its last row."""
    rows = np.zeros((width, w2d.shape[1]), np.int64)
    take = w2d[start:start + width]
    rows[:len(take)] = take
    return rows


def pack_pointwise_sdot(w: np.ndarray) -> np.ndarray:
    """[out_c, K] (or [out_c, 1, 1, K]) -> mcu_pwconv_s8_sdot's weights: per output block, per k block,
    w[c][k] in the order [k / 4][c / 4][c % 4][k % 4]."""
    w = np.asarray(w, np.int64).reshape(len(w), -1)
    out = []
    for start, width in blocks(w.shape[0]):
        for part in _slices(_channel_rows(w, start, width), blocks(w.shape[1])):
            kw = part.shape[1]
            out.append(part.reshape(width, kw // 4, 4).transpose(1, 0, 2).reshape(-1))
    return np.concatenate(out).astype(np.int8)


def pack_pointwise_neon(w: np.ndarray) -> np.ndarray:
    """[out_c, K] -> mcu_pwconv_s8_neon's weights: per block of 4 output channels, per k block, [4][16 or 8]."""
    w = np.asarray(w, np.int64).reshape(len(w), -1)
    out = []
    for start, width in quads(w.shape[0]):
        for part in _slices(_channel_rows(w, start, width), blocks(w.shape[1])):
            out.append(part.reshape(-1))
    return np.concatenate(out).astype(np.int8)


def pack_depthwise3x3(w: np.ndarray) -> np.ndarray:
    """[3, 3, C] -> mcu_dwconv3x3_s8_neon's weights: per channel block its nine taps, [9][16 or 8]."""
    taps = np.asarray(w, np.int64).reshape(9, -1)
    return np.concatenate([_channel_rows(taps.T, start, width).T.reshape(-1)
                           for start, width in blocks(taps.shape[1])]).astype(np.int8)


def small_conv_row(kernel_h: int, kernel_w: int, in_c: int) -> int:
    """Bytes of a gathered window of mcu_conv_small_s8_*: K = kh * kw * in_c rounded up to 8."""
    return _round_up(kernel_h * kernel_w * in_c, 8)


def pack_small_conv(w: np.ndarray, pack) -> np.ndarray:
    """[out_c, kh, kw, in_c] -> `pack` (pack_pointwise_sdot or _neon) of the windows zero-padded to their row."""
    cout, kh, kw, cin = w.shape
    rows = np.zeros((cout, small_conv_row(kh, kw, cin)), np.int64)
    rows[:, :kh * kw * cin] = np.asarray(w, np.int64).reshape(cout, -1)
    return pack(rows)


def pack_requant(folded: np.ndarray, multiplier, shift, channel_blocks) -> np.ndarray:
    """Per channel block (start, width): flags 0 0 0, bias[width], multiplier[width], left[width],
    right[width]; channels past the last zero with right = -1. flags = RIGHT_ONLY where every channel
    of the block shifts right only."""
    c = len(folded)
    m = np.broadcast_to(np.asarray(multiplier, np.int64), (c,))
    s = np.broadcast_to(np.asarray(shift, np.int64), (c,))
    out = []
    for start, width in channel_blocks:
        idx = np.arange(start, start + width)
        real = idx < c
        take = np.where(real, idx, 0)
        left = np.where(real, np.maximum(s[take], 0), 0)
        right = np.where(real, np.minimum(s[take], 0), -1)
        flags = RIGHT_ONLY if (not left.any() and (right < 0).all()) else 0
        out += [[flags, 0, 0, 0], np.where(real, np.asarray(folded, np.int64)[take], 0),
                np.where(real, m[take], 0), left, right]
    return np.concatenate(out).astype(np.int32)


def fold_bias(w2d: np.ndarray, bias: np.ndarray | None, input_zp: int) -> np.ndarray:
    """bias - input_zp * sum(w) per output channel of w2d [out_c, taps], wrapped to int32."""
    from .arm_mve import fold_bias as fold

    return fold(w2d, bias, input_zp)


# ---- variants ------------------------------------------------------------------------------------

# Bytes of code per kernel (aarch64-linux-gnu-gcc 12 -O2), with margin; Cortex-A targets have no flash fit check.
CODE_BYTES = {"mcu_pwconv_s8_neon": 8192, "mcu_pwconv_s8_sdot": 12288, "mcu_conv_small_s8_neon": 8192,
              "mcu_conv_small_s8_sdot": 12288, "mcu_dwconv3x3_s8_neon": 8192, "mcu_avgpool_s8_neon": 2048,
              "mcu_avgpool_s8_halfup_neon": 2048}


def _weights(ctx):
    return ctx.graph.tensor(ctx.node.inputs[1]).data


def _int8_weights_fit(ctx, dotprod: bool) -> bool:
    """No weight zero point (left to the reference), and for the baseline kernels no weight of -128,
    whose products could overflow their int16 pair sums."""
    if weight_zero_point(ctx.node):
        return False
    return dotprod or int(np.min(_weights(ctx))) > -128


def _requant(ctx, w2d: np.ndarray, channel_blocks) -> np.ndarray:
    node = ctx.node
    bias = ctx.graph.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
    folded = fold_bias(w2d, bias, ctx.x.qparams.scalar_zero_point)
    return pack_requant(folded, node.attrs["multiplier"], node.attrs["shift"], channel_blocks)


def _layer(ctx, kernel: str, family: str, what: str, call: str, weights: np.ndarray | None,
           requant: np.ndarray | None, scratch: int = 0, **params) -> Layer:
    arrays = []
    if weights is not None:
        arrays = [CArray(f"{ctx.prefix}_weights", "int8_t", weights), CArray(f"{ctx.prefix}_requant", "int32_t", requant)]
        params.update(io=quant_io(ctx), weights=f"{ctx.prefix}_weights", requant=f"{ctx.prefix}_requant")
    variant = family + ("" if weights is None else ", constants packed at build time")
    return base_layer(ctx, kernel, variant, what, call, [f"neon/{kernel}.c"], arrays=arrays, scratch=scratch,
                      code_bytes=CODE_BYTES[kernel], params=dict(c_include=HEADER, **params))


def _family(dotprod: bool) -> tuple[str, str, object]:
    """(kernel name suffix, variant text, weight packer)."""
    if dotprod:
        return "sdot", "AArch64 NEON with the dot product (SDOT)", pack_pointwise_sdot
    return "neon", "AArch64 NEON", pack_pointwise_neon


def _channel_blocks(dotprod: bool, out_c: int):
    return blocks(out_c) if dotprod else quads(out_c)


class Conv:
    """Pointwise convolutions, and convolutions whose window holds at most 64 taps (the first layer)."""

    def __init__(self, dotprod: bool):
        self.dotprod = dotprod

    def applies(self, ctx) -> bool:
        if not ctx.target.has("dotprod" if self.dotprod else "neon") or not _int8_weights_fit(ctx, self.dotprod):
            return False
        return ctx.geometry.pointwise or ctx.geometry.taps <= SMALL_CONV_TAPS

    def build(self, ctx) -> Layer:
        g, w = ctx.geometry, _weights(ctx)
        cout, cin = w.shape[0], w.shape[3]
        suffix, family, pack = _family(self.dotprod)
        requant = _requant(ctx, w.reshape(cout, -1), _channel_blocks(self.dotprod, cout))
        if g.pointwise:
            size = f"{shape_text(ctx.x.shape)} -> {shape_text(ctx.y.shape)}"
            return _layer(ctx, f"mcu_pwconv_s8_{suffix}", family, f"pointwise conv, {size}", "calls/neon_pwconv.j2",
                          pack(w.reshape(cout, -1)), requant, pixels=g.in_shape[0] * g.in_shape[1], in_c=cin,
                          out_c=cout)
        return _layer(ctx, f"mcu_conv_small_s8_{suffix}", family, g.text("conv"), "calls/neon_conv.j2",
                      pack_small_conv(w, pack), requant, geometry=g.window)


class FullyConnected:
    """A fully connected layer is a pointwise convolution of one pixel."""

    def __init__(self, dotprod: bool):
        self.dotprod = dotprod

    def applies(self, ctx) -> bool:
        return ctx.target.has("dotprod" if self.dotprod else "neon") and _int8_weights_fit(ctx, self.dotprod)

    def build(self, ctx) -> Layer:
        w = _weights(ctx)  # [out, in]
        cout, cin = w.shape
        suffix, family, pack = _family(self.dotprod)
        return _layer(ctx, f"mcu_pwconv_s8_{suffix}", family, f"fully connected {cin} -> {cout}",
                      "calls/neon_pwconv.j2", pack(w), _requant(ctx, w, _channel_blocks(self.dotprod, cout)),
                      pixels=1, in_c=cin, out_c=cout)


def depthwise_scratch_bytes(channels: int) -> int:
    """mcu_dwconv3x3_s8_neon_scratch_bytes: one tap's channels of input_zp, read for a tap in the padding."""
    return int(channels)


class Depthwise:
    """Depthwise 3x3, any stride and padding."""

    def applies(self, ctx) -> bool:
        if not ctx.target.has("neon") or not _int8_weights_fit(ctx, False):
            return False
        return ctx.geometry.kernel == (3, 3)

    def build(self, ctx) -> Layer:
        w = _weights(ctx)  # [3, 3, C]
        c = w.shape[2]
        return _layer(ctx, "mcu_dwconv3x3_s8_neon", "AArch64 NEON", ctx.geometry.text("depthwise conv"),
                      "calls/neon_dwconv.j2", pack_depthwise3x3(w), _requant(ctx, w.reshape(9, c).T, blocks(c)),
                      scratch=depthwise_scratch_bytes(c), geometry=ctx.geometry.window)


class AvgPool:
    """Average pooling, either rounding (ties away from zero, or up for a uint8 model's layer)."""

    def applies(self, ctx) -> bool:
        kh, kw = ctx.geometry.kernel
        return ctx.target.has("neon") and kh * kw <= POOL_MAX_COUNT

    def build(self, ctx) -> Layer:
        half_up = ctx.node.attrs.get("rounding") == "half_up"
        io = quant_io(ctx)
        summary = ctx.geometry.text("average pool", "rounding half up (uint8 model), " if half_up else "")
        kernel = "mcu_avgpool_s8_halfup_neon" if half_up else "mcu_avgpool_s8_neon"
        return _layer(ctx, kernel, "AArch64 NEON", summary, "calls/avgpool.j2", None, None,
                      geometry=ctx.geometry.window, act_min=io["act_min"], act_max=io["act_max"])
