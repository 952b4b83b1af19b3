"""`--kernels cmsis-nn`: every layer calls Arm's CMSIS-NN library, from the user's own checkout.

The generated model.c calls arm_convolve_wrapper_s8 (conv and pointwise), arm_depthwise_conv_wrapper_s8,
arm_fully_connected_s8 (arm_fully_connected_per_channel_s8 when the output channels have different
scales), arm_avgpool_s8 and arm_softmax_s8, with the parameters as TensorFlow Lite Micro passes them:

    input_offset = -input zero point, output_offset = output zero point (CMSIS-NN's headers call
    both "offsets"; the numbers are TFLM's), per-channel multiplier/shift exactly as ours, the
    fused activation as the int8 clamp [act_min, act_max], filter_offset 0 (symmetric weights),
    softmax's input_multiplier / input_left_shift / diff_min as TFLM's PreprocessSoftmaxScaling.

Those are the numbers of our reference (the same TFLM contract), so every layer gives the same bytes;
the tests check it in QEMU on a DSP core (Cortex-M7) and a Helium core (Cortex-M55).

Scratch: the size each wrapper asks for on this target's ISA (cmsis_nn_library.buffer_size), planned in
the arena like any layer's scratch and passed as the cmsis_nn_context. On Helium the fully connected
kernel reads the per-row weight sums from that buffer; model.c fills it with arm_vector_sum_s8 right
before the call (TFLM does it once at prepare time: a few hundred instructions per inference here).

CMSIS-NN ships no in-place depthwise kernel, so these layers never run in place.
"""
from __future__ import annotations

import numpy as np

from ..codegen.program import Layer
from ..errors import McuCompileError
from .cmsis_nn_library import ENV, HEADER, buffer_size, cmsis_nn_root, needed_sources
from .common import quant_io, standard_arrays, weight_zero_point
from .ref import base_layer

NAME = "cmsis-nn"


def _check(ctx) -> None:
    if ctx.target.platform.name != "cortex-m":
        raise McuCompileError(f"--kernels {NAME} builds firmware only: choose a Cortex-M --target")


class _Variant:
    def applies(self, ctx) -> bool:
        # CMSIS-NN's int8 kernels take symmetric weights only (no filter offset).
        return not weight_zero_point(ctx.node)


def _layer(ctx, kernel: str, summary: str, call: str, functions: list[str], **fields) -> Layer:
    # A CMSIS-NN wrapper pulls in several library functions: a generous flash estimate per kernel.
    layer = base_layer(ctx, kernel, f"CMSIS-NN from ${ENV}", summary, f"calls/{call}", [], code_bytes=8192, **fields)
    layer.params.update(c_include=HEADER, cmsis_nn_functions=functions)
    return layer


def _arrays_with_bias(ctx):
    """The standard arrays, with a zero bias when the layer has none (CMSIS-NN's paths differ on NULL)."""
    bias = np.zeros(ctx.y.shape[-1], np.int32) if len(ctx.node.inputs) <= 2 else None
    return standard_arrays(ctx, bias=bias)


class ConvLike(_Variant):
    """Convolution, pointwise and depthwise: the two CMSIS-NN wrappers pick their fastest path."""

    def build(self, ctx) -> Layer:
        _check(ctx)
        root = cmsis_nn_root()
        g = ctx.geometry
        depthwise = ctx.node.op == "depthwise_conv2d"
        cin = 1 if depthwise else g.in_shape[2]
        arrays, refs = _arrays_with_bias(ctx)
        io = quant_io(ctx)
        kind, function = ("dwconv", "arm_depthwise_conv_wrapper_s8") if depthwise else \
            ("conv", "arm_convolve_wrapper_s8")
        scratch = buffer_size(root, ctx.target, kind, g.in_shape, g.out_shape, g.kernel, g.strides, g.pads[:2],
                              io["input_offset"], io["output_offset"])
        what = "depthwise conv" if depthwise else ("pointwise conv" if g.pointwise else "conv")
        return _layer(ctx, function, g.text(what), "cmsis_nn_conv.j2", [function], arrays=arrays, scratch=scratch,
                      params=dict(io=io, geometry=g.window, depthwise=depthwise, filter=(*g.kernel, cin), **refs))


class FullyConnected(_Variant):
    def build(self, ctx) -> Layer:
        _check(ctx)
        root = cmsis_nn_root()
        node = ctx.node
        cout, cin = ctx.graph.tensor(node.inputs[1]).shape
        arrays, refs = _arrays_with_bias(ctx)
        per_channel = len(set(map(int, node.attrs["multiplier"]))) > 1 or len(set(map(int, node.attrs["shift"]))) > 1
        function = "arm_fully_connected_per_channel_s8" if per_channel else "arm_fully_connected_s8"
        scratch = buffer_size(root, ctx.target, "fc", (1, 1, cin), (1, 1, cout))
        functions = [function] + (["arm_vector_sum_s8"] if scratch else [])
        return _layer(ctx, function, f"fully connected {cin} -> {cout}", "cmsis_nn_fc.j2", functions,
                      arrays=arrays, scratch=scratch,
                      params=dict(io=quant_io(ctx), in_features=cin, out_features=cout, per_channel=per_channel,
                                  multiplier0=int(node.attrs["multiplier"][0]), shift0=int(node.attrs["shift"][0]),
                                  **refs))


class AvgPool(_Variant):
    def applies(self, ctx) -> bool:
        return ctx.node.attrs.get("rounding") != "half_up"  # arm_avgpool_s8 rounds ties away from zero

    def build(self, ctx) -> Layer:
        _check(ctx)
        root = cmsis_nn_root()
        g, io = ctx.geometry, quant_io(ctx)
        scratch = buffer_size(root, ctx.target, "avgpool", g.in_shape, g.out_shape)
        return _layer(ctx, "arm_avgpool_s8", g.text("average pool"), "cmsis_nn_avgpool.j2", ["arm_avgpool_s8"],
                      scratch=scratch, params=dict(geometry=g.window, act_min=io["act_min"], act_max=io["act_max"]))


class Softmax(_Variant):
    MAX_DEPTH = 4095  # as the reference: the sum of exponentials stays in its fixed-point range

    def build(self, ctx) -> Layer:
        _check(ctx)
        cmsis_nn_root()
        depth = int(ctx.x.shape[-1])
        if depth > self.MAX_DEPTH:
            from ..errors import UnsupportedOp

            raise UnsupportedOp(f"node '{ctx.node.name}': softmax over {depth} values (at most {self.MAX_DEPTH})")
        a = ctx.node.attrs
        return _layer(ctx, "arm_softmax_s8", f"softmax over {depth}", "cmsis_nn_softmax.j2", ["arm_softmax_s8"],
                      params=dict(rows=ctx.x.size // depth, depth=depth, input_multiplier=a["input_multiplier"],
                                  input_left_shift=a["input_left_shift"], diff_min=a["diff_min"]))


def project_sources(program) -> dict | None:
    """For the firmware build files: the checkout and the CMSIS-NN sources this program needs, or None."""
    functions = sorted({f for layer in program.layers for f in layer.params.get("cmsis_nn_functions", ())})
    if not functions:
        return None
    root = cmsis_nn_root()
    return {"path": root.as_posix(), "sources": needed_sources(root, functions)}


__all__ = ["NAME", "project_sources"]
