"""Graph, Tensor, Node and QParams.

Activations are NHWC with batch 1 ([1, H, W, C]) or [1, F] after a flatten. Constant tensors carry
their data: conv filters as [Cout, kh, kw, Cin], depthwise filters as [kh, kw, C] (channel
innermost, the order the kernels read), fully-connected weights as [Cout, Cin].
Nodes are kept in execution order; the importer and every pass preserve that order.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class QParams:
    """real = scale * (q - zero_point); per-tensor (axis None) or per-channel along `axis`."""

    scale: np.ndarray  # float32, shape [] or [C]
    zero_point: np.ndarray  # int32, same shape as scale
    axis: int | None = None

    @classmethod
    def per_tensor(cls, scale: float, zero_point: int) -> "QParams":
        return cls(np.array(scale, dtype=np.float32), np.array(zero_point, dtype=np.int32))

    @property
    def scalar_scale(self) -> float:
        return float(self.scale)

    @property
    def scalar_zero_point(self) -> int:
        return int(self.zero_point)


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"  # float32 | int8 | int32
    data: np.ndarray | None = None  # set for constants only
    qparams: QParams | None = None

    @property
    def is_constant(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(self.dtype).itemsize


@dataclass
class Node:
    name: str  # the ONNX node's name, kept for generated comments and reports
    op: str
    inputs: list[str]
    outputs: list[str]
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Graph:
    tensors: dict[str, Tensor]
    nodes: list[Node]
    inputs: list[str]
    outputs: list[str]
    name: str = "model"
    # Set by the quantize pass: the graph's int8 core is then fully specified.
    quantized: bool = False
    # Facts about the model's own interface: input_layout ("NCHW"/"NHWC"), the ONNX input's shape.
    meta: dict[str, Any] = field(default_factory=dict)

    def tensor(self, name: str) -> Tensor:
        return self.tensors[name]

    def producer(self, tensor_name: str) -> Node | None:
        for node in self.nodes:
            if tensor_name in node.outputs:
                return node
        return None

    def consumers(self, tensor_name: str) -> list[Node]:
        return [node for node in self.nodes if tensor_name in node.inputs]

    def activations(self) -> list[Tensor]:
        """Non-constant tensors, in order of first production (graph inputs first)."""
        names = list(self.inputs)
        for node in self.nodes:
            names.extend(o for o in node.outputs if o not in names)
        return [self.tensors[n] for n in names]

    def remove_unused_tensors(self) -> None:
        used = set(self.inputs) | set(self.outputs)
        for node in self.nodes:
            used.update(node.inputs)
            used.update(node.outputs)
        for name in [n for n in self.tensors if n not in used]:
            del self.tensors[name]

    def replace_uses(self, old: str, new: str) -> None:
        """Make every reader of `old` read `new` instead (graph outputs included)."""
        for node in self.nodes:
            node.inputs = [new if i == old else i for i in node.inputs]
        self.outputs = [new if o == old else o for o in self.outputs]
