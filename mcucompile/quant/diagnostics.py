"""Where accuracy goes: each layer's int8 output against the float network it stands for.

The float twin is the graph as the passes leave it just before quantization (BatchNorm folded,
activations fused): for a float model, the model itself; for a QDQ or .tflite model, whose constants
arrive quantized, the same graph with every quantized constant dequantized (real = scale * (q - zp)),
so the twin is the float network the quantized one approximates. Both run on the same samples: the
int8 graph on the samples quantized as TFLite quantizes an input, the twin on those same quantized
inputs dequantized, so a layer's figure is what the int8 arithmetic loses up to that layer, not the
input's rounding.

SQNR, in dB: 10 log10(sum f^2 / sum (f - d)^2) over every value of every sample, f the twin's output
and d the int8 output dequantized; +inf where the two agree exactly, and None where the twin's output
is all zeros (no signal to measure against).
"""
from __future__ import annotations

import copy
import math

import numpy as np

from ..ir import Graph
from ..reference import run_float, run_int8

# How many samples the diagnostics run: at most MAX_SAMPLES, and no more than MAX_MACS multiply-
# accumulates in all (at least one sample), so that they cost a build a fraction of its calibration.
MAX_MACS = 100_000_000
MAX_SAMPLES = 4


def dequantized_twin(graph: Graph) -> Graph:
    """A float copy of an unquantized graph whose quantized constants (QDQ, .tflite) are dequantized."""
    twin = copy.deepcopy(graph)
    for tensor in twin.tensors.values():
        if tensor.is_constant and tensor.qparams is not None and tensor.data.dtype.kind in "iu":
            q = tensor.qparams
            scale, zp = np.asarray(q.scale, np.float64), np.asarray(q.zero_point, np.float64)
            if q.axis is not None and scale.ndim == 1:
                view = [1] * tensor.data.ndim
                view[q.axis] = -1
                scale, zp = scale.reshape(view), zp.reshape(view)
            tensor.data = (scale * (tensor.data.astype(np.float64) - zp)).astype(np.float32)
            tensor.dtype, tensor.qparams = "float32", None
    return twin


def _dequantize(tensor, q: np.ndarray) -> np.ndarray:
    return tensor.qparams.scalar_scale * (q.astype(np.float64) - tensor.qparams.scalar_zero_point)


def sample_count(macs: int, available: int) -> int:
    """How many samples the diagnostics take: all up to MAX_SAMPLES, fewer for a large network."""
    return max(1, min(available, MAX_SAMPLES, MAX_MACS // max(macs, 1)))


def layer_sqnr(graph: Graph, twin: Graph, samples: np.ndarray) -> dict[str, float | None]:
    """Output tensor -> SQNR in dB of every node of the quantized `graph` against `twin`, over NHWC
    real-valued `samples` [N, H, W, C] (see the module's docstring)."""
    from ..compiler import quantize_input

    inp = graph.tensor(graph.inputs[0])
    signal: dict[str, float] = {}
    noise: dict[str, float] = {}
    for x in samples:
        xq = quantize_input(graph, x[None])
        trace: dict = {}
        run_int8(graph, xq, trace)
        floats: dict = {}
        run_float(twin, _dequantize(inp, xq).astype(np.float32), floats.__setitem__)
        for node in graph.nodes:
            name = node.outputs[0]
            if name not in floats or graph.tensor(name).qparams is None:
                continue
            f = np.asarray(floats[name], np.float64)
            d = _dequantize(graph.tensor(name), trace[name])
            signal[name] = signal.get(name, 0.0) + float(np.sum(f * f))
            noise[name] = noise.get(name, 0.0) + float(np.sum((f - d) ** 2))
    out: dict[str, float | None] = {}
    for name, s in signal.items():
        if s == 0.0:
            out[name] = None
        elif noise[name] == 0.0:
            out[name] = math.inf
        else:
            out[name] = round(10.0 * math.log10(s / noise[name]), 2)
    return out
