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
from .common import check_reduction, check_window, quant_io, shape_text, standard_arrays, weight_zero_point, window
from .ref import base_layer, is_pointwise

NAME = "cmsis-nn"


def _hwc(shape) -> tuple[int, int, int]:
    return tuple(int(d) for d in shape[1:4]) if len(shape) == 4 else (1, 1, int(shape[-1]))


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
        node, graph = ctx.node, ctx.graph
        depthwise = node.op == "depthwise_conv2d"
        w_shape = graph.tensor(node.inputs[1]).shape
        kh, kw, cin = (w_shape[0], w_shape[1], 1) if depthwise else (w_shape[1], w_shape[2], w_shape[3])
        check_reduction(node, kh * kw * cin)
        check_window(node, (kh, kw), node.attrs["strides"], node.attrs["pads"])
        arrays, refs = _arrays_with_bias(ctx)
        geometry = window((kh, kw), node.attrs["strides"], node.attrs["pads"])
        io = quant_io(ctx)
        kind, function = ("dwconv", "arm_depthwise_conv_wrapper_s8") if depthwise else \
            ("conv", "arm_convolve_wrapper_s8")
        scratch = buffer_size(root, ctx.target, kind, _hwc(ctx.x.shape), _hwc(ctx.y.shape), (kh, kw),
                              node.attrs["strides"], (geometry["pad_top"], geometry["pad_left"]),
                              io["input_offset"], io["output_offset"])
        what = "depthwise conv" if depthwise else ("pointwise conv" if is_pointwise(ctx) else "conv")
        summary = (f"{what} {kh}x{kw} stride {node.attrs['strides'][0]}, "
                   f"{shape_text(ctx.x.shape)} -> {shape_text(ctx.y.shape)}")
        return _layer(ctx, function, summary, "cmsis_nn_conv.j2", [function], arrays=arrays, scratch=scratch,
                      params=dict(io=io, geometry=geometry, depthwise=depthwise, filter=(kh, kw, cin), **refs))


class FullyConnected(_Variant):
    def build(self, ctx) -> Layer:
        _check(ctx)
        root = cmsis_nn_root()
        node = ctx.node
        cout, cin = ctx.graph.tensor(node.inputs[1]).shape
        check_reduction(node, cin)
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
        node = ctx.node
        check_window(node, node.attrs["kernel"], node.attrs["strides"], node.attrs["pads"])
        geometry = window(node.attrs["kernel"], node.attrs["strides"], node.attrs["pads"])
        io = quant_io(ctx)
        scratch = buffer_size(root, ctx.target, "avgpool", _hwc(ctx.x.shape), _hwc(ctx.y.shape))
        summary = (f"average pool {geometry['kernel_h']}x{geometry['kernel_w']} stride {geometry['stride_h']}, "
                   f"{shape_text(ctx.x.shape)} -> {shape_text(ctx.y.shape)}")
        return _layer(ctx, "arm_avgpool_s8", summary, "cmsis_nn_avgpool.j2", ["arm_avgpool_s8"], scratch=scratch,
                      params=dict(geometry=geometry, act_min=io["act_min"], act_max=io["act_max"]))


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
