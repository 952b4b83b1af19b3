"""ONNX import: the only module that imports onnx.

The ONNX graph is NCHW; the compiler's graph is NHWC. Every activation that ONNX holds as
[N, C, H, W] is held here as [1, H, W, C] and filters are transposed to the order the kernels
read. One path for every model: load and check the file, normalize it (frontend/normalize.py:
Q/DQ nodes become facts, exporter dialects become the plain form), check its interface, import
each node with its importer in IMPORTERS (anything else is refused by name), and for a QDQ model
put its parameters on the result (frontend/qdq.py).
"""
from __future__ import annotations

import inspect
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError, ShapeError, UnsupportedOp
from ..ir import Graph, Node, Tensor
from ..ops import OPS
from . import qdq
from .limits import MAX_ACTIVATION_ELEMENTS, MAX_CONSTANT_MAGNITUDE
from .normalize import normalize
from .padding import spatial_pads


@dataclass
class _Value:
    """What an ONNX value name stands for during import."""

    const: np.ndarray | None = None  # a constant (initializer or Constant node)
    tensor: str | None = None  # an activation in the IR graph
    # For a flattened activation: the NCHW (C, H, W) it came from, so that a following Gemm
    # can reorder its weight columns to the NHWC order the bytes are really in.
    flat_from_chw: tuple[int, int, int] | None = None


@dataclass
class _Importer:
    graph: Graph
    quantized: set[str] = field(default_factory=set)  # ONNX constants that hold a QDQ model's integers
    quantized_model: bool = False  # a QDQ model: its ops take the parameters the model states
    values: dict[str, _Value] = field(default_factory=dict)
    # IR constant -> (the ONNX value it was made from, the axis of that value that became the layer's
    # output channel, or None): how qdq.attach finds a layer's quantization parameters.
    sources: dict[str, tuple[str, int | None]] = field(default_factory=dict)

    # -- helpers the op importers use ---------------------------------------------------
    def const(self, onnx_node, index: int, what: str) -> np.ndarray:
        name = onnx_node.input[index] if index < len(onnx_node.input) else ""
        value = self.values.get(name)
        if value is None or value.const is None:
            raise UnsupportedOp(
                f"node '{onnx_node.name}' ({onnx_node.op_type}): {what} (input {index} '{name}') "
                "must be a constant initializer"
            )
        return value.const

    def optional_const(self, onnx_node, index: int, what: str) -> np.ndarray | None:
        if index >= len(onnx_node.input) or onnx_node.input[index] == "":
            return None
        return self.const(onnx_node, index, what)

    def weights(self, onnx_node, index: int, what: str) -> np.ndarray:
        """A layer's weights or bias: float32, or a QDQ model's integers with their own dtype (never
        through float, so an int32 bias stays exact)."""
        data = self.const(onnx_node, index, what)
        if np.issubdtype(data.dtype, np.floating):
            return data.astype(np.float32)
        if onnx_node.input[index] not in self.quantized:
            raise UnsupportedOp(f"node '{onnx_node.name}' ({onnx_node.op_type}): {what} '{onnx_node.input[index]}' "
                                f"is {data.dtype} without a DequantizeLinear")
        return data

    def optional_weights(self, onnx_node, index: int, what: str) -> np.ndarray | None:
        if index >= len(onnx_node.input) or onnx_node.input[index] == "":
            return None
        return self.weights(onnx_node, index, what)

    def activation(self, onnx_node, index: int = 0) -> Tensor:
        name = onnx_node.input[index] if index < len(onnx_node.input) else ""
        value = self.values.get(name)
        if value is None:
            raise ModelLoadError(f"node '{onnx_node.name}' ({onnx_node.op_type}) reads '{name}', which nothing defines")
        if value.tensor is None:
            raise UnsupportedOp(
                f"node '{onnx_node.name}' ({onnx_node.op_type}) computes on constants only; fold it before export"
            )
        return self.graph.tensor(value.tensor)

    def emit(self, onnx_node, op: str, inputs: list[str], attrs: dict, dtype="float32") -> Tensor:
        """Add an IR node whose single output takes the ONNX output's name."""
        out_name = onnx_node.output[0]
        node = Node(onnx_node.name, op, inputs, [out_name], attrs)
        self.graph.tensors[out_name] = Tensor(out_name, (), dtype)
        self.graph.nodes.append(node)
        out = self.graph.tensors[out_name]
        out.shape = tuple(int(d) for d in OPS[op].output_shape(node, self.graph)) if op in OPS else self.graph.tensor(inputs[0]).shape
        if any(d <= 0 for d in out.shape):
            raise ShapeError(f"node '{onnx_node.name}' ({onnx_node.op_type}) gives an empty output shape {list(out.shape)}")
        if out.size > MAX_ACTIVATION_ELEMENTS:
            raise ShapeError(f"node '{onnx_node.name}' ({onnx_node.op_type}): output of shape {list(out.shape)} has "
                             f"{out.size:,} elements, more than {MAX_ACTIVATION_ELEMENTS:,} (no microcontroller holds it)")
        self.values[out_name] = _Value(tensor=out_name)
        return out

    def add_const(self, name: str, data: np.ndarray, channel_axis: int | None = None) -> str:
        """An IR constant made from ONNX value `name`; channel_axis: which axis of that value is the
        layer's output channel (for weights and biases)."""
        # Constants get a name of their own: one ONNX initializer may feed several nodes that
        # transform it differently (transposed filters, folded biases).
        unique, k = name, 1
        while unique in self.graph.tensors:
            unique, k = f"{name}_{k}", k + 1
        self.graph.tensors[unique] = Tensor(unique, tuple(data.shape), str(data.dtype), data=data)
        self.sources[unique] = (name, channel_axis)
        return unique


def _attrs(onnx_node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in onnx_node.attribute}


def _require_4d(onnx_node, x: Tensor):
    if len(x.shape) != 4:
        raise ShapeError(
            f"node '{onnx_node.name}' ({onnx_node.op_type}) needs a 4-D NCHW input, got '{x.name}' of shape {list(x.shape)}"
        )


# -- op importers ---------------------------------------------------------------------------
# Each importer takes the ONNX node's attributes as keyword arguments whose defaults are the ONNX
# spec's (older opsets' attributes included where exporters still write them); an attribute an
# importer does not name is refused before it is called.

def import_conv(imp: _Importer, n, *, auto_pad="NOTSET", dilations=None, group=1, kernel_shape=None, pads=None,
                strides=None):
    x = imp.activation(n)
    _require_4d(n, x)
    w = imp.weights(n, 1, "the filter")
    b = imp.optional_weights(n, 2, "the bias")
    _, h, wd, cin = x.shape
    if w.ndim != 4:
        raise ShapeError(f"node '{n.name}' (Conv): filter has shape {list(w.shape)}, expected 4-D [Cout, Cin/group, kh, kw]")
    cout, cin_g, kh, kw = w.shape
    if dilations is not None and any(int(d) != 1 for d in dilations):
        raise UnsupportedOp(f"node '{n.name}' (Conv): dilations {list(dilations)} are not supported (only 1)")
    strides = tuple(int(s) for s in (strides if strides is not None else [1, 1]))
    if len(strides) != 2 or min(strides) < 1:
        raise UnsupportedOp(f"node '{n.name}' (Conv): strides {list(strides)} are not 2-D positive strides")
    if kernel_shape is not None and tuple(kernel_shape) != (kh, kw):
        raise ShapeError(f"node '{n.name}' (Conv): kernel_shape {list(kernel_shape)} disagrees with the filter {list(w.shape)}")
    pads = spatial_pads(f"node '{n.name}' (Conv)", (h, wd), (kh, kw), strides, auto_pad, pads)
    if b is not None and b.shape != (cout,):
        raise ShapeError(f"node '{n.name}' (Conv): bias has shape {list(b.shape)}, expected [{cout}]")
    node_attrs = {"strides": strides, "pads": pads}
    group = int(group)
    if group == 1:
        if cin_g != cin:
            raise ShapeError(f"node '{n.name}' (Conv): filter expects {cin_g} input channels, input '{x.name}' has {cin}")
        op, w_ir = "conv2d", w.transpose(0, 2, 3, 1)  # OIHW -> OHWI
    elif group == cin == cout and cin_g == 1:
        op, w_ir = "depthwise_conv2d", w[:, 0].transpose(1, 2, 0)  # [C,1,kh,kw] -> [kh,kw,C]
    else:
        raise UnsupportedOp(
            f"node '{n.name}' (Conv): group={group} with {cin} input and {cout} output channels is not supported "
            "(supported: group 1, or depthwise with group = input channels = output channels)"
        )
    # The output channel is axis 0 of the ONNX filter in both cases.
    inputs = [x.name, imp.add_const(n.input[1], np.ascontiguousarray(w_ir), channel_axis=0)]
    if b is not None:
        inputs.append(imp.add_const(n.input[2], b, channel_axis=0))
    imp.emit(n, op, inputs, node_attrs)


def import_batchnorm(imp: _Importer, n, *, epsilon=1e-5, momentum=0.9, training_mode=0, spatial=1, is_test=None):
    x = imp.activation(n)
    _require_4d(n, x)
    if training_mode:
        raise UnsupportedOp(f"node '{n.name}' (BatchNormalization): training_mode=1 is not supported; export in eval mode")
    if not spatial:
        raise UnsupportedOp(f"node '{n.name}' (BatchNormalization): spatial=0 (per-element statistics) is not supported")
    params = [imp.const(n, i, what).astype(np.float32) for i, what in
              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance"))]
    c = x.shape[3]
    for p in params:
        if p.shape != (c,):
            raise ShapeError(f"node '{n.name}' (BatchNormalization): parameter of shape {list(p.shape)} for {c} channels")
    names = [imp.add_const(n.input[i], p) for i, p in zip(range(1, 5), params)]
    imp.emit(n, "batchnorm", [x.name] + names, {"epsilon": float(epsilon)})


def import_relu(imp: _Importer, n):
    x = imp.activation(n)
    imp.emit(n, "relu", [x.name], {"min": 0.0, "max": float("inf")})


def import_clip(imp: _Importer, n, *, min=None, max=None):  # noqa: A002 (the spec's names; opset < 11)
    x = imp.activation(n)
    lo = imp.optional_const(n, 1, "the lower bound")
    hi = imp.optional_const(n, 2, "the upper bound")
    for bound in (lo, hi):
        if bound is not None and (np.asarray(bound).size != 1 or not np.issubdtype(np.asarray(bound).dtype, np.number)):
            raise UnsupportedOp(f"node '{n.name}' (Clip): bounds must be numeric scalars, got shape {list(np.shape(bound))}")
    lo = float(np.asarray(lo).reshape(-1)[0]) if lo is not None else float(-np.inf if min is None else min)
    hi = float(np.asarray(hi).reshape(-1)[0]) if hi is not None else float(np.inf if max is None else max)
    if np.isnan(lo) or np.isnan(hi) or lo > hi:
        raise UnsupportedOp(f"node '{n.name}' (Clip): bounds [{lo}, {hi}] are not a range")
    imp.emit(n, "clip", [x.name], {"min": lo, "max": hi})


def import_global_average_pool(imp: _Importer, n):
    x = imp.activation(n)
    _require_4d(n, x)
    _, h, w, _ = x.shape
    imp.emit(n, "avg_pool", [x.name], {"kernel": (h, w), "strides": (1, 1), "pads": (0, 0, 0, 0)})


def import_average_pool(imp: _Importer, n, *, auto_pad="NOTSET", ceil_mode=0, count_include_pad=0, dilations=None,
                        kernel_shape=None, pads=None, strides=None):
    x = imp.activation(n)
    _require_4d(n, x)
    if kernel_shape is None:
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): kernel_shape is required")
    kernel = tuple(int(k) for k in kernel_shape)
    strides = tuple(int(s) for s in (strides if strides is not None else [1] * len(kernel)))
    if len(kernel) != 2 or len(strides) != 2 or min(strides) < 1 or min(kernel) < 1:
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): kernel_shape {list(kernel)} / strides {list(strides)} "
                            "are not 2-D")
    if dilations is not None and any(int(d) != 1 for d in dilations):
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): dilations {list(dilations)} are not supported (only 1)")
    if ceil_mode:
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): ceil_mode=1 is not supported")
    pads = spatial_pads(f"node '{n.name}' (AveragePool)", x.shape[1:3], kernel, strides, auto_pad, pads)
    if count_include_pad and any(pads):
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): count_include_pad=1 with padding is not supported")
    imp.emit(n, "avg_pool", [x.name], {"kernel": kernel, "strides": strides, "pads": pads})


def import_flatten(imp: _Importer, n, *, axis=1):
    x = imp.activation(n)
    if int(axis) != 1:
        raise UnsupportedOp(f"node '{n.name}' (Flatten): axis={axis} is not supported (only 1)")
    _flatten(imp, n, x)


def import_reshape(imp: _Importer, n, *, allowzero=0):
    x = imp.activation(n)
    target = [int(d) for d in np.asarray(imp.const(n, 1, "the target shape")).reshape(-1)]
    if allowzero and 0 in target:
        raise UnsupportedOp(f"node '{n.name}' (Reshape): allowzero=1 with a 0 in the target shape {target} "
                            "(an empty tensor) is not supported")
    if len(target) == 4:
        _reshape_4d(imp, n, x, target)
        return
    if len(target) != 2 or target[0] not in (1, -1, 0):
        raise UnsupportedOp(f"node '{n.name}' (Reshape): target shape {target} is not supported "
                            "(supported: [1, -1] flatten, or a 4-D shape that moves no bytes)")
    _flatten(imp, n, x)


def _reshape_4d(imp: _Importer, n, x: Tensor, target: list[int]):
    """A 4-D Reshape is supported when NHWC bytes stay put: the same shape, or [1, K] <-> [1, K, 1, 1]."""
    if len(x.shape) == 4:
        _, h, w, c = x.shape
        current = [1, c, h, w]
    else:
        current = [1, x.shape[1], 1, 1]
    size = int(np.prod(current))
    resolved = [current[i] if d == 0 and i < 4 else d for i, d in enumerate(target)]
    if resolved.count(-1) == 1:
        known = int(np.prod([d for d in resolved if d != -1]))
        resolved[resolved.index(-1)] = size // known if known > 0 and size % known == 0 else -1
    if resolved == current and len(x.shape) == 4:
        imp.values[n.output[0]] = imp.values[n.input[0]]
        return
    if resolved == current or (resolved[0] == 1 and resolved[2:] == [1, 1] and resolved[1] == size
                               and current[2:] == [1, 1]):
        imp.emit(n, "reshape", [x.name], {"shape": (1, 1, 1, size)})
        return
    raise UnsupportedOp(f"node '{n.name}' (Reshape): reshaping {current} (NCHW) to {target} is not supported "
                        "(supported: [1, -1] flatten, the same shape, or [1, K] <-> [1, K, 1, 1])")


def _axes(imp: _Importer, n, axes, rank: int) -> list[int] | None:
    """Axes from the attribute (older opsets) or input 1 (newer), made non-negative; None if absent."""
    if axes is None and len(n.input) > 1 and n.input[1]:
        axes = np.asarray(imp.const(n, 1, "the axes")).reshape(-1).tolist()
    if axes is None:
        return None
    out = sorted(int(a) + rank if int(a) < 0 else int(a) for a in axes)
    if any(a < 0 or a >= rank for a in out):
        raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): axes {list(axes)} out of range for rank {rank}")
    return out


def import_squeeze(imp: _Importer, n, *, axes=None):
    x = imp.activation(n)
    if len(x.shape) == 2:
        axes = _axes(imp, n, axes, 2)
        if axes not in (None, []):
            raise UnsupportedOp(f"node '{n.name}' (Squeeze): squeezing axes {axes} of a [1, K] tensor is not supported")
        imp.values[n.output[0]] = imp.values[n.input[0]]
        return
    _require_4d(n, x)
    _, h, w, c = x.shape
    axes = _axes(imp, n, axes, 4)
    if (h, w) != (1, 1) or axes not in (None, [2, 3]) or (axes is None and c == 1):
        raise UnsupportedOp(f"node '{n.name}' (Squeeze): only squeezing [1, C, 1, 1] to [1, C] (axes [2, 3]) is "
                            f"supported, not axes {axes} of {[1, c, h, w]}")
    _flatten(imp, n, x)


def import_reduce_mean(imp: _Importer, n, *, axes=None, keepdims=1, noop_with_empty_axes=0):
    """A mean over H and W: in a float model a global average pool (then a flatten when keepdims=0);
    in a QDQ model, whose output states its own scale, TFLite's MEAN (ops/mean.py), which requantizes."""
    x = imp.activation(n)
    _require_4d(n, x)
    axes = _axes(imp, n, axes, 4)
    if axes != [2, 3]:
        raise UnsupportedOp(f"node '{n.name}' (ReduceMean): axes {axes} are not supported (only [2, 3], H and W)")
    _, h, w, c = x.shape
    if imp.quantized_model:
        out = imp.emit(n, "mean", [x.name], {"keep_dims": bool(keepdims)})
        if not keepdims:
            imp.values[out.name].flat_from_chw = (c, 1, 1)
        return
    pool_attrs = {"kernel": (h, w), "strides": (1, 1), "pads": (0, 0, 0, 0)}
    if keepdims:
        imp.emit(n, "avg_pool", [x.name], pool_attrs)
        return
    # Two IR nodes from one ONNX node: the pooled [1, 1, 1, C] tensor gets a name of its own.
    pooled, k = f"{n.output[0]}.pooled", 1
    while pooled in imp.graph.tensors or pooled in imp.values:
        pooled, k = f"{n.output[0]}.pooled_{k}", k + 1
    imp.graph.tensors[pooled] = Tensor(pooled, (1, 1, 1, c))
    imp.graph.nodes.append(Node(n.name, "avg_pool", [x.name], [pooled], pool_attrs))
    out = n.output[0]
    imp.graph.tensors[out] = Tensor(out, (1, c))
    imp.graph.nodes.append(Node(f"{n.name}.flatten", "reshape", [pooled], [out], {"shape": (1, c)}))
    imp.values[out] = _Value(tensor=out, flat_from_chw=(c, 1, 1))


def import_refused(reason: str):
    """Ops that the normalizer folds where it can (Pad, Mul, Add, Transpose); what is left is refused."""

    def refuse(imp: _Importer, n, **attributes):
        raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): {reason}")

    return refuse


def _flatten(imp: _Importer, n, x: Tensor):
    if len(x.shape) == 2:
        imp.values[n.output[0]] = imp.values[n.input[0]]
        return
    _require_4d(n, x)
    _, h, w, c = x.shape
    out = imp.emit(n, "reshape", [x.name], {"shape": (1, h * w * c)})
    imp.values[out.name].flat_from_chw = (c, h, w)


def _flat_input(imp: _Importer, n) -> tuple[Tensor, tuple | None]:
    x = imp.activation(n)
    if len(x.shape) != 2 or x.shape[0] != 1:
        raise ShapeError(f"node '{n.name}' ({n.op_type}) needs a [1, features] input, got '{x.name}' of shape {list(x.shape)}")
    return x, imp.values[n.input[0]].flat_from_chw


def _nhwc_columns(w: np.ndarray, chw) -> np.ndarray:
    """Reorder [Cout, C*H*W] weight columns (ONNX's NCHW flatten) to the NHWC order of our bytes."""
    if chw is None or chw[1] * chw[2] == 1:
        return w
    c, h, wd = chw
    return w.reshape(-1, c, h, wd).transpose(0, 2, 3, 1).reshape(w.shape[0], -1)


def import_gemm(imp: _Importer, n, *, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=None):  # noqa: N803
    x, chw = _flat_input(imp, n)
    w = imp.weights(n, 1, "the weight matrix")
    c = imp.optional_weights(n, 2, "the bias")
    if transA:
        raise UnsupportedOp(f"node '{n.name}' (Gemm): transA=1 is not supported")
    if w.ndim != 2:
        raise ShapeError(f"node '{n.name}' (Gemm): weight of shape {list(w.shape)} is not a matrix")
    channel_axis = 0 if transB else 1  # of the ONNX matrix B: the output features
    w = w if transB else w.T  # -> [Cout, Cin]
    if float(alpha) != 1.0:
        if not np.issubdtype(w.dtype, np.floating):
            raise UnsupportedOp(f"node '{n.name}' (Gemm): alpha={alpha} on quantized weights is not supported")
        w = w * np.float32(alpha)
    if w.shape[1] != x.shape[1]:
        raise ShapeError(f"node '{n.name}' (Gemm): weight has {w.shape[1]} inputs, '{x.name}' has {x.shape[1]} features")
    inputs = [x.name, imp.add_const(n.input[1], np.ascontiguousarray(_nhwc_columns(w, chw)), channel_axis=channel_axis)]
    if c is not None:
        if c.size not in (1, w.shape[0]) or c.ndim > 2 or (c.ndim == 2 and c.shape[0] != 1):
            raise ShapeError(f"node '{n.name}' (Gemm): bias of shape {list(c.shape)} does not broadcast to [1, {w.shape[0]}]")
        if float(beta) != 1.0:
            if not np.issubdtype(c.dtype, np.floating):
                raise UnsupportedOp(f"node '{n.name}' (Gemm): beta={beta} on a quantized bias is not supported")
            c = c * np.float32(beta)
        bias = np.broadcast_to(c.reshape(-1), (w.shape[0],))
        inputs.append(imp.add_const(n.input[2], np.ascontiguousarray(bias), channel_axis=c.ndim - 1 if c.size > 1 else None))
    imp.emit(n, "fully_connected", inputs, {})


def import_matmul(imp: _Importer, n):
    x, chw = _flat_input(imp, n)
    b = imp.weights(n, 1, "the weight matrix")
    if b.ndim != 2 or b.shape[0] != x.shape[1]:
        raise ShapeError(f"node '{n.name}' (MatMul): weight of shape {list(b.shape)} does not take {x.shape[1]} features")
    w = np.ascontiguousarray(_nhwc_columns(b.T, chw))
    imp.emit(n, "fully_connected", [x.name, imp.add_const(n.input[1], w, channel_axis=1)], {})


def import_softmax(imp: _Importer, n, *, axis=-1):
    x = imp.activation(n)
    if len(x.shape) != 2 or int(axis) not in (-1, 1):
        raise UnsupportedOp(f"node '{n.name}' (Softmax): only a softmax over the features of a [1, K] tensor is supported")
    imp.emit(n, "softmax", [x.name], {"beta": 1.0})


def import_alias(imp: _Importer, n, *, ratio=None, seed=None, is_test=None):
    """Identity and inference-time Dropout pass their input through."""
    imp.values[n.output[0]] = imp.values[n.input[0]]
    if len(n.output) > 1 and n.output[1]:
        raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): its mask output is not supported")


def import_constant(imp: _Importer, n, *, value=None, value_float=None, value_floats=None, value_int=None,
                    value_ints=None, value_string=None, value_strings=None, sparse_value=None):
    import onnx

    if value is not None:
        imp.values[n.output[0]] = _Value(const=onnx.numpy_helper.to_array(value))
        return
    for number in (value_float, value_floats, value_int, value_ints):
        if number is not None:
            imp.values[n.output[0]] = _Value(const=np.array(number))
            return
    raise UnsupportedOp(f"node '{n.name}' (Constant): only tensor and numeric values are supported")


IMPORTERS = {
    "Conv": import_conv,
    "BatchNormalization": import_batchnorm,
    "Relu": import_relu,
    "Clip": import_clip,
    "GlobalAveragePool": import_global_average_pool,
    "AveragePool": import_average_pool,
    "Flatten": import_flatten,
    "Reshape": import_reshape,
    "Gemm": import_gemm,
    "MatMul": import_matmul,
    "Softmax": import_softmax,
    "Identity": import_alias,
    "Dropout": import_alias,
    "Constant": import_constant,
    "Squeeze": import_squeeze,
    "ReduceMean": import_reduce_mean,
    "Pad": import_refused("only a zero, constant-mode Pad of H and W directly before a Conv is supported"),
    "Transpose": import_refused("only a Transpose [0, 3, 1, 2] right after an NHWC graph input is supported"),
    "Mul": import_refused("only a Mul by per-channel or scalar constants right after a Conv is supported "
                          "(it is folded into the Conv)"),
    "Add": import_refused("only an Add of per-channel or scalar constants right after a Conv, or of a bias "
                          "after a MatMul, is supported; an Add of two activations (a residual connection) is not"),
}


# -- loading ---------------------------------------------------------------------------------

def load_model(path: str | os.PathLike):
    """Read and check an ONNX file; every failure becomes a ModelLoadError naming the file."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"{path}: no such file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf raises several unrelated types for bad bytes
        raise ModelLoadError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {_first_line(exc)})") from None
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise ModelLoadError(f"{path}: not an ONNX model (no graph nodes)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        raise ModelLoadError(f"{path}: invalid ONNX model: {_first_line(exc)}") from None
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    except Exception as exc:
        raise ShapeError(f"{path}: ONNX shape inference failed: {_first_line(exc)}") from None
    return model


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


def _input_shape(value_info) -> tuple[list, list]:
    dims = value_info.type.tensor_type.shape.dim
    return [d.dim_value if d.HasField("dim_value") else None for d in dims], [d.dim_param for d in dims]


# The model's interface types: what its input takes and its output gives.
_INTERFACE_DTYPES = {1: "float32", 3: "int8", 2: "uint8"}  # TensorProto FLOAT, INT8, UINT8


def _interface_dtype(value_info, what: str) -> str:
    import onnx

    elem = value_info.type.tensor_type.elem_type
    dtype = _INTERFACE_DTYPES.get(elem)
    if dtype is None:
        raise UnsupportedOp(f"{what} '{value_info.name}': element type {onnx.TensorProto.DataType.Name(elem)} is not "
                            "supported (float32, or int8/uint8 in a QDQ model)")
    return dtype


def _check_ops(g) -> None:
    supported = sorted(set(IMPORTERS) | set(qdq.QDQ_OPS))
    for i, n in enumerate(g.node):
        if not n.name:
            n.name = f"{n.op_type}_{i}"
        if (n.op_type not in IMPORTERS and n.op_type not in qdq.QDQ_OPS) or n.domain not in ("", "ai.onnx"):
            domain = f" (domain {n.domain})" if n.domain not in ("", "ai.onnx") else ""
            raise UnsupportedOp(f"node '{n.name}': op {n.op_type}{domain} is not supported; supported ops: "
                                f"{', '.join(supported)}")


def _import_node(imp: _Importer, n) -> None:
    importer = IMPORTERS[n.op_type]
    attrs = _attrs(n)
    known = inspect.signature(importer).parameters
    if not any(p.kind == p.VAR_KEYWORD for p in known.values()):
        unknown = sorted(set(attrs) - set(known))
        if unknown:
            raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): attribute {unknown[0]} is not supported")
    importer(imp, n, **attrs)


def import_onnx(path: str | os.PathLike, log=None) -> Graph:
    """ONNX file -> Graph in NHWC: float, or for a QDQ model carrying the model's own parameters."""
    model = load_model(path)
    g = model.graph
    _check_ops(g)
    initializers = {t.name for t in g.initializer}
    graph_inputs = [i for i in g.input if i.name not in initializers]
    if len(graph_inputs) != 1:
        raise UnsupportedOp(
            f"{path}: the model has {len(graph_inputs)} inputs ({', '.join(i.name for i in graph_inputs)}); exactly one is supported"
        )
    if len(g.output) != 1:
        raise UnsupportedOp(f"{path}: the model has {len(g.output)} outputs; exactly one is supported")
    inp = graph_inputs[0]
    input_dtype, output_dtype = _interface_dtype(inp, "input"), _interface_dtype(g.output[0], "output")
    output_name = g.output[0].name
    # Q/DQ nodes and exporter dialects (NHWC inputs, Pad, split BatchNorm, MatMul + Add) become facts
    # and the plain form.
    normalized = normalize(model, inp.name)
    facts = normalized.qdq
    if not facts.quantized and (input_dtype, output_dtype) != ("float32", "float32"):
        raise UnsupportedOp(f"{path}: {input_dtype} input and {output_dtype} output without QuantizeLinear/"
                            "DequantizeLinear nodes; integer interfaces belong to QDQ models")
    dims, params = _input_shape(inp)
    if len(dims) != 4:
        raise ShapeError(f"input '{inp.name}': shape {dims} is not a 4-D image tensor")
    if any(d is None or d <= 0 for d in dims[1:]):
        shown = [d if d else (p or "?") for d, p in zip(dims, params)]
        raise ShapeError(f"input '{inp.name}': dynamic shape {shown}; channels, height and width must be fixed")
    if dims[0] not in (None, 1) and dims[0] > 0:
        raise ShapeError(f"input '{inp.name}': batch {dims[0]} is not supported (batch 1)")
    if dims[0] is None and log:
        log(f"input '{inp.name}': symbolic batch dimension '{params[0]}' compiled as 1")
    _, c, h, w = dims  # NCHW now: the normalizer declared an NHWC input so and dropped its Transpose
    if c * h * w > MAX_ACTIVATION_ELEMENTS:
        raise ShapeError(f"input '{inp.name}': shape {dims} has {c * h * w:,} elements, more than "
                         f"{MAX_ACTIVATION_ELEMENTS:,} (no microcontroller holds it)")
    layout = normalized.input_layout
    graph = Graph(tensors={}, nodes=[], inputs=[inp.name], outputs=[], name="model")
    graph.tensors[inp.name] = Tensor(inp.name, (1, h, w, c))
    graph.meta = {"input_layout": layout, "input_shape": [1, c, h, w] if layout == "NCHW" else [1, h, w, c],
                  "source_name": Path(path).name, "input_dtype": input_dtype, "output_dtype": output_dtype,
                  "output_name": output_name}
    imp = _Importer(graph, quantized=set(facts.constants), quantized_model=facts.quantized)
    imp.values[inp.name] = _Value(tensor=inp.name)
    for t in g.initializer:
        imp.values[t.name] = _Value(const=_initializer_array(t))
    for n in g.node:
        _import_node(imp, n)

    out_value = imp.values.get(g.output[0].name)
    if out_value is None or out_value.tensor is None:
        raise UnsupportedOp(f"output '{output_name}' is not computed from the input")
    graph.outputs = [out_value.tensor]
    _check_against_onnx_shapes(graph, model)
    if facts.quantized:  # a pre-quantized model: its own parameters, nothing to calibrate
        def tensor_of(value: str) -> str | None:
            found = imp.values.get(normalized.resolve(value))
            return found.tensor if found is not None else None

        qdq.attach(graph, facts, tensor_of, imp.sources.__getitem__)
        graph.meta.update(qdq=True, uint8=facts.uint8)
    graph.remove_unused_tensors()
    out = graph.tensor(graph.outputs[0])
    graph.meta["output_layout"] = "NCHW" if len(out.shape) == 4 else "flat"
    return graph




def _initializer_array(t) -> np.ndarray:
    import onnx

    try:
        data = onnx.numpy_helper.to_array(t)
    except Exception as exc:
        raise ModelLoadError(f"initializer '{t.name}': cannot be read ({type(exc).__name__}: {_first_line(exc)})") from None
    if np.issubdtype(data.dtype, np.floating) and data.size:
        if not np.all(np.isfinite(data)):
            raise ModelLoadError(f"initializer '{t.name}': holds NaN or infinite values")
        if float(np.max(np.abs(data))) > MAX_CONSTANT_MAGNITUDE:
            raise ModelLoadError(f"initializer '{t.name}': values up to {float(np.max(np.abs(data))):.3g} exceed "
                                 f"{MAX_CONSTANT_MAGNITUDE:g}, more than int8 quantization can represent")
    return data


def _check_against_onnx_shapes(graph: Graph, model) -> None:
    """Our NHWC shapes must agree with ONNX's own inference (catches models that lie about shapes)."""
    declared = {}
    for vi in list(model.graph.value_info) + list(model.graph.output):
        dims, _ = _input_shape(vi)
        if dims and all(d for d in dims):
            declared[vi.name] = dims
    for t in graph.tensors.values():
        if t.is_constant or t.name not in declared:
            continue
        onnx_dims = declared[t.name]
        ours = [t.shape[0], t.shape[3], t.shape[1], t.shape[2]] if len(t.shape) == 4 else list(t.shape)
        if onnx_dims != ours:
            raise ShapeError(f"tensor '{t.name}': ONNX declares shape {onnx_dims}, the graph computes {ours}")
