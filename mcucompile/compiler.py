"""From a model file (ONNX or TFLite) to a quantized Graph: import, the pass pipeline, quantization."""
from __future__ import annotations

import numpy as np

from .frontend import import_model
from .ir import Graph
from .passes import Context, run_pipeline
from .quant.calibration import load_calibration
from .quant.diagnostics import MAX_SAMPLES, dequantized_twin, layer_sqnr, sample_count
from .quant.fixedpoint import round_half_away


def compile_graph(model_path, calib: str | None = None, observer: str = "minmax", mean: float = 0.5,
                  std: float = 0.5, check: bool = False, name: str = "model", log=None,
                  diagnostics: bool = False) -> Graph:
    """The quantized graph of MODEL_PATH. With `diagnostics`, graph.meta also holds each layer's
    quantization error (quant/diagnostics.py): "sqnr_db" (output tensor -> dB) and "sqnr_inputs"
    (what it was measured on: the calibration samples, or seeded random inputs)."""
    graph = import_model(model_path, log=log)
    graph.name = name
    calibration = load_calibration(calib, graph, mean, std)
    ctx = Context(calibration=calibration, observer=observer)
    twins: list[Graph] = []
    # The twin is copied when the callback sees the graph: the quantizing passes then change it in place.
    graph = run_pipeline(graph, ctx, check=check,
                         before_quantization=(lambda g: twins.append(dequantized_twin(g))) if diagnostics else None)
    if diagnostics:
        # A model that brings its own scales was not calibrated: `--calib random` tells nothing of its
        # inputs, so it is measured over its whole input range instead (real samples are used as given).
        prequantized = bool(graph.meta.get("qdq"))  # QDQ ONNX and quantized .tflite alike
        _add_diagnostics(graph, twins[0], None if prequantized and calib == "random" else calibration)
    return graph


def _add_diagnostics(graph: Graph, twin: Graph, calibration: np.ndarray | None) -> None:
    from .ops import OPS

    macs = sum(OPS[n.op].macs(n, graph) for n in graph.nodes)
    if calibration is not None:
        count = sample_count(macs, len(calibration))
        samples, what = calibration[:count], f"the first {count} calibration sample(s)"
    else:  # a model that brings its own scales: inputs spread over the whole int8 range of its input
        count = sample_count(macs, MAX_SAMPLES)
        q = graph.tensor(graph.inputs[0]).qparams
        raw = np.random.default_rng(0).integers(-128, 128, (count, *graph.tensor(graph.inputs[0]).shape[1:]))
        samples, what = (q.scalar_scale * (raw - q.scalar_zero_point)).astype(np.float32), \
            f"{count} seeded random input(s) over the whole int8 input range"
    graph.meta["sqnr_db"] = layer_sqnr(graph, twin, samples)
    graph.meta["sqnr_inputs"] = what


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
