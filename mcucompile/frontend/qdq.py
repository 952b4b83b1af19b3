"""QDQ models: QuantizeLinear / DequantizeLinear pairs become facts about the values they touch.

A pre-quantized ONNX graph states its own int8 numbers. This module is the normalization stage
that reads them (`strip`, run on the ModelProto before anything is imported) and the step that
puts them on the imported graph (`attach`); in between, the one ONNX importer imports a graph that
has no Q/DQ nodes left, as it imports a float one.

strip(model) removes every QuantizeLinear and DequantizeLinear:
  * DequantizeLinear of a constant (weights, bias): its output becomes an initializer holding the
    constant's integer values (int8, or int32 for a bias), recorded with scale, zero point and axis
    (`QConst`). The op importers lay these integers out like float weights (transposed filters,
    reordered columns) but keep their dtype, so nothing passes through float;
  * on an activation, Q and DQ are the identity on the value's meaning: the node's readers read its
    input instead, and its parameters are recorded on that value (`activations`). A value quantized
    twice with different parameters is a requantize step, refused. Ops between a Q and a DQ
    (Transpose, Reshape, Flatten, Squeeze on int8 data; Pad by the zero point) are then ordinary
    layout ops, which the importer turns into aliases.
The model's interface is what its graph input and output are declared as: a float input followed by
a QuantizeLinear (or a float output after a DequantizeLinear) is a float interface, quantized with
exactly the model's own parameters; an int8/uint8 input is taken as the int8 core's own bytes.

attach(graph, ...) then sets each IR tensor's QParams and each layer's int8 weights and int32 bias,
matched through the values the layers read (never by node name: names may repeat). passes/
adopt_qdq.py turns these into multipliers and clamps.

Parameters are checked where they are read, as ONNX defines them: `axis` (default 1, negative
counts from the end) must index the tensor and the scale must have that axis's size; scales must be
finite and positive; zero points have the tensor's type; a bias whose scale is not input scale x
weight scale is rescaled where that is exact, and refused otherwise.
uint8 (legacy TFLite models) becomes int8 by moving values and zero points by 128:
q8 = q_u8 - 128, zp8 = zp_u8 - 128, same scale, so every real value is unchanged. uint8 weights keep
their zero point, which every kernel family folds exactly (kernels/: wzp.py is the reference).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import QuantError, ShapeError, UnsupportedOp
from ..ir import Graph, QParams
from ..ops import WEIGHT_CHANNEL_AXIS
from .limits import BIAS_SCALE_RTOL, UINT8_SHIFT

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")
# ONNX TensorProto element types of the integer tensors a QDQ graph may hold.
_ELEM_DTYPES = {2: np.uint8, 3: np.int8, 6: np.int32}


@dataclass
class QConst:
    """A quantized constant: its integer values (int8 domain) and parameters, axis as in the ONNX tensor."""

    q: np.ndarray  # int8 (uint8 moved by 128) or int32
    scale: np.ndarray  # float32, [] or [n]
    zero_point: np.ndarray  # int32, shape of scale
    axis: int | None  # per-axis parameters along this axis of q; None per tensor
    node: str  # the DequantizeLinear, for messages


@dataclass
class QdqFacts:
    activations: dict[str, QParams] = field(default_factory=dict)  # ONNX value -> per-tensor params
    constants: dict[str, QConst] = field(default_factory=dict)  # initializer -> quantized constant
    uint8: bool = False

    @property
    def quantized(self) -> bool:
        return bool(self.activations or self.constants)


def _label(node) -> str:
    return f"node '{node.name}' ({node.op_type})"


def _scale(node, scale: np.ndarray | None) -> np.ndarray:
    if scale is None:
        raise UnsupportedOp(f"{_label(node)}: the scale (input 1) must be a constant initializer")
    if not np.issubdtype(scale.dtype, np.floating):
        raise QuantError(f"{_label(node)}: scale of type {scale.dtype} (float expected)")
    scale = scale.astype(np.float32)
    if scale.ndim > 1 or scale.size == 0:
        raise ShapeError(f"{_label(node)}: scale of shape {list(scale.shape)} is neither a scalar nor 1-D")
    bad = ~(np.isfinite(scale) & (scale > 0))
    if np.any(bad):
        first = float(scale.reshape(-1)[bad.reshape(-1)][0])
        raise QuantError(f"{_label(node)}: scale {first!r} is not a finite positive number; "
                         "real = scale * (q - zero_point) needs one")
    return scale


def _zero_point(node, zp: np.ndarray | None, dtype, scale: np.ndarray) -> np.ndarray:
    """The zero point in the tensor's own type (ONNX: absent means 0), checked against the scale's shape."""
    if zp is None:
        return np.zeros(scale.shape, dtype=dtype)
    if zp.dtype != dtype:
        raise QuantError(f"{_label(node)}: zero point of type {zp.dtype} for a {np.dtype(dtype).name} tensor "
                         "(ONNX requires the same type)")
    if zp.size != scale.size:
        raise ShapeError(f"{_label(node)}: {zp.size} zero points for {scale.size} scales")
    return zp.reshape(scale.shape)


def _per_axis(node, scale: np.ndarray, shape: tuple[int, ...], axis: int) -> int | None:
    """The normalized axis of per-axis parameters, None for per-tensor; checked against the tensor's shape.

    A scalar scale is per tensor; so is a 1-element vector (as onnxruntime reads it)."""
    if scale.ndim == 0 or scale.size == 1:
        return None
    rank = len(shape)
    if not -rank <= axis < rank:
        raise ShapeError(f"{_label(node)}: axis {axis} is out of range for a tensor of shape {list(shape)}")
    axis %= rank
    if shape[axis] != scale.size:
        raise ShapeError(f"{_label(node)}: {scale.size} scales along axis {axis} of a tensor of shape "
                         f"{list(shape)} (which has {shape[axis]} there)")
    return axis


def _to_int8_domain(q: np.ndarray, zp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 -> int8 by moving values and zero points by 128; int8/int32 unchanged (zero point as int32)."""
    if q.dtype == np.uint8:
        return (q.astype(np.int16) - UINT8_SHIFT).astype(np.int8), zp.astype(np.int32) - UINT8_SHIFT
    return q, zp.astype(np.int32)


def _attr(node, name, default):
    import onnx

    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _value_dtype(m, name: str):
    """The declared element type of an activation (graph input or inferred value_info), or None."""
    for vi in list(m.g.input) + list(m.g.value_info) + list(m.g.output):
        if vi.name == name and vi.type.HasField("tensor_type"):
            return _ELEM_DTYPES.get(vi.type.tensor_type.elem_type)
    return None


def strip(m, facts: QdqFacts) -> None:
    """The normalization stage: remove every Q/DQ node of `m` (a normalize.ModelIndex), recording its facts."""
    for node in [n for n in m.g.node if n.op_type in QDQ_OPS]:
        if _attr(node, "block_size", 0):
            raise UnsupportedOp(f"{_label(node)}: blocked quantization (block_size) is not supported")
        x_name = m.resolve(node.input[0])
        scale = _scale(node, m.const(node.input[1]) if len(node.input) > 1 and node.input[1] else None)
        zp_in = m.const(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if len(node.input) > 2 and node.input[2] and zp_in is None:
            raise UnsupportedOp(f"{_label(node)}: the zero point (input 2) must be a constant initializer")
        axis = int(_attr(node, "axis", 1))
        x_const = m.const(x_name)
        if x_const is not None:
            if node.op_type == "QuantizeLinear":
                raise UnsupportedOp(f"{_label(node)}: quantizes a float constant; export the model with quantized "
                                    "initializers (a DequantizeLinear of int8 values)")
            if x_const.dtype.type not in (np.int8, np.uint8, np.int32):
                raise UnsupportedOp(f"{_label(node)}: quantized constant of type {x_const.dtype} is not supported "
                                    "(int8, uint8, int32 bias)")
            zp = _zero_point(node, zp_in, x_const.dtype.type, scale)
            per_axis = _per_axis(node, scale, x_const.shape, axis)
            q, zp8 = _to_int8_domain(x_const, zp)
            facts.uint8 |= x_const.dtype == np.uint8
            if per_axis is None:
                scale, zp8 = scale.reshape(()), zp8.reshape(())
            # The DequantizeLinear's output becomes the integers themselves, under the same name.
            m.g.node.remove(node)
            m.add_named_init(node.output[0], np.ascontiguousarray(q))
            facts.constants[node.output[0]] = QConst(q, scale, zp8, per_axis, node.name)
        else:
            if scale.size != 1:
                raise UnsupportedOp(f"{_label(node)}: per-axis parameters on activation '{x_name}' are not supported "
                                    "(activations are quantized per tensor)")
            if node.op_type == "QuantizeLinear":
                out_type = _attr(node, "output_dtype", 0)
                dtype = zp_in.dtype.type if zp_in is not None else _ELEM_DTYPES.get(out_type, np.uint8)
            else:
                dtype = zp_in.dtype.type if zp_in is not None else _value_dtype(m, x_name)
            if dtype not in (np.int8, np.uint8):
                raise UnsupportedOp(f"{_label(node)}: activations of type "
                                    f"{np.dtype(dtype).name if dtype else 'unknown'} are not supported (int8, uint8)")
            zp = _zero_point(node, zp_in, dtype, scale)
            _, zp8 = _to_int8_domain(np.zeros(0, dtype), zp)
            facts.uint8 |= dtype == np.uint8
            params = QParams.per_tensor(float(scale.reshape(-1)[0]), int(zp8.reshape(-1)[0]))
            record(facts, x_name, params, node)
            m.bypass(node, src=x_name)


def record(facts: QdqFacts, value: str, params: QParams, node) -> None:
    old = facts.activations.get(value)
    if old is not None and not (np.float32(old.scale) == np.float32(params.scale)
                                and int(old.zero_point) == int(params.zero_point)):
        raise UnsupportedOp(
            f"{_label(node)}: tensor '{value}' is quantized twice, with scale/zero point {float(old.scale)!r}/"
            f"{int(old.zero_point)} and {float(params.scale)!r}/{int(params.zero_point)}; a requantize step is not "
            "supported")
    facts.activations[value] = params


# -- putting the facts on the imported graph ---------------------------------------------------------

def attach(graph: Graph, facts: QdqFacts, tensor_of, source_of) -> None:
    """Set QParams on the IR graph.

    tensor_of(onnx value) -> IR tensor name or None; source_of(IR constant) -> (ONNX initializer,
    the axis of that initializer which is the layer's output channel axis), as the importer made them."""
    for value, params in facts.activations.items():
        name = tensor_of(value)
        if name is None:
            continue
        t = graph.tensors[name]
        if t.qparams is not None and not (np.float32(t.qparams.scale) == np.float32(params.scale)
                                          and int(t.qparams.zero_point) == int(params.zero_point)):
            raise UnsupportedOp(f"tensor '{name}' is quantized twice, with scale/zero point "
                                f"{float(t.qparams.scale)!r}/{int(t.qparams.zero_point)} and {float(params.scale)!r}/"
                                f"{int(params.zero_point)}; a requantize step is not supported")
        t.qparams = params
    for node in graph.nodes:
        if node.op in WEIGHT_CHANNEL_AXIS:
            _attach_layer(graph, node, facts, source_of)


def _quantized_source(node, facts, source_of, tensor: str, what: str) -> tuple[QConst, int]:
    value, channel_axis = source_of(tensor)
    qc = facts.constants.get(value)
    if qc is None:
        raise QuantError(f"node '{node.name}' ({node.op}): the {what} '{value}' is float in a QDQ model; every "
                         f"{what} must come through a DequantizeLinear")
    if qc.axis is not None and qc.axis != channel_axis:
        raise QuantError(f"node '{node.name}' ({node.op}): the {what} '{value}' is quantized per axis {qc.axis}, "
                         f"which is not its output-channel axis {channel_axis}; only per-output-channel "
                         "(or per-tensor) scales can be requantized")
    return qc, channel_axis


def _attach_layer(graph: Graph, node, facts: QdqFacts, source_of) -> None:
    w = graph.tensor(node.inputs[1])
    wq, _ = _quantized_source(node, facts, source_of, w.name, "weights")
    if w.data.dtype != np.int8:
        raise QuantError(f"node '{node.name}' ({node.op}): weights of type {w.data.dtype} (int8 or uint8 expected)")
    channels = w.shape[WEIGHT_CHANNEL_AXIS[node.op]]
    if wq.axis is not None and np.any(wq.zero_point != 0):
        raise QuantError(f"node '{node.name}' ({node.op}): per-channel weights need zero point 0 "
                         f"(got {wq.zero_point[wq.zero_point != 0][0]})")
    w.dtype = "int8"
    w.qparams = QParams(wq.scale, wq.zero_point, WEIGHT_CHANNEL_AXIS[node.op] if wq.axis is not None else None)
    if len(node.inputs) > 2:
        b = graph.tensor(node.inputs[2])
        bq, _ = _quantized_source(node, facts, source_of, b.name, "bias")
        if b.data.dtype != np.int32:
            raise QuantError(f"node '{node.name}' ({node.op}): the bias is {b.data.dtype}; it must be int32 through a "
                             "DequantizeLinear")
        if np.any(bq.zero_point != 0):
            raise QuantError(f"node '{node.name}' ({node.op}): the bias has a non-zero zero point")
        x = graph.tensor(node.inputs[0])
        if x.qparams is None:
            raise QuantError(f"node '{node.name}' ({node.op}): input '{x.name}' has no DequantizeLinear, so its "
                             "scale (and the bias's) is unknown")
        b.data = rescale_bias(node, b.data, np.broadcast_to(bq.scale, (channels,)), x.qparams.scalar_scale,
                              np.broadcast_to(wq.scale, (channels,)))
        b.dtype = "int32"
        b.qparams = QParams(np.float32(x.qparams.scalar_scale) * np.broadcast_to(wq.scale, (channels,)).astype(np.float32),
                            np.zeros(channels, np.int32), 0)


def rescale_bias(node, q: np.ndarray, bias_scale: np.ndarray, in_scale: float, w_scale: np.ndarray) -> np.ndarray:
    """The int32 bias at in_scale * w_scale[c], which the kernels add to the accumulator.

    Where the model's bias scale equals that product (within float32 rounding, as TFLite requires), the
    values are used as they are. Otherwise each real value q * bias_scale is re-expressed at the
    product's scale if that is exact (an integer, within int32); if it is not, the model is refused."""
    q = np.asarray(q, np.int64).reshape(-1)
    expected = np.float64(in_scale) * w_scale.astype(np.float64)
    given = bias_scale.astype(np.float64)
    same = np.abs(given - expected) <= BIAS_SCALE_RTOL * np.minimum(given, expected)
    if np.all(same):
        return q.astype(np.int32)
    ratio = given / expected
    scaled = q * ratio
    rounded = np.rint(scaled)
    exact = same | ((np.abs(scaled - rounded) <= 1e-6 * np.maximum(np.abs(scaled), 1.0))
                    & (np.abs(rounded) <= np.iinfo(np.int32).max))
    if not np.all(exact):
        c = int(np.argmin(exact))
        raise QuantError(f"node '{node.name}' ({node.op}): bias scale {float(given[c])!r} of channel {c} is not input "
                         f"scale x weight scale {float(expected[c])!r}, and bias {int(q[c])} at that scale would be "
                         f"{float(scaled[c]):.6g}, not an int32")
    return np.where(same, q, rounded).astype(np.int32)
