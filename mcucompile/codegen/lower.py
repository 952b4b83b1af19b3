"""Lower a quantized Graph to a Program: one kernel call per layer, constant arrays, an arena plan.

Kernel variants are chosen here, ahead of time (see mcucompile/kernels): shapes are static, so each
call names exactly the C function it runs and the generated comment says which variant that is.
"""
from __future__ import annotations

from ..errors import UnsupportedOp
from ..ir import Graph
from ..kernels import LayerContext, select
from ..memory.assign import assign_memory, scratch_name
from ..memory.patch import AUTO_RECOMPUTE, best_patch
from ..targets import get_target
from .env import c_ident
from .program import CArray, Layer, Program

__all__ = ["CArray", "Layer", "Program", "lower"]


MEMORY_MODES = ("layer", "patch", "auto")


def lower(graph: Graph, alignment: int | None = None, io_in_arena: bool = False, allow_inplace: bool = True,
          target=None, kernels: str = "auto", memory: str = "layer") -> Program:
    """memory: "layer" (layer by layer), "patch" (the first layers by bands, memory/patch.py, where a
    stage lowers the peak) or "auto" (patch where it makes the arena smaller)."""
    assert graph.quantized
    if memory not in MEMORY_MODES:
        raise UnsupportedOp(f"--memory {memory}: choose from {', '.join(MEMORY_MODES)}")
    target = target or get_target("host")
    alignment = alignment or target.alignment
    layers: list[Layer] = []
    aliases: dict[str, str] = {}  # tensor -> tensor whose bytes it is (reshape)

    def root(t: str) -> str:
        while t in aliases:
            t = aliases[t]
        return t

    for node in graph.nodes:
        if node.op == "reshape":
            aliases[node.outputs[0]] = node.inputs[0]
            continue
        index = len(layers)
        ctx = LayerContext(node=node, graph=graph, target=target, kernels=kernels, index=index,
                           prefix=f"{c_ident(graph.name)}_l{index}")
        layer = select(ctx)
        layer.node = node
        layers.append(layer)
    if not layers:
        raise UnsupportedOp("the model computes nothing (no layer between input and output)")
    for layer in layers:
        layer.input, layer.output = root(layer.input), root(layer.output)
    graph_in, graph_out = root(graph.inputs[0]), root(graph.outputs[0])
    if graph_in == graph_out:
        raise UnsupportedOp("the model's output is its input")

    sizes = {t.name: t.nbytes for t in graph.tensors.values() if not t.is_constant}
    layout = assign_memory(layers, graph_in, graph_out, sizes, alignment, io_in_arena=io_in_arena,
                           allow_inplace=allow_inplace)
    program = Program(name=c_ident(graph.name), layers=layers, memory=layout,
                      input_tensor=graph.tensor(graph.inputs[0]), output_tensor=graph.tensor(graph.outputs[0]),
                      graph=graph, graph_input=graph_in, graph_output=graph_out, io_in_arena=io_in_arena)
    if memory != "layer":
        option = best_patch(program, alignment, AUTO_RECOMPUTE if memory == "auto" else None)
        if option is None and memory == "patch":
            raise UnsupportedOp("--memory patch: no patch stage of this model's first layers needs less memory "
                                f"than layer by layer ({layout.arena_bytes:,} bytes); use --memory layer or auto")
        if option is not None:
            patched = assign_memory(layers, graph_in, graph_out, sizes, alignment, io_in_arena=io_in_arena,
                                    allow_inplace=allow_inplace, patch=option.schedule)
            if memory == "patch" or patched.arena_bytes < layout.arena_bytes:
                program.memory = layout = patched
    for layer in layers:
        if layer.index in layout.inplace:
            layer.kernel, layer.sources = layer.inplace_kernel, layer.inplace_sources
            layer.variant += ", in place: output over input"
        if scratch_name(layer) in layout.locations:
            layer.scratch_location = layout.locations[scratch_name(layer)]
    return program
