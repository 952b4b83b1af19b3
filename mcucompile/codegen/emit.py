"""Render the model's C sources from a Program."""
from __future__ import annotations

from .. import __version__
from . import constants as blob
from .bands import band_runs, stage_calls
from .env import make_env
from .lower import Program


C_TYPES = {"float32": "float", "int8": "int8_t", "uint8": "uint8_t"}


def model_interface(program: Program) -> dict:
    """The model file's own interface, which <name>_run takes and gives: types, layouts and shapes."""
    meta, out = program.graph.meta, program.output_tensor
    _, h, w, c = program.input_tensor.shape
    out_layout = meta.get("output_layout", "flat")
    return dict(
        input_dtype=meta.get("input_dtype", "float32"), input_ctype=C_TYPES[meta.get("input_dtype", "float32")],
        input_nchw=meta.get("input_layout") == "NCHW", input_shape=list(meta["input_shape"]), in_hwc=(h, w, c),
        output_dtype=meta.get("output_dtype", "float32"), output_ctype=C_TYPES[meta.get("output_dtype", "float32")],
        output_nchw=out_layout == "NCHW", output_shape=_model_output_shape(out.shape, out_layout),
        out_hwc=tuple(out.shape[1:4]) if len(out.shape) == 4 else (1, 1, out.shape[-1]),
    )


def _model_output_shape(nhwc, layout: str) -> list[int]:
    return [nhwc[0], nhwc[3], nhwc[1], nhwc[2]] if layout == "NCHW" else list(nhwc)


def model_context(program: Program, alignment: int = 16) -> dict:
    inp, out = program.input_tensor, program.output_tensor
    _, h, w, c = inp.shape
    return dict(
        io=model_interface(program),
        name=program.name,
        NAME=program.name.upper(),
        version=__version__,
        source=program.graph.meta.get("source_name", "model.onnx"),
        layers=program.layers,
        stage=band_runs(stage_calls(program.layers, program.memory.patch, program.locations)) if program.memory.patch else [],
        stage_bands=len(program.memory.patch.rows) if program.memory.patch else 0,
        stage_layers=len(program.memory.patch.layers) if program.memory.patch else 0,
        patch=program.memory.patch,
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


def constants_source(program: Program, constants: str) -> str:
    """The source file a build compiles (or assembles) for the constants."""
    return f"{program.name}_weights.{'c' if constants == 'c' else 's'}"


def render_model(program: Program, alignment: int = 16, constants: str = "blob") -> dict[str, str | bytes]:
    """File name -> text (or bytes) for the model's own sources: the constants as <name>_weights.bin
    named by <name>_weights.s ("blob"), or as C initializers in <name>_weights.c ("c")."""
    env = make_env()
    ctx = model_context(program, alignment)
    files: dict[str, str | bytes] = {
        f"{program.name}.h": env.get_template("model.h.j2").render(ctx),
        f"{program.name}.c": env.get_template("model.c.j2").render(ctx),
    }
    if constants == "c":
        files[f"{program.name}_weights.c"] = env.get_template("weights.c.j2").render(ctx)
    else:
        data, pieces = blob.layout(program.arrays)
        files[f"{program.name}_weights.bin"] = data
        files[f"{program.name}_weights.s"] = env.get_template("weights.s.j2").render(
            ctx, pieces=pieces, alignment=blob.ALIGNMENT)
    return files
