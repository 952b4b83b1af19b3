"""Fold an inference BatchNormalization into the convolution before it.

y = gamma * (conv(x) + b - mean) / sqrt(var + eps) + beta is again a convolution, with every
output channel's filter scaled by gamma / sqrt(var + eps) and the bias moved accordingly.
"""
from __future__ import annotations

import numpy as np

from ..errors import UnsupportedOp
from ..ir import Graph

FOLDABLE = ("conv2d", "depthwise_conv2d")


def run(graph: Graph, ctx=None) -> Graph:
    for bn in [n for n in graph.nodes if n.op == "batchnorm"]:
        conv = graph.producer(bn.inputs[0])
        if conv is None or conv.op not in FOLDABLE or len(graph.consumers(bn.inputs[0])) != 1 \
                or bn.inputs[0] in graph.outputs:
            raise UnsupportedOp(
                f"node '{bn.name}' (BatchNormalization): only a BatchNormalization directly after a Conv "
                "(whose output nothing else reads) can be compiled"
            )
        gamma, beta, mean, var = (graph.tensor(t).data.astype(np.float64) for t in bn.inputs[1:5])
        scale = gamma / np.sqrt(var + bn.attrs["epsilon"])
        w = graph.tensor(conv.inputs[1])
        # Output channels are axis 0 of a conv filter [Cout,kh,kw,Cin] and the last axis of a
        # depthwise filter [kh,kw,C].
        channel_shape = (-1, 1, 1, 1) if conv.op == "conv2d" else (1, 1, -1)
        w.data = (w.data.astype(np.float64) * scale.reshape(channel_shape)).astype(np.float32)
        old_bias = graph.tensor(conv.inputs[2]).data.astype(np.float64) if len(conv.inputs) > 2 else 0.0
        new_bias = ((old_bias - mean) * scale + beta).astype(np.float32)
        bias_name = f"{conv.name}.folded_bias"
        graph.tensors[bias_name] = type(w)(bias_name, new_bias.shape, "float32", data=new_bias)
        conv.inputs = conv.inputs[:2] + [bias_name]
        # The conv now produces what the BatchNormalization produced.
        graph.tensors[bn.outputs[0]].shape = graph.tensor(conv.outputs[0]).shape
        del graph.tensors[conv.outputs[0]]
        conv.outputs = [bn.outputs[0]]
        graph.nodes.remove(bn)
    graph.remove_unused_tensors()
    return graph
