"""Reads the int8 parameters that the quantize pass attached to a node."""
from __future__ import annotations


def conv_kwargs(node, graph) -> dict:
    """Keyword arguments shared by the conv, depthwise and fully-connected int8 references."""
    a = node.attrs
    return dict(
        stride=a.get("strides"),
        pads=a.get("pads"),
        input_zp=graph.tensor(node.inputs[0]).qparams.scalar_zero_point,
        output_zp=graph.tensor(node.outputs[0]).qparams.scalar_zero_point,
        multiplier=a["multiplier"],
        shift=a["shift"],
        act_min=a["act_min"],
        act_max=a["act_max"],
    )
