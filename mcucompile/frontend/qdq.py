"""Import of pre-quantized (QDQ) ONNX models: QuantizeLinear / DequantizeLinear around every float op.

A QDQ model states its own int8 numbers, so nothing is calibrated. The import reads every Q/DQ
pair, records what it says, and drops the Q/DQ nodes:
  * an activation's QParams (per tensor) go on the IR tensor they describe;
  * a DequantizeLinear of a constant (weights, bias) leaves the constant's integer values, which
    the ordinary op importers of onnx.py then lay out (filters transposed to what the kernels read);
    after import each layer's weights are int8 again, with their per-tensor or per-axis QParams, and
    its bias is the model's own int32 (re-read, not round-tripped through float32).
uint8 tensors (legacy TFLite models) become int8 by moving values and zero points by 128:
q8 = q_u8 - 128, zp8 = zp_u8 - 128, same scale; (q - zp) and so every real value is unchanged.
uint8 weights keep a non-zero zero point, which the weight-zero-point kernels (kernels/wzp.py) take.

tf2onnx's graphs start with an NHWC input followed by a Transpose to NCHW (or a Reshape, for one
channel), and reshape the pooled [1, C, 1, 1] map; on our NHWC bytes those are no-ops and become
aliases. passes/adopt_qdq.py then turns the recorded parameters into multipliers and clamps.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import QuantError, ShapeError, UnsupportedOp
from ..ir import Graph, QParams, Tensor

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# Ops whose NCHW -> NHWC meaning is "same bytes" when they sit where tf2onnx puts them.
LAYOUT_OPS = ("Transpose", "Reshape")
# IR weight layout: the axis of the output channel (conv [Cout,kh,kw,Cin], depthwise [kh,kw,C], fc [Cout,Cin]).
WEIGHT_CHANNEL_AXIS = {"conv2d": 0, "depthwise_conv2d": 2, "fully_connected": 0}
UINT8_SHIFT = 128


def is_qdq(model) -> bool:
    """True when the graph holds any QuantizeLinear/DequantizeLinear node."""
    return any(n.op_type in QDQ_OPS for n in model.graph.node)


@dataclass
class _QConst:
    """A constant that a DequantizeLinear turns into real values: its int values and parameters."""

    q: np.ndarray  # int8 (uint8 moved by 128) or int32 (bias)
    qparams: QParams  # axis as in the ONNX tensor
    was_uint8: bool


def _int8_domain(q: np.ndarray, zp: np.ndarray, what: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """(values, zero points) moved from uint8 to int8 where needed; int32 (bias) unchanged."""
    if q.dtype == np.uint8:
        return ((q.astype(np.int16) - UINT8_SHIFT).astype(np.int8),
                zp.astype(np.int32) - UINT8_SHIFT, True)
    if q.dtype in (np.int8, np.int32):
        return q, zp.astype(np.int32), False
    raise UnsupportedOp(f"{what}: quantized type {q.dtype} is not supported (int8, uint8, int32 bias)")


def _qparams(scale: np.ndarray, zp: np.ndarray, axis: int | None) -> QParams:
    scale = np.asarray(scale, dtype=np.float32)
    zp = np.asarray(zp, dtype=np.int32)
    if scale.ndim == 0:
        return QParams(scale, zp.reshape(()), None)
    return QParams(scale, np.broadcast_to(zp, scale.shape).astype(np.int32), axis)


def _same(a: QParams, b: QParams) -> bool:
    return (a.scale.shape == b.scale.shape and np.array_equal(a.scale, b.scale)
            and np.array_equal(a.zero_point, b.zero_point))


def import_qdq_model(model, path: str | os.PathLike, log=None) -> Graph:
    """A loaded, shape-inferred QDQ ModelProto -> Graph with given QParams (not yet quantized)."""
    import onnx
    from onnx import numpy_helper

    from .onnx import IMPORTERS, _attrs, _check_against_onnx_shapes, _Importer, _input_shape, _Value

    g = model.graph
    for i, n in enumerate(g.node):
        if not n.name:
            n.name = f"{n.op_type}_{i}"
        known = n.op_type in IMPORTERS or n.op_type in QDQ_OPS or n.op_type in LAYOUT_OPS
        if not known or n.domain not in ("", "ai.onnx"):
            raise UnsupportedOp(f"node '{n.name}': op {n.op_type} is not supported in a QDQ model; supported ops: "
                                f"{', '.join(sorted(set(IMPORTERS) | set(QDQ_OPS) | {'Transpose'}))}")
    initializers = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    graph_inputs = [i for i in g.input if i.name not in initializers]
    if len(graph_inputs) != 1 or len(g.output) != 1:
        raise UnsupportedOp(f"{path}: exactly one input and one output are supported "
                            f"(the model has {len(graph_inputs)} and {len(g.output)})")
    inp = graph_inputs[0]
    elem = inp.type.tensor_type.elem_type
    input_dtype = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.INT8: "int8",
                   onnx.TensorProto.UINT8: "uint8"}.get(elem)
    if input_dtype is None:
        raise UnsupportedOp(f"input '{inp.name}': element type {onnx.TensorProto.DataType.Name(elem)} is not supported "
                            "(float32, int8 or uint8)")
    dims, params = _input_shape(inp)
    if len(dims) != 4 or any(d is None or d <= 0 for d in dims[1:]):
        raise ShapeError(f"input '{inp.name}': shape {dims} is not a fixed 4-D image tensor")
    if dims[0] not in (None, 1) and dims[0] > 0:
        raise ShapeError(f"input '{inp.name}': batch {dims[0]} is not supported (batch 1)")

    # The input's layout shows in what reads it: a Transpose to NCHW (or a 1-channel Reshape) means NHWC.
    layout = _input_layout(g, inp.name, dims, initializers)
    _, c, h, w = dims if layout == "NCHW" else (dims[0], dims[3], dims[1], dims[2])
    graph = Graph(tensors={}, nodes=[], inputs=[inp.name], outputs=[], name="model")
    graph.tensors[inp.name] = Tensor(inp.name, (1, h, w, c))
    graph.meta = {"input_layout": layout, "input_shape": [1] + [int(d) for d in dims[1:]],
                  "source_name": Path(path).name, "qdq": True, "input_dtype": input_dtype}
    imp = _Importer(graph)
    imp.values[inp.name] = _Value(tensor=inp.name)
    for name, arr in initializers.items():
        imp.values[name] = _Value(const=arr)

    activation_q: dict[str, QParams] = {}  # IR tensor -> its given parameters
    qconsts: dict[str, _QConst] = {}  # ONNX value name (a DequantizeLinear output) -> int constant
    uint8_seen = input_dtype == "uint8"

    def record(tensor: str, q: QParams, node) -> None:
        if tensor in activation_q and not _same(activation_q[tensor], q):
            old = activation_q[tensor]
            raise UnsupportedOp(
                f"node '{node.name}' ({node.op_type}): tensor '{tensor}' is quantized twice, with scale/zero point "
                f"{old.scale}/{old.zero_point} and {q.scale}/{q.zero_point}; a requantize step is not supported")
        activation_q[tensor] = q

    for n in g.node:
        attrs = _attrs(n)
        if n.op_type in QDQ_OPS:
            x = imp.values.get(n.input[0])
            scale = imp.const(n, 1, "the scale")
            zp = imp.optional_const(n, 2, "the zero point")
            if zp is None:
                zp = np.zeros(scale.shape, dtype=np.uint8 if n.op_type == "DequantizeLinear" else np.uint8)
            if x is not None and x.const is not None:
                if n.op_type != "DequantizeLinear":
                    raise UnsupportedOp(f"node '{n.name}' (QuantizeLinear) quantizes a float constant; "
                                        "export the model with quantized initializers")
                q, zp8, was_u8 = _int8_domain(x.const, zp, f"node '{n.name}'")
                uint8_seen |= was_u8
                axis = int(attrs.get("axis", 1)) if np.ndim(scale) == 1 else None
                qconsts[n.output[0]] = _QConst(q, _qparams(scale, zp8, axis), was_u8)
                # The op importers see the int values (exact in float32 for int8) and lay them out.
                imp.values[n.output[0]] = _Value(const=q.astype(np.float64) if q.dtype != np.int32 else q)
                continue
            t = imp.activation(n)
            if np.ndim(scale) != 0:
                raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): per-axis parameters on activation '{t.name}' "
                                    "are not supported (activations are per tensor)")
            zp_dtype = zp.dtype
            if zp_dtype == np.uint8:
                uint8_seen = True
            elif zp_dtype != np.int8:
                raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): activation type {zp_dtype} is not supported")
            zp8 = int(zp) - (UINT8_SHIFT if zp_dtype == np.uint8 else 0)
            record(t.name, QParams.per_tensor(float(scale), zp8), n)
            imp.values[n.output[0]] = imp.values[n.input[0]]
            continue
        if n.op_type in LAYOUT_OPS and _is_layout_noop(imp, n, inp.name, initializers):
            imp.values[n.output[0]] = imp.values[n.input[0]]
            continue
        if n.op_type == "Transpose":
            raise UnsupportedOp(f"node '{n.name}' (Transpose): only the input's NHWC -> NCHW transpose is supported")
        IMPORTERS[n.op_type](imp, n, attrs)

    out_value = imp.values.get(g.output[0].name)
    if out_value is None or out_value.tensor is None:
        raise UnsupportedOp(f"output '{g.output[0].name}' is not computed from the input")
    graph.outputs = [out_value.tensor]
    _check_against_onnx_shapes(graph, model)
    _attach(graph, model, activation_q, qconsts)
    graph.remove_unused_tensors()
    out = graph.tensor(graph.outputs[0])
    graph.meta["output_layout"] = "NCHW" if len(out.shape) == 4 else "flat"
    graph.meta["uint8"] = bool(uint8_seen)
    return graph


def _input_layout(g, input_name: str, dims, initializers) -> str:
    readers = [n for n in g.node if input_name in n.input]
    if len(readers) == 1 and readers[0].op_type == "DequantizeLinear":
        readers = [n for n in g.node if readers[0].output[0] in n.input]
    for n in readers:
        if n.op_type == "Transpose":
            perm = [a.ints for a in n.attribute if a.name == "perm"]
            if perm and list(perm[0]) == [0, 3, 1, 2]:
                return "NHWC"
        if n.op_type == "Reshape" and dims[3] == 1 and n.input[1] in initializers:
            if [int(d) for d in initializers[n.input[1]]] == [1, 1, int(dims[1]), int(dims[2])]:
                return "NHWC"
    return "NCHW"


def _is_layout_noop(imp, n, input_name: str, initializers) -> bool:
    """Transpose/Reshape that leave our NHWC bytes as they are."""
    value = imp.values.get(n.input[0])
    if value is None or value.tensor is None:
        return False
    x = imp.graph.tensor(value.tensor)
    if value.tensor == input_name:
        return True  # the NHWC -> NCHW step _input_layout recognised
    if n.op_type == "Reshape" and len(x.shape) == 4 and x.shape[1:3] == (1, 1) and n.input[1] in initializers:
        # [1, C, 1, 1] <-> [1, 1, 1, C]: a 1x1 map has the same bytes in both layouts.
        target = [int(d) for d in initializers[n.input[1]]]
        return len(target) == 4 and target in ([1, x.shape[3], 1, 1], [1, 1, 1, x.shape[3]])
    return False


def _attach(graph: Graph, model, activation_q: dict[str, QParams], qconsts: dict[str, _QConst]) -> None:
    """Put the recorded parameters on the IR: activations' QParams, layers' int weights and biases."""
    for name, q in activation_q.items():
        if name in graph.tensors:
            graph.tensors[name].qparams = q
    onnx_nodes = {n.name: n for n in model.graph.node}
    for node in graph.nodes:
        axis = WEIGHT_CHANNEL_AXIS.get(node.op)
        if axis is None:
            continue
        src = onnx_nodes[node.name]
        wq = qconsts.get(src.input[1])
        if wq is None:
            raise QuantError(f"node '{node.name}' ({src.op_type}): the weights are float in a QDQ model; "
                             "every weight must come through a DequantizeLinear")
        w = graph.tensor(node.inputs[1])
        values = np.rint(w.data)
        if not np.array_equal(values, w.data):
            raise UnsupportedOp(f"node '{node.name}': the weights are scaled on import (Gemm alpha != 1?)")
        channels = w.shape[axis]
        scale, zp = wq.qparams.scale, wq.qparams.zero_point
        if scale.ndim == 1 and scale.size != channels:
            raise ShapeError(f"node '{node.name}': {scale.size} weight scales for {channels} output channels")
        if scale.ndim == 1 and np.any(zp != 0):
            raise QuantError(f"node '{node.name}': per-channel weights need zero point 0 (got {zp.tolist()[:4]}...)")
        w.data = values.astype(np.int8)
        w.dtype = "int8"
        w.qparams = QParams(scale, zp, axis if scale.ndim == 1 else None)
        if len(node.inputs) > 2:
            bq = qconsts.get(src.input[2])
            if bq is None or bq.q.dtype != np.int32:
                raise QuantError(f"node '{node.name}' ({src.op_type}): the bias must be int32 through a DequantizeLinear")
            b = graph.tensor(node.inputs[2])
            b.data = np.ascontiguousarray(bq.q.reshape(-1)).astype(np.int32)
            b.dtype = "int32"
            b.qparams = bq.qparams
