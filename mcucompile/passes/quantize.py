"""Post-training quantization: calibrate, then turn the float graph into its int8 form.

After this pass every activation is int8 with per-tensor parameters, every filter int8 per
channel, every bias int32, and every layer carries its multipliers and clamp: the graph is then
exactly what the int8 reference and the C kernels compute.
"""
from __future__ import annotations

import numpy as np

from ..errors import QuantError
from ..ir import Graph, QParams
from ..ops import WEIGHT_CHANNEL_AXIS, softmax
from ..quant.observers import make_observer
from ..quant.params import (activation_clamp, activation_qparams, channel_multipliers, check_accumulator,
                            check_no_flush, quantize_bias, quantize_weights)
from ..progress import bar
from ..reference import run_float



def calibrate(graph: Graph, samples: np.ndarray, observer: str = "minmax") -> dict[str, tuple[float, float]]:
    """Float ranges of the input and every activation over NHWC calibration samples [N, H, W, C]."""
    factory = make_observer(observer)
    observers = {t.name: factory() for t in graph.activations()}
    for x in bar(samples, desc="calibrating", unit="sample"):
        run_float(graph, x[None], observe=lambda name, v: observers[name].update(v))
    ranges = {name: obs.range() for name, obs in observers.items()}
    producers = {out: node.name for node in graph.nodes for out in node.outputs}
    for name, (lo, hi) in ranges.items():
        if not (np.isfinite(lo) and np.isfinite(hi)):
            where = f"node '{producers[name]}', output '{name}'" if name in producers else f"input '{name}'"
            raise QuantError(f"{where}: calibration gives the non-finite range [{lo}, {hi}] (the float model "
                             "overflows float32 on the calibration data)")
    return ranges


def run(graph: Graph, ctx) -> Graph:
    if graph.quantized:  # a pre-quantized (QDQ) model, adopted by adopt_qdq
        return graph
    if ctx.calibration is None:
        raise QuantError(
            "this float model needs calibration data: pass --calib with a .npy/.npz of inputs or a folder of "
            "images (or --calib random for a smoke test)"
        )
    ranges = calibrate(graph, ctx.calibration, ctx.observer)
    inp = graph.tensor(graph.inputs[0])
    inp.qparams, inp.dtype = activation_qparams(*ranges[inp.name]), "int8"
    for node in graph.nodes:
        out = graph.tensor(node.outputs[0])
        in_q = graph.tensor(node.inputs[0]).qparams
        if node.op in WEIGHT_CHANNEL_AXIS:
            out.qparams = activation_qparams(*ranges[out.name])
            _quantize_layer(graph, node, in_q, out.qparams)
        elif node.op in ("avg_pool", "reshape"):
            # Averaging and reshaping keep the input's scale, so no rescale is needed.
            out.qparams = in_q
            node.attrs["act_min"], node.attrs["act_max"] = -128, 127
        elif node.op == "softmax":
            out.qparams = QParams.per_tensor(softmax.OUTPUT_SCALE, softmax.OUTPUT_ZERO_POINT)
            softmax.attach_params(node, in_q.scalar_scale)
        else:
            raise QuantError(f"node '{node.name}': op {node.op} cannot be quantized")
        out.dtype = "int8"
    graph.quantized = True
    return graph


def _quantize_layer(graph: Graph, node, in_q: QParams, out_q: QParams) -> None:
    w = graph.tensor(node.inputs[1])
    axis = WEIGHT_CHANNEL_AXIS[node.op]
    w.data, w.qparams = quantize_weights(w.data, axis, node.name)
    w.dtype = "int8"
    w_scale = w.qparams.scale
    bias = None
    if len(node.inputs) > 2:
        b = graph.tensor(node.inputs[2])
        b.data = bias = quantize_bias(b.data, in_q.scalar_scale, w_scale, node.name)
        b.dtype = "int32"
        b.qparams = QParams(np.float32(in_q.scalar_scale) * w_scale, np.zeros_like(w_scale, dtype=np.int32), axis=0)
    check_accumulator(node.name, bias, w.data, axis, in_q.scalar_zero_point)
    multiplier, shift = channel_multipliers(in_q.scalar_scale, w_scale, out_q.scalar_scale, node.name)
    check_no_flush(node.name, in_q.scalar_scale, w_scale, out_q.scalar_scale, multiplier)
    node.attrs["multiplier"], node.attrs["shift"] = multiplier, shift
    node.attrs["act_min"], node.attrs["act_max"] = activation_clamp(node.attrs.get("activation"), out_q)
