"""Spatial padding as ONNX defines it, for every windowed op (Conv, AveragePool) and for a Pad folded into one.

ONNX gives padding either explicitly, `pads = [top, left, bottom, right]` for 2-D (all begins, then
all ends), or through `auto_pad`:
  * NOTSET: the explicit pads (default all zero);
  * VALID: no padding;
  * SAME_UPPER / SAME_LOWER: output size ceil(in / stride), the total padding
    max((out - 1) * stride + kernel - in, 0) split in two halves, the odd one at the end (UPPER) or
    at the beginning (LOWER). TensorFlow's "SAME" is SAME_UPPER; tf2onnx writes it as explicit pads.
Dilations other than 1 are refused before this is reached, so the kernel extent is the kernel size.
"""
from __future__ import annotations

from ..errors import UnsupportedOp

Pads = tuple[int, int, int, int]  # (top, left, bottom, right)


def spatial_pads(label: str, in_hw, kernel, strides, auto_pad="NOTSET", pads=None) -> Pads:
    """(top, left, bottom, right) of a 2-D windowed op; `label` names the node in refusals."""
    auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else auto_pad
    if auto_pad in ("NOTSET", ""):
        pads = [0, 0, 0, 0] if pads is None else [int(p) for p in pads]
        if len(pads) != 4 or min(pads) < 0:
            raise UnsupportedOp(f"{label}: pads {pads} are not 2-D non-negative pads")
        return pads[0], pads[1], pads[2], pads[3]
    if auto_pad == "VALID":
        return 0, 0, 0, 0
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        raise UnsupportedOp(f"{label}: auto_pad {auto_pad} is not supported")
    if in_hw is None or None in tuple(in_hw):
        raise UnsupportedOp(f"{label}: auto_pad {auto_pad} needs a known input height and width")
    halves = []
    for size, k, s in zip(in_hw, kernel, strides):
        total = max((-(-int(size) // int(s)) - 1) * int(s) + int(k) - int(size), 0)
        small = total // 2
        halves.append((small, total - small) if auto_pad == "SAME_UPPER" else (total - small, small))
    (top, bottom), (left, right) = halves
    return top, left, bottom, right


def add_pads(a: Pads, b: Pads) -> Pads:
    """Padding of a Pad followed by a windowed op: the two add up on each side."""
    return tuple(x + y for x, y in zip(a, b))  # type: ignore[return-value]
