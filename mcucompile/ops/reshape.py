"""Reshape / flatten: NHWC bytes stay where they are, so the output aliases the input."""
from __future__ import annotations

OP = "reshape"


def output_shape(node, graph) -> tuple[int, ...]:
    return tuple(node.attrs["shape"])


def macs(node, graph) -> int:
    return 0


def run_float(node, graph, inputs):
    return inputs[0].reshape(node.attrs["shape"])


run_int8 = run_float
