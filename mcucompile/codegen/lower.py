"""Lower a quantized Graph to a Program: one kernel call per layer, constant arrays, an arena plan.

Kernel variants are chosen here, ahead of time: shapes are static, so each call names exactly the
C function it runs and the generated comment says which variant that is.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ShapeError, UnsupportedOp
from ..ir import Graph
from ..memory import plan_arena
from ..memory.buffers import Buffer
from ..ops import OPS
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


@dataclass
class Program:
    name: str
    layers: list[Layer]
    locations: dict[str, str]  # tensor name -> C expression of its first byte
    arena_bytes: int
    plan: object  # memory.ArenaPlan or None when nothing lives in the arena
    input_tensor: object
    output_tensor: object
    graph: Graph

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


def lower(graph: Graph, alignment: int = 16) -> Program:
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

    # The caller's input and output buffers are used in place; everything else lives in the arena.
    last_use: dict[str, int] = {}
    first_use: dict[str, int] = {}
    for layer in layers:
        first_use.setdefault(layer.output, layer.index)
        last_use[layer.input] = layer.index
    buffers = []
    for name, first in first_use.items():
        if name in (graph_in, graph_out):
            continue
        size = graph.tensor(name).nbytes
        buffers.append(Buffer(name, size, first, max(last_use.get(name, first), first)))
    plan = plan_arena(buffers, alignment=alignment) if buffers else None
    locations = {graph_in: "input", graph_out: "output"}
    if plan is not None:
        for name, offset in plan.offsets.items():
            locations[name] = f"(arena + {offset})"
    return Program(name=c_ident(graph.name), layers=layers, locations=locations,
                   arena_bytes=plan.arena_bytes if plan else 0, plan=plan,
                   input_tensor=graph.tensor(graph.inputs[0]), output_tensor=graph.tensor(graph.outputs[0]),
                   graph=graph)
