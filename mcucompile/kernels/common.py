"""Pieces every kernel variant uses: geometry checks, the standard constant arrays, names."""
from __future__ import annotations

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
