"""The portable C99 reference kernels (runtime_c/ref): every layer on every target can run here."""
from __future__ import annotations

from ..codegen.program import Layer
from ..ops.depthwise_inplace import inplace_scratch_bytes
from .common import quant_io, shape_text, standard_arrays

# Helpers every model.c calls besides its layers' kernels.
ALWAYS_SOURCES = ("ref/mcu_quantize_f32_s8.c", "ref/mcu_dequantize_s8_f32.c")


def base_layer(ctx, kernel: str, variant: str, summary: str, call: str, sources: list[str], **fields) -> Layer:
    from ..ops import OPS

    node = ctx.node
    return Layer(index=ctx.index, name=node.name, op=node.op, kernel=kernel, variant=variant, summary=summary,
                 input=node.inputs[0], output=node.outputs[0], in_shape=ctx.x.shape, out_shape=ctx.y.shape,
                 macs=OPS[node.op].macs(node, ctx.graph), call_template=call, sources=sources, **fields)


def is_pointwise(ctx) -> bool:
    return ctx.geometry.pointwise


def conv_layer(ctx, kernel: str, variant: str, what: str, sources: list[str], weights=None, bias=None,
               call: str = "calls/conv.j2", **fields) -> Layer:
    """A conv-shaped layer (conv, pointwise, depthwise) calling through mcu_conv_params."""
    arrays, refs = standard_arrays(ctx, weights, bias)
    return base_layer(ctx, kernel, variant, ctx.geometry.text(what), call, sources,
                      params=dict(io=quant_io(ctx), geometry=ctx.geometry.window, **refs), arrays=arrays, **fields)


class Conv:
    name = "ref"

    def applies(self, ctx) -> bool:
        return True

    def build(self, ctx) -> Layer:
        if is_pointwise(ctx):
            return conv_layer(ctx, "mcu_pwconv_s8_ref", "reference, pointwise 1x1", "pointwise conv",
                              ["ref/mcu_pwconv_s8_ref.c"])
        return conv_layer(ctx, "mcu_conv_s8_ref", "reference", "conv", ["ref/mcu_conv_s8_ref.c"])


class Depthwise:
    name = "ref"

    def applies(self, ctx) -> bool:
        return True

    def build(self, ctx) -> Layer:
        g = ctx.geometry
        scratch = inplace_scratch_bytes(g.in_shape[:2], g.out_shape[:2], g.in_shape[2], g.kernel[0], g.strides[0],
                                        g.pads[0])
        return conv_layer(ctx, "mcu_dwconv_s8_ref", "reference", "depthwise conv", ["ref/mcu_dwconv_s8_ref.c"],
                          inplace_kernel="mcu_dwconv_s8_inplace_ref", inplace_scratch=scratch,
                          inplace_sources=["ref/mcu_dwconv_s8_inplace_ref.c"])


class FullyConnected:
    name = "ref"

    def applies(self, ctx) -> bool:
        return True

    def build(self, ctx) -> Layer:
        cout, cin = ctx.graph.tensor(ctx.node.inputs[1]).shape
        arrays, refs = standard_arrays(ctx)
        return base_layer(ctx, "mcu_fc_s8_ref", "reference", f"fully connected {cin} -> {cout}", "calls/fc.j2",
                          ["ref/mcu_fc_s8_ref.c"], arrays=arrays,
                          params=dict(io=quant_io(ctx), in_features=cin, out_features=cout, **refs))


class AvgPool:
    name = "ref"

    def applies(self, ctx) -> bool:
        return True

    def build(self, ctx) -> Layer:
        return avgpool_layer(ctx, "mcu_avgpool_s8_ref", "reference", "")


def avgpool_layer(ctx, kernel: str, variant: str, note: str, folder: str = "ref", **fields) -> Layer:
    """An average pool calling through mcu_pool_params (the kernels differ in their rounding and their
    loops), its source runtime_c/FOLDER/KERNEL.c."""
    io = quant_io(ctx)
    return base_layer(ctx, kernel, variant, ctx.geometry.text("average pool", note), "calls/avgpool.j2",
                      [f"{folder}/{kernel}.c"],
                      params=dict(geometry=ctx.geometry.window, act_min=io["act_min"], act_max=io["act_max"]),
                      **fields)


class Softmax:
    name = "ref"
    MAX_DEPTH = 4095  # the int8 kernel's sum of exponentials must stay in its fixed-point range

    def applies(self, ctx) -> bool:
        return True

    def build(self, ctx) -> Layer:
        from ..errors import UnsupportedOp

        depth = int(ctx.x.shape[-1])
        if depth > self.MAX_DEPTH:
            raise UnsupportedOp(f"node '{ctx.node.name}': softmax over {depth} values (at most {self.MAX_DEPTH})")
        a = ctx.node.attrs
        return base_layer(ctx, "mcu_softmax_s8_ref", "reference", f"softmax over {depth}", "calls/softmax.j2",
                          ["ref/mcu_softmax_s8_ref.c"],
                          params=dict(rows=ctx.x.size // depth, depth=depth, input_multiplier=a["input_multiplier"],
                                      input_left_shift=a["input_left_shift"], diff_min=a["diff_min"]))


class Mean:
    name = "ref"

    def applies(self, ctx) -> bool:
        return True

    def build(self, ctx) -> Layer:
        io, a = quant_io(ctx), ctx.node.attrs
        return base_layer(ctx, "mcu_mean_s8_ref", "reference", f"mean over H and W, {shape_text(ctx.x.shape)} -> "
                          f"{shape_text(ctx.y.shape)}", "calls/mean.j2", ["ref/mcu_mean_s8_ref.c"],
                          params=dict(input_offset=io["input_offset"], output_offset=io["output_offset"],
                                      multiplier=a["multiplier"], shift=a["shift"]))


VARIANTS = {
    "conv2d": Conv(),
    "depthwise_conv2d": Depthwise(),
    "fully_connected": FullyConnected(),
    "avg_pool": AvgPool(),
    "softmax": Softmax(),
    "mean": Mean(),
}
