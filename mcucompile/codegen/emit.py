"""Render the model's C sources from a Program."""
from __future__ import annotations

from .. import __version__
from .env import make_env
from .lower import Program


def model_context(program: Program, alignment: int = 16) -> dict:
    inp, out = program.input_tensor, program.output_tensor
    _, h, w, c = inp.shape
    return dict(
        name=program.name,
        NAME=program.name.upper(),
        version=__version__,
        source=program.graph.meta.get("source_name", "model.onnx"),
        layers=program.layers,
        arrays=program.arrays,
        locations=program.locations,
        arena_bytes=program.arena_bytes,
        alignment=alignment,
        plan_algorithm=program.plan.algorithm if program.plan else "empty",
        lower_bound_bytes=program.memory.lower_bound_bytes,
        scratch_bytes=program.memory.scratch_bytes,
        io_in_arena=program.io_in_arena,
        input_location=program.locations.get(program.graph_input, "input"),
        output_location=program.locations.get(program.graph_output, "output"),
        weights_bytes=program.weights_bytes,
        macs=sum(layer.macs for layer in program.layers),
        input_size=inp.size,
        output_size=out.size,
        in_h=h, in_w=w, in_c=c,
        out_desc=", ".join(str(d) for d in out.shape),
        input_scale=inp.qparams.scalar_scale,
        input_zero_point=inp.qparams.scalar_zero_point,
        output_scale=out.qparams.scalar_scale,
        output_zero_point=out.qparams.scalar_zero_point,
    )


def render_model(program: Program, alignment: int = 16) -> dict[str, str]:
    """File name -> text for the model's own sources."""
    env = make_env()
    ctx = model_context(program, alignment)
    return {
        f"{program.name}.h": env.get_template("model.h.j2").render(ctx),
        f"{program.name}.c": env.get_template("model.c.j2").render(ctx),
        f"{program.name}_weights.c": env.get_template("weights.c.j2").render(ctx),
    }
