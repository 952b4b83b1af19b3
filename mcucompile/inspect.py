"""`mcucompile inspect`: what the compiler makes of a model, without writing a project.

inspect builds the project into a temporary folder (linking the firmware where the target's compiler
is on PATH), so that its figures are the build's own: the same report.json content, and totals that
are the linked ELF's. The text is for people; `--json` prints the report itself, for tools.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from .codegen.program import Program
from .memory.assign import scratch_name
from .memory.render import render_png
from .project.report_html import memory_text

COLUMNS = (("#", ">3"), ("layer", "<34"), ("op", "<16"), ("kernel", "<24"), ("in", ">11"), ("out", ">11"),
           ("MACs", ">11"), ("params", ">8"), ("weight B", ">9"), ("act B", ">7"), ("out at", ">7"), ("SQNR dB", ">7"))


def inspect_model(model, target: str | None, *, board=None, weights_in=None, arena_in=None, stack_bytes=None,
                  io_in_arena=False, kernels="auto", calib=None, observer="minmax", mean=0.5, std=0.5,
                  memory_plot: bool = False, log=None, memory: str = "auto") -> tuple[dict, bytes | None]:
    """(report, the arena plot's PNG bytes if asked) of MODEL built for TARGET in a temporary folder."""
    from .build import build_project
    from .project.writer import Output

    with tempfile.TemporaryDirectory(prefix="mcucompile-inspect-") as tmp:
        project = Path(tmp) / "project"
        report = build_project(model, target, project, calib=calib or "random", observer=observer, mean=mean,
                               std=std, log=log, board=board, weights_in=weights_in, arena_in=arena_in,
                               stack_bytes=stack_bytes, io_in_arena=io_in_arena, kernels=kernels, memory=memory,
                               output=Output(memory_plot=memory_plot))
        png = project / "memory_plan.png"
        return report, (png.read_bytes() if memory_plot and png.is_file() else None)


def _shape(shape) -> str:
    return "x".join(str(d) for d in shape[1:])


def _offset(value) -> str:
    return f"{value:,}" if isinstance(value, int) else value  # "input"/"output": the caller's buffers


def _sqnr(value) -> str:
    return "exact" if value == "inf" else ("-" if value is None else f"{value:.1f}")


def describe(report: dict) -> str:
    """The per-layer table, the totals against the board, and the memory plan as text."""
    header = " ".join(f"{name:{fmt}}" for name, fmt in COLUMNS)
    lines = [header]
    for r in report["layers"]:
        cells = (r["index"], r["name"][-34:], r["op"], r["kernel"][:24], _shape(r["in_shape"]), _shape(r["out_shape"]),
                 f"{r['macs']:,}", f"{r['params']:,}", f"{r['weight_bytes']:,}", f"{r['activation_bytes']:,}",
                 _offset(r["output_offset"]), _sqnr(r.get("sqnr_db")))
        lines.append(" ".join(f"{c:{fmt}}" for c, (_, fmt) in zip(cells, COLUMNS)))
    t = report["totals"]
    lines.append(f"total: {t['macs']:,} MACs, {t['params']:,} parameters, {t['weight_bytes']:,} bytes of constants, "
                 f"arena {t['arena_bytes']:,} bytes")
    for what in ("flash", "ram"):
        if what in t:
            f = t[what]
            source = "linked ELF" if f["source"] == "linked" else "estimate: the firmware was not linked"
            lines.append(f"{what}: {f['bytes']:,} of {f['capacity']:,} bytes in {f['region']} of {report['board']} "
                         f"({f['bytes'] / f['capacity']:.1%}; {source})")
    if report.get("sqnr_inputs"):
        lines.append(f"SQNR: each layer's int8 output against the float network, on {report['sqnr_inputs']}")
    lines.append(memory_text(report))
    return "\n".join(lines)


def write_memory_plot(program: Program, path: Path) -> None:
    if program.plan is None:
        from .errors import McuCompileError

        raise McuCompileError("the model has no intermediate tensors: there is no arena to draw")
    # Boxes are labelled by the layer that writes them: tensor names are too long to fit.
    labels = {program.graph_input: "input", "patch workspace": "patch workspace"}
    for layer in program.layers:
        labels[layer.output] = f"L{layer.index}"
        labels[scratch_name(layer)] = f"S{layer.index}"
    render_png(program.plan, path, labels=labels,
               title=f"{program.graph.meta.get('source_name', program.name)}: arena {program.arena_bytes:,} bytes "
                     "(Ln = output of layer n, Sn = its scratch)")
