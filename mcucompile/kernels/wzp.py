"""Reference kernels for legacy uint8 models: weights with a per-tensor zero point, and the
average pool that rounds half up.

A uint8 model is held in int8 (values and zero points moved by 128). Its weights keep their zero
point (node.attrs["weight_zp"], set by passes/adopt_qdq.py): w - zw spans [-255, 255], so the
weights cannot be re-expressed as int8 with zero point 0 without changing the numbers. These
variants pass filter_offset = -zw to kernels that add it to every weight, as TFLite's uint8
kernels do. In each op's table (kernels/__init__.py) they are "wzp-ref", a reference variant
(`--kernels ref` and every family reach them), placed just before the plain reference, which would
ignore the zero point: they take the weight-zero-point layers that no faster variant took (the DSP
and Helium families take most: kernels/arm_dsp.py, arm_dsp_int8.py, arm_mve.py).
"""
from __future__ import annotations

from ..codegen.program import Layer
from .common import quant_io, standard_arrays, weight_zero_point
from .ref import avgpool_layer, base_layer, is_pointwise


def has_weight_zp(ctx) -> bool:
    return weight_zero_point(ctx.node) != 0


def _conv_layer(ctx, kernel: str, what: str) -> Layer:
    node = ctx.node
    arrays, refs = standard_arrays(ctx)
    summary = ctx.geometry.text(what, f"weight zero point {node.attrs['weight_zp']}, ")
    return base_layer(ctx, kernel, "reference, weights with a zero point", summary, "calls/conv_wzp.j2",
                      [f"ref/{kernel}.c"], arrays=arrays,
                      params=dict(io=quant_io(ctx), filter_offset=-int(node.attrs["weight_zp"]),
                                  geometry=ctx.geometry.window, **refs))


class Conv:
    def applies(self, ctx) -> bool:
        return has_weight_zp(ctx)

    def build(self, ctx) -> Layer:
        if is_pointwise(ctx):
            return _conv_layer(ctx, "mcu_pwconv_s8_wzp_ref", "pointwise conv")
        return _conv_layer(ctx, "mcu_conv_s8_wzp_ref", "conv")


class Depthwise:
    def applies(self, ctx) -> bool:
        return has_weight_zp(ctx)

    def build(self, ctx) -> Layer:
        # No in-place twin: the memory planner then gives the output its own bytes.
        return _conv_layer(ctx, "mcu_dwconv_s8_wzp_ref", "depthwise conv")


class FullyConnected:
    def applies(self, ctx) -> bool:
        return has_weight_zp(ctx)

    def build(self, ctx) -> Layer:
        node = ctx.node
        cout, cin = ctx.graph.tensor(node.inputs[1]).shape
        arrays, refs = standard_arrays(ctx)
        return base_layer(ctx, "mcu_fc_s8_wzp_ref", "reference, weights with a zero point",
                          f"fully connected {cin} -> {cout}, weight zero point {node.attrs['weight_zp']}",
                          "calls/fc_wzp.j2", ["ref/mcu_fc_s8_wzp_ref.c"], arrays=arrays,
                          params=dict(io=quant_io(ctx), filter_offset=-int(node.attrs["weight_zp"]),
                                      in_features=cin, out_features=cout, **refs))


class AvgPoolHalfUp:
    def applies(self, ctx) -> bool:
        return ctx.node.attrs.get("rounding") == "half_up"

    def build(self, ctx) -> Layer:
        return avgpool_layer(ctx, "mcu_avgpool_s8_halfup_ref", "reference, ties rounded up",
                             "rounding half up (uint8 model), ")

