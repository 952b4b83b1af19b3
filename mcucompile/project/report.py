"""report.json: what was built, with the figures a user checks first."""
from __future__ import annotations

from ..codegen.emit import model_interface
from ..codegen.program import Program
from .layer_table import layer_rows, totals


def build_report(program: Program, target) -> dict:
    """report.json's content; "totals" are the build's estimates until the firmware is linked
    (refresh_totals then gives the linked figures)."""
    inp, out = program.input_tensor, program.output_tensor
    graph = program.graph
    rows = layer_rows(program)
    report = {
        "model": program.name,
        "source": graph.meta.get("source_name"),
        "target": target.name,
        "platform": target.platform.name,
        "macs": sum(layer.macs for layer in program.layers),
        "params": sum(r["params"] for r in rows),  # the model's, whichever kernels run it
        "weights_bytes": program.weights_bytes,
        "arena_bytes": program.arena_bytes,
        "arena_lower_bound_bytes": program.memory.lower_bound_bytes,
        "tensor_arena_bytes": program.memory.tensor_arena_bytes,
        "scratch_bytes": program.memory.scratch_bytes,
        "io_in_arena": program.io_in_arena,
        "inplace_layers": sorted(program.memory.inplace),
        "input": {"name": graph.inputs[0], "shape_nhwc": list(inp.shape), "model_shape": graph.meta["input_shape"],
                  "model_layout": graph.meta["input_layout"], "dtype": graph.meta.get("input_dtype", "float32"),
                  "scale": inp.qparams.scalar_scale,
                  "zero_point": inp.qparams.scalar_zero_point},
        "output": {"name": graph.outputs[0], "shape": list(out.shape), "model_layout": graph.meta["output_layout"],
                   "model_shape": model_interface(program)["output_shape"],
                   "dtype": graph.meta.get("output_dtype", "float32"),
                   "scale": out.qparams.scalar_scale, "zero_point": out.qparams.scalar_zero_point},
        "kernels": program.kernels,
        "layers": rows,
        "sqnr_inputs": graph.meta.get("sqnr_inputs"),
        "memory_plan": program.plan.to_dict() if program.plan else None,
    }
    return report


def refresh_totals(report: dict) -> dict:
    """The report with its "totals" taken from what it now holds (the board's estimate, or the linked
    ELF's figures once it has them)."""
    report["totals"] = totals(report)
    return report
