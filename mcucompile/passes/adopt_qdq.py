"""Adopt a pre-quantized (QDQ) model's own parameters instead of calibrating.

The importer (frontend/qdq.py for ONNX, frontend/tflite.py) left every activation with its given
QParams and every layer with int8 weights and an int32 bias at input scale x weight scale. This
pass computes what TFLite computes from those numbers, and nothing else:
  * the requantization multiplier of each layer from the float32 scales the model stores:
    per-channel weights: double(in_scale) * double(w_scale[c]) / double(out_scale) (int8 kernels);
    per-tensor weights of a uint8 model: double(float(in_scale * w_scale)) / double(out_scale), the
    float32 product TFLite's GetQuantizedConvolutionMultipler forms for its uint8 kernels;
  * ReLU/ReLU6/Clip clamps from the output's parameters (CalculateActivationRangeQuantized);
  * a non-zero weight zero point (uint8 weights) as node.attrs["weight_zp"], which the kernel
    variants fold (kernels/wzp.py is the reference);
  * average pooling and reshape must keep their input's parameters, softmax must give 1/256 with
    zero point -128 (uint8: 0), as TFLite's kernels require; a model that asks otherwise is refused.
A uint8 model's average pool rounds half up (TFLite's uint8 kernel), not half away from zero.
The quantize pass then sees a quantized graph and leaves it alone.
"""
from __future__ import annotations

import numpy as np

from ..errors import QuantError
from ..ir import Graph, QParams
from ..ops import WEIGHT_CHANNEL_AXIS, mean, softmax
from ..quant.fixedpoint import quantize_multiplier
from ..quant.params import activation_clamp, channel_multipliers, check_accumulator



def run(graph: Graph, ctx=None) -> Graph:
    if not graph.meta.get("qdq") or graph.quantized:
        return graph
    inp = graph.tensor(graph.inputs[0])
    if inp.qparams is None:
        raise QuantError(f"input '{inp.name}': a QDQ model must state the input's scale and zero point "
                         "(a DequantizeLinear after it, or a QuantizeLinear of it)")
    inp.dtype = "int8"
    uint8 = bool(graph.meta.get("uint8"))
    for node in graph.nodes:
        x, y = graph.tensor(node.inputs[0]), graph.tensor(node.outputs[0])
        in_q = x.qparams
        if node.op in ("avg_pool", "reshape"):
            if y.qparams is None:
                y.qparams = in_q
            _require_same(node, in_q, y.qparams, "its input")
            node.attrs["act_min"], node.attrs["act_max"] = -128, 127
            if node.op == "avg_pool" and uint8:
                node.attrs["rounding"] = "half_up"
        elif y.qparams is None:
            raise QuantError(f"node '{node.name}' ({node.op}): output '{y.name}' has no QuantizeLinear; "
                             "a QDQ model must quantize every layer's output")
        elif node.op in WEIGHT_CHANNEL_AXIS:
            _adopt_layer(graph, node, in_q, y.qparams, uint8)
        elif node.op == "softmax":
            _require_same(node, QParams.per_tensor(softmax.OUTPUT_SCALE, softmax.OUTPUT_ZERO_POINT), y.qparams, "TFLite's softmax output (1/256, -128)")
            softmax.attach_params(node, in_q.scalar_scale)
        elif node.op == "mean":  # requantizes to its own output parameters, as TFLite Micro's MEAN
            mean.attach_params(node, x, y)
        else:
            raise QuantError(f"node '{node.name}': op {node.op} cannot take given quantization parameters")
        y.dtype = "int8"
    graph.quantized = True
    return graph


def layer_multipliers(in_scale: float, w_q: QParams, out_scale: float, channels: int,
                      uint8: bool, node: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Per-output-channel (multiplier, shift) exactly as TFLite derives them from stored scales."""
    if w_q.axis is not None:
        return channel_multipliers(in_scale, w_q.scale, out_scale, node)
    w_scale = np.float32(w_q.scalar_scale)
    if uint8:
        real = float(np.float32(np.float32(in_scale) * w_scale)) / float(np.float32(out_scale))
    else:
        real = float(np.float32(in_scale)) * float(w_scale) / float(np.float32(out_scale))
    try:
        m, s = quantize_multiplier(real)
    except ValueError:
        raise QuantError(f"node '{node}': requantization multiplier {real:.4g} (input scale {float(in_scale):.3g} x "
                         f"weight scale {float(w_scale):.3g} / output scale {float(out_scale):.3g}) is too large "
                         "for int32") from None
    return np.full(channels, m, dtype=np.int32), np.full(channels, s, dtype=np.int32)


def _adopt_layer(graph: Graph, node, in_q: QParams, out_q: QParams, uint8: bool) -> None:
    w = graph.tensor(node.inputs[1])
    channels = graph.tensor(node.outputs[0]).shape[-1]
    node.attrs["multiplier"], node.attrs["shift"] = layer_multipliers(
        in_q.scalar_scale, w.qparams, out_q.scalar_scale, channels, uint8, node.name)
    node.attrs["act_min"], node.attrs["act_max"] = activation_clamp(node.attrs.get("activation"), out_q)
    weight_zp = int(w.qparams.zero_point) if w.qparams.axis is None else 0
    if weight_zp:
        node.attrs["weight_zp"] = weight_zp
    # The model's own numbers must not overflow the int32 accumulator either (undefined in C).
    bias = graph.tensor(node.inputs[2]).data if len(node.inputs) > 2 else None
    check_accumulator(node.name, bias, w.data.astype(np.int64) - weight_zp, WEIGHT_CHANNEL_AXIS[node.op],
                      in_q.scalar_zero_point)


def _require_same(node, want: QParams, got: QParams, what: str) -> None:
    if got is None or want is None or not (np.float32(want.scalar_scale) == np.float32(got.scalar_scale)
                                          and want.scalar_zero_point == got.scalar_zero_point):
        raise QuantError(f"node '{node.name}' ({node.op}): output parameters "
                         f"{None if got is None else (got.scalar_scale, got.scalar_zero_point)} must equal {what} "
                         f"{None if want is None else (want.scalar_scale, want.scalar_zero_point)}")
