"""`mcucompile simulate`: the int8 network in numpy on inputs in the model's own layout."""
from __future__ import annotations

import numpy as np

from .compiler import dequantize_output, output_to_model_layout, quantize_input
from .inputs import model_layout_to_nhwc
from .ir import Graph
from .reference import run_int8


def simulate_graph(graph: Graph, x: np.ndarray, raw: bool = False, what: str = "input") -> np.ndarray:
    """Float inputs [N, ...] (or int8 inputs, taken as already quantized) -> outputs [N, ...]."""
    x = model_layout_to_nhwc(x, graph.meta["input_shape"], graph.meta["input_layout"], what,
                             graph.meta.get("input_dtype", "float32"))
    xq = x if x.dtype == np.int8 else quantize_input(graph, x)
    y = np.stack([run_int8(graph, sample[None])[0] for sample in xq])
    if not raw:
        y = dequantize_output(graph, y)
    return output_to_model_layout(graph, y)
