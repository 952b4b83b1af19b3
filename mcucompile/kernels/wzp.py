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
from .common import check_reduction, check_window, quant_io, shape_text, standard_arrays, weight_zero_point, window
from .ref import avgpool_layer, base_layer, is_pointwise


def has_weight_zp(ctx) -> bool:
    return weight_zero_point(ctx.node) != 0


def _conv_layer(ctx, kernel: str, what: str) -> Layer:
    node, graph = ctx.node, ctx.graph
    w_shape = graph.tensor(node.inputs[1]).shape
    kh, kw, cin = (w_shape[1], w_shape[2], w_shape[3]) if node.op == "conv2d" else (w_shape[0], w_shape[1], 1)
    check_reduction(node, kh * kw * cin)
    check_window(node, (kh, kw), node.attrs["strides"], node.attrs["pads"])
    arrays, refs = standard_arrays(ctx)
    summary = (f"{what} {kh}x{kw} stride {node.attrs['strides'][0]}, weight zero point {node.attrs['weight_zp']}, "
               f"{shape_text(ctx.x.shape)} -> {shape_text(ctx.y.shape)}")
    return base_layer(ctx, kernel, "reference, weights with a zero point", summary, "calls/conv_wzp.j2",
                      [f"ref/{kernel}.c"], arrays=arrays,
                      params=dict(io=quant_io(ctx), filter_offset=-int(node.attrs["weight_zp"]),
                                  geometry=window((kh, kw), node.attrs["strides"], node.attrs["pads"]), **refs))


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
        check_reduction(node, cin)
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

