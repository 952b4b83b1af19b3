"""report.json: what was built, with the figures a user checks first."""
from __future__ import annotations

from ..codegen.emit import model_interface
from ..codegen.program import Program


def _location(program: Program, tensor: str):
    loc = program.locations[tensor]
    return loc if loc in ("input", "output") else program.plan.offsets[tensor]


def build_report(program: Program, target) -> dict:
    inp, out = program.input_tensor, program.output_tensor
    graph = program.graph
    return {
        "model": program.name,
        "source": graph.meta.get("source_name"),
        "target": target.name,
        "platform": target.platform.name,
        "macs": sum(layer.macs for layer in program.layers),
        "params": int(sum(a.data.size for a in program.arrays if a.name.endswith(("_weights", "_bias")))),
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
        "layers": [
            {"index": layer.index, "name": layer.name, "op": layer.op, "kernel": layer.kernel,
             "variant": layer.variant, "in_shape": list(layer.in_shape), "out_shape": list(layer.out_shape),
             "macs": layer.macs, "input_offset": _location(program, layer.input),
             "output_offset": _location(program, layer.output)}
            for layer in program.layers
        ],
        "memory_plan": program.plan.to_dict() if program.plan else None,
    }
