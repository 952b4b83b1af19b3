"""ONNX import: the only module that imports onnx.

The ONNX graph is NCHW; the compiler's graph is NHWC. Every activation that ONNX holds as
[N, C, H, W] is held here as [1, H, W, C] and filters are transposed to the order the kernels
read. Each ONNX op has one importer in IMPORTERS; anything else is refused by name.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError, ShapeError, UnsupportedOp
from ..ir import Graph, Node, Tensor
from ..ops import OPS
from .normalize import normalize


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
    values: dict[str, _Value] = field(default_factory=dict)

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

    def add_const(self, name: str, data: np.ndarray) -> str:
        # Constants get a name of their own: one ONNX initializer may feed several nodes that
        # transform it differently (transposed filters, folded biases).
        unique, k = name, 1
        while unique in self.graph.tensors:
            unique, k = f"{name}_{k}", k + 1
        self.graph.tensors[unique] = Tensor(unique, tuple(data.shape), str(data.dtype), data=data)
        return unique


def _attrs(onnx_node) -> dict:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in onnx_node.attribute}


def _spatial_pads(onnx_node, attrs, in_hw, kernel, strides) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) from `pads` or `auto_pad`, as ONNX defines them."""
    auto_pad = attrs.get("auto_pad", b"NOTSET")
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("NOTSET", ""):
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if len(pads) != 4 or min(pads) < 0:
            raise UnsupportedOp(f"node '{onnx_node.name}' ({onnx_node.op_type}): pads {pads} are not 2-D non-negative pads")
        return pads[0], pads[1], pads[2], pads[3]
    if auto_pad == "VALID":
        return 0, 0, 0, 0
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        result = []
        for size, k, s in zip(in_hw, kernel, strides):
            total = max((-(-size // s) - 1) * s + k - size, 0)
            small = total // 2
            result.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
        (top, bottom), (left, right) = result
        return top, left, bottom, right
    raise UnsupportedOp(f"node '{onnx_node.name}' ({onnx_node.op_type}): auto_pad {auto_pad} is not supported")


def _require_4d(onnx_node, x: Tensor):
    if len(x.shape) != 4:
        raise ShapeError(
            f"node '{onnx_node.name}' ({onnx_node.op_type}) needs a 4-D NCHW input, got '{x.name}' of shape {list(x.shape)}"
        )


# -- op importers ---------------------------------------------------------------------------

def import_conv(imp: _Importer, n, attrs):
    x = imp.activation(n)
    _require_4d(n, x)
    w = imp.const(n, 1, "the filter").astype(np.float32)
    b = imp.optional_const(n, 2, "the bias")
    _, h, wd, cin = x.shape
    if w.ndim != 4:
        raise ShapeError(f"node '{n.name}' (Conv): filter has shape {list(w.shape)}, expected 4-D [Cout, Cin/group, kh, kw]")
    cout, cin_g, kh, kw = w.shape
    group = int(attrs.get("group", 1))
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise UnsupportedOp(f"node '{n.name}' (Conv): dilations {list(attrs['dilations'])} are not supported (only 1)")
    strides = tuple(int(s) for s in attrs.get("strides", [1, 1]))
    if len(strides) != 2 or min(strides) < 1:
        raise UnsupportedOp(f"node '{n.name}' (Conv): strides {list(strides)} are not 2-D positive strides")
    if "kernel_shape" in attrs and tuple(attrs["kernel_shape"]) != (kh, kw):
        raise ShapeError(f"node '{n.name}' (Conv): kernel_shape {list(attrs['kernel_shape'])} disagrees with the filter {list(w.shape)}")
    pads = _spatial_pads(n, attrs, (h, wd), (kh, kw), strides)
    if b is not None and b.shape != (cout,):
        raise ShapeError(f"node '{n.name}' (Conv): bias has shape {list(b.shape)}, expected [{cout}]")
    node_attrs = {"strides": strides, "pads": pads}
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
    inputs = [x.name, imp.add_const(n.input[1], np.ascontiguousarray(w_ir))]
    if b is not None:
        inputs.append(imp.add_const(n.input[2], b.astype(np.float32)))
    imp.emit(n, op, inputs, node_attrs)


def import_batchnorm(imp: _Importer, n, attrs):
    x = imp.activation(n)
    _require_4d(n, x)
    if attrs.get("training_mode", 0):
        raise UnsupportedOp(f"node '{n.name}' (BatchNormalization): training_mode=1 is not supported; export in eval mode")
    params = [imp.const(n, i, what).astype(np.float32) for i, what in
              ((1, "scale"), (2, "bias"), (3, "mean"), (4, "variance"))]
    c = x.shape[3]
    for p in params:
        if p.shape != (c,):
            raise ShapeError(f"node '{n.name}' (BatchNormalization): parameter of shape {list(p.shape)} for {c} channels")
    names = [imp.add_const(n.input[i], p) for i, p in zip(range(1, 5), params)]
    imp.emit(n, "batchnorm", [x.name] + names, {"epsilon": float(attrs.get("epsilon", 1e-5))})


def import_relu(imp: _Importer, n, attrs):
    x = imp.activation(n)
    imp.emit(n, "relu", [x.name], {"min": 0.0, "max": float("inf")})


def import_clip(imp: _Importer, n, attrs):
    x = imp.activation(n)
    lo = imp.optional_const(n, 1, "the lower bound")
    hi = imp.optional_const(n, 2, "the upper bound")
    for bound in (lo, hi):
        if bound is not None and (np.asarray(bound).size != 1 or not np.issubdtype(np.asarray(bound).dtype, np.number)):
            raise UnsupportedOp(f"node '{n.name}' (Clip): bounds must be numeric scalars, got shape {list(np.shape(bound))}")
    lo = float(np.asarray(lo).reshape(-1)[0]) if lo is not None else float(attrs.get("min", -np.inf))
    hi = float(np.asarray(hi).reshape(-1)[0]) if hi is not None else float(attrs.get("max", np.inf))
    if np.isnan(lo) or np.isnan(hi) or lo > hi:
        raise UnsupportedOp(f"node '{n.name}' (Clip): bounds [{lo}, {hi}] are not a range")
    imp.emit(n, "clip", [x.name], {"min": lo, "max": hi})


def import_global_average_pool(imp: _Importer, n, attrs):
    x = imp.activation(n)
    _require_4d(n, x)
    _, h, w, _ = x.shape
    imp.emit(n, "avg_pool", [x.name], {"kernel": (h, w), "strides": (1, 1), "pads": (0, 0, 0, 0)})


def import_average_pool(imp: _Importer, n, attrs):
    x = imp.activation(n)
    _require_4d(n, x)
    kernel = tuple(int(k) for k in attrs["kernel_shape"])
    strides = tuple(int(s) for s in attrs.get("strides", [1, 1]))
    if len(kernel) != 2:
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): kernel_shape {list(kernel)} is not 2-D")
    if attrs.get("ceil_mode", 0):
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): ceil_mode=1 is not supported")
    pads = _spatial_pads(n, attrs, x.shape[1:3], kernel, strides)
    if attrs.get("count_include_pad", 0) and any(pads):
        raise UnsupportedOp(f"node '{n.name}' (AveragePool): count_include_pad=1 with padding is not supported")
    imp.emit(n, "avg_pool", [x.name], {"kernel": kernel, "strides": strides, "pads": pads})


def import_flatten(imp: _Importer, n, attrs):
    x = imp.activation(n)
    axis = int(attrs.get("axis", 1))
    if axis != 1:
        raise UnsupportedOp(f"node '{n.name}' (Flatten): axis={axis} is not supported (only 1)")
    _flatten(imp, n, x)


def import_reshape(imp: _Importer, n, attrs):
    x = imp.activation(n)
    target = [int(d) for d in np.asarray(imp.const(n, 1, "the target shape")).reshape(-1)]
    if len(target) == 4:
        _reshape_4d(imp, n, x, target)
        return
    if len(target) != 2 or target[0] not in (1, -1, 0):
        raise UnsupportedOp(f"node '{n.name}' (Reshape): target shape {target} is not supported "
                            "(supported: [1, -1] flatten, or a 4-D shape that moves no bytes)")
    _flatten(imp, n, x)


# -- added for exporter variety (tf2onnx, PyTorch): 4-D reshapes, Squeeze, ReduceMean, refusals --

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


def _axes(imp: _Importer, n, attrs, rank: int) -> list[int] | None:
    """Axes from the attribute (older opsets) or input 1 (newer), made non-negative; None if absent."""
    axes = attrs.get("axes")
    if axes is None and len(n.input) > 1 and n.input[1]:
        axes = np.asarray(imp.const(n, 1, "the axes")).reshape(-1).tolist()
    if axes is None:
        return None
    out = sorted(int(a) + rank if int(a) < 0 else int(a) for a in axes)
    if any(a < 0 or a >= rank for a in out):
        raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): axes {list(axes)} out of range for rank {rank}")
    return out


def import_squeeze(imp: _Importer, n, attrs):
    x = imp.activation(n)
    if len(x.shape) == 2:
        axes = _axes(imp, n, attrs, 2)
        if axes not in (None, []):
            raise UnsupportedOp(f"node '{n.name}' (Squeeze): squeezing axes {axes} of a [1, K] tensor is not supported")
        imp.values[n.output[0]] = imp.values[n.input[0]]
        return
    _require_4d(n, x)
    _, h, w, c = x.shape
    axes = _axes(imp, n, attrs, 4)
    if (h, w) != (1, 1) or axes not in (None, [2, 3]) or (axes is None and c == 1):
        raise UnsupportedOp(f"node '{n.name}' (Squeeze): only squeezing [1, C, 1, 1] to [1, C] (axes [2, 3]) is "
                            f"supported, not axes {axes} of {[1, c, h, w]}")
    _flatten(imp, n, x)


def import_reduce_mean(imp: _Importer, n, attrs):
    """A mean over H and W is a global average pool (then a flatten when keepdims=0)."""
    x = imp.activation(n)
    _require_4d(n, x)
    axes = _axes(imp, n, attrs, 4)
    if axes != [2, 3]:
        raise UnsupportedOp(f"node '{n.name}' (ReduceMean): axes {axes} are not supported (only [2, 3], H and W)")
    _, h, w, c = x.shape
    pool_attrs = {"kernel": (h, w), "strides": (1, 1), "pads": (0, 0, 0, 0)}
    if attrs.get("keepdims", 1):
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

    def refuse(imp: _Importer, n, attrs):
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


def import_gemm(imp: _Importer, n, attrs):
    x, chw = _flat_input(imp, n)
    w = imp.const(n, 1, "the weight matrix").astype(np.float32)
    c = imp.optional_const(n, 2, "the bias")
    if attrs.get("transA", 0):
        raise UnsupportedOp(f"node '{n.name}' (Gemm): transA=1 is not supported")
    if w.ndim != 2:
        raise ShapeError(f"node '{n.name}' (Gemm): weight of shape {list(w.shape)} is not a matrix")
    w = w if attrs.get("transB", 0) else w.T  # -> [Cout, Cin]
    w = w * np.float32(attrs.get("alpha", 1.0))
    if w.shape[1] != x.shape[1]:
        raise ShapeError(f"node '{n.name}' (Gemm): weight has {w.shape[1]} inputs, '{x.name}' has {x.shape[1]} features")
    inputs = [x.name, imp.add_const(n.input[1], np.ascontiguousarray(_nhwc_columns(w, chw)))]
    if c is not None:
        if c.size not in (1, w.shape[0]) or c.ndim > 2:
            raise ShapeError(f"node '{n.name}' (Gemm): bias of shape {list(c.shape)} does not broadcast to [1, {w.shape[0]}]")
        bias = np.broadcast_to(c.astype(np.float32) * np.float32(attrs.get("beta", 1.0)), (1, w.shape[0]))
        if bias.ndim != 2:
            raise ShapeError(f"node '{n.name}' (Gemm): bias of shape {list(c.shape)} does not broadcast to [1, {w.shape[0]}]")
        inputs.append(imp.add_const(n.input[2], np.ascontiguousarray(bias[0])))
    imp.emit(n, "fully_connected", inputs, {})


def import_matmul(imp: _Importer, n, attrs):
    x, chw = _flat_input(imp, n)
    b = imp.const(n, 1, "the weight matrix").astype(np.float32)
    if b.ndim != 2 or b.shape[0] != x.shape[1]:
        raise ShapeError(f"node '{n.name}' (MatMul): weight of shape {list(b.shape)} does not take {x.shape[1]} features")
    w = np.ascontiguousarray(_nhwc_columns(b.T, chw))
    imp.emit(n, "fully_connected", [x.name, imp.add_const(n.input[1], w)], {})


def import_softmax(imp: _Importer, n, attrs):
    x = imp.activation(n)
    axis = int(attrs.get("axis", -1))
    if len(x.shape) != 2 or axis not in (-1, 1):
        raise UnsupportedOp(f"node '{n.name}' (Softmax): only a softmax over the features of a [1, K] tensor is supported")
    imp.emit(n, "softmax", [x.name], {"beta": 1.0})


def import_alias(imp: _Importer, n, attrs):
    """Identity and inference-time Dropout pass their input through."""
    imp.values[n.output[0]] = imp.values[n.input[0]]
    if len(n.output) > 1 and n.output[1]:
        raise UnsupportedOp(f"node '{n.name}' ({n.op_type}): its mask output is not supported")


def import_constant(imp: _Importer, n, attrs):
    import onnx

    for a in n.attribute:
        if a.name == "value":
            imp.values[n.output[0]] = _Value(const=onnx.numpy_helper.to_array(a.t))
            return
        if a.name in ("value_float", "value_int"):
            imp.values[n.output[0]] = _Value(const=np.array(onnx.helper.get_attribute_value(a)))
            return
        if a.name in ("value_floats", "value_ints"):
            imp.values[n.output[0]] = _Value(const=np.array(onnx.helper.get_attribute_value(a)))
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


def import_onnx(path: str | os.PathLike, log=None) -> Graph:
    """ONNX file -> float Graph in NHWC."""
    import onnx

    model = load_model(path)
    from . import qdq

    if qdq.is_qdq(model):  # a pre-quantized model: its own scales, no calibration
        return qdq.import_qdq_model(model, path, log)
    g = model.graph
    for i, n in enumerate(g.node):
        if not n.name:
            n.name = f"{n.op_type}_{i}"
        if n.op_type not in IMPORTERS or n.domain not in ("", "ai.onnx"):
            domain = f" (domain {n.domain})" if n.domain not in ("", "ai.onnx") else ""
            raise UnsupportedOp(
                f"node '{n.name}': op {n.op_type}{domain} is not supported; supported ops: {', '.join(sorted(IMPORTERS))}"
            )
    initializers = {t.name: t for t in g.initializer}
    graph_inputs = [i for i in g.input if i.name not in initializers]
    if len(graph_inputs) != 1:
        raise UnsupportedOp(
            f"{path}: the model has {len(graph_inputs)} inputs ({', '.join(i.name for i in graph_inputs)}); exactly one is supported"
        )
    if len(g.output) != 1:
        raise UnsupportedOp(f"{path}: the model has {len(g.output)} outputs; exactly one is supported")
    inp = graph_inputs[0]
    if inp.type.tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise UnsupportedOp(f"input '{inp.name}': element type {onnx.TensorProto.DataType.Name(inp.type.tensor_type.elem_type)} is not supported here (float32 inputs)")
    # Exporter dialects (NHWC inputs, Pad, split BatchNorm, MatMul + Add) become the plain form.
    layout = normalize(model, inp.name)["input_layout"]
    initializers = {t.name: t for t in g.initializer}  # the normalizer adds folded constants
    dims, params = _input_shape(inp)
    if len(dims) != 4:
        raise ShapeError(f"input '{inp.name}': shape {dims} is not a 4-D NCHW image tensor")
    if any(d is None or d <= 0 for d in dims[1:]):
        shown = [d if d else (p or "?") for d, p in zip(dims, params)]
        raise ShapeError(f"input '{inp.name}': dynamic shape {shown}; channels, height and width must be fixed")
    if dims[0] not in (None, 1) and dims[0] > 0:
        raise ShapeError(f"input '{inp.name}': batch {dims[0]} is not supported (batch 1)")
    if dims[0] is None and log:
        log(f"input '{inp.name}': symbolic batch dimension '{params[0]}' compiled as 1")
    _, c, h, w = dims
    if c * h * w > MAX_ACTIVATION_ELEMENTS:
        raise ShapeError(f"input '{inp.name}': shape {dims} has {c * h * w:,} elements, more than "
                         f"{MAX_ACTIVATION_ELEMENTS:,} (no microcontroller holds it)")

    graph = Graph(tensors={}, nodes=[], inputs=[inp.name], outputs=[], name="model")
    graph.tensors[inp.name] = Tensor(inp.name, (1, h, w, c))
    graph.meta = {"input_layout": layout, "input_shape": [1, c, h, w] if layout == "NCHW" else [1, h, w, c],
                  "source_name": Path(path).name}
    imp = _Importer(graph)
    imp.values[inp.name] = _Value(tensor=inp.name)
    for name, t in initializers.items():
        imp.values[name] = _Value(const=_initializer_array(t))

    for n in g.node:
        IMPORTERS[n.op_type](imp, n, _attrs(n))

    out_value = imp.values.get(g.output[0].name)
    if out_value is None or out_value.tensor is None:
        raise UnsupportedOp(f"output '{g.output[0].name}' is not computed from the input")
    graph.outputs = [out_value.tensor]
    _check_against_onnx_shapes(graph, model)
    graph.remove_unused_tensors()
    out = graph.tensor(graph.outputs[0])
    graph.meta["output_layout"] = "NCHW" if len(out.shape) == 4 else "flat"
    return graph


# An activation larger than this (16 MiB as int8) is far beyond any microcontroller's RAM; refusing
# it early also keeps calibration from allocating gigabytes for a corrupt shape.
MAX_ACTIVATION_ELEMENTS = 1 << 24

# Float constants beyond this magnitude cannot be quantized meaningfully (nor their products held
# in float32 while computing multipliers): a corrupt or untrained-to-divergence model.
MAX_CONSTANT_MAGNITUDE = 1e15


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
