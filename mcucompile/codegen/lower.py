"""Lower a quantized Graph to a Program: one kernel call per layer, constant arrays, an arena plan.

Kernel variants are chosen here, ahead of time: shapes are static, so each call names exactly the
C function it runs and the generated comment says which variant that is.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ShapeError, UnsupportedOp
from ..ir import Graph
from ..memory.assign import MemoryLayout, assign_memory, scratch_name
from ..ops import OPS
from ..ops.depthwise_inplace import inplace_scratch_bytes
from .env import c_ident

# Largest reduction a kernel's int32 accumulator takes without overflow: taps * 255 * 128 < 2^31.
MAX_REDUCTION = 65793


@dataclass
class CArray:
    name: str
    ctype: str
    data: np.ndarray


@dataclass
class Layer:
    index: int
    name: str  # the ONNX node's name
    op: str
    kernel: str  # the C function called
    variant: str
    summary: str  # what the layer does, for the generated comment
    input: str
    output: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    macs: int
    params: dict = field(default_factory=dict)
    arrays: list[CArray] = field(default_factory=list)
    scratch: int = 0  # bytes of scratch the kernel needs
    inplace_kernel: str | None = None  # a variant that writes the output over the input, if any
    inplace_scratch: int = 0  # bytes of scratch that variant needs
    scratch_location: str = "NULL"  # C expression, set once memory is planned


@dataclass
class Program:
    name: str
    layers: list[Layer]
    memory: MemoryLayout
    input_tensor: object
    output_tensor: object
    graph: Graph
    graph_input: str = ""  # the tensor whose bytes are the model's input (after reshape aliases)
    graph_output: str = ""
    io_in_arena: bool = False

    @property
    def locations(self) -> dict[str, str]:
        """Tensor name -> C expression of its first byte."""
        return self.memory.locations

    @property
    def plan(self):
        return self.memory.plan

    @property
    def arena_bytes(self) -> int:
        return self.memory.arena_bytes

    @property
    def arrays(self) -> list[CArray]:
        return [a for layer in self.layers for a in layer.arrays]

    @property
    def kernels(self) -> list[str]:
        return sorted({layer.kernel for layer in self.layers})

    @property
    def weights_bytes(self) -> int:
        return sum(a.data.nbytes for a in self.arrays)


def _hwc(shape) -> tuple[int, int, int]:
    return tuple(shape[1:4]) if len(shape) == 4 else (1, 1, int(shape[-1]))


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in _hwc(shape))


def _select_conv(node, graph) -> tuple[str, str]:
    cout, kh, kw, _ = graph.tensor(node.inputs[1]).shape
    if (kh, kw) == (1, 1) and node.attrs["strides"] == (1, 1) and not any(node.attrs["pads"]):
        return "mcu_pwconv_s8_ref", "reference, pointwise 1x1"
    return "mcu_conv_s8_ref", "reference"


def _check_conv_geometry(node, kernel, stride, pads) -> None:
    kh, kw = kernel
    top, left, bottom, right = pads
    if top >= kh or left >= kw or bottom >= kh or right >= kw:
        raise UnsupportedOp(f"node '{node.name}': padding {list(pads)} is not smaller than the {kh}x{kw} kernel")
    if max(stride) > 32767 or max(kernel) > 32767:
        raise UnsupportedOp(f"node '{node.name}': kernel {list(kernel)} / strides {list(stride)} out of range")


def _layer_arrays(prefix: str, node, graph) -> tuple[list[CArray], dict]:
    w = graph.tensor(node.inputs[1])
    arrays = [CArray(f"{prefix}_weights", "int8_t", w.data)]
    refs = {"weights": f"{prefix}_weights", "bias": "NULL"}
    if len(node.inputs) > 2:
        arrays.append(CArray(f"{prefix}_bias", "int32_t", graph.tensor(node.inputs[2]).data))
        refs["bias"] = f"{prefix}_bias"
    arrays.append(CArray(f"{prefix}_multiplier", "int32_t", np.asarray(node.attrs["multiplier"], np.int32)))
    arrays.append(CArray(f"{prefix}_shift", "int32_t", np.asarray(node.attrs["shift"], np.int32)))
    refs.update(multiplier=f"{prefix}_multiplier", shift=f"{prefix}_shift")
    return arrays, refs


def lower(graph: Graph, alignment: int = 16, io_in_arena: bool = False, allow_inplace: bool = True) -> Program:
    assert graph.quantized
    layers: list[Layer] = []
    aliases: dict[str, str] = {}  # tensor -> tensor whose bytes it is (reshape)
    prefix_seen: set[str] = set()

    def root(t: str) -> str:
        while t in aliases:
            t = aliases[t]
        return t

    for node in graph.nodes:
        if node.op == "reshape":
            aliases[node.outputs[0]] = node.inputs[0]
            continue
        x, y = graph.tensor(node.inputs[0]), graph.tensor(node.outputs[0])
        index = len(layers)
        prefix = f"{c_ident(graph.name)}_l{index}"
        base = dict(index=index, name=node.name, op=node.op, input=node.inputs[0], output=node.outputs[0],
                    in_shape=x.shape, out_shape=y.shape, macs=OPS[node.op].macs(node, graph))
        in_q, out_q = x.qparams, y.qparams
        io = dict(input_offset=-in_q.scalar_zero_point, output_offset=out_q.scalar_zero_point,
                  act_min=node.attrs.get("act_min", -128), act_max=node.attrs.get("act_max", 127))
        if node.op in ("conv2d", "depthwise_conv2d"):
            if node.op == "conv2d":
                cout, kh, kw, cin = graph.tensor(node.inputs[1]).shape
                kernel, variant = _select_conv(node, graph)
                what = "conv" if kernel == "mcu_conv_s8_ref" else "pointwise conv"
            else:
                kh, kw, cin = graph.tensor(node.inputs[1]).shape
                kernel, variant, what = "mcu_dwconv_s8_ref", "reference", "depthwise conv"
                base["inplace_kernel"] = "mcu_dwconv_s8_inplace_ref"
                base["inplace_scratch"] = inplace_scratch_bytes(
                    x.shape[1:3], y.shape[1:3], cin, kh, node.attrs["strides"][0], node.attrs["pads"][0])
            if kh * kw * cin > MAX_REDUCTION:
                raise ShapeError(f"node '{node.name}': reduction of {kh}x{kw}x{cin} taps overflows the int32 accumulator")
            _check_conv_geometry(node, (kh, kw), node.attrs["strides"], node.attrs["pads"])
            arrays, refs = _layer_arrays(prefix, node, graph)
            sh, sw = node.attrs["strides"]
            geometry = dict(kernel_h=kh, kernel_w=kw, stride_h=sh, stride_w=sw,
                            pad_top=node.attrs["pads"][0], pad_left=node.attrs["pads"][1])
            summary = f"{what} {kh}x{kw} stride {sh}, {_shape_text(x.shape)} -> {_shape_text(y.shape)}"
            layers.append(Layer(**base, kernel=kernel, variant=variant, summary=summary,
                                params=dict(io=io, geometry=geometry, **refs), arrays=arrays))
        elif node.op == "fully_connected":
            cout, cin = graph.tensor(node.inputs[1]).shape
            if cin > MAX_REDUCTION:
                raise ShapeError(f"node '{node.name}': {cin} input features overflow the int32 accumulator")
            arrays, refs = _layer_arrays(prefix, node, graph)
            layers.append(Layer(**base, kernel="mcu_fc_s8_ref", variant="reference",
                                summary=f"fully connected {cin} -> {cout}",
                                params=dict(io=io, in_features=cin, out_features=cout, **refs), arrays=arrays))
        elif node.op == "avg_pool":
            (kh, kw), (sh, sw), pads = node.attrs["kernel"], node.attrs["strides"], node.attrs["pads"]
            _check_conv_geometry(node, (kh, kw), (sh, sw), pads)
            geometry = dict(kernel_h=kh, kernel_w=kw, stride_h=sh, stride_w=sw, pad_top=pads[0], pad_left=pads[1])
            layers.append(Layer(**base, kernel="mcu_avgpool_s8_ref", variant="reference",
                                summary=f"average pool {kh}x{kw} stride {sh}, {_shape_text(x.shape)} -> {_shape_text(y.shape)}",
                                params=dict(geometry=geometry, act_min=io["act_min"], act_max=io["act_max"])))
        elif node.op == "softmax":
            depth = int(x.shape[-1])
            rows = x.size // depth
            a = node.attrs
            layers.append(Layer(**base, kernel="mcu_softmax_s8_ref", variant="reference",
                                summary=f"softmax over {depth}",
                                params=dict(rows=rows, depth=depth, input_multiplier=a["input_multiplier"],
                                            input_left_shift=a["input_left_shift"], diff_min=a["diff_min"])))
        else:
            raise UnsupportedOp(f"node '{node.name}': op {node.op} has no kernel")
    if not layers:
        raise UnsupportedOp("the model computes nothing (no layer between input and output)")
    for layer in layers:
        layer.input, layer.output = root(layer.input), root(layer.output)
    graph_in, graph_out = root(graph.inputs[0]), root(graph.outputs[0])
    if graph_in == graph_out:
        raise UnsupportedOp("the model's output is its input")

    sizes = {t.name: t.nbytes for t in graph.tensors.values() if not t.is_constant}
    memory = assign_memory(layers, graph_in, graph_out, sizes, alignment, io_in_arena=io_in_arena,
                           allow_inplace=allow_inplace)
    for layer in layers:
        if layer.index in memory.inplace:
            layer.kernel, layer.variant = layer.inplace_kernel, "reference, in place: output over input"
        if memory.plan and scratch_name(layer) in memory.plan.offsets:
            layer.scratch_location = f"(arena + {memory.plan.offsets[scratch_name(layer)]})"
    return Program(name=c_ident(graph.name), layers=layers, memory=memory,
                   input_tensor=graph.tensor(graph.inputs[0]), output_tensor=graph.tensor(graph.outputs[0]),
                   graph=graph, graph_input=graph_in, graph_output=graph_out, io_in_arena=io_in_arena)
