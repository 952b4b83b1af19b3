"""`mcucompile inspect`: what the compiler makes of a model, without writing a project."""
from __future__ import annotations

from pathlib import Path

from .codegen.program import Program
from .memory.assign import scratch_name
from .memory.render import render_png


def describe(program: Program) -> str:
    """A table of layers and the arena figures, for people."""
    lines = [f"{'#':>3}  {'layer':<40} {'kernel':<28} {'out shape':<14} {'MACs':>11}"]
    for layer in program.layers:
        shape = "x".join(str(d) for d in layer.out_shape[1:])
        lines.append(f"{layer.index:>3}  {layer.name[-40:]:<40} {layer.kernel:<28} {shape:<14} {layer.macs:>11,}")
    macs = sum(layer.macs for layer in program.layers)
    lines.append(f"total {macs:,} MACs, {program.weights_bytes:,} bytes of weights")
    lines.append(memory_summary(program))
    return "\n".join(lines)


def memory_summary(program: Program) -> str:
    memory = program.memory
    bound = memory.lower_bound_bytes
    overhead = (memory.tensor_arena_bytes - bound) / bound * 100 if bound else 0.0
    algorithm = memory.plan.algorithm if memory.plan else "none"
    inplace = f", in-place layers {sorted(memory.inplace)}" if memory.inplace else ""
    return (f"arena {memory.arena_bytes:,} bytes ({algorithm}): tensors {memory.tensor_arena_bytes:,} bytes, "
            f"tensor-level lower bound {bound:,} bytes (+{overhead:.1f}%), largest scratch "
            f"{memory.scratch_bytes:,} bytes{inplace}")


def write_memory_plot(program: Program, path: Path) -> None:
    if program.plan is None:
        from .errors import McuCompileError

        raise McuCompileError("the model has no intermediate tensors: there is no arena to draw")
    # Boxes are labelled by the layer that writes them: tensor names are too long to fit.
    labels = {program.graph_input: "input"}
    for layer in program.layers:
        labels[layer.output] = f"L{layer.index}"
        labels[scratch_name(layer)] = f"S{layer.index}"
    render_png(program.plan, path, labels=labels,
               title=f"{program.graph.meta.get('source_name', program.name)}: arena {program.arena_bytes:,} bytes "
                     "(Ln = output of layer n, Sn = its scratch)")
