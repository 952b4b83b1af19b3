"""The compiler's passes, in the order they run. Each is `run(graph, ctx) -> graph`."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir import Graph, verify
from . import adopt_qdq, elide_activation, fold_batchnorm, fuse_activation, quantize


@dataclass
class Context:
    """What passes may need beyond the graph."""

    calibration: np.ndarray | None = None  # NHWC float samples [N, H, W, C]
    observer: str = "minmax"


PIPELINE = [
    fold_batchnorm,
    elide_activation,
    fuse_activation,
    adopt_qdq,  # a QDQ model's own parameters; quantize then has nothing left to do
    quantize,
]


def run_pipeline(graph: Graph, ctx: Context, check: bool = False, before_quantization=None) -> Graph:
    """Run every pass; with check=True the IR verifier runs before the first pass and after each.
    `before_quantization(graph)`, if given, sees the float graph the quantizing passes start from
    (for the quantization diagnostics' float twin) and must not change it."""
    if check:
        verify(graph)
    for p in PIPELINE:
        if p is adopt_qdq and before_quantization is not None:
            before_quantization(graph)
        graph = p.run(graph, ctx)
        if check:
            verify(graph)
    return graph
