"""Cortex-M DSP-extension kernels (runtime_c/arm_dsp): SMLAD/SXTB16, constants laid out at build time.

(Conv and FullyConnected here are the int16-weight kernels, `--kernels arm-dsp-int16`; the family's
default for those ops reads int8 weights: kernels/arm_dsp_int8.py, which builds on this module.)

The compiler does ahead of time what the kernels would otherwise redo on every call:
- weights are stored already widened to int16 pairs, in the order and pairing the kernels read them
  (see runtime_c/include/mcu_nn_dsp.h for each layout). int16 rather than int8 with SXTB16 in the
  loop: the pointwise inner loop then spends one LDRD per 4 SMLAD on weights instead of two LDR and
  four SXTB16 (counted: 6 instead of 10 instructions per 8 MACs), the depthwise taps need no widening
  of their weights, and the weights can carry the 2^left scale below; the cost is twice the weight
  bytes in flash;
- the input zero point is folded into the bias, bias - zp * sum(w), with int32 wrap-around: the
  reference's bias + sum((x - zp) * w) and the kernels' (bias - zp * sum(w)) + sum(x * w) are the
  same integer modulo 2^32; padded taps read zp, so they add zp * w and cancel their share of the fold;
- weights and folded bias are multiplied by 2^left, left = max(shift, 0) + 1, so the kernels
  accumulate acc * 2^left directly (no shift before the multiply);
- the output zero point joins the rounding constant, so the output stage is SMMULR, two ADDs, ASR
  and SSAT: record {bias * 2^left, multiplier, 2^right + zp_out * 2^(right + 1), right + 1};
- the variant applies only where that sequence is provably exact (`channel_records`): every
  accumulator the layer can produce, bounded by |bias| + 128 * sum|w|, satisfies
  |acc| * 2^left < 2^30, right <= MAX_RIGHT, and the scaled weights fit int16. The proof is written
  out in runtime_c/include/mcu_nn_dsp.h; `requantize_dsp` is the numpy model of the sequence, compared
  with the reference over edge cases in tests/test_kernels_dsp.py.

Weights with a zero point (legacy uint8 models, node.attrs["weight_zp"] = zw): the products are
x * (w - zw), and w - zw spans [-255, 255], which int16 holds. Since this family stores its weights
widened to int16 anyway, it stores w - zw (times 2^left) and the kernels run unchanged, at the speed
of an int8 layer: the folded bias is bias - zp * sum(w - zw), and `channel_records` makes its whole
proof (the bound |bias| + 128 * sum|w - zw|, the int16 check of (w - zw) * 2^left) with the values
the kernels multiply. A layer it refuses takes the weight-zero-point reference (kernels/wzp.py).
"""
from __future__ import annotations

import numpy as np

from ..codegen.program import CArray, Layer
from ..quant.fixedpoint import wrap_int32
from .common import quant_io, weight_zero_point
from .ref import base_layer, is_pointwise

CALL = "calls/dsp_conv.j2"
MAX_SCRATCH = 4096  # bytes of im2col scratch the convolution variant may take
CHANNEL_WORDS = 4
# Largest right shift: |2x| <= 2^30 and |2^r + zp_out * 2^(r + 1)| < 2^(r + 9) keep the int32 sum exact.
MAX_RIGHT = 20


def _per_channel(value, n: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, np.int64).reshape(-1), (n,)).copy()


def channel_records(w2d: np.ndarray, bias, zero_point: int, multiplier, shift,
                    output_zp: int) -> tuple[np.ndarray, np.ndarray] | None:
    """([out_c, 4] int32 records, [out_c] weight scale 2^left), or None where the short
    requantization is not provably exact or the scaled weights leave int16."""
    w2d = np.asarray(w2d, np.int64)
    cout = w2d.shape[0]
    bias = np.zeros(cout, np.int64) if bias is None else np.asarray(bias, np.int64)
    folded = wrap_int32(bias - zero_point * w2d.sum(axis=1))
    mult, shift = _per_channel(multiplier, cout), _per_channel(shift, cout)
    left = np.maximum(shift, 0) + 1
    right = np.maximum(-shift, 0)
    bound = np.abs(folded) + 128 * np.abs(w2d).sum(axis=1)
    if np.any(bound * (2.0 ** left) >= 2.0 ** 30) or np.any(right > MAX_RIGHT):
        return None
    if np.any(np.abs(w2d).max(axis=1, initial=0) << left > 32767):
        return None
    scale = np.left_shift(1, left)
    rounding = np.left_shift(1, right) + output_zp * np.left_shift(1, right + 1)
    records = np.stack([folded * scale, mult, rounding, right + 1], axis=1)
    return records.astype(np.int32), scale


def requantize_dsp(scaled_acc, records, act_min: int, act_max: int) -> np.ndarray:
    """numpy model of mcu_dsp_requantize: the kernels accumulate acc * 2^left (scaled weights and
    bias), then SMMULR, ADD, ADD, ASR, SSAT #8, and the layer's clamp where it is narrower."""
    a = np.asarray(scaled_acc, np.int64)
    _, mult, rounding, right = (np.asarray(records[..., i], np.int64) for i in range(CHANNEL_WORDS))
    x = (a * mult + (1 << 31)) >> 32
    t = rounding + 2 * x + (x >> 31)
    assert np.all(np.abs(t) < 2 ** 31), "the kernel's int32 sum would overflow"
    return np.clip(np.clip(t >> right, -128, 127), act_min, act_max)


def _words(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """int16 pairs (low half first) as int32 words."""
    u = (np.asarray(lo, np.int64) & 0xFFFF) | ((np.asarray(hi, np.int64) & 0xFFFF) << 16)
    return wrap_int32(u).astype(np.int32)


def pointwise_order(k: int) -> np.ndarray:
    """k order of the pointwise kernel's widened column: (0, 2, 1, 3) per full group of 4, the tail natural."""
    full = k // 4 * 4
    order = [4 * g + i for g in range(k // 4) for i in (0, 2, 1, 3)] + list(range(full, k))
    return np.array(order, np.int64)


def pack_matmul(w2d: np.ndarray, order: np.ndarray) -> np.ndarray:
    """[out_c, K] weights -> words for mcu_dsp_matmul_2cols: per channel pair, per k pair, (c0, c1)."""
    cout, _ = w2d.shape
    k4 = (len(order) + 3) // 4 * 4
    wp = np.zeros((cout + cout % 2, k4), np.int64)
    wp[:cout, :len(order)] = np.asarray(w2d, np.int64)[:, order]
    pairs = wp.reshape(-1, 2, k4 // 2, 2)  # [pair][channel][k pair][lo/hi]
    words = _words(pairs[..., 0], pairs[..., 1])  # [pair][channel][k pair]
    return words.transpose(0, 2, 1).reshape(-1)


def pack_depthwise(w: np.ndarray) -> np.ndarray:
    """[kh, kw, c] weights -> words for mcu_dwconv_s8_dsp: per group of 4 channels, per tap,
    (c0, c2), (c1, c3); then per tail channel, per tap, one int32 weight."""
    kh, kw, c = w.shape
    wt = np.asarray(w, np.int64).reshape(kh * kw, c)
    groups = c // 4
    g = wt[:, :groups * 4].reshape(kh * kw, groups, 4).transpose(1, 0, 2)  # [group][tap][4]
    body = np.stack([_words(g[..., 0], g[..., 2]), _words(g[..., 1], g[..., 3])], axis=-1).reshape(-1)
    tail = wt[:, groups * 4:].T.reshape(-1).astype(np.int32)
    return np.concatenate([body, tail]).astype(np.int32)


# Flash per kernel for the fit check: arm-none-eabi-gcc 12 -O2 sizes (conv 1,348, pointwise 2,056,
# depthwise 3,834 bytes on cortex-m7) with half again as margin.
CODE_BYTES = {"mcu_conv_s8_dsp": 2048, "mcu_pwconv_s8_dsp": 3072, "mcu_dwconv_s8_dsp": 6144}


def _layer(ctx, kernel: str, variant: str, summary: str, weights: np.ndarray, records: np.ndarray,
           geometry: tuple, in_shape: tuple, out_shape: tuple, scratch: int, code_bytes: int, **extra) -> Layer:
    """A layer calling runtime_c/arm_dsp/<kernel>.c (this family's or arm_dsp_int8's) with its
    weights and channel records; `extra`: more call parameters (a filter offset)."""
    io = quant_io(ctx)
    arrays = [CArray(f"{ctx.prefix}_weights", "int32_t", weights),
              CArray(f"{ctx.prefix}_channels", "int32_t", records.reshape(-1))]
    params = dict(geometry=geometry, input_zero_point=-io["input_offset"], act_min=io["act_min"],
                  act_max=io["act_max"], in_shape=in_shape, out_shape=out_shape,
                  weights=arrays[0].name, channels=arrays[1].name, **extra)
    zw = weight_zero_point(ctx.node)
    if zw:
        summary += f", weight zero point {zw}"
    return base_layer(ctx, kernel, variant, summary, CALL, [f"arm_dsp/{kernel}.c"], params=params, arrays=arrays,
                      scratch=scratch, code_bytes=code_bytes)


def _records(ctx, w2d: np.ndarray):
    """channel_records for this node: ([out_c, 4] records, [out_c] scale) or None. The proof is made
    with the values the products take, w - zw (w itself where the weights have no zero point)."""
    node, graph = ctx.node, ctx.graph
    bias = graph.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
    centred = np.asarray(w2d, np.int64) - weight_zero_point(node)
    return channel_records(centred, bias, ctx.x.qparams.scalar_zero_point, node.attrs["multiplier"],
                           node.attrs["shift"], ctx.y.qparams.scalar_zero_point)


class Conv:
    """Pointwise 1x1 (pixels widened once, 2x2 SMLAD blocks) and small convolutions (im2col of two pixels).

    arm_dsp_int8.Conv and .FullyConnected share the plan and the layer; they override the class data
    below, `_kernel` (which kernel a layer calls) and `_pack` (how the weights and records are stored
    for their kernels)."""

    # {layer kind: (kernel, variant text)}; kind: "pointwise", "conv" or "fc".
    KERNELS = {"pointwise": ("mcu_pwconv_s8_dsp", "Arm DSP, 2 pixels x 2 channels SMLAD"),
               "conv": ("mcu_conv_s8_dsp", "Arm DSP, im2col of 2 pixels, SMLAD"),
               "fc": ("mcu_pwconv_s8_dsp", "Arm DSP pointwise kernel on one pixel")}
    CODE_BYTES = CODE_BYTES

    def _kernel(self, kind: str, zw: int, ctx=None) -> tuple[str, str, dict]:
        """(kernel, variant text, extra call parameters): the same kernels with or without a weight
        zero point, which the stored weights have taken in."""
        return (*self.KERNELS[kind], {})

    def _pack(self, w2d: np.ndarray, zw: int, order: np.ndarray, records: np.ndarray, scale: np.ndarray):
        """(weights, records) as the kernels read them: weights minus their zero point, widened and
        scaled by 2^left."""
        return pack_matmul((np.asarray(w2d, np.int64) - zw) * scale[:, None], order), records

    def _plan(self, ctx):
        w = ctx.graph.tensor(ctx.node.inputs[1]).data
        cout, kh, kw, cin = w.shape
        k = kh * kw * cin
        k4 = (k + 3) // 4 * 4
        pointwise = is_pointwise(ctx)
        if not pointwise and self._scratch("conv", k4) > MAX_SCRATCH:
            return None
        plan = _records(ctx, w.reshape(cout, k))
        if plan is None:
            return None
        return w, pointwise, k, k4, plan

    def applies(self, ctx) -> bool:
        return ctx.target.has("dsp") and self._plan(ctx) is not None

    def _scratch(self, kind: str, k4: int) -> int:
        """Scratch bytes of the kernel (its C twin: mcu_*_dsp_scratch_bytes): two int16 columns of k4."""
        return 2 * k4 * 2

    def _matmul_layer(self, ctx, kind: str, summary: str, w2d, order, plan, geometry, in_shape, out_shape,
                      k4: int) -> Layer:
        zw = weight_zero_point(ctx.node)
        kernel, variant, extra = self._kernel(kind, zw, ctx)
        weights, records = self._pack(w2d, zw, order, *plan)
        variant = self._records_call(kernel, records, variant, extra)
        return _layer(ctx, kernel, variant, summary, weights, records, geometry, in_shape, out_shape,
                      self._scratch(kind, k4), self.CODE_BYTES.get(kernel, 4096), **extra)

    def _records_call(self, kernel: str, records: np.ndarray, variant: str, extra: dict) -> str:
        """The variant's text for these records, `extra` gaining the call they need: one form here."""
        return variant

    def build(self, ctx) -> Layer:
        g = ctx.geometry
        w, pointwise, k, k4, plan = self._plan(ctx)
        w2d = np.asarray(w).reshape(len(w), k)
        if pointwise:
            return self._matmul_layer(ctx, "pointwise", g.text("pointwise conv"), w2d, pointwise_order(k), plan,
                                      _dsp_geometry(g), g.in_shape, g.out_shape, k4)
        return self._matmul_layer(ctx, "conv", g.text("conv"), w2d, np.arange(k), plan, _dsp_geometry(g),
                                  g.in_shape, g.out_shape, k4)


def _dsp_geometry(g) -> tuple:
    """The window as mcu_dsp_params holds it: (kh, kw, stride_h, stride_w, pad_top, pad_left)."""
    return (*g.kernel, *g.strides, g.pads[0], g.pads[1])


class Depthwise:
    """4 channels per SXTB16 pair, weights pre-widened, 3x3 unrolled (border pixels too, their padded
    taps reading a zero-point row in scratch); no in-place twin (yet). Weights with a zero point are
    stored as w - zw, for every DSP family (see the module docstring)."""

    def _plan(self, ctx):
        w = ctx.graph.tensor(ctx.node.inputs[1]).data
        kh, kw, c = w.shape
        return _records(ctx, np.asarray(w).reshape(kh * kw, c).T)

    def applies(self, ctx) -> bool:
        return ctx.target.has("dsp") and self._plan(ctx) is not None

    def build(self, ctx) -> Layer:
        g, w = ctx.geometry, ctx.graph.tensor(ctx.node.inputs[1]).data
        records, scale = self._plan(ctx)
        scaled = (np.asarray(w, np.int64) - weight_zero_point(ctx.node)) * scale
        return _layer(ctx, "mcu_dwconv_s8_dsp", "Arm DSP, 4 channels per SXTB16 pair", g.text("depthwise conv"),
                      pack_depthwise(scaled), records, _dsp_geometry(g), g.in_shape, g.out_shape,
                      dwconv_scratch_bytes(g.in_shape[2]), CODE_BYTES["mcu_dwconv_s8_dsp"])


class Depthwise3x3:
    """3x3, stride_w 1 or 2, int8 weights in flash as they are: input rows widened once into a
    ring of per-channel int16 pairs, two taps of one channel per SMLAD (runtime_c/arm_dsp/
    mcu_dwconv3x3_s8_dsp8.c). Runs in place where the rows allow it. Layers with a weight zero point
    (w - zw leaves int8) and other kernels take Depthwise below."""

    KERNEL = "mcu_dwconv3x3_s8_dsp8"
    # Targets that call the kernel itself (loops ordered for dual issue); the others call its `_1x` twin.
    DUAL_ISSUE = frozenset({"cortex-m7"})
    COMPACT = True  # 8-byte channel records where a layer's values fit them (False: always the wide form)
    CODE_BYTES = 3072  # arm-none-eabi-gcc 12 -O2: 2,090 bytes linked on cortex-m7 (one order), half again as margin

    def applies(self, ctx) -> bool:
        node = ctx.node
        kh, kw, _ = ctx.graph.tensor(node.inputs[1]).shape
        if not (ctx.target.has("dsp") and (kh, kw) == (3, 3) and node.attrs["strides"][1] in (1, 2)
                and not weight_zero_point(node)):
            return False
        plan = Depthwise()._plan(ctx)
        # The kernel's output stage (dwconv3x3_requantize) needs right >= 1 in every channel.
        return plan is not None and bool(np.all(plan[0][:, 3] >= 2))

    def build(self, ctx) -> Layer:
        g, w = ctx.geometry, ctx.graph.tensor(ctx.node.inputs[1]).data
        c, (sh, sw), pads = w.shape[2], g.strides, g.pads
        records, scale = Depthwise()._plan(ctx)
        in_shape, out_shape = g.in_shape, g.out_shape
        scratch = dwconv3x3_scratch_bytes(c, out_shape[1], sw)
        sources = [f"arm_dsp/{self.KERNEL}.c"]
        inplace = dwconv3x3_inplace_ok(in_shape[:2], out_shape[:2], sh, pads[0])
        channels = dwconv3x3_records(records, scale, ctx.y.qparams.scalar_zero_point, self.COMPACT)
        variant, extra = "Arm DSP, int8 weights, 2 taps of a channel per SMLAD", {}
        if channels[0] & DWCONV3X3_WIDE:
            variant += ", 12-byte channel records"
        if ctx.target.name not in self.DUAL_ISSUE:  # the loops in the single-issue order (the kernel's `_1x` twin)
            variant, extra["entry"] = variant + ", single-issue order", self.KERNEL + "_1x"
        layer = _layer(ctx, self.KERNEL, variant, g.text("depthwise conv"), pack_depthwise3x3_int8(w), channels,
                       _dsp_geometry(g), in_shape, out_shape, scratch, self.CODE_BYTES, **extra)
        if inplace:
            layer.inplace_kernel, layer.inplace_scratch, layer.inplace_sources = self.KERNEL, scratch, sources
        return layer


def pack_depthwise3x3_int8(w: np.ndarray) -> np.ndarray:
    """[3, 3, c] int8 weights -> int32 words for mcu_dwconv3x3_s8_dsp8: the bytes as they are
    (little-endian), the last word padded with zeros; the kernel widens and scales them per call."""
    b = np.asarray(w, np.int64).reshape(-1) & 0xFF
    b = np.concatenate([b, np.zeros(-len(b) % 4, np.int64)]).reshape(-1, 4)
    return wrap_int32(b[:, 0] | b[:, 1] << 8 | b[:, 2] << 16 | b[:, 3] << 24).astype(np.int32)


# Header word of mcu_dwconv3x3_s8_dsp8's channels: this bit marks the wide (3-word) records.
DWCONV3X3_WIDE = 0x100


def dwconv3x3_compact_fits(bias, right, left) -> bool:
    """Whether every channel's values fit the compact record {multiplier, bias << 8 | (left - 1) << 5 |
    right} (mcu_nn_dsp.h): a 24-bit bias, a 5-bit right shift, left in 1..8."""
    bias, right, left = (np.asarray(v, np.int64) for v in (bias, right, left))
    return bool(np.all((bias >= -(1 << 23)) & (bias < 1 << 23) & (right >= 0) & (right < 32)
                       & (left >= 1) & (left <= 8)))


def dwconv3x3_records(records: np.ndarray, scale: np.ndarray, output_zp: int, compact: bool = True) -> np.ndarray:
    """channel_records' [c, 4] records (bias scaled by 2^left) -> mcu_dwconv3x3_s8_dsp8's channels: the
    header word (uint8) output_zp, with DWCONV3X3_WIDE for the wide form, then per channel the compact
    record {multiplier, bias << 8 | (left - 1) << 5 | right} (8 bytes) where the whole layer fits it
    (and `compact`), else the wide {bias, multiplier, right | left << 8} (12 bytes); the bias unscaled
    (arm_dsp_int8.records_int8), the kernel derives the rest per call. Never clipped: a layer whose
    values do not fit takes the wide form."""
    from .arm_dsp_int8 import records_int8  # arm_dsp_int8 builds on this module
    r8 = records_int8(records, scale).astype(np.int64)
    bias, mult, right, left = r8[:, 0], r8[:, 1], r8[:, 3] - 1, r8[:, 4]
    header = int(output_zp) & 0xFF
    if compact and dwconv3x3_compact_fits(bias, right, left):
        body = np.column_stack([mult, bias << 8 | (left - 1) << 5 | right])
    else:
        header |= DWCONV3X3_WIDE
        body = np.column_stack([bias, mult, right | left << 8])
    return wrap_int32(np.concatenate([[header], body.reshape(-1)])).astype(np.int32)


def dwconv3x3_requantize(scaled_acc, records, act_min: int, act_max: int) -> np.ndarray:
    """numpy model of mcu_dwconv3x3_s8_dsp8's output stage on acc * 2^left, records as channel_records'
    (right >= 1): SMMLAR(A, m, half - [A < 0]), ASR right, SSAT #8, the layer's clamp (see DW3_STAGE)."""
    a = np.asarray(scaled_acc, np.int64)
    _, mult, rounding, right1 = (np.asarray(records[..., i], np.int64) for i in range(CHANNEL_WORDS))
    assert np.all(right1 >= 2) and np.all(rounding % 2 == 0)
    t = rounding // 2 + (a >> 31)
    x = (a * mult + (t << 32) + (1 << 31)) >> 32
    return np.clip(np.clip(x >> (right1 - 1), -128, 127), act_min, act_max)


def dwconv3x3_row_words(out_w: int, stride_w: int) -> int:
    """int32 words per channel of one widened input row (row_words in the C kernel)."""
    even = (out_w + 1) // 2 * 2
    return even // 2 + 1 if stride_w == 1 else even + 1


def dwconv3x3_scratch_bytes(c: int, out_w: int, stride_w: int) -> int:
    """mcu_dwconv3x3_s8_dsp8_scratch_bytes: a ring of 3 widened rows, one row of int32 sums, per
    channel the weights and bias scaled by 2^left with the output stage's three words (10 words), and
    one padded input row."""
    words = dwconv3x3_row_words(out_w, stride_w)
    return 4 * (3 * c * words + (out_w + 1) // 2 * 2 + 10 * c) + (2 * words * c + 3) // 4 * 4


def dwconv3x3_inplace_ok(in_hw: tuple[int, int], out_hw: tuple[int, int], stride_h: int, pad_top: int) -> bool:
    """Whether mcu_dwconv3x3_s8_dsp8 may write its output over its input: it reads the input only when
    widening rows, and widens the rows of output row oy (up to oy * stride_h - pad_top + 2) before
    computing it, so row oy's bytes must end at or before the first row not yet widened, unless
    every row is."""
    (h, w), (ho, wo) = in_hw, out_hw
    for oy in range(ho):
        unread = oy * stride_h - pad_top + 3
        if unread < h and (oy + 1) * wo > unread * w:
            return False
    return True


def dwconv_scratch_bytes(c: int) -> int:
    """mcu_dwconv_s8_dsp_scratch_bytes: one pixel of zero points, for the padded taps."""
    return (c + 3) // 4 * 4


class FullyConnected(Conv):
    """A fully connected layer is a pointwise convolution of one pixel."""

    def _plan(self, ctx):
        return _records(ctx, ctx.graph.tensor(ctx.node.inputs[1]).data)

    def build(self, ctx) -> Layer:
        w = ctx.graph.tensor(ctx.node.inputs[1]).data
        cout, cin = w.shape
        k4 = (cin + 3) // 4 * 4
        return self._matmul_layer(ctx, "fc", f"fully connected {cin} -> {cout}", w, pointwise_order(cin),
                                  self._plan(ctx), (1, 1, 1, 1, 0, 0), (1, 1, cin), (1, 1, cout), k4)

