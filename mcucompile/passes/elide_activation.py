"""Drop a Relu / Clip whose input already lies inside its range.

TFLite fuses a ReLU into an average pool, and tf2onnx writes it out again as a Relu after the
AveragePool (and sometimes a Relu after a ReLU6). An average of values in [lo, hi] stays in
[lo, hi], and a reshape moves no value, so the range a layer's clamp guarantees carries through
them; an activation that clamps to a range containing it changes nothing, in float or in int8
(the int8 clamp of the earlier layer already holds the values at or above the quantized bound).
Other activations are left for fuse_activation, which refuses what it cannot fuse.
"""
from __future__ import annotations

from ..ir import Graph

ACTIVATION_OPS = ("relu", "clip")
# Ops whose output range lies within their input's range.
RANGE_PRESERVING = ("avg_pool", "reshape")


def _known_range(graph: Graph, name: str, depth: int = 0) -> tuple[float, float] | None:
    node = graph.producer(name)
    if node is None or depth > len(graph.nodes):
        return None
    if node.op in ACTIVATION_OPS:
        inner = _known_range(graph, node.inputs[0], depth + 1)
        lo, hi = node.attrs["min"], node.attrs["max"]
        return (max(lo, inner[0]), min(hi, inner[1])) if inner else (lo, hi)
    if node.op in RANGE_PRESERVING:
        return _known_range(graph, node.inputs[0], depth + 1)
    return None


def run(graph: Graph, ctx=None) -> Graph:
    for act in [n for n in graph.nodes if n.op in ACTIVATION_OPS]:
        producer = graph.producer(act.inputs[0])
        if producer is None or producer.op not in RANGE_PRESERVING:
            continue
        known = _known_range(graph, act.inputs[0])
        if known is None or not (act.attrs["min"] <= known[0] and known[1] <= act.attrs["max"]):
            continue
        # The activation's output is replaced by its input everywhere (graph output included).
        graph.replace_uses(act.outputs[0], act.inputs[0])
        graph.nodes.remove(act)
    graph.remove_unused_tensors()
    return graph
