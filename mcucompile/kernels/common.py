"""Pieces every kernel variant uses: the layer's geometry (checked once), the standard constant arrays, names."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codegen.program import CArray
from ..errors import ShapeError, UnsupportedOp

# Largest reduction a kernel's int32 accumulator takes without overflow: taps * 255 * 128 < 2^31.
MAX_REDUCTION = 65793
# With a weight zero point (uint8 models) products reach 255 * 255, so the accumulator holds fewer taps.
MAX_REDUCTION_WZP = 33025


def weight_zero_point(node) -> int:
    """The per-tensor weight zero point of a uint8 model's layer, in the int8 domain (passes/adopt_qdq.py);
    0 for an int8 layer."""
    return int(node.attrs.get("weight_zp", 0))


def shape_text(shape) -> str:
    hwc = tuple(shape[1:4]) if len(shape) == 4 else (1, 1, int(shape[-1]))
    return "x".join(str(d) for d in hwc)


def check_reduction(node, taps: int) -> None:
    limit, what = (MAX_REDUCTION_WZP, " with a weight zero point") if weight_zero_point(node) else (MAX_REDUCTION, "")
    if taps > limit:
        raise ShapeError(f"node '{node.name}': a reduction of {taps} taps{what} overflows the int32 accumulator "
                         f"(at most {limit})")


def check_window(node, kernel, stride, pads) -> None:
    kh, kw = kernel
    top, left, bottom, right = pads
    if top >= kh or left >= kw or bottom >= kh or right >= kw:
        raise UnsupportedOp(f"node '{node.name}': padding {list(pads)} is not smaller than the {kh}x{kw} kernel")
    if max(stride) > 32767 or max(kernel) > 32767:
        raise UnsupportedOp(f"node '{node.name}': kernel {list(kernel)} / strides {list(stride)} out of range")


@dataclass(frozen=True)
class Geometry:
    """A layer's window and shapes, read from the node once and checked once (kernels.select, before
    any variant is tried), so that every variant sees the same figures and none can skip a check."""

    kernel: tuple[int, int]  # (kh, kw); (1, 1) for a fully connected layer
    strides: tuple[int, int]
    pads: tuple[int, int, int, int]  # top, left, bottom, right
    in_shape: tuple[int, int, int]  # (h, w, c); (1, 1, features) for a fully connected layer
    out_shape: tuple[int, int, int]
    taps: int  # products summed into one output: kh * kw * in_c (conv), kh * kw (depthwise), in_c (FC)

    @property
    def pointwise(self) -> bool:
        return self.kernel == (1, 1) and self.strides == (1, 1) and not any(self.pads)

    @property
    def window(self) -> dict:
        return window(self.kernel, self.strides, self.pads)

    def text(self, what: str, note: str = "") -> str:
        """The layer summary: 'conv 3x3 stride 2, 96x96x3 -> 48x48x8' (`note`, if any, before the shapes)."""
        (kh, kw), (h, w, c), (ho, wo, co) = self.kernel, self.in_shape, self.out_shape
        return f"{what} {kh}x{kw} stride {self.strides[0]}, {note}{h}x{w}x{c} -> {ho}x{wo}x{co}"


def _hwc(shape) -> tuple[int, int, int]:
    return tuple(int(d) for d in shape[1:4]) if len(shape) == 4 else (1, 1, int(shape[-1]))


def layer_geometry(node, graph) -> Geometry | None:
    """`node`'s geometry, checked (the int32 accumulator's reach, padding smaller than the window, figures
    that fit mcu_conv_params' int16 fields); None for an op without a window or a reduction."""
    x, y = graph.tensor(node.inputs[0]), graph.tensor(node.outputs[0])
    in_shape, out_shape = _hwc(x.shape), _hwc(y.shape)
    if node.op == "fully_connected":
        geometry = Geometry((1, 1), (1, 1), (0, 0, 0, 0), in_shape, out_shape, in_shape[2])
    elif node.op in ("conv2d", "depthwise_conv2d", "avg_pool"):
        if node.op == "avg_pool":
            kernel, taps = tuple(node.attrs["kernel"]), 0
        elif node.op == "conv2d":  # weights [out_c, kh, kw, in_c]
            _, kh, kw, cin = graph.tensor(node.inputs[1]).shape
            kernel, taps = (int(kh), int(kw)), int(kh * kw * cin)
        else:  # depthwise weights [kh, kw, c]
            kh, kw, _ = graph.tensor(node.inputs[1]).shape
            kernel, taps = (int(kh), int(kw)), int(kh * kw)
        geometry = Geometry(kernel, tuple(node.attrs["strides"]), tuple(node.attrs["pads"]), in_shape, out_shape,
                            taps)
        check_window(node, geometry.kernel, geometry.strides, geometry.pads)
    else:
        return None
    if geometry.taps:
        check_reduction(node, geometry.taps)
    return geometry


def quant_io(ctx) -> dict:
    return dict(input_offset=-ctx.x.qparams.scalar_zero_point, output_offset=ctx.y.qparams.scalar_zero_point,
                act_min=ctx.node.attrs.get("act_min", -128), act_max=ctx.node.attrs.get("act_max", 127))


def window(kernel, strides, pads) -> dict:
    """Kernel/stride/padding as mcu_conv_params and mcu_pool_params hold them."""
    return dict(kernel_h=kernel[0], kernel_w=kernel[1], stride_h=strides[0], stride_w=strides[1],
                pad_top=pads[0], pad_left=pads[1])


def standard_arrays(ctx, weights: np.ndarray | None = None, bias: np.ndarray | None = None) -> tuple[list[CArray], dict]:
    """Weights, bias, multipliers and shifts as C arrays; `weights`/`bias` override the graph's data
    (for variants that repack the weights or fold terms into the bias)."""
    node, graph, prefix = ctx.node, ctx.graph, ctx.prefix
    w = graph.tensor(node.inputs[1]).data if weights is None else weights
    arrays = [CArray(f"{prefix}_weights", "int8_t", w)]
    refs = {"weights": f"{prefix}_weights", "bias": "NULL"}
    if bias is None and len(node.inputs) > 2:
        bias = graph.tensor(node.inputs[2]).data
    if bias is not None:
        arrays.append(CArray(f"{prefix}_bias", "int32_t", np.asarray(bias, np.int32)))
        refs["bias"] = f"{prefix}_bias"
    arrays.append(CArray(f"{prefix}_multiplier", "int32_t", np.asarray(node.attrs["multiplier"], np.int32)))
    arrays.append(CArray(f"{prefix}_shift", "int32_t", np.asarray(node.attrs["shift"], np.int32)))
    refs.update(multiplier=f"{prefix}_multiplier", shift=f"{prefix}_shift")
    return arrays, refs
