"""What the code generator works from: layers with their kernel calls, constants and memory."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir import Graph

@dataclass
class CArray:
    name: str
    ctype: str
    data: np.ndarray


@dataclass
class Layer:
    index: int
    name: str  # the ONNX node's name
    op: str
    kernel: str  # the C function called
    variant: str
    summary: str  # what the layer does, for the generated comment
    input: str
    output: str
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    macs: int
    params: dict = field(default_factory=dict)
    arrays: list[CArray] = field(default_factory=list)
    scratch: int = 0  # bytes of scratch the kernel needs
    inplace_kernel: str | None = None  # a variant that writes the output over the input, if any
    inplace_scratch: int = 0  # bytes of scratch that variant needs
    scratch_location: str = "NULL"  # C expression, set once memory is planned
    call_template: str = "calls/conv.j2"  # renders this layer's C call
    code_bytes: int = 1024  # flash the kernel's code takes (an estimate with margin, for the fit check)
    sources: list[str] = field(default_factory=list)  # runtime_c files (relative paths) the kernel needs
    inplace_sources: list[str] = field(default_factory=list)
    node: object = None  # the graph Node it runs (names need not be unique: never look a node up by name)


@dataclass
class Program:
    name: str
    layers: list[Layer]
    memory: object  # memory.assign.MemoryLayout
    input_tensor: object
    output_tensor: object
    graph: Graph
    graph_input: str = ""  # the tensor whose bytes are the model's input (after reshape aliases)
    graph_output: str = ""
    io_in_arena: bool = False

    @property
    def locations(self) -> dict[str, str]:
        """Tensor name -> C expression of its first byte."""
        return self.memory.locations

    @property
    def plan(self):
        return self.memory.plan

    @property
    def arena_bytes(self) -> int:
        return self.memory.arena_bytes

    @property
    def arrays(self) -> list[CArray]:
        return [a for layer in self.layers for a in layer.arrays]

    @property
    def kernels(self) -> list[str]:
        return sorted({layer.kernel for layer in self.layers})

    @property
    def runtime_sources(self) -> list[str]:
        """runtime_c files (relative paths) the generated code calls, and only those."""
        from ..kernels.ref import ALWAYS_SOURCES

        return sorted({s for layer in self.layers for s in layer.sources} | set(ALWAYS_SOURCES))

    @property
    def weights_bytes(self) -> int:
        return sum(a.data.nbytes for a in self.arrays)


