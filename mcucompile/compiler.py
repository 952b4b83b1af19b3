"""From a model file (ONNX or TFLite) to a quantized Graph: import, the pass pipeline, quantization."""
from __future__ import annotations

import numpy as np

from .frontend import import_model
from .ir import Graph
from .passes import Context, run_pipeline
from .quant.calibration import load_calibration
from .quant.fixedpoint import round_half_away


def compile_graph(model_path, calib: str | None = None, observer: str = "minmax", mean: float = 0.5,
                  std: float = 0.5, check: bool = False, name: str = "model", log=None) -> Graph:
    graph = import_model(model_path, log=log)
    graph.name = name
    ctx = Context(calibration=load_calibration(calib, graph, mean, std), observer=observer)
    return run_pipeline(graph, ctx, check=check)


def quantize_input(graph: Graph, x_nhwc: np.ndarray) -> np.ndarray:
    """float -> int8 as TFLite does: float32 x / scale, rounded half away from zero, + zero point, saturated."""
    q = graph.tensor(graph.inputs[0]).qparams
    scaled = np.asarray(x_nhwc, dtype=np.float32) / np.float32(q.scalar_scale)
    return np.clip(round_half_away(scaled) + q.scalar_zero_point, -128, 127).astype(np.int8)


def dequantize_output(graph: Graph, yq: np.ndarray) -> np.ndarray:
    q = graph.tensor(graph.outputs[0]).qparams
    return (np.float32(q.scalar_scale) * (yq.astype(np.float32) - np.float32(q.scalar_zero_point))).astype(np.float32)


def output_to_model_layout(graph: Graph, y: np.ndarray) -> np.ndarray:
    """NHWC [N, H, W, C] outputs back to the model's NCHW; flat outputs unchanged."""
    return y.transpose(0, 3, 1, 2) if graph.meta.get("output_layout") == "NCHW" else y
