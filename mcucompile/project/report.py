"""report.json: what was built, with the figures a user checks first."""
from __future__ import annotations

import dataclasses

from ..codegen.emit import model_interface
from ..codegen.program import Program
from ..memory.assign import PATCH_WORKSPACE
from ..memory.plan import lower_bound
from .layer_table import layer_rows, totals


def execution_order(program: Program) -> list[int]:
    patch = program.memory.patch
    n = len(patch.layers) if patch else 0
    stage = [i for band in (patch.rows if patch else []) for i, (a, b) in enumerate(band) if b > a]
    return stage + [layer.index for layer in program.layers[n:]]


def halo_text(p: dict) -> str:
    """What a patch stage (report.json's `patch`) pays for its halos, for people."""
    if p.get("halos") == "cached":
        return "halos cached (each row computed once, no MAC recomputed)"
    return f"{p['extra_macs']:,} MACs recomputed (+{p['extra_macs_fraction']:.1%} of the model's)"


def patch_summary(program: Program) -> dict | None:
    """The patch stage: its layers, bands, workspace, recompute cost, and the bound its plan is held to:
    at every step the bytes live, the workspace counted at its own bound (the most bytes one layer of a
    band holds at once)."""
    patch = program.memory.patch
    if patch is None:
        return None
    plan, macs = program.plan, sum(layer.macs for layer in program.layers)
    # lower_bound counts an in-place layer's input and output once (one share_with block).
    bound = lower_bound([dataclasses.replace(b, size=patch.workspace_bound_bytes) if b.name == PATCH_WORKSPACE else b
                         for b in plan.buffers])
    return {"layers": [w.name for w in patch.layers], "band_rows": patch.band, "bands": len(patch.rows),
            "halos": "cached" if patch.cached else "recomputed",
            "rows": [[list(r) for r in band] for band in patch.rows], "workspace_bytes": patch.workspace_bytes,
            "workspace_bound_bytes": patch.workspace_bound_bytes, "stage_output_bytes": patch.stage_output_bytes,
            "extra_macs": patch.extra_macs, "extra_macs_fraction": round(patch.extra_macs / macs, 4) if macs else 0,
            "arena_bound_bytes": bound}


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
        # The layer of each call an inference makes (a patch stage calls its layers once per band).
        "execution_order": execution_order(program),
        "memory_mode": "patch" if program.memory.patch else "layer",
        "patch": patch_summary(program),
        "sqnr_inputs": graph.meta.get("sqnr_inputs"),
        "memory_plan": program.plan.to_dict() if program.plan else None,
    }
    return report


def refresh_totals(report: dict) -> dict:
    """The report with its "totals" taken from what it now holds (the board's estimate, or the linked
    ELF's figures once it has them)."""
    report["totals"] = totals(report)
    return report
