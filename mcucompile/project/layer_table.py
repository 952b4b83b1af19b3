"""The per-layer table and the totals that report.json, report.html and `inspect` show.

What describes the model comes from the graph, so it is the same whichever kernels run it: a layer's
parameters are the elements of its constant inputs (weights and bias, after BatchNorm folding), its
MACs and shapes are the op's. What describes this build comes from the program: the kernel and its
variant, the bytes its constants take in the layout that kernel reads (weight_bytes), its scratch,
and where the arena planner put its tensors.
"""
from __future__ import annotations

import math

from ..codegen.program import Program


def _offset(program: Program, tensor: str):
    """Arena offset of a tensor's first byte ("input"/"output": the caller's buffers); a patch stage's
    band buffer is at its place in the stage workspace."""
    loc = program.locations[tensor]
    return loc if loc in ("input", "output") else program.memory.offsets[tensor]


def _sqnr(value):
    """JSON has no infinity: an exact layer (no error at all) is the string "inf"."""
    return "inf" if value is not None and math.isinf(value) else value


def layer_rows(program: Program) -> list[dict]:
    graph = program.graph
    sqnr = graph.meta.get("sqnr_db")
    rows = []
    for layer in program.layers:
        node = layer.node
        constants = [graph.tensor(t) for t in node.inputs[1:] if graph.tensor(t).is_constant]
        out = graph.tensor(node.outputs[0])
        row = {"index": layer.index, "name": layer.name, "op": layer.op, "kernel": layer.kernel,
               "variant": layer.variant, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
               "macs": layer.macs, "params": sum(t.size for t in constants),
               "weight_bytes": sum(a.data.nbytes for a in layer.arrays),
               "activation_bytes": out.size,  # int8: one byte a value
               "scratch_bytes": layer.scratch,
               "output_tensor": layer.output,  # the arena buffer it writes (memory_plan's name)
               "input_offset": _offset(program, layer.input), "output_offset": _offset(program, layer.output)}
        if sqnr is not None:
            row["sqnr_db"] = _sqnr(sqnr.get(node.outputs[0]))
        rows.append(row)
    return rows


def totals(report: dict) -> dict:
    """MACs, parameters, weight and arena bytes, and flash and RAM against the board's capacity: the
    linked ELF's figures where the firmware was linked, else the build's estimate (`source` says)."""
    layers = report["layers"]
    out = {"macs": sum(r["macs"] for r in layers), "params": sum(r["params"] for r in layers),
           "weight_bytes": report["weights_bytes"], "arena_bytes": report["arena_bytes"]}
    placement = report.get("placement")
    if not placement:
        return out
    linked, estimate = report.get("memory"), report.get("memory_estimate", {})
    for what, region in (("flash", placement["code"]), ("ram", placement["ram"])):
        if linked:
            used = linked["regions"].get(region, {"used": 0})["used"]
            capacity = linked["regions"].get(region, {}).get("length", estimate.get(region, {}).get("length"))
            source = "linked"
        else:
            used, capacity, source = estimate[region]["used"], estimate[region]["length"], "estimate"
        out[what] = {"region": region, "bytes": used, "capacity": capacity, "source": source}
    return out
