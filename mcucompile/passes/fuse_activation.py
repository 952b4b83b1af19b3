"""Fuse Relu / Clip into the layer before it; after quantization they become integer clamps."""
from __future__ import annotations

from ..errors import UnsupportedOp
from ..ir import Graph
from ..ops import WEIGHT_CHANNEL_AXIS



def run(graph: Graph, ctx=None) -> Graph:
    for act in [n for n in graph.nodes if n.op in ("relu", "clip")]:
        layer = graph.producer(act.inputs[0])
        if layer is None or layer.op not in WEIGHT_CHANNEL_AXIS or len(graph.consumers(act.inputs[0])) != 1 \
                or act.inputs[0] in graph.outputs:
            raise UnsupportedOp(
                f"node '{act.name}' ({act.op.capitalize()}): an activation must follow a Conv or Gemm "
                "whose output nothing else reads"
            )
        lo, hi = layer.attrs.get("activation", (float("-inf"), float("inf")))
        lo, hi = max(lo, act.attrs["min"]), min(hi, act.attrs["max"])
        if lo > hi:
            raise UnsupportedOp(f"node '{act.name}': empty clip range [{act.attrs['min']}, {act.attrs['max']}]")
        layer.attrs["activation"] = (lo, hi)
        del graph.tensors[layer.outputs[0]]
        layer.outputs = [act.outputs[0]]
        graph.nodes.remove(act)
    return graph
