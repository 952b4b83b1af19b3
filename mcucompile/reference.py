"""Run a Graph in numpy: float32 (for calibration) or the bit-exact int8 golden model."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .ir import Graph
from .ops import OPS


def run_float(graph: Graph, x: np.ndarray, observe: Callable[[str, np.ndarray], None] | None = None) -> np.ndarray:
    """Float forward pass of one NHWC input [1, H, W, C]; `observe(name, value)` sees every activation."""
    values = {graph.inputs[0]: x.astype(np.float32)}
    if observe:
        observe(graph.inputs[0], values[graph.inputs[0]])
    for node in graph.nodes:
        inputs = [graph.tensor(i).data if graph.tensor(i).is_constant else values[i] for i in node.inputs]
        y = OPS[node.op].run_float(node, graph, inputs)
        if "activation" in node.attrs:
            y = np.clip(y, *node.attrs["activation"])
        values[node.outputs[0]] = y
        if observe:
            observe(node.outputs[0], y)
    return values[graph.outputs[0]]


def run_int8(graph: Graph, xq: np.ndarray, trace: dict | None = None) -> np.ndarray:
    """int8 forward pass of one quantized NHWC input; returns the int8 output tensor."""
    assert graph.quantized, "run_int8 needs a quantized graph"
    values = {graph.inputs[0]: xq.astype(np.int8)}
    for node in graph.nodes:
        inputs = [graph.tensor(i).data if graph.tensor(i).is_constant else values[i] for i in node.inputs]
        values[node.outputs[0]] = OPS[node.op].run_int8(node, graph, inputs)
    if trace is not None:
        trace.update(values)
    return values[graph.outputs[0]]
