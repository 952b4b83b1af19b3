"""The Softmax op in the graph; its fixed-point numerics live in softmax.py."""
from __future__ import annotations

import numpy as np

OP = "softmax"


def output_shape(node, graph) -> tuple[int, ...]:
    return graph.tensor(node.inputs[0]).shape


def macs(node, graph) -> int:
    return 0


def run_float(node, graph, inputs):
    x = inputs[0].astype(np.float64) * node.attrs.get("beta", 1.0)
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)


def run_int8(node, graph, inputs):
    from .softmax import softmax_s8

    x = inputs[0]
    a = node.attrs
    return softmax_s8(x.reshape(-1, x.shape[-1]), a["input_multiplier"], a["input_left_shift"], a["diff_min"]).reshape(x.shape)
