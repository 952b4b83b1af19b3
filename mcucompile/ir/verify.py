"""Invariants of a Graph, checked between passes in the tests."""
from __future__ import annotations

import numpy as np


class GraphInvalid(AssertionError):
    """The graph broke an invariant: a compiler bug, not a user error."""


def verify(graph) -> None:
    from ..ops import ACTIVATIONS, OPS

    defined = set(graph.inputs)
    for name in graph.inputs:
        _check(not graph.tensor(name).is_constant, f"graph input '{name}' is a constant")
    for node in graph.nodes:
        for i in node.inputs:
            _check(i in graph.tensors, f"node '{node.name}' reads unknown tensor '{i}'")
            t = graph.tensor(i)
            _check(t.is_constant or i in defined, f"node '{node.name}' reads '{i}' before it is produced")
        _check(len(node.outputs) == 1, f"node '{node.name}' has {len(node.outputs)} outputs")
        out = node.outputs[0]
        _check(out not in defined, f"tensor '{out}' is produced twice")
        _check(not graph.tensor(out).is_constant, f"node '{node.name}' writes constant '{out}'")
        defined.add(out)
        if node.op in OPS:
            expected = tuple(OPS[node.op].output_shape(node, graph))
            _check(graph.tensor(out).shape == expected,
                   f"node '{node.name}': output shape {graph.tensor(out).shape} but the op computes {expected}")
        else:
            _check(node.op in ACTIVATIONS or node.op == "batchnorm", f"node '{node.name}': unknown op {node.op}")
        if graph.quantized:
            _verify_quantized(graph, node)
    for o in graph.outputs:
        _check(o in defined, f"graph output '{o}' is never produced")
    for t in graph.tensors.values():
        if len(t.shape) == 4:
            _check(t.shape[0] == 1 or t.is_constant, f"tensor '{t.name}' has batch {t.shape[0]}")


def _verify_quantized(graph, node) -> None:
    from ..ops import WEIGHT_CHANNEL_AXIS

    for name in node.inputs[:1] + node.outputs:
        t = graph.tensor(name)
        _check(t.dtype == "int8" and t.qparams is not None, f"activation '{name}' is not int8 with qparams")
    if node.op in WEIGHT_CHANNEL_AXIS and node.attrs.get("weight_zp"):
        # A legacy uint8 model's weights keep their zero point: full int8 range, zp per layer.
        _check(graph.tensor(node.inputs[1]).data.dtype == np.int8, f"weights of '{node.name}' are not int8")
    elif node.op in WEIGHT_CHANNEL_AXIS:
        w = graph.tensor(node.inputs[1])
        _check(w.data.dtype == np.int8 and int(np.abs(w.data.astype(np.int16)).max(initial=0)) <= 127,
               f"weights of '{node.name}' are not int8 in [-127, 127]")
        _check(not np.any(w.qparams.zero_point), f"weights of '{node.name}' have a non-zero zero point")
        if len(node.inputs) > 2:
            _check(graph.tensor(node.inputs[2]).data.dtype == np.int32, f"bias of '{node.name}' is not int32")
    if node.op in WEIGHT_CHANNEL_AXIS:
        channels = len(node.attrs["multiplier"])
        _check(channels == graph.tensor(node.outputs[0]).shape[-1], f"'{node.name}' has {channels} multipliers")
    if "act_min" in node.attrs:
        _check(-128 <= node.attrs["act_min"] <= node.attrs["act_max"] <= 127,
               f"'{node.name}' clamp [{node.attrs['act_min']}, {node.attrs['act_max']}] is not an int8 range")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise GraphInvalid(message)
