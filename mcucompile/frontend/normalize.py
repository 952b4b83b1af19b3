"""ONNX-level rewrites that bring exporter dialects to the one shape the importer reads.

tf2onnx and PyTorch write the same network in different ways. Before any node is imported,
`normalize(model)` rewrites the (shape-inferred) ModelProto in place, stage by stage (STAGES):

* QDQ: QuantizeLinear / DequantizeLinear nodes become facts about the values they touch (qdq.strip).
* NHWC interface: a graph input [N, H, W, C] whose only reader is a Transpose with perm
  [0, 3, 1, 2] (or, with one channel, a Reshape [N, H, W, 1] -> [N, 1, H, W]) is declared NCHW
  and the Transpose/Reshape removed. The bytes of an NHWC input are exactly the compiler's own
  NHWC layout, so nothing moves; the model's interface stays NHWC (returned as the layout).
* Pad (constant mode, value 0, spatial pads only) before a Conv becomes part of the Conv's pads.
  Before an AveragePool it is refused: the padded zeros count in that average, our pooling
  excludes padding.
* A Conv followed by Mul and/or Add with per-channel (or scalar) constants -- a BatchNorm that
  an exporter split in two -- is folded into the Conv's filter and bias.
* MatMul followed by Add with a constant bias (float, or the int32 of a QDQ model) becomes one Gemm.
* Branches are refused: every activation must have exactly one reader (or be the graph output),
  which is what a chain of single-input layers is. Residual Adds, Concats and second inputs
  therefore never reach code generation.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import UnsupportedOp
from . import qdq
from .limits import UINT8_SHIFT
from .padding import add_pads, spatial_pads


def _attr(node, name, default=None):
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _set_attr(node, name, value) -> None:
    import onnx

    for i, a in enumerate(node.attribute):
        if a.name == name:
            del node.attribute[i]
            break
    node.attribute.append(onnx.helper.make_attribute(name, value))


def _label(node) -> str:
    return f"node '{node.name}' ({node.op_type})"


@dataclass
class Normalized:
    """What normalization found out, for the importer."""

    input_layout: str = "NCHW"  # the model's own input layout ("NHWC": the input Transpose was dropped)
    qdq: qdq.QdqFacts = field(default_factory=qdq.QdqFacts)
    aliases: dict[str, str] = field(default_factory=dict)  # removed value -> the value that replaced it

    def resolve(self, name: str) -> str:
        while name in self.aliases:
            name = self.aliases[name]
        return name


class ModelIndex:
    """Index of a GraphProto: constants, producers and readers by value name, and the rewrites made."""

    def __init__(self, model, result: Normalized):
        import onnx

        self.model = model
        self.g = model.graph
        self.result = result
        self.inits = {t.name: t for t in self.g.initializer}
        self.consts: dict[str, np.ndarray] = {}
        for n in self.g.node:
            if n.op_type == "Constant" and len(n.output) == 1:
                value = _attr(n, "value")
                if isinstance(value, onnx.TensorProto):
                    self.consts[n.output[0]] = onnx.numpy_helper.to_array(value)

    def const(self, name: str) -> np.ndarray | None:
        import onnx

        if name in self.consts:
            return self.consts[name]
        if name in self.inits:
            return onnx.numpy_helper.to_array(self.inits[name])
        return None

    def resolve(self, name: str) -> str:
        return self.result.resolve(name)

    def readers(self, name: str) -> list:
        return [n for n in self.g.node if name in n.input]

    def shape(self, name: str) -> list | None:
        for vi in list(self.g.value_info) + list(self.g.input) + list(self.g.output):
            if vi.name == name and vi.type.HasField("tensor_type") and vi.type.tensor_type.HasField("shape"):
                dims = vi.type.tensor_type.shape.dim
                return [d.dim_value if d.HasField("dim_value") else None for d in dims]
        return None

    def add_named_init(self, name: str, data: np.ndarray) -> str:
        """A new initializer under `name` (a value the node that produced it no longer produces)."""
        import onnx

        t = onnx.numpy_helper.from_array(np.ascontiguousarray(data), name)
        self.g.initializer.append(t)
        self.inits[name] = t
        self.consts.pop(name, None)
        return name

    def add_init(self, base: str, data: np.ndarray) -> str:
        name, k = f"{base}.normalized", 1
        while name in self.inits or name in self.consts:
            name, k = f"{base}.normalized_{k}", k + 1
        return self.add_named_init(name, data)

    def bypass(self, node, src: str | None = None) -> None:
        """Remove a pass-through node: its readers (and the graph output) read `src` (its input) instead."""
        src, dst = src or node.input[0], node.output[0]
        for n in self.g.node:
            for i, name in enumerate(n.input):
                if name == dst:
                    n.input[i] = src
        for o in self.g.output:
            if o.name == dst:
                o.name = src
        self.g.node.remove(node)
        self.result.aliases[dst] = src


# -- input layout -----------------------------------------------------------------------------

def _nhwc_input(m: ModelIndex, input_name: str) -> None:
    """Declare an NHWC input NCHW and drop its layout change; the model's own layout goes in the result."""
    m.result.input_layout = _input_layout(m, input_name)


def _input_layout(m: ModelIndex, input_name: str) -> str:
    vi = next(i for i in m.g.input if i.name == input_name)
    dims = vi.type.tensor_type.shape.dim
    if len(dims) != 4:
        return "NCHW"
    readers = m.readers(input_name)
    if len(readers) != 1:
        return "NCHW"
    node = readers[0]
    if node.op_type == "Transpose":
        if list(_attr(node, "perm", [])) != [0, 3, 1, 2]:
            return "NCHW"
    elif node.op_type == "Reshape":
        target = m.const(node.input[1]) if len(node.input) > 1 else None
        c = dims[3].dim_value if dims[3].HasField("dim_value") else None
        h = dims[1].dim_value if dims[1].HasField("dim_value") else None
        w = dims[2].dim_value if dims[2].HasField("dim_value") else None
        if target is None or c != 1 or target.ndim != 1 or len(target) != 4:
            return "NCHW"
        if [int(v) for v in target[1:]] != [1, h, w] or int(target[0]) not in (1, -1, 0):
            return "NCHW"
    else:
        return "NCHW"
    # [N, H, W, C] -> [N, C, H, W], keeping symbolic dims as they are.
    order = [dims[0], dims[3], dims[1], dims[2]]
    copies = []
    for d in order:
        copy = type(d)()
        copy.CopyFrom(d)
        copies.append(copy)
    del dims[:]
    for copy in copies:
        dims.add().CopyFrom(copy)
    m.bypass(node)
    return "NHWC"


# -- Pad ----------------------------------------------------------------------------------------

def _pad_amounts(m: ModelIndex, node) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of a zero, constant-mode Pad on H and W only; refuse otherwise."""
    mode = _attr(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode != "constant":
        raise UnsupportedOp(f"{_label(node)}: mode '{mode}' is not supported (only constant zero padding)")
    if len(node.input) > 1 and node.input[1]:
        pads = m.const(node.input[1])
        if pads is None:
            raise UnsupportedOp(f"{_label(node)}: the pads (input 1) must be a constant initializer")
    else:
        pads = _attr(node, "pads")
        if pads is None:
            raise UnsupportedOp(f"{_label(node)}: has no pads")
    pads = np.asarray(pads).reshape(-1)
    if len(node.input) > 2 and node.input[2]:
        v = m.const(node.input[2])
        if v is None or v.size != 1:
            raise UnsupportedOp(f"{_label(node)}: the pad value (input 2) must be a constant scalar")
    else:
        v = np.array(_attr(node, "value", 0.0), np.float32)
    zero = 0.0
    if np.issubdtype(v.dtype, np.integer):
        # A Pad of int8/uint8 data in a QDQ graph: real zero is the data's zero point.
        params = m.result.qdq.activations.get(m.resolve(node.input[0]))
        if params is None:
            raise UnsupportedOp(f"{_label(node)}: pads integer data whose zero point is unknown")
        zero = int(params.zero_point) + (UINT8_SHIFT if v.dtype == np.uint8 else 0)
    value = v.reshape(-1)[0].item()
    if value != zero:
        raise UnsupportedOp(f"{_label(node)}: pad value {value} is not supported (only zero padding)")
    if len(node.input) > 3 and node.input[3]:
        raise UnsupportedOp(f"{_label(node)}: explicit axes are not supported (pads on all four NCHW axes)")
    if pads.size != 8:
        raise UnsupportedOp(f"{_label(node)}: pads {pads.tolist()} are not 4-D NCHW pads")
    p = [int(v) for v in pads]
    if p[0] or p[1] or p[4] or p[5]:
        raise UnsupportedOp(f"{_label(node)}: pads {p} pad the batch or channel axis (only H and W)")
    if min(p) < 0:
        raise UnsupportedOp(f"{_label(node)}: negative pads {p} (cropping) are not supported")
    return p[2], p[3], p[6], p[7]


def _conv_pads(m: ModelIndex, conv, in_hw) -> tuple[int, int, int, int]:
    """The Conv's own padding, auto_pad resolved on its (padded) input."""
    w = m.const(conv.input[1])
    kernel = list(_attr(conv, "kernel_shape", w.shape[2:] if w is not None and w.ndim == 4 else []))
    strides = list(_attr(conv, "strides", [1, 1]))
    if len(kernel) != 2 or len(strides) != 2 or min(strides) < 1:
        raise UnsupportedOp(f"{_label(conv)}: kernel {kernel} / strides {strides} are not 2-D")
    return spatial_pads(_label(conv), in_hw, kernel, strides, _attr(conv, "auto_pad", "NOTSET"), _attr(conv, "pads"))


def _fold_pads(m: ModelIndex, input_name: str) -> None:
    for pad in [n for n in m.g.node if n.op_type == "Pad"]:
        top, left, bottom, right = _pad_amounts(m, pad)
        readers = m.readers(pad.output[0])
        if len(readers) != 1 or readers[0].input[0] != pad.output[0]:
            raise UnsupportedOp(f"{_label(pad)}: only a Pad read by exactly one Conv can be compiled "
                                "(it is folded into the Conv's padding)")
        nxt = readers[0]
        if nxt.op_type == "AveragePool":
            if top or left or bottom or right:
                raise UnsupportedOp(
                    f"{_label(pad)}: a Pad before AveragePool '{nxt.name}' counts the padded zeros in the average, "
                    "and the compiled average pool excludes padding; pad inside the pool or remove the Pad")
            m.bypass(pad)
            continue
        if nxt.op_type != "Conv":
            raise UnsupportedOp(f"{_label(pad)}: a Pad before {nxt.op_type} '{nxt.name}' is not supported "
                                "(only before a Conv, whose padding absorbs it)")
        shape = m.shape(pad.output[0])
        in_hw = tuple(shape[2:4]) if shape and len(shape) == 4 else None
        merged = add_pads(_conv_pads(m, nxt, in_hw), (top, left, bottom, right))
        _set_attr(nxt, "auto_pad", "NOTSET")
        _set_attr(nxt, "pads", list(merged))
        m.bypass(pad)


# -- Mul / Add after Conv, MatMul + Add -------------------------------------------------------------

def _channel_vector(m: ModelIndex, channels: int, name: str) -> np.ndarray | None:
    """A float constant that is a scalar or one value per NCHW channel ([C,1,1] or [1,C,1,1]), as [C]."""
    c = m.const(name)
    if c is None or not np.issubdtype(c.dtype, np.floating):
        return None
    if c.size == 1:
        return np.full(channels, float(c.reshape(-1)[0]), np.float64)
    # A [C] or [1, C] vector would broadcast against W (and H), not the channels of NCHW.
    if c.shape in ((channels, 1, 1), (1, channels, 1, 1)):
        return c.reshape(-1).astype(np.float64)
    return None


def _fold_scale_shift(m: ModelIndex, input_name: str) -> None:
    """Conv -> Mul/Add(const) and MatMul -> Add(const): the constant moves into the layer."""
    changed = True
    while changed:
        changed = False
        for node in list(m.g.node):
            if node.op_type not in ("Mul", "Add") or len(node.input) != 2:
                continue
            a, b = node.input
            const_side = 1 if m.const(b) is not None else 0 if m.const(a) is not None else None
            if const_side is None:
                continue  # two activations: refused by the importer with its reason
            act = node.input[1 - const_side]
            prod = next((n for n in m.g.node if act in n.output), None)
            if prod is None or len(m.readers(act)) != 1 or any(o.name == act for o in m.g.output):
                continue
            if act in m.result.qdq.activations:
                continue  # the layer's own output is quantized: the Mul/Add is a layer of its own
            if prod.op_type == "Conv":
                layer = _fold_into_conv(m, prod, node, node.input[const_side])
            elif prod.op_type in ("MatMul", "Gemm") and node.op_type == "Add":
                layer = _fold_bias_into_matmul(m, prod, node.input[const_side])
            else:
                layer = None
            if layer is not None:
                _take_output(m, layer, node)
                changed = True
                break


def _take_output(m: ModelIndex, layer, node) -> None:
    """`layer` now computes what `node` computed: it takes node's output name, and node goes."""
    old = layer.output[0]
    layer.output[0] = node.output[0]
    m.g.node.remove(node)
    for vi in list(m.g.value_info):
        if vi.name == old:
            m.g.value_info.remove(vi)


def _fold_into_conv(m: ModelIndex, conv, node, const_name: str):
    w = m.const(conv.input[1]) if len(conv.input) > 1 else None
    if w is None or w.ndim != 4 or not np.issubdtype(w.dtype, np.floating):
        return None
    cout = w.shape[0]
    v = _channel_vector(m, cout, const_name)
    has_bias = len(conv.input) > 2 and conv.input[2] != ""
    b = m.const(conv.input[2]) if has_bias else np.zeros(cout, np.float32)
    if v is None or b is None or b.shape != (cout,):
        return None
    if node.op_type == "Mul":
        conv.input[1] = m.add_init(conv.input[1], (w.astype(np.float64) * v.reshape(-1, 1, 1, 1)).astype(np.float32))
        b_new = (b.astype(np.float64) * v).astype(np.float32)
    else:
        b_new = (b.astype(np.float64) + v).astype(np.float32)
    name = m.add_init(conv.input[2] if has_bias else f"{conv.name}.bias", b_new)
    if len(conv.input) > 2:
        conv.input[2] = name
    else:
        conv.input.append(name)
    return conv


def _fold_bias_into_matmul(m: ModelIndex, layer, const_name: str):
    """MatMul (or a bias-less Gemm) then Add of a [K] / [1, K] constant -> one Gemm with bias."""
    import onnx

    w = m.const(layer.input[1]) if len(layer.input) > 1 else None
    if w is None or w.ndim != 2:
        return None
    trans_b = layer.op_type == "Gemm" and _attr(layer, "transB", 0)
    k = w.shape[0] if trans_b else w.shape[1]
    bias = m.const(const_name)
    if bias is None or bias.shape not in ((k,), (1, k)):
        return None
    if const_name in m.result.qdq.constants:
        if bias.dtype != np.int32:
            return None
        bias_name = const_name  # a QDQ model's int32 bias, as it is: the importer reads [K] and [1, K]
    elif np.issubdtype(bias.dtype, np.floating):
        bias_name = m.add_init(const_name, bias.reshape(k).astype(np.float32))
    else:
        return None
    if layer.op_type == "MatMul":
        gemm = onnx.helper.make_node("Gemm", [layer.input[0], layer.input[1], bias_name], list(layer.output),
                                     name=layer.name)
        index = list(m.g.node).index(layer)
        m.g.node.remove(layer)
        m.g.node.insert(index, gemm)
        return m.g.node[index]  # the graph holds a copy of what was inserted
    if (len(layer.input) > 2 and layer.input[2]) or float(_attr(layer, "beta", 1.0)) != 1.0:
        return None
    layer.input.append(bias_name)
    return layer


# -- branches ---------------------------------------------------------------------------------

def _check_chain(m: ModelIndex, input_name: str) -> None:
    """Every activation is read once (or is the graph output): the graph is a chain of layers."""
    outputs = {o.name for o in m.g.output}
    for name in [input_name] + [o for n in m.g.node for o in n.output if o]:
        if m.const(name) is not None:
            continue
        readers = [n for n in m.g.node if name in n.input]
        uses = len(readers) + (1 if name in outputs else 0) + sum(list(n.input).count(name) - 1 for n in readers)
        if uses > 1:
            who = ", ".join(f"'{n.name}' ({n.op_type})" for n in readers) + (" and the graph output" if name in outputs else "")
            raise UnsupportedOp(
                f"tensor '{name}' feeds {uses} consumers ({who}); only a chain of layers, each read once, is "
                "supported (no branches, residual connections or concatenations)")


def _strip_qdq(m: ModelIndex, input_name: str) -> None:
    qdq.strip(m, m.result.qdq)


# Each stage is `stage(m, input_name)`. Q/DQ go first, so that the others see the graph a float
# model would have.
STAGES = [_strip_qdq, _nhwc_input, _fold_pads, _fold_scale_shift, _check_chain]


def normalize(model, input_name: str) -> Normalized:
    """Rewrite `model` in place, stage by stage; returns what the importer needs to know."""
    m = ModelIndex(model, Normalized())
    for stage in STAGES:
        stage(m, input_name)
    return m.result
